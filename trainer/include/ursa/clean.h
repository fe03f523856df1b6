// `ursa clean`: applies a cleaning plan (delete or relabel files of a dataset) by
// moving files, never deleting or overwriting one, and undoes it byte for byte.
//
// Plan (design.md): {"version": 1, "data": "DATA", "items": [{"file": "label/name.jpg",
// "action": "delete"}, {"file": "…", "action": "relabel", "label": "new"}]}, files
// relative to DATA.
//
// Applying writes DATA/.ursa-trash/<timestamp>/journal.json before anything moves:
// every planned move (from, to, size, sha256) as "pending". Each move is one rename
// inside DATA; its completion is appended to journal.log next to the journal, which
// is folded back into journal.json when a run starts and ends. A kill at any moment
// leaves a state that a second apply finishes and that undo reverses (a move whose
// log line was lost is recognised by its file: gone from `from`, at `to` with the
// journal's sha256). Deleted files go to .ursa-trash/<timestamp>/<same path>.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "ursa/result.h"

namespace ursa {

struct CleanItem {
    std::string file;    // relative to DATA, '/'-separated
    std::string action;  // "delete" or "relabel"
    std::string label;   // relabel only: the new label (one folder name)
};

struct CleanPlan {
    std::string data;  // the plan's "data" ("" when absent)
    std::vector<CleanItem> items;
};

// Parses and validates a plan; the error lists every bad item as items[i] with the
// reason (absolute or escaping paths, .ursa-trash, unknown actions, unsafe labels,
// duplicates).
Result<CleanPlan> parse_clean_plan(const std::string& text, const std::string& name = "plan");
Result<CleanPlan> read_clean_plan(const std::string& path);

// The plan's items as JSON, in the plan format (the journal keeps them to recognise
// the same plan again; the cleaner page writes and shows them).
nlohmann::json clean_plan_items(const CleanPlan& plan);

struct CleanOptions {
    bool dry_run = false;  // print the moves, change nothing (no journal either)
    int stop_after = -1;   // tests only: return after this many renames, as if killed
};

// Applies `plan` to data_dir (or finishes its interrupted apply). Prints one line
// per move and a summary. Returns 0, 1 when some items failed (the rest were still
// moved) or 2 on setup errors (no folder, an unreadable journal, another plan's
// unfinished apply).
int apply_clean_plan(const std::string& data_dir, const CleanPlan& plan, const CleanOptions& options = {});

// Moves the last apply's files back, newest first, each only when its sha256 still
// matches the journal and its old path is free; removes label folders that apply
// made and that are empty again. The next call undoes the apply before it.
int undo_last_clean(const std::string& data_dir, const CleanOptions& options = {});

// The `ursa clean` command: DATA is --data, else the run's dataset folder, else the
// plan's "data".
struct CleanCommand {
    std::string run;   // "" = none
    std::string data;  // "" = from the run, else from the plan
    std::string plan;
    bool apply = false;
    bool undo = false;
    bool dry_run = false;
};
int clean_command(const CleanCommand& command);

// `dir/rel`, or when `taken` says that is in use, the same name with " (2)", " (3)",
// … before the extension (shared with `ursa verify --move-bad`).
std::filesystem::path free_destination(const std::filesystem::path& dir, const std::filesystem::path& rel,
                                       const std::function<bool(const std::filesystem::path&)>& taken);
// The same with `taken` = std::filesystem::exists.
std::filesystem::path free_destination(const std::filesystem::path& dir, const std::filesystem::path& rel);

// Moves a file (making to's folder): a rename, or across file systems a copy and then
// the removal of the source once the copy is complete. Never replaces anything at
// `to` (that fails with file_exists). Shared by `ursa verify --move-bad` and
// `ursa dedupe --move`.
std::error_code move_file(const std::filesystem::path& from, const std::filesystem::path& to);

// Why `dir` must not receive files moved out of the dataset folder `data`, or "" when
// it may: it is `data` itself or inside it and not hidden, where find_image_files
// would read its files as data again. `flag` names the option in the message.
std::string move_destination_error(const std::string& data, const std::string& dir, const std::string& flag);

// The image files under the dataset folder `data` (find_image_files) for a command that
// may move some of them to `move_dir` ("" = none, else checked with
// move_destination_error under the name `flag`), or why not (a usage error, exit
// status 2): no such folder, a move_dir inside it, no image files.
Result<std::vector<std::string>> dataset_images_to_move(const std::string& data, const std::string& move_dir,
                                                        const std::string& flag);

}  // namespace ursa
