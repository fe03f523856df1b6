// `ursa dedupe`: finds exact duplicates (same bytes: SHA-256) and near duplicates
// (perceptual hashes at most `threshold` bits apart: resized, recompressed or lightly
// edited copies) among the images of a dataset, groups them round the best copy, chooses the
// copy to keep in each group, reports, and optionally moves the extra copies out of
// the dataset (never deleting or overwriting anything).
//
// A group whose files carry more than one label (parent folder name) is a conflict:
// the same photo under two labels. Its best copy in each label is kept; which label
// is right is the user's call (e.g. with `ursa clean`).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ursa/image.h"

namespace ursa {

// What dedupe knows of one file.
struct DedupeRecord {
    std::string file;      // relative to DATA, '/'-separated
    std::string label;     // parent folder name
    std::string sha256;    // hex; "" when the file could not be read
    bool decoded = false;  // phash, width and height are valid
    uint64_t phash = 0;
    int width = 0, height = 0;
    uint64_t size = 0;  // bytes
    std::string error;  // why it could not be read or decoded ("" = fine)
};

struct DedupeGroup {
    bool exact = false;               // every file has the same bytes
    bool conflict = false;            // more than one label
    std::vector<std::string> labels;  // sorted, unique
    std::vector<size_t> keep, extra;  // indices into the records, each sorted by file
    int distance = 0;                 // largest hash distance between two decoded files
};

// Groups of two or more records: records with equal sha256 (non-empty) always, and,
// unless exact_only, decoded records whose hashes are at most `threshold` bits apart
// from the group's leader. Leaders are taken best first (most pixels, then the largest
// file, then the first file in sorted order); each takes every record not yet in a
// group within `threshold` bits of it, with their byte-identical copies. Near copies
// do not chain: a~b and b~c with a far from c give one group only when b leads. The
// kept copy is the leader (a conflict group keeps the best copy once per label).
// Groups are ordered by their first file. `threads` (>= 1) share the pairwise hash
// comparison.
std::vector<DedupeGroup> group_duplicates(const std::vector<DedupeRecord>& records, int threshold,
                                          bool exact_only = false, int threads = 1);

struct DedupeOptions {
    std::string data;
    int threshold = 4;        // 0..64 bits
    bool exact_only = false;  // only identical bytes (no decoding needed for grouping)
    std::string move;         // "" = report only; else move extra copies to move/<path in data>
    bool json = false;        // stdout: one JSON object instead of the readable summary
    std::string report;       // "" = none; else the JSON written (atomically) here too
    int threads = 0;          // 0 = every core
    int64_t max_pixels = kDefaultMaxPixels;
};

// The report (see design: {"version":1,"data":…,"threshold":…,"files":N,"groups":[…],
// "failed":[…]}), paths relative to DATA.
std::string dedupe_report_json(const std::string& data, int threshold, bool exact_only,
                               const std::vector<DedupeRecord>& records,
                               const std::vector<DedupeGroup>& groups);

// The `ursa dedupe` command. Returns 0, 1 when some files could not be read or decoded
// (or moved, or the report written), 2 on usage errors (no folder, no images, a bad
// threshold, --move inside DATA and not hidden).
int dedupe_dataset(const DedupeOptions& options);

}  // namespace ursa
