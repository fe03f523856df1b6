#include "cli.h"
#include "ursa/commands.h"

namespace ursa::cli {

void add_verify(CLI::App& app, Run& run) {
    auto o = std::make_shared<VerifyOptions>();
    auto* sub = app.add_subcommand("verify", "Decode every image under DATA, report failures with reasons");
    sub->add_option("data", o->data, "Dataset folder")->required();
    sub->add_option("--move-bad", o->move_bad, "Move failed files here (same relative path; never deletes)");
    sub->add_option("--max-pixels", o->max_pixels, "Refuse images larger than this many pixels")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->add_option("--threads", o->threads, "Threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    sub->callback([o, &run] { run = [o] { return verify_dataset(*o); }; });
}

}  // namespace ursa::cli
