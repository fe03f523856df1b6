#include "cli.h"
#include "ursa/dedupe.h"

namespace ursa::cli {

void add_dedupe(CLI::App& app, Run& run) {
    auto o = std::make_shared<DedupeOptions>();
    auto* sub = app.add_subcommand(
        "dedupe", "Find exact and near-duplicate images under DATA (and the same photo under two labels)");
    sub->footer(
        "Exact duplicates have the same bytes (SHA-256); near duplicates are resized, recompressed\n"
        "or lightly edited copies whose perceptual hashes (pHash, 64 bits) differ in at most\n"
        "--threshold bits. The copy with the most pixels (then the largest file, then the first\n"
        "path) is kept, and takes the copies within --threshold bits of it (no chains of\n"
        "look-alikes); a group under several labels (a\n"
        "conflict) keeps its best copy in each label: which label is right is for you to decide,\n"
        "e.g. with `ursa clean`. Nothing is ever deleted: --move takes the extra copies out of DATA\n"
        "and lists the moves in DIR/dedupe-moves.json.\n"
        "Exit status: 0 ok, 1 some files could not be read or decoded (or moved), 2 usage error.");
    sub->add_option("data", o->data, "Dataset folder (labels are the parent folder names)")
        ->type_name("DATA")
        ->required();
    sub->add_option("--threshold", o->threshold,
                    "Near duplicates: at most this many differing bits (0..64; unrelated photos: ~32)")
        ->type_name("BITS")
        ->check(CLI::Range(0, 64).description(""))
        ->capture_default_str();
    sub->add_flag("--exact-only", o->exact_only, "Only identical bytes (no decoding: faster)");
    sub->add_option("--move", o->move,
                    "Move extra copies to DIR/<path in DATA> (never overwrites; DIR outside DATA or hidden)")
        ->type_name("DIR");
    sub->add_flag("--json", o->json, "Print one JSON object instead of the summary");
    sub->add_option("--report", o->report, "Also write the JSON report to this file")->type_name("FILE");
    sub->add_option("--threads", o->threads, "Threads (0 = all cores)")
        ->type_name("N")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--max-pixels", o->max_pixels, "Refuse images larger than this many pixels")
        ->type_name("P")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->callback([o, &run] { run = [o] { return dedupe_dataset(*o); }; });
}

}  // namespace ursa::cli
