// `ursa dedupe`: exact (SHA-256) and near (pHash) duplicates of a dataset's images,
// exact copies joined, near ones gathered round the best copy; see dedupe.h.
#include "ursa/dedupe.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

#include "ursa/clean.h"  // dataset_images_to_move, free_destination, move_file
#include "ursa/fetch.h"  // sha256_hex
#include "ursa/io.h"
#include "ursa/json.h"
#include "ursa/phash.h"
#include "ursa/progress.h"

namespace fs = std::filesystem;

namespace ursa {

namespace {

struct UnionFind {
    std::vector<size_t> parent;
    explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), size_t{0}); }
    size_t find(size_t x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];  // path halving
        return x;
    }
    void unite(size_t a, size_t b) {
        a = find(a), b = find(b);
        if (a != b) parent[std::max(a, b)] = std::min(a, b);
    }
};

using Pairs = std::vector<std::pair<uint32_t, uint32_t>>;

// The pairs (i, j), j > i, of hashes[i] within `threshold` bits of hashes[j]: the hot
// loop of the pairwise search, built with the POPCNT instruction where the CPU has it.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__POPCNT__)
__attribute__((target_clones("popcnt", "default")))
#endif
void near_pairs_of_row(const uint64_t* hashes, size_t n, size_t i, int threshold, Pairs& out) {
    const uint64_t a = hashes[i];
    for (size_t j = i + 1; j < n; ++j)
        if (__builtin_popcountll(a ^ hashes[j]) <= threshold)
            out.emplace_back(static_cast<uint32_t>(i), static_cast<uint32_t>(j));
}

// The pairs of distinct hashes (as indices into `hashes`) at most `threshold` bits
// apart, rows shared out among the threads.
Pairs near_pairs(const std::vector<uint64_t>& hashes, int threshold, int threads) {
    const size_t n = hashes.size();
    Pairs all;
    if (n < 2) return all;
    std::mutex mutex;
    // Task k does rows k and n-1-k, so that the tasks (rows get shorter) weigh the same.
    const size_t tasks = (n + 1) / 2;
    parallel_for_with_progress(tasks, threads, n >= 20000 ? "compare" : "", [&](size_t k) {
        Pairs pairs;
        near_pairs_of_row(hashes.data(), n, k, threshold, pairs);
        if (n - 1 - k != k) near_pairs_of_row(hashes.data(), n, n - 1 - k, threshold, pairs);
        if (pairs.empty()) return;
        std::lock_guard<std::mutex> lock(mutex);
        all.insert(all.end(), pairs.begin(), pairs.end());
    });
    return all;
}

// Whether record a is the better copy to keep than b.
bool better(const DedupeRecord& a, const DedupeRecord& b) {
    const int64_t pa = int64_t{a.width} * a.height, pb = int64_t{b.width} * b.height;
    if (pa != pb) return pa > pb;
    if (a.size != b.size) return a.size > b.size;
    return a.file < b.file;
}

std::string human_size(uint64_t bytes) {
    char buf[32];
    if (bytes < 1000)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else if (bytes < 1000 * 1000)
        std::snprintf(buf, sizeof buf, "%.1f kB", bytes / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
    return buf;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
    return out;
}

std::string json_strings(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + json::quote(items[i]);
    return out + "]";
}

std::vector<std::string> files_of(const std::vector<DedupeRecord>& records,
                                  const std::vector<size_t>& indices) {
    std::vector<std::string> out;
    for (size_t i : indices) out.push_back(records[i].file);
    return out;
}

// Reads, hashes and (unless exact_only) decodes every file.
std::vector<DedupeRecord> scan(const std::string& data, const std::vector<std::string>& files,
                               const DedupeOptions& o, int threads) {
    std::vector<DedupeRecord> records(files.size());
    DecodeOptions decode;
    decode.max_pixels = o.max_pixels;
    parallel_for_with_progress(files.size(), threads, "dedupe", [&](size_t i) {
        DedupeRecord& r = records[i];
        const fs::path path(files[i]);
        r.file = path.lexically_relative(data).generic_string();
        if (r.file.empty() || r.file == ".") r.file = path.generic_string();
        r.label = path.parent_path().filename().string();
        auto bytes = read_file(files[i]);
        if (!bytes) {
            r.error = bytes.error().message;
            return;
        }
        r.size = bytes->size();
        r.sha256 = sha256_hex(bytes->data(), bytes->size());
        if (o.exact_only) return;
        auto image = decode_image(bytes->data(), bytes->size(), decode);
        if (!image) {
            if (r.error.empty()) r.error = image.error().message;
            return;
        }
        r.decoded = true;
        r.width = image->width;
        r.height = image->height;
        r.phash = perceptual_hash(*image);
    });
    return records;
}

void print_group(const DedupeOptions& o, const std::vector<DedupeRecord>& records, const DedupeGroup& g,
                 size_t number) {
    std::printf("\n%sgroup %zu: %s, %zu files, label%s %s", g.conflict ? "CONFLICT " : "", number,
                g.exact ? "exact (identical bytes)" : "near", g.keep.size() + g.extra.size(),
                g.labels.size() > 1 ? "s" : "", join(g.labels, ", ").c_str());
    if (!g.exact && g.distance == 0) std::printf(", the same perceptual hash");
    if (!g.exact && g.distance > 0)
        std::printf(", hashes up to %s apart",
                    g.distance == 1 ? "1 bit" : (std::to_string(g.distance) + " bits").c_str());
    std::printf("\n");
    auto line = [&](const char* what, size_t i) {
        const DedupeRecord& r = records[i];
        std::string info = human_size(r.size);
        if (r.decoded) info = std::to_string(r.width) + "x" + std::to_string(r.height) + ", " + info;
        std::printf("  %-5s %s  (%s)\n", what, r.file.c_str(), info.c_str());
    };
    for (size_t i : g.keep) line("keep", i);
    for (size_t i : g.extra) line("extra", i);
    if (g.conflict)
        std::printf(
            "  the same photo under %zu labels: one copy per label is kept; decide which label is right "
            "and fix the others (e.g. with `ursa clean`)\n",
            g.labels.size());
}

void print_summary(const DedupeOptions& o, const std::vector<DedupeRecord>& records,
                   const std::vector<DedupeGroup>& groups, size_t failed) {
    size_t exact = 0, conflicts = 0, extra = 0;
    for (const auto& g : groups) exact += g.exact, conflicts += g.conflict, extra += g.extra.size();
    auto count = [](size_t n, const char* one, const char* many) {
        return std::to_string(n) + " " + (n == 1 ? one : many);
    };
    const std::string near = o.exact_only ? "near ones not searched"
                                          : std::to_string(groups.size() - exact) + " near within " +
                                                count(o.threshold, "bit", "bits");
    std::printf("%s: %s, %s (%zu exact, %s), %s, %s, %zu failed\n", o.data.c_str(),
                count(records.size(), "image", "images").c_str(),
                count(groups.size(), "duplicate group", "duplicate groups").c_str(), exact, near.c_str(),
                count(conflicts, "conflict", "conflicts").c_str(),
                count(extra, "extra copy", "extra copies").c_str(), failed);
    for (size_t k = 0; k < groups.size(); ++k) print_group(o, records, groups[k], k + 1);
    if (extra && o.move.empty())
        std::printf("\nnothing was moved; to move the %s out of the dataset: ursa dedupe %s --move DIR\n",
                    count(extra, "extra copy", "extra copies").c_str(), o.data.c_str());
}

struct Move {
    size_t record;
    fs::path to;
    std::string state = "pending";  // then "moved" or "failed: <reason>"
};

struct MovePlan {
    std::vector<Move> moves;
    fs::path list;  // dir/dedupe-moves.json, or a free name beside it
};

// Where each extra copy goes: dir/<its path in DATA>, or a free name beside it.
MovePlan plan_moves(const std::string& dir, const std::vector<DedupeRecord>& records,
                    const std::vector<DedupeGroup>& groups) {
    MovePlan plan;
    std::set<fs::path> claimed;
    auto taken = [&](const fs::path& p) {
        std::error_code ec;
        return claimed.count(p) || fs::exists(fs::symlink_status(p, ec));
    };
    for (const auto& g : groups)
        for (size_t i : g.extra) {
            const fs::path to = free_destination(dir, records[i].file, taken);
            claimed.insert(to);
            plan.moves.push_back({i, to});
        }
    plan.list = free_destination(dir, "dedupe-moves.json", taken);
    return plan;
}

// The list of moves, with absolute paths, for moving the files back.
std::string moves_json(const std::string& data, const std::vector<DedupeRecord>& records,
                       const std::vector<Move>& moves) {
    auto full = [](const fs::path& p) { return json::quote(fs::absolute(p).lexically_normal().string()); };
    std::string j = "{\"version\":1,\"data\":" + full(data) + ",\"moves\":[";
    for (size_t k = 0; k < moves.size(); ++k)
        j += std::string(k ? "," : "") +
             "\n{\"from\":" + full(fs::path(data) / records[moves[k].record].file) +
             ",\"to\":" + full(moves[k].to) + ",\"sha256\":" + json::quote(records[moves[k].record].sha256) +
             ",\"state\":" + json::quote(moves[k].state) + "}";
    return j + "]}\n";
}

// Moves every extra copy out of DATA, writing the list of moves (all "pending") before
// the first and again with what happened. Returns how many failed, or -1 when the list
// could not be written (then nothing moved).
int move_extras(const DedupeOptions& o, const std::vector<DedupeRecord>& records,
                const std::vector<DedupeGroup>& groups, FILE* out) {
    MovePlan plan = plan_moves(o.move, records, groups);
    if (plan.moves.empty()) {
        std::fprintf(out, "no extra copies to move\n");
        return 0;
    }
    auto write_list = [&] {
        std::error_code ec;
        fs::create_directories(o.move, ec);
        auto w = write_file_atomic(plan.list.string(), moves_json(o.data, records, plan.moves));
        if (!w) std::fprintf(stderr, "error: %s\n", w.error().message.c_str());
        return w.ok();
    };
    if (!write_list()) return -1;
    int failed = 0;
    for (auto& m : plan.moves) {
        const fs::path from = fs::path(o.data) / records[m.record].file;
        if (auto err = move_file(from, m.to)) {
            std::fprintf(stderr, "error: could not move %s to %s: %s\n", from.c_str(), m.to.c_str(),
                         err.message().c_str());
            m.state = "failed: " + err.message();
            ++failed;
        } else {
            std::fprintf(out, "moved %s -> %s\n", from.c_str(), m.to.c_str());
            m.state = "moved";
        }
    }
    const size_t moved = plan.moves.size() - static_cast<size_t>(failed);
    std::fprintf(out, "%zu file%s moved to %s; the list of moves (to move them back) is %s\n", moved,
                 moved == 1 ? "" : "s", o.move.c_str(), plan.list.c_str());
    return write_list() ? failed : failed + 1;
}

}  // namespace

namespace {

// The group of records m (sorted by file): its kind, labels, kept copies and distance.
DedupeGroup make_group(const std::vector<DedupeRecord>& records, const std::vector<size_t>& m) {
    DedupeGroup g;
    g.exact = !records[m[0]].sha256.empty();
    std::map<std::string, size_t> best;  // label -> its best copy
    for (size_t i : m) {
        g.exact = g.exact && records[i].sha256 == records[m[0]].sha256;
        auto [it, fresh] = best.emplace(records[i].label, i);
        if (!fresh && better(records[i], records[it->second])) it->second = i;
    }
    for (const auto& [label, index] : best) g.labels.push_back(label);
    g.conflict = g.labels.size() > 1;
    for (size_t i : m) (best.at(records[i].label) == i ? g.keep : g.extra).push_back(i);
    for (size_t a = 0; a < m.size(); ++a)
        for (size_t b = a + 1; b < m.size(); ++b)
            if (records[m[a]].decoded && records[m[b]].decoded)
                g.distance = std::max(g.distance, hash_distance(records[m[a]].phash, records[m[b]].phash));
    return g;
}

}  // namespace

std::vector<DedupeGroup> group_duplicates(const std::vector<DedupeRecord>& records, int threshold,
                                          bool exact_only, int threads) {
    // Identical bytes are one copy: a union of such records is a "unit".
    UnionFind uf(records.size());
    std::map<std::string, size_t> by_sha;
    for (size_t i = 0; i < records.size(); ++i) {
        if (records[i].sha256.empty()) continue;
        auto [it, fresh] = by_sha.emplace(records[i].sha256, i);
        if (!fresh) uf.unite(it->second, i);
    }
    if (!exact_only) {
        // Near copies gather round a leader rather than chaining: the best copy not yet
        // taken leads, and takes every untaken record within `threshold` bits of it (and
        // their byte-identical copies). So every extra copy looks like the one kept,
        // however similar a whole dataset's images are to one another.
        std::map<uint64_t, std::vector<size_t>> by_hash;  // hash -> decoded records
        for (size_t i = 0; i < records.size(); ++i)
            if (records[i].decoded) by_hash[records[i].phash].push_back(i);
        std::vector<uint64_t> hashes;
        for (const auto& entry : by_hash) hashes.push_back(entry.first);
        std::vector<std::vector<uint32_t>> neighbours(hashes.size());
        for (const auto& [a, b] : near_pairs(hashes, threshold, std::max(1, threads)))
            neighbours[a].push_back(b), neighbours[b].push_back(a);
        std::vector<size_t> unit_of(records.size());  // before any near joins
        std::map<size_t, std::vector<size_t>> unit;    // unit -> its records
        for (size_t i = 0; i < records.size(); ++i) unit[unit_of[i] = uf.find(i)].push_back(i);
        std::vector<size_t> order;
        for (size_t i = 0; i < records.size(); ++i)
            if (records[i].decoded) order.push_back(i);
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return better(records[a], records[b]); });
        std::vector<bool> taken(records.size(), false);
        auto take_unit = [&](size_t i, size_t leader) {
            for (size_t k : unit[unit_of[i]]) taken[k] = true;
            uf.unite(leader, i);
        };
        for (size_t leader : order) {
            if (taken[leader]) continue;
            take_unit(leader, leader);
            const size_t h = static_cast<size_t>(
                std::lower_bound(hashes.begin(), hashes.end(), records[leader].phash) - hashes.begin());
            for (size_t i : by_hash[hashes[h]])
                if (!taken[i]) take_unit(i, leader);
            for (uint32_t nb : neighbours[h])
                for (size_t i : by_hash[hashes[nb]])
                    if (!taken[i]) take_unit(i, leader);
        }
    }

    std::map<size_t, std::vector<size_t>> members;  // root -> records
    for (size_t i = 0; i < records.size(); ++i) members[uf.find(i)].push_back(i);
    std::vector<std::pair<std::string, DedupeGroup>> sorted;  // (first file, group)
    for (auto& [root, m] : members) {
        if (m.size() < 2) continue;
        std::sort(m.begin(), m.end(), [&](size_t a, size_t b) { return records[a].file < records[b].file; });
        sorted.emplace_back(records[m[0]].file, make_group(records, m));
    }
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<DedupeGroup> groups;
    for (auto& entry : sorted) groups.push_back(std::move(entry.second));
    return groups;
}

std::string dedupe_report_json(const std::string& data, int threshold, bool exact_only,
                               const std::vector<DedupeRecord>& records,
                               const std::vector<DedupeGroup>& groups) {
    std::string j = "{\"version\":1,\"data\":" + json::quote(data) +
                    ",\"threshold\":" + std::to_string(threshold) +
                    ",\"exact_only\":" + (exact_only ? "true" : "false") +
                    ",\"files\":" + std::to_string(records.size()) + ",\"groups\":[";
    for (size_t k = 0; k < groups.size(); ++k) {
        const DedupeGroup& g = groups[k];
        j += std::string(k ? "," : "") + "\n{\"kind\":" + (g.exact ? "\"exact\"" : "\"near\"") +
             ",\"conflict\":" + (g.conflict ? "true" : "false") + ",\"labels\":" + json_strings(g.labels) +
             ",\"keep\":" + json_strings(files_of(records, g.keep)) +
             ",\"extra\":" + json_strings(files_of(records, g.extra)) +
             ",\"distance\":" + std::to_string(g.distance) + "}";
    }
    j += "],\"failed\":[";
    bool first = true;
    for (const auto& r : records) {
        if (r.error.empty()) continue;
        j += std::string(first ? "" : ",") + "\n{\"file\":" + json::quote(r.file) +
             ",\"error\":" + json::quote(r.error) + "}";
        first = false;
    }
    return j + "]}\n";
}

int dedupe_dataset(const DedupeOptions& o) {
    if (o.threshold < 0 || o.threshold > 64) {
        std::fprintf(stderr, "error: --threshold %d is outside 0..64 (bits of a 64-bit hash)\n", o.threshold);
        return 2;
    }
    const auto found = dataset_images_to_move(o.data, o.move, "--move");
    if (!found) {
        std::fprintf(stderr, "error: %s\n", found.error().message.c_str());
        return 2;
    }
    const std::vector<std::string>& files = *found;
    const int threads = thread_count(o.threads);

    const std::vector<DedupeRecord> records = scan(o.data, files, o, threads);
    const std::vector<DedupeGroup> groups = group_duplicates(records, o.threshold, o.exact_only, threads);
    size_t failed = 0;
    for (const auto& r : records)
        if (!r.error.empty()) {
            std::fprintf(stderr, "%s: %s\n", (fs::path(o.data) / r.file).c_str(), r.error.c_str());
            ++failed;
        }

    const std::string report = dedupe_report_json(o.data, o.threshold, o.exact_only, records, groups);
    if (o.json)
        std::fputs(report.c_str(), stdout);
    else
        print_summary(o, records, groups, failed);
    std::fflush(stdout);
    bool output_failed = false;
    if (!o.report.empty()) {
        if (auto w = write_file_atomic(o.report, report); !w) {
            std::fprintf(stderr, "error: %s\n", w.error().message.c_str());
            output_failed = true;
        }
    }
    if (!o.move.empty()) {
        // stdout holds only the JSON under --json: the moves are then told on stderr.
        const int move_failures = move_extras(o, records, groups, o.json ? stderr : stdout);
        output_failed = output_failed || move_failures != 0;
    }
    return failed || output_failed ? 1 : 0;
}

}  // namespace ursa
