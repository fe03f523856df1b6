// `ursa clean`: apply a cleaning plan by moving files, and undo it (see clean.h for
// the journal).
#include "ursa/clean.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "ursa/dataset.h"
#include "ursa/fetch.h"
#include "ursa/image.h"
#include "ursa/io.h"
#include "ursa/run.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace ursa {

fs::path free_destination(const fs::path& dir, const fs::path& rel, const std::function<bool(const fs::path&)>& taken) {
    fs::path dest = dir / rel;
    for (int k = 2; taken(dest); ++k)
        dest = dir / rel.parent_path() /
               (rel.stem().string() + " (" + std::to_string(k) + ")" + rel.extension().string());
    return dest;
}

fs::path free_destination(const fs::path& dir, const fs::path& rel) {
    return free_destination(dir, rel, [](const fs::path& p) { return fs::exists(p); });
}

namespace {

constexpr const char* kTrash = ".ursa-trash";
constexpr const char* kJournal = "journal.json";
constexpr const char* kLog = "journal.log";

// Anything at all at `p`, a dangling symbolic link included. A path that cannot be
// looked at (no permission) is not: a rename there fails too, and is reported.
bool present(const fs::path& p) {
    std::error_code ec;
    const fs::file_type type = fs::symlink_status(p, ec).type();
    return type != fs::file_type::not_found && type != fs::file_type::none;
}

bool sha_matches(const fs::path& p, const std::string& sha) {
    auto actual = sha256_file(p.string());
    return actual && *actual == sha;
}

// A rename that fails with EEXIST instead of replacing whatever is at `to`.
std::error_code rename_noreplace(const fs::path& from, const fs::path& to) {
#ifdef RENAME_NOREPLACE
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) return {errno, std::generic_category()};
#endif
    // File systems without RENAME_NOREPLACE: look, then rename.
    if (present(to)) return std::make_error_code(std::errc::file_exists);
    std::error_code ec;
    fs::rename(from, to, ec);
    return ec;
}

std::string utc_now(const char* format) {
    const std::time_t t = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char buf[64];
    std::strftime(buf, sizeof buf, format, &utc);
    return buf;
}

// ---- plan validation --------------------------------------------------------------

// Why `file` is not a plain path inside DATA ("" when it is one).
std::string bad_file(const std::string& file) {
    if (file.empty()) return "\"file\" is empty";
    if (file.find('\0') != std::string::npos) return "\"file\" contains a NUL character";
    if (file[0] == '/') return "\"file\" must be relative to DATA, not absolute";
    size_t start = 0;
    for (bool first = true;; first = false) {
        const size_t end = file.find('/', start);
        const std::string part = file.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (part == "..") return "\"file\" must not contain \"..\"";
        if (part.empty() || part == ".") return "\"file\" has an empty or \".\" part";
        if (first && part == kTrash) return "\"file\" is inside .ursa-trash (use --undo to bring files back)";
        if (end == std::string::npos) return "";
        start = end + 1;
    }
}

// Why `label` is not a safe single folder name ("" when it is one).
std::string bad_label(const std::string& label) {
    if (label.empty()) return "relabel needs a non-empty \"label\"";
    if (label == "." || label == "..") return "\"label\" must be a folder name, not \"" + label + "\"";
    if (label.find_first_of("/\\") != std::string::npos) return "\"label\" must be one folder name (no / or \\)";
    if (label[0] == '.') return "\"label\" must not start with '.' (hidden folders are not read as data)";
    for (unsigned char c : label)
        if (c < 0x20 || c == 0x7f) return "\"label\" contains a control character";
    if (label.size() > 255) return "\"label\" is longer than 255 bytes";
    return "";
}

// Why plan item `it` is unusable ("" when it is fine); fills `item` as it goes.
std::string check_item(const json& it, CleanItem& item) {
    if (!it.is_object()) return "must be an object {\"file\": ..., \"action\": ...}";
    if (!it.contains("file") || !it["file"].is_string()) return "\"file\" must be a string";
    item.file = it["file"].get<std::string>();
    if (auto why = bad_file(item.file); !why.empty()) return why;
    const json action = it.value("action", json());
    if (action != "delete" && action != "relabel")
        return "\"action\" must be \"delete\" or \"relabel\", not " + (action.is_null() ? "missing" : action.dump());
    item.action = action.get<std::string>();
    if (item.action == "delete") return "";
    const json label = it.value("label", json());
    if (!label.is_string()) return "relabel needs a \"label\" (a string)";
    item.label = label.get<std::string>();
    if (auto why = bad_label(item.label); !why.empty()) return why;
    if (item.file.find('/') == std::string::npos) return "relabel needs a file inside a label folder (label/name.jpg)";
    return "";
}

}  // namespace

std::error_code move_file(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::create_directories(to.parent_path(), ec);
    if (ec) return ec;
    ec = rename_noreplace(from, to);
    if (ec != std::errc::cross_device_link) return ec;
    // Another file system: copy (which refuses an existing `to`), check, then remove
    // the source.
    ec.clear();
    fs::copy_file(from, to, fs::copy_options::none, ec);
    if (ec) return ec;
    if (fs::file_size(from, ec) != fs::file_size(to, ec) || ec) {
        std::error_code ignore;
        fs::remove(to, ignore);
        return ec ? ec : std::make_error_code(std::errc::io_error);
    }
    fs::remove(from, ec);
    return ec;
}

std::string move_destination_error(const std::string& data, const std::string& dir, const std::string& flag) {
    auto resolved = [](const std::string& p) {  // absolute, symbolic links resolved, no trailing '/'
        std::error_code ec;
        fs::path r = fs::weakly_canonical(fs::absolute(p), ec).lexically_normal();
        return r.has_filename() || !r.has_relative_path() ? r : r.parent_path();
    };
    const fs::path rel = resolved(dir).lexically_relative(resolved(data));
    const bool inside = !rel.empty() && *rel.begin() != "..";
    bool hidden = false;  // a hidden folder below data: find_image_files skips it
    for (const auto& part : rel) {
        const std::string s = part.string();
        hidden = hidden || (s.size() > 1 && s[0] == '.' && s != "..");
    }
    if (!inside || hidden) return "";
    return flag + " " + dir + " is " + (rel == "." ? "the dataset folder " + data + " itself" : "inside " + data) +
           ", where its files would be read as data again; use a folder outside it or a hidden one (a name "
           "starting with '.')";
}

Result<std::vector<std::string>> dataset_images_to_move(const std::string& data, const std::string& move_dir,
                                                        const std::string& flag) {
    std::error_code ec;
    if (!fs::is_directory(data, ec))
        return make_error(data + " is not a folder" + (fs::exists(data, ec) ? "" : " (it does not exist)"));
    if (!move_dir.empty())
        if (std::string err = move_destination_error(data, move_dir, flag); !err.empty()) return make_error(err);
    std::vector<std::string> files = find_image_files(data);
    if (files.empty()) return make_error("no image files (by extension) under " + data);
    return files;
}

nlohmann::json clean_plan_items(const CleanPlan& plan) {
    json items = json::array();
    for (const auto& it : plan.items) {
        json j = {{"file", it.file}, {"action", it.action}};
        if (it.action == "relabel") j["label"] = it.label;
        items.push_back(std::move(j));
    }
    return items;
}

namespace {

// ---- the journal -----------------------------------------------------------------

struct Move {
    std::string action;  // delete | relabel
    std::string from;    // relative to DATA
    std::string to;      // relative to DATA; "" when the move was never possible
    uint64_t size = 0;
    std::string sha256;  // of the source when the apply started
    std::string state;   // pending | done | undone | failed | skipped
    std::string error;   // why failed or skipped, or why undo left the file where it is
};

struct Journal {
    fs::path dir;       // DATA/.ursa-trash/<name>
    std::string name;   // the timestamp folder's name
    int64_t seq = 0;    // orders the applies: undo takes the highest not undone
    std::string created;
    std::string state;  // applying | applied | undoing | undone
    json plan;          // clean_plan_items of the plan applied
    std::vector<std::string> made_dirs;  // label folders the apply created, deepest first
    std::vector<Move> moves;
};

json to_json(const Journal& j) {
    json moves = json::array();
    for (const auto& m : j.moves) {
        json e = {{"action", m.action}, {"from", m.from}, {"state", m.state}};
        if (!m.to.empty()) e["to"] = m.to;
        if (!m.sha256.empty()) {
            e["size"] = m.size;
            e["sha256"] = m.sha256;
        }
        if (!m.error.empty()) e["error"] = m.error;
        moves.push_back(std::move(e));
    }
    return {{"version", 1},     {"seq", j.seq},     {"created", j.created},       {"state", j.state},
            {"items", j.plan},  {"moves", moves},   {"made_dirs", j.made_dirs}};
}

// Sets the fields a log line names: {"i": 3, "state": "done"}, {"i": 3, "to": "…"}, ….
// Every line sets values, so replaying one twice changes nothing.
void replay(Journal& j, const json& e) {
    const size_t i = e.at("i").get<size_t>();
    if (i >= j.moves.size()) throw std::out_of_range("move " + std::to_string(i) + " does not exist");
    Move& m = j.moves[i];
    if (e.contains("state")) m.state = e["state"].get<std::string>();
    if (e.contains("to")) m.to = e["to"].get<std::string>();
    if (e.contains("error")) m.error = e["error"].get<std::string>();
}

// journal.json with journal.log replayed over it. A last log line without its
// newline was cut by a kill and is ignored (its move is recognised by its file).
Result<Journal> load_journal(const fs::path& dir) {
    const fs::path path = dir / kJournal;
    auto bytes = read_file(path.string());
    if (!bytes) return bytes.error();
    const json j = json::parse(bytes->begin(), bytes->end(), nullptr, false);
    if (j.is_discarded()) return make_error(path.string() + " is not valid JSON");
    Journal out;
    out.dir = dir;
    out.name = dir.filename().string();
    try {
        if (j.at("version").get<int>() != 1) return make_error(path.string() + ": unsupported version");
        out.seq = j.at("seq").get<int64_t>();
        out.created = j.value("created", "");
        out.state = j.at("state").get<std::string>();
        out.plan = j.at("items");
        out.made_dirs = j.value("made_dirs", std::vector<std::string>{});
        for (const auto& e : j.at("moves")) {
            Move m;
            m.action = e.at("action").get<std::string>();
            m.from = e.at("from").get<std::string>();
            m.to = e.value("to", "");
            m.size = e.value("size", uint64_t{0});
            m.sha256 = e.value("sha256", "");
            m.state = e.at("state").get<std::string>();
            m.error = e.value("error", "");
            out.moves.push_back(std::move(m));
        }
    } catch (const std::exception& e) {
        return make_error(path.string() + " is not a journal of `ursa clean`: " + e.what());
    }
    const fs::path log = dir / kLog;
    if (!present(log)) return out;
    auto lines = read_file(log.string());
    if (!lines) return lines.error();
    const std::string text(lines->begin(), lines->end());
    size_t start = 0, line_no = 1;
    for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1, ++line_no) {
        try {
            replay(out, json::parse(text.substr(start, end - start)));
        } catch (const std::exception& e) {
            return make_error(log.string() + ":" + std::to_string(line_no) + ": " + e.what());
        }
    }
    return out;
}

// Writes the journal: fold() rewrites journal.json atomically from memory and starts
// an empty log; log() records one change in memory and appends it to the log.
class JournalWriter {
  public:
    explicit JournalWriter(Journal& j) : j_(j) {}
    ~JournalWriter() { close(); }
    JournalWriter(const JournalWriter&) = delete;
    JournalWriter& operator=(const JournalWriter&) = delete;

    Result<bool> fold() {
        close();
        // Paths come from the plan (valid UTF-8); a system message might not be.
        const std::string text = to_json(j_).dump(1, ' ', false, json::error_handler_t::replace) + "\n";
        auto ok = write_file_atomic((j_.dir / kJournal).string(), text);
        if (!ok) return ok;
        // The old log's lines are in journal.json now; replaying them again would change nothing.
        fd_ = ::open((j_.dir / kLog).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (fd_ < 0) return make_error("cannot write " + (j_.dir / kLog).string() + ": " + std::strerror(errno));
        return true;
    }

    // The last fold: journal.json holds everything, the log goes.
    Result<bool> finish() {
        auto ok = fold();
        if (!ok) return ok;
        close();
        std::error_code ec;
        fs::remove(j_.dir / kLog, ec);
        return true;
    }

    Result<bool> log(size_t i, json change) {
        change["i"] = i;
        replay(j_, change);
        const std::string line = change.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        for (size_t done = 0; done < line.size();) {
            const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return make_error("cannot write " + (j_.dir / kLog).string() + ": " + std::strerror(errno));
            done += static_cast<size_t>(n);
        }
        return true;
    }

  private:
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    Journal& j_;
    int fd_ = -1;
};

// Every journal under DATA/.ursa-trash, oldest first. A folder without journal.json
// is skipped: nothing moves before the journal exists.
Result<std::vector<Journal>> load_journals(const fs::path& data) {
    std::vector<Journal> out;
    std::error_code ec;
    const fs::path trash = data / kTrash;
    if (!fs::is_directory(trash, ec)) return out;
    for (fs::directory_iterator it(trash, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_directory(ec) || !present(it->path() / kJournal)) continue;
        auto j = load_journal(it->path());
        if (!j) return make_error(j.error().message + " (fix it or move its folder out of " + trash.string() + ")");
        out.push_back(std::move(*j));
    }
    if (ec) return make_error("cannot list " + trash.string() + ": " + ec.message());
    std::sort(out.begin(), out.end(), [](const Journal& a, const Journal& b) {
        return a.seq != b.seq ? a.seq < b.seq : a.name < b.name;
    });
    return out;
}

// The last apply that is not undone, or nullptr.
Journal* last_active(std::vector<Journal>& journals) {
    for (auto it = journals.rbegin(); it != journals.rend(); ++it)
        if (it->state != "undone") return &*it;
    return nullptr;
}

// One `ursa clean` at a time per DATA: an advisory lock, which the kernel releases
// however the process ends.
class TrashLock {
  public:
    ~TrashLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    Result<bool> take(const fs::path& data) {
        const fs::path trash = data / kTrash;
        std::error_code ec;
        fs::create_directories(trash, ec);
        if (ec) return make_error("cannot create " + trash.string() + ": " + ec.message());
        fd_ = ::open((trash / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) return make_error("cannot open " + (trash / ".lock").string() + ": " + std::strerror(errno));
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
            return make_error("another `ursa clean` is working on " + data.string() + " right now");
        return true;
    }

  private:
    int fd_ = -1;
};

const char* verb(const std::string& action) { return action == "delete" ? "delete " : "relabel"; }

// A new journal for `plan`: sources hashed, destinations chosen (never an existing
// path, never one chosen for another item), the label folders to create noted.
Journal plan_journal(const fs::path& data, const CleanPlan& plan, const std::string& name, int64_t seq) {
    Journal j;
    j.dir = data / kTrash / name;
    j.name = name;
    j.seq = seq;
    j.created = utc_now("%Y-%m-%dT%H:%M:%SZ");
    j.state = "applying";
    j.plan = clean_plan_items(plan);
    std::set<fs::path> claimed = {j.dir / kJournal, j.dir / kLog};
    auto taken = [&](const fs::path& p) { return claimed.count(p) > 0 || present(p); };
    std::set<std::string> made;
    std::error_code ec;
    const fs::path data_real = fs::weakly_canonical(fs::absolute(data, ec), ec);
    for (const auto& item : plan.items) {
        Move m;
        m.action = item.action;
        m.from = item.file;
        m.state = "failed";
        const fs::path src = data / item.file;
        const fs::file_type type = fs::symlink_status(src, ec).type();
        const fs::path parent_real = fs::weakly_canonical(fs::absolute(src.parent_path(), ec), ec);
        const fs::path inside = parent_real.lexically_relative(data_real);
        Result<std::string> sha = make_error("");
        if (type == fs::file_type::not_found) {
            m.error = "no such file";
        } else if (type != fs::file_type::regular) {
            m.error = "not a regular file";
        } else if (inside.empty() || *inside.begin() == "..") {
            m.error = "its folder leads outside DATA (a symbolic link?)";
        } else if (!(sha = sha256_file(src.string()))) {
            m.error = sha.error().message;
        } else {
            m.sha256 = *sha;
            m.size = fs::file_size(src, ec);
            const fs::path file(item.file);
            fs::path dest;
            if (item.action == "relabel") {
                if (file.parent_path().filename() == item.label) {
                    m.state = "skipped";
                    m.error = "already labelled " + item.label;
                    j.moves.push_back(std::move(m));
                    continue;
                }
                dest = free_destination(data / file.parent_path().parent_path() / item.label, file.filename(), taken);
            } else {
                dest = free_destination(j.dir, file, taken);
            }
            claimed.insert(dest);
            m.to = dest.lexically_relative(data).generic_string();
            m.state = "pending";
            if (item.action == "relabel")
                for (fs::path d = fs::path(m.to).parent_path(); !d.empty() && !present(data / d); d = d.parent_path())
                    made.insert(d.generic_string());
        }
        j.moves.push_back(std::move(m));
    }
    j.made_dirs.assign(made.begin(), made.end());
    std::stable_sort(j.made_dirs.begin(), j.made_dirs.end(), [](const std::string& a, const std::string& b) {
        return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
    });
    return j;
}

// Carries out the journal's pending moves (all of them, or what an interrupted run
// left). Returns the exit status.
int run_apply(const fs::path& data, Journal& j, const CleanOptions& o) {
    JournalWriter writer(j);
    auto fail = [&](const Error& e) {
        std::fprintf(stderr, "error: %s; stopped (run the same --apply again to go on)\n", e.message.c_str());
        return 2;
    };
    std::error_code ec;
    if (!o.dry_run) {
        fs::create_directories(j.dir, ec);
        if (ec) return fail(make_error("cannot create " + j.dir.string() + ": " + ec.message()));
        if (auto ok = writer.fold(); !ok) return fail(ok.error());
    }
    int moved = 0, deleted = 0, failed = 0, skipped = 0, renames = 0;
    for (size_t i = 0; i < j.moves.size(); ++i) {
        Move& m = j.moves[i];
        if (m.state == "skipped") {
            std::printf("skip    %s (%s)\n", m.from.c_str(), m.error.c_str());
            ++skipped;
            continue;
        }
        if (m.state == "failed") {
            std::fprintf(stderr, "error: %s: %s\n", m.from.c_str(), m.error.c_str());
            ++failed;
            continue;
        }
        if (m.state == "done") {  // by an earlier, interrupted run
            ++moved;
            deleted += m.action == "delete";
            continue;
        }
        if (m.state != "pending") continue;
        const fs::path from = data / m.from;
        fs::path to = data / m.to;
        if (o.dry_run) {
            std::printf("%s %s -> %s\n", verb(m.action), m.from.c_str(), m.to.c_str());
            ++moved;
            deleted += m.action == "delete";
            continue;
        }
        auto record_failure = [&](const std::string& why) {
            std::fprintf(stderr, "error: %s: %s\n", m.from.c_str(), why.c_str());
            ++failed;
            return writer.log(i, {{"state", "failed"}, {"error", why}});
        };
        if (!present(from)) {
            // Moved by a run killed before it could log the move: its file is at `to`.
            if (present(to) && sha_matches(to, m.sha256)) {
                if (auto ok = writer.log(i, {{"state", "done"}}); !ok) return fail(ok.error());
                std::printf("%s %s -> %s\n", verb(m.action), m.from.c_str(), m.to.c_str());
                ++moved;
                deleted += m.action == "delete";
            } else if (auto ok = record_failure("no such file (it was there when this apply started)"); !ok) {
                return fail(ok.error());
            }
            continue;
        }
        fs::create_directories(to.parent_path(), ec);
        if (ec) {
            if (auto ok = record_failure("cannot create " + to.parent_path().string() + ": " + ec.message()); !ok)
                return fail(ok.error());
            continue;
        }
        std::error_code moved_ec;
        for (int attempt = 0; attempt < 100; ++attempt) {
            if (present(to)) {  // taken since the journal was written: a new name, logged before the rename
                to = free_destination(to.parent_path(), fs::path(m.from).filename(), present);
                if (auto ok = writer.log(i, {{"to", to.lexically_relative(data).generic_string()}}); !ok)
                    return fail(ok.error());
            }
            moved_ec = rename_noreplace(from, to);
            if (moved_ec != std::errc::file_exists) break;
        }
        if (moved_ec) {
            if (auto ok = record_failure("cannot move it to " + m.to + ": " + moved_ec.message()); !ok)
                return fail(ok.error());
            continue;
        }
        if (o.stop_after > 0 && ++renames == o.stop_after) return 1;  // tests: a kill right after a rename
        if (auto ok = writer.log(i, {{"state", "done"}}); !ok) return fail(ok.error());
        std::printf("%s %s -> %s\n", verb(m.action), m.from.c_str(), m.to.c_str());
        ++moved;
        deleted += m.action == "delete";
    }
    if (!o.dry_run) {
        j.state = "applied";
        if (auto ok = writer.finish(); !ok) return fail(ok.error());
    }
    const std::string trash = std::string(kTrash) + "/" + j.name;
    if (o.dry_run)
        std::printf("dry run: %d moves (%d deletes into %s, %d relabels), %d failed, %d skipped; nothing was changed\n",
                    moved, deleted, trash.c_str(), moved - deleted, failed, skipped);
    else
        std::printf("%d moved (%d deleted into %s, %d relabelled), %d failed, %d skipped\n", moved, deleted,
                    trash.c_str(), moved - deleted, failed, skipped);
    if (!o.dry_run && moved > 0)
        std::printf("journal: %s/%s; `ursa clean --undo` moves them back\n", trash.c_str(), kJournal);
    return failed ? 1 : 0;
}

// Removes the folders under `root` (not root itself) that are empty, deepest first;
// a folder holding anything stays.
void remove_empty_folders(const fs::path& root) {
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
        return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
    });
    for (const auto& d : dirs)
        if (fs::is_empty(d, ec) && !ec) fs::remove(d, ec);
}

}  // namespace

Result<CleanPlan> parse_clean_plan(const std::string& text, const std::string& name) {
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return make_error(name + " is not valid JSON");
    if (!j.is_object()) return make_error(name + ": a plan is a JSON object {\"version\": 1, \"items\": [...]}");
    if (!j.contains("version")) return make_error(name + ": \"version\" is missing (expected 1)");
    if (!j["version"].is_number_integer() || j["version"].get<int64_t>() != 1)
        return make_error(name + ": unsupported \"version\" " + j["version"].dump() + " (expected 1)");
    CleanPlan plan;
    if (j.contains("data")) {
        if (!j["data"].is_string()) return make_error(name + ": \"data\" must be a string");
        plan.data = j["data"].get<std::string>();
    }
    if (!j.contains("items") || !j["items"].is_array()) return make_error(name + ": \"items\" must be an array");
    std::vector<std::string> errors;
    std::map<std::string, size_t> seen;
    const json& items = j["items"];
    for (size_t i = 0; i < items.size(); ++i) {
        CleanItem item;
        const std::string why = check_item(items[i], item);
        if (why.empty()) {
            auto [prev, fresh] = seen.emplace(item.file, i);
            if (fresh) {
                plan.items.push_back(std::move(item));
                continue;
            }
            errors.push_back(name + ": items[" + std::to_string(i) + "] (" + item.file + "): the same file as items[" +
                             std::to_string(prev->second) + "]");
        } else {
            errors.push_back(name + ": items[" + std::to_string(i) + "]" +
                             (item.file.empty() ? "" : " (" + item.file + ")") + ": " + why);
        }
    }
    if (!errors.empty()) {
        std::string message;
        const size_t shown = std::min<size_t>(errors.size(), 20);
        for (size_t i = 0; i < shown; ++i) message += (i ? "\n" : "") + errors[i];
        if (errors.size() > shown) message += "\n... and " + std::to_string(errors.size() - shown) + " more bad items";
        return make_error(message);
    }
    return plan;
}

Result<CleanPlan> read_clean_plan(const std::string& path) {
    auto bytes = read_file(path);
    if (!bytes) return bytes.error();
    return parse_clean_plan(std::string(bytes->begin(), bytes->end()), path);
}

namespace {

// Checks DATA, takes the trash lock when `lock_it`, and reads the journals; false
// after printing the error.
bool open_data(const fs::path& data, bool lock_it, TrashLock& lock, Result<std::vector<Journal>>& journals) {
    std::error_code ec;
    if (!fs::is_directory(data, ec)) {
        std::fprintf(stderr, "error: %s is not a folder\n", data.string().c_str());
        return false;
    }
    if (lock_it)
        if (auto ok = lock.take(data); !ok) {
            std::fprintf(stderr, "error: %s\n", ok.error().message.c_str());
            return false;
        }
    journals = load_journals(data);
    if (!journals) {
        std::fprintf(stderr, "error: %s\n", journals.error().message.c_str());
        return false;
    }
    return true;
}

}  // namespace

int apply_clean_plan(const std::string& data_dir, const CleanPlan& plan, const CleanOptions& o) {
    const fs::path data = data_dir;
    std::error_code ec;
    TrashLock lock;
    Result<std::vector<Journal>> journals = std::vector<Journal>{};
    if (!open_data(data, !o.dry_run, lock, journals)) return 2;
    if (Journal* last = last_active(*journals)) {
        const std::string where = std::string(kTrash) + "/" + last->name + "/" + kJournal;
        if (last->state == "undoing") {
            std::fprintf(stderr, "error: an --undo was interrupted (%s); run --undo again to finish it first\n",
                         where.c_str());
            return 2;
        }
        const bool same_plan = last->plan == clean_plan_items(plan);
        if (last->state == "applying" && !same_plan) {
            std::fprintf(stderr,
                         "error: the apply of another plan was interrupted (%s); run --apply with that plan to "
                         "finish it, or --undo to move back what it moved\n",
                         where.c_str());
            return 2;
        }
        if (last->state == "applying") {
            std::printf("continuing the interrupted apply of %s (%s)\n", last->created.c_str(), where.c_str());
            return run_apply(data, *last, o);
        }
        if (same_plan) {
            const auto failed = std::count_if(last->moves.begin(), last->moves.end(),
                                              [](const Move& m) { return m.state == "failed"; });
            std::printf("this plan was applied on %s (%s); nothing to do (`ursa clean --undo` reverses it)\n",
                        last->created.c_str(), where.c_str());
            if (failed) std::printf("%ld of its items had failed; the journal says why\n", static_cast<long>(failed));
            return 0;
        }
    }
    if (plan.items.empty()) {
        std::printf("the plan has no items; nothing to do\n");
        return 0;
    }
    std::string name = utc_now("%Y%m%d-%H%M%S");
    for (int k = 2; present(data / kTrash / name); ++k) name = utc_now("%Y%m%d-%H%M%S") + "-" + std::to_string(k);
    Journal j = plan_journal(data, plan, name, journals->empty() ? 1 : journals->back().seq + 1);
    const bool any = std::any_of(j.moves.begin(), j.moves.end(), [](const Move& m) { return m.state == "pending"; });
    if (!any) {  // no journal for an apply that moves nothing: --undo still finds the apply before
        int failed = 0;
        for (const auto& m : j.moves) {
            if (m.state == "skipped") std::printf("skip    %s (%s)\n", m.from.c_str(), m.error.c_str());
            else std::fprintf(stderr, "error: %s: %s\n", m.from.c_str(), m.error.c_str()), ++failed;
        }
        std::printf("nothing to move: %d failed, %zu skipped\n", failed, j.moves.size() - failed);
        return failed ? 1 : 0;
    }
    return run_apply(data, j, o);
}

int undo_last_clean(const std::string& data_dir, const CleanOptions& o) {
    const fs::path data = data_dir;
    std::error_code ec;
    TrashLock lock;
    Result<std::vector<Journal>> journals = std::vector<Journal>{};
    if (!open_data(data, !o.dry_run && fs::is_directory(data / kTrash, ec), lock, journals)) return 2;
    Journal* last = last_active(*journals);
    if (!last) {
        std::printf("nothing to undo in %s\n", data_dir.c_str());
        return 0;
    }
    Journal& j = *last;
    const std::string where = std::string(kTrash) + "/" + j.name + "/" + kJournal;
    std::printf("undoing the apply of %s (%s)\n", j.created.c_str(), where.c_str());
    JournalWriter writer(j);
    auto fail = [&](const Error& e) {
        std::fprintf(stderr, "error: %s; stopped (run --undo again to go on)\n", e.message.c_str());
        return 2;
    };
    if (!o.dry_run) {
        j.state = "undoing";
        if (auto ok = writer.fold(); !ok) return fail(ok.error());
    }
    int restored = 0, failed = 0, renames = 0;
    for (size_t i = j.moves.size(); i-- > 0;) {
        Move& m = j.moves[i];
        if (m.state != "done" && m.state != "pending") continue;  // undone, failed, skipped
        const fs::path from = data / m.from, to = data / m.to;
        // A pending move of an interrupted apply counts only when it happened: its
        // file is at `to` and no longer at `from`.
        if (m.state == "pending" && (present(from) || !present(to) || !sha_matches(to, m.sha256))) continue;
        std::string why;
        if (!present(to)) {
            if (present(from) && sha_matches(from, m.sha256)) {  // moved back by an undo killed before its log line
                if (o.dry_run) continue;
                if (auto ok = writer.log(i, {{"state", "undone"}}); !ok) return fail(ok.error());
                std::printf("restore %s -> %s\n", m.to.c_str(), m.from.c_str());
                ++restored;
                continue;
            }
            why = m.to + " is gone";
        } else if (!sha_matches(to, m.sha256)) {
            why = m.to + " has changed since it was moved (its sha256 differs from the journal's); left there";
        } else if (present(from)) {
            why = "another file is at " + m.from + " now; " + m.to + " is left where it is";
        }
        if (why.empty() && o.dry_run) {
            std::printf("restore %s -> %s\n", m.to.c_str(), m.from.c_str());
            ++restored;
            continue;
        }
        if (why.empty()) {
            fs::create_directories(from.parent_path(), ec);
            if (auto err = ec ? ec : rename_noreplace(to, from))
                why = "cannot move " + m.to + " back: " + err.message();
        }
        if (!why.empty()) {
            std::fprintf(stderr, "error: %s: not restored: %s\n", m.from.c_str(), why.c_str());
            ++failed;
            if (!o.dry_run)
                if (auto ok = writer.log(i, {{"error", "undo: " + why}}); !ok) return fail(ok.error());
            continue;
        }
        if (o.stop_after > 0 && ++renames == o.stop_after) return 1;  // tests: a kill right after a rename
        if (auto ok = writer.log(i, {{"state", "undone"}}); !ok) return fail(ok.error());
        std::printf("restore %s -> %s\n", m.to.c_str(), m.from.c_str());
        ++restored;
    }
    if (o.dry_run) {
        std::printf("dry run, nothing changed: would restore %d files, %d could not be\n", restored, failed);
        return failed ? 1 : 0;
    }
    // Label folders the apply made go when they are empty again; the trash keeps only the journal.
    for (const auto& d : j.made_dirs) {
        const fs::path p = data / d;
        if (fs::symlink_status(p, ec).type() == fs::file_type::directory && fs::is_empty(p, ec) && !ec)
            fs::remove(p, ec);
    }
    remove_empty_folders(j.dir);
    j.state = "undone";
    if (auto ok = writer.finish(); !ok) return fail(ok.error());
    std::printf("%d restored, %d not restored%s\n", restored, failed,
                failed ? " (listed above; they are still where the apply put them)" : "");
    return failed ? 1 : 0;
}

int clean_command(const CleanCommand& c) {
    if (c.apply == c.undo) {
        std::fprintf(stderr, "error: say --apply (with --plan PLAN) or --undo\n");
        return 2;
    }
    if (c.apply && c.plan.empty()) {
        std::fprintf(stderr, "error: --apply needs --plan PLAN\n");
        return 2;
    }
    if (c.undo && !c.plan.empty()) {
        std::fprintf(stderr, "error: --undo takes no --plan: it reverses the last apply in DATA\n");
        return 2;
    }
    CleanPlan plan;
    if (c.apply) {
        auto p = read_clean_plan(c.plan);
        if (!p) {
            std::fprintf(stderr, "error: %s\n", p.error().message.c_str());
            return 2;
        }
        plan = std::move(*p);
    }
    std::string data = c.data, source = "--data";
    if (data.empty() && !c.run.empty()) {
        auto config = read_run_config(c.run);
        if (!config) {
            std::fprintf(stderr, "error: %s\n", config.error().message.c_str());
            return 2;
        }
        data = config->data;
        source = c.run + "/" + kRunConfig;
    }
    if (data.empty() && !plan.data.empty()) {
        data = plan.data;
        source = "the plan";
    }
    if (data.empty()) {
        std::fprintf(stderr, "error: which dataset? give --data DATA (or a RUN whose config names it)\n");
        return 2;
    }
    if (!plan.data.empty() && source != "the plan") {
        std::error_code ec;
        const bool same = fs::equivalent(plan.data, data, ec) ||
                          fs::weakly_canonical(plan.data, ec) == fs::weakly_canonical(data, ec);
        if (!same)
            std::fprintf(stderr, "note: the plan names data %s; using %s (from %s)\n", plan.data.c_str(),
                         data.c_str(), source.c_str());
    }
    CleanOptions o;
    o.dry_run = c.dry_run;
    return c.apply ? apply_clean_plan(data, plan, o) : undo_last_clean(data, o);
}

}  // namespace ursa
