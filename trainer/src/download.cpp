#include "ursa/download.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "ursa/clean.h"  // move_file
#include "ursa/dataset.h"
#include "ursa/fetch.h"  // sha256_hex
#include "ursa/http.h"
#include "ursa/io.h"
#include "ursa/json.h"
#include "ursa/preprocess.h"
#include "ursa/progress.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace ursa {

namespace {

constexpr const char* kReport = "download-report.json";
constexpr const char* kWorkDir = ".ursa-download";  // temporary files; hidden, so never read as data

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<std::string> read_text(const std::string& path) {
    auto bytes = read_file(path);
    if (!bytes) return bytes.error();
    return std::string(bytes->begin(), bytes->end());
}

// ---- URL lists -------------------------------------------------------------------

const char* const kColumns[] = {"label", "url", "page", "license", "author", "title"};

Result<bool> read_txt_list(const std::string& path, const std::string& label, std::vector<UrlEntry>& out) {
    auto text = read_text(path);
    if (!text) return text.error();
    size_t line_no = 0, start = 0;
    while (start <= text->size()) {
        size_t end = text->find('\n', start);
        if (end == std::string::npos) end = text->size();
        std::string line = trim_space(text->substr(start, end - start));
        ++line_no;
        start = end + 1;
        if (line.empty() || line[0] == '#') continue;
        out.push_back({label, line, path + ":" + std::to_string(line_no), "", "", "", ""});
    }
    return true;
}

// A CSV of label,url[,page,license,author,title]; with a header row the columns may
// come in any order. `label` (when not empty) replaces the file's labels.
Result<bool> read_csv_list(const std::string& path, const std::string& label, std::vector<UrlEntry>& out) {
    auto text = read_text(path);
    if (!text) return text.error();
    auto rows = parse_csv(*text);
    if (!rows) return make_error(path + ": " + rows.error().message);
    std::map<std::string, size_t> column;  // name -> index
    size_t first = 0;
    if (!rows->empty()) {
        for (size_t i = 0; i < (*rows)[0].size(); ++i) column[lower(trim_space((*rows)[0][i]))] = i;
        if (column.count("url")) {
            first = 1;
            if (!column.count("label") && label.empty())
                return make_error(path + ": the header has no \"label\" column (or name the label: LABEL=" + path + ")");
        } else {
            column.clear();
            for (size_t i = 0; i < std::size(kColumns); ++i) column[kColumns[i]] = i;
        }
    }
    auto field = [&](const std::vector<std::string>& row, const char* name) -> std::string {
        auto it = column.find(name);
        return it != column.end() && it->second < row.size() ? trim_space(row[it->second]) : "";
    };
    for (size_t r = first; r < rows->size(); ++r) {
        const auto& row = (*rows)[r];
        const std::string origin = path + ":" + std::to_string(r + 1);
        if (row.size() == 1 && trim_space(row[0]).empty()) continue;  // a blank line
        UrlEntry e{label.empty() ? field(row, "label") : label, field(row, "url"), origin,
                   field(row, "page"), field(row, "license"), field(row, "author"), field(row, "title")};
        if (e.url.empty()) return make_error(origin + ": no URL");
        if (e.label.empty()) return make_error(origin + ": no label");
        out.push_back(std::move(e));
    }
    return true;
}

Result<bool> read_list(const std::string& path, const std::string& label, std::vector<UrlEntry>& out) {
    return ends_with(lower(path), ".csv") ? read_csv_list(path, label, out) : read_txt_list(path, label, out);
}

}  // namespace

std::string bad_label(const std::string& label) {
    if (label.empty()) return "a label is empty";
    if (label[0] == '.') return "label \"" + label + "\" starts with '.' (hidden folders are not read as data)";
    for (char c : label)
        if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
            return "label \"" + label + "\" contains '/', '\\' or a control character";
    return "";
}

Result<std::vector<UrlEntry>> read_url_lists(const std::vector<std::string>& specs, int max_per_label) {
    std::vector<UrlEntry> entries;
    for (const std::string& spec : specs) {
        std::error_code ec;
        if (spec.find('=') != std::string::npos) {  // label=file[,label=file...]
            size_t start = 0;
            while (start <= spec.size()) {
                size_t end = spec.find(',', start);
                if (end == std::string::npos) end = spec.size();
                const std::string pair = spec.substr(start, end - start);
                start = end + 1;
                if (pair.empty()) continue;
                const size_t eq = pair.find('=');
                if (eq == std::string::npos)
                    return make_error("--urls " + spec + ": \"" + pair + "\" is not LABEL=FILE");
                auto ok = read_list(pair.substr(eq + 1), pair.substr(0, eq), entries);
                if (!ok) return ok.error();
            }
        } else if (fs::is_directory(spec, ec)) {  // <label>.txt / <label>.csv files
            std::vector<fs::path> lists;
            for (const auto& f : fs::directory_iterator(spec, ec)) {
                const std::string ext = lower(f.path().extension().string());
                if (f.is_regular_file(ec) && (ext == ".txt" || ext == ".csv") && f.path().filename().string()[0] != '.')
                    lists.push_back(f.path());
            }
            if (ec) return make_error("cannot read " + spec + ": " + ec.message());
            std::sort(lists.begin(), lists.end());
            if (lists.empty()) return make_error(spec + " holds no <label>.txt or <label>.csv URL lists");
            for (const auto& l : lists) {
                auto ok = read_list(l.string(), l.stem().string(), entries);
                if (!ok) return ok.error();
            }
        } else {
            if (!ends_with(lower(spec), ".csv"))
                return make_error("--urls " + spec +
                                  ": a plain list needs its label (LABEL=" + spec + "); only a CSV carries labels");
            auto ok = read_csv_list(spec, "", entries);
            if (!ok) return ok.error();
        }
    }
    for (const auto& e : entries)
        if (const std::string why = bad_label(e.label); !why.empty()) return make_error(e.origin + ": " + why);
    if (max_per_label > 0) {
        std::map<std::string, int> count;
        std::vector<UrlEntry> kept;
        for (auto& e : entries)
            if (++count[e.label] <= max_per_label) kept.push_back(std::move(e));
        entries = std::move(kept);
    }
    return entries;
}

void shrink_size(int width, int height, int max_size, int& out_width, int& out_height) {
    out_width = width, out_height = height;
    if (max_size <= 0 || (width <= max_size && height <= max_size)) return;
    // fastai: ratio = targ_sz / max(w, h); (int(w * ratio), int(h * ratio))
    const double ratio = static_cast<double>(max_size) / std::max(width, height);
    out_width = std::max(1, static_cast<int>(width * ratio));
    out_height = std::max(1, static_cast<int>(height * ratio));
}

namespace {

// ---- one URL: fetch and check ------------------------------------------------------

struct Fetched {
    bool ok = false;
    bool transient = false;
    std::string error;
    std::string sha256;
    std::string ext;  // "jpg", "png", ...
    std::string temp;  // the checked bytes, complete, in the work folder
    uint64_t bytes = 0;
    int width = 0, height = 0;            // as saved
    int source_width = 0, source_height = 0;
    bool resized = false;
    std::string content_type;
    double retry_after_s = -1;  // the server's Retry-After, for a retry
    std::string no_space;       // the write failed for want of space: why (strerror)
};

Fetched fail(std::string why, bool transient = false) {
    Fetched f;
    f.error = std::move(why);
    f.transient = transient;
    return f;
}

// The first bytes of a body that is not an image, printable, for the report.
std::string preview(const std::vector<uint8_t>& body) {
    std::string s;
    for (size_t i = 0; i < body.size() && s.size() < 24; ++i) {
        const char c = static_cast<char>(body[i]);
        s += (c >= 0x20 && c < 0x7F) ? c : '.';
    }
    return s;
}

bool acceptable_content_type(const std::string& type) {
    // Servers label images loosely; a missing or generic type is judged by the bytes.
    return type.empty() || type.rfind("image/", 0) == 0 || type == "application/octet-stream" ||
           type == "binary/octet-stream" || type == "application/binary" || type == "application/x-binary";
}

std::string save_extension(const std::string& format) {
    if (format == "jpeg") return "jpg";
    return format;  // png, gif, bmp
}

// A full disk or quota: every further download would fail the same way.
bool disk_full(int err) { return err == ENOSPC || err == EDQUOT; }

// On failure `err` is the errno.
Result<bool> write_temp(const std::string& path, const std::vector<uint8_t>& bytes, int& err) {
    err = 0;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = errno;
        return make_error("cannot write " + path + ": " + std::strerror(err));
    }
    const uint8_t* p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
        const ssize_t w = ::write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            err = errno;
            break;
        }
        p += w, left -= static_cast<size_t>(w);
    }
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err != 0) {
        ::unlink(path.c_str());
        return make_error("cannot write " + path + ": " + std::strerror(err));
    }
    return true;
}

Fetched fetch_one(HttpClient& client, const UrlEntry& entry, const std::string& temp,
                  const DownloadDatasetOptions& o) {
    if (const std::string why = check_http_url(entry.url); !why.empty()) return fail(why);
    HttpOptions http;
    http.timeout_s = o.timeout_s;
    http.connect_timeout_s = std::min(o.timeout_s, 10.0);
    http.max_bytes = o.max_bytes;
    HttpResult r = client.get(entry.url, http);
    if (!r.ok) {
        std::string why = r.error;  // "...: URL": the report has the URL already
        if (ends_with(why, ": " + entry.url)) why.resize(why.size() - entry.url.size() - 2);
        return fail(why, r.transient);
    }
    const HttpResponse& res = r.response;
    if (res.status < 200 || res.status >= 300) {
        Fetched f = fail("HTTP " + std::to_string(res.status) + (res.reason.empty() ? "" : " " + res.reason),
                         transient_status(res.status));
        f.retry_after_s = res.retry_after_s;
        return f;
    }
    if (!acceptable_content_type(res.content_type))
        return fail("not an image: the server sent " + res.content_type);
    const std::string format = sniff_format(res.body.data(), res.body.size());
    if (format.empty())
        return fail("not an image: " +
                    (res.body.empty() ? std::string("the response is empty")
                                      : "the bytes match no image format (they begin \"" + preview(res.body) + "\")") +
                    (res.content_type.empty() ? "" : ", though the server said " + res.content_type));
    DecodeOptions decode;
    decode.max_pixels = o.max_pixels;
    auto image = decode_image(res.body.data(), res.body.size(), decode);
    if (!image) return fail(image.error().message);

    Fetched f;
    f.ok = true;
    f.content_type = res.content_type;
    f.sha256 = sha256_hex(res.body.data(), res.body.size());
    f.source_width = f.width = image->width;
    f.source_height = f.height = image->height;
    f.ext = save_extension(format);
    f.temp = temp;
    int w = 0, h = 0;
    shrink_size(image->width, image->height, o.max_size, w, h);
    Result<bool> written = true;
    int err = 0;
    if (w != image->width || h != image->height) {
        // fastai's resize_images: Pillow's bilinear resize, saved in the same format
        // (GIF and BMP as PNG); turned upright by EXIF on the way.
        const Image small = resize(*image, w, h, Filter::Bilinear);
        const std::vector<uint8_t> bytes = format == "jpeg" ? encode_jpeg(small, o.jpeg_quality) : encode_png(small);
        if (format != "jpeg") f.ext = "png";
        f.width = w, f.height = h, f.resized = true, f.bytes = bytes.size();
        written = write_temp(temp, bytes, err);
    } else {
        f.bytes = res.body.size();
        written = write_temp(temp, res.body, err);
    }
    if (!written) {
        Fetched failed = fail(written.error().message);
        if (disk_full(err)) failed.no_space = std::strerror(err);
        return failed;
    }
    return f;
}

// ---- scheduling: per-host limits and retries ------------------------------------------

struct Task {
    size_t index;
    std::string host;
    int attempts = 0;
    Clock::time_point not_before{};
};

class Scheduler {
  public:
    Scheduler(int per_host, double delay_s) : per_host_(per_host), delay_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay_s))) {}

    void add(Task t) {
        std::lock_guard<std::mutex> lock(m_);
        pending_.push_back(std::move(t));
        ++outstanding_;
    }

    // The next task that may start now (lowest index first), waiting as needed; false
    // when every task is finished.
    bool take(Task& out) {
        std::unique_lock<std::mutex> lock(m_);
        for (;;) {
            if (outstanding_ == 0) return false;
            const auto now = Clock::now();
            auto next_chance = Clock::time_point::max();
            for (auto it = pending_.begin(); it != pending_.end(); ++it) {
                Host& h = hosts_[it->host];
                if (h.active >= per_host_) continue;  // done() will wake us
                const auto ready = std::max(it->not_before, h.last_start + delay_);
                if (ready <= now) {
                    out = std::move(*it);
                    pending_.erase(it);
                    ++h.active;
                    h.last_start = now;
                    return true;
                }
                next_chance = std::min(next_chance, ready);
            }
            if (next_chance == Clock::time_point::max())
                cv_.wait(lock);
            else
                cv_.wait_until(lock, next_chance);
        }
    }

    // The task ended; `retry_after` >= 0 puts it back to start again after that long.
    void done(Task t, double retry_after) {
        std::lock_guard<std::mutex> lock(m_);
        --hosts_[t.host].active;
        if (retry_after >= 0) {
            t.not_before = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(retry_after));
            pending_.push_back(std::move(t));
        } else {
            --outstanding_;
        }
        cv_.notify_all();
    }

    // Takes out every task not started yet (they can no longer be saved) and returns them.
    std::vector<Task> drop_pending() {
        std::lock_guard<std::mutex> lock(m_);
        std::vector<Task> dropped(pending_.begin(), pending_.end());
        pending_.clear();
        outstanding_ -= dropped.size();
        cv_.notify_all();
        return dropped;
    }

  private:
    struct Host {
        int active = 0;
        Clock::time_point last_start{};
    };
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<Task> pending_;
    std::map<std::string, Host> hosts_;
    size_t outstanding_ = 0;
    int per_host_;
    Clock::duration delay_;
};

// ---- the report -----------------------------------------------------------------------

struct Outcome {
    std::string status = "pending";  // pending | downloaded | duplicate | failed
    std::string file;                // downloaded: label/name
    std::string duplicate_of;        // duplicate: the file with the same bytes
    bool conflict = false;           // duplicate_of is under another label
    bool earlier = false;            // settled by an earlier run
    std::string reason;              // duplicate: why, when not by content
    std::string error;               // failed
    int attempts = 0;
    size_t repeat_of = SIZE_MAX;     // the same label and URL are listed first there
    Fetched fetched;
};

std::string item_json(const UrlEntry& e, const Outcome& it) {
    std::string s = "{\"label\":" + json::quote(e.label) + ",\"url\":" + json::quote(e.url) +
                    ",\"origin\":" + json::quote(e.origin) + ",\"status\":" + json::quote(it.status);
    if (!it.file.empty()) s += ",\"file\":" + json::quote(it.file);
    if (!it.duplicate_of.empty()) s += ",\"duplicate_of\":" + json::quote(it.duplicate_of);
    if (it.status == "duplicate") s += std::string(",\"conflict\":") + (it.conflict ? "true" : "false");
    if (!it.reason.empty()) s += ",\"reason\":" + json::quote(it.reason);
    if (!it.error.empty()) s += ",\"error\":" + json::quote(it.error);
    if (it.attempts > 0) s += ",\"attempts\":" + std::to_string(it.attempts);
    if (it.earlier) s += ",\"earlier_run\":true";
    const Fetched& f = it.fetched;
    if (f.ok) {
        s += ",\"sha256\":" + json::quote(f.sha256) + ",\"bytes\":" + std::to_string(f.bytes) +
             ",\"width\":" + std::to_string(f.width) + ",\"height\":" + std::to_string(f.height);
        if (f.resized)
            s += ",\"resized_from\":[" + std::to_string(f.source_width) + "," + std::to_string(f.source_height) + "]";
        if (!f.content_type.empty()) s += ",\"content_type\":" + json::quote(f.content_type);
    }
    for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"page", &e.page},
                                     {"license", &e.license}, {"author", &e.author}, {"title", &e.title}})
        if (!value->empty()) s += std::string(",\"") + key + "\":" + json::quote(*value);
    return s + "}";
}

struct Counts {
    size_t downloaded = 0, earlier = 0, duplicate = 0, failed = 0, pending = 0;
};

Counts count(const std::vector<Outcome>& items) {
    Counts c;
    for (const auto& it : items) {
        if (it.status == "pending") ++c.pending;
        else if (it.status == "failed") ++c.failed;
        else if (it.earlier) ++c.earlier;
        else if (it.status == "duplicate") ++c.duplicate;
        else ++c.downloaded;
    }
    return c;
}

std::string report_json(const std::string& out, const std::vector<UrlEntry>& entries, const std::vector<Outcome>& items) {
    const Counts c = count(items);
    std::string s = "{\"version\":1,\"out\":" + json::quote(out) + ",\"summary\":{\"urls\":" +
                    std::to_string(entries.size()) + ",\"downloaded\":" + std::to_string(c.downloaded) +
                    ",\"earlier_run\":" + std::to_string(c.earlier) + ",\"duplicate\":" + std::to_string(c.duplicate) +
                    ",\"failed\":" + std::to_string(c.failed) + ",\"pending\":" + std::to_string(c.pending) +
                    "},\n\"items\":[\n";
    for (size_t i = 0; i < entries.size(); ++i)
        s += item_json(entries[i], items[i]) + (i + 1 < entries.size() ? ",\n" : "\n");
    return s + "]}\n";
}

// What an earlier run settled, by (label, url): downloaded files still there, and
// duplicates of files still there. Failures and pending URLs are tried again.
std::map<std::pair<std::string, std::string>, Outcome> earlier_items(const fs::path& out) {
    std::map<std::pair<std::string, std::string>, Outcome> done;
    auto text = read_text((out / kReport).string());
    if (!text) return done;
    auto report = json::parse(*text);
    const json::Value* items = report ? report->find("items") : nullptr;
    if (!items || !items->is_array()) {
        std::fprintf(stderr, "warning: %s is not a readable report; downloading everything again\n",
                     (out / kReport).c_str());
        return done;
    }
    auto str = [](const json::Value& v, const char* key) {
        const json::Value* f = v.find(key);
        return f && f->is_string() ? f->string : std::string();
    };
    auto num = [](const json::Value& v, const char* key) {
        const json::Value* f = v.find(key);
        return f && f->is_number() ? f->number : 0.0;
    };
    std::error_code ec;
    for (const auto& v : items->array) {
        Outcome it;
        it.status = str(v, "status");
        it.file = str(v, "file");
        it.duplicate_of = str(v, "duplicate_of");
        const json::Value* conflict = v.find("conflict");
        it.conflict = conflict && conflict->kind == json::Value::Kind::Bool && conflict->boolean;
        it.reason = str(v, "reason");
        const std::string kept = it.status == "downloaded" ? it.file : it.duplicate_of;
        if ((it.status != "downloaded" && it.status != "duplicate") || kept.empty() ||
            !fs::is_regular_file(out / kept, ec))
            continue;
        it.earlier = true;
        Fetched& f = it.fetched;
        f.sha256 = str(v, "sha256");
        if (!f.sha256.empty()) {
            f.ok = true;
            f.bytes = static_cast<uint64_t>(num(v, "bytes"));
            f.width = static_cast<int>(num(v, "width"));
            f.height = static_cast<int>(num(v, "height"));
            f.content_type = str(v, "content_type");
        }
        done[{str(v, "label"), str(v, "url")}] = it;
    }
    return done;
}

// write_file_atomic's "<report>.tmp-<pid>", left by a run killed while writing the report.
bool report_temp_named(const std::string& name) {
    const std::string prefix = std::string(kReport) + ".tmp-";
    return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
           std::all_of(name.begin() + prefix.size(), name.end(), [](char c) {
               return std::isdigit(static_cast<unsigned char>(c));
           });
}

bool content_named(const std::string& name) {  // <16 hex>.<ext>: a file this command saved
    const size_t dot = name.find('.');
    return dot == 16 && std::all_of(name.begin(), name.begin() + 16, [](char c) {
               return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
           });
}

class ReportWriter {
  public:
    ReportWriter(std::string path) : path_(std::move(path)) {}
    // Writes at most every 2 s unless forced; a failure is reported once.
    void write(const std::string& out, const std::vector<UrlEntry>& entries, const std::vector<Outcome>& items,
               bool force) {
        const auto now = Clock::now();
        if (!force && now - last_ < std::chrono::seconds(2)) return;
        last_ = now;
        auto ok = write_file_atomic(path_, report_json(out, entries, items));
        if (!ok && !warned_) {
            std::fprintf(stderr, "\nerror: %s\n", ok.error().message.c_str());
            warned_ = true;
        }
        failed_ = !ok;
    }
    bool failed() const { return failed_; }

  private:
    std::string path_;
    Clock::time_point last_{};
    bool warned_ = false, failed_ = false;
};

// Holds an exclusive lock on a file while it lives (two downloads into one folder
// would each decide what the other already has).
struct FolderLock {
    int fd = -1;
    ~FolderLock() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

int download_dataset(const DownloadDatasetOptions& o) {
    if (o.urls.empty()) {
        std::fprintf(stderr, "error: no URL lists: pass --urls LABEL=FILE[,...], --urls LIST.csv or --urls FOLDER\n");
        return 2;
    }
    auto read = read_url_lists(o.urls, o.max_per_label);
    if (!read) {
        std::fprintf(stderr, "error: %s\n", read.error().message.c_str());
        return 2;
    }
    const std::vector<UrlEntry> entries = std::move(*read);
    if (entries.empty()) {
        std::fprintf(stderr, "error: the URL lists hold no URLs\n");
        return 2;
    }
    const fs::path out = o.out;
    const fs::path work = out / kWorkDir;
    std::error_code ec;
    fs::create_directories(work, ec);
    if (ec) {
        std::fprintf(stderr, "error: cannot create %s: %s\n", work.c_str(), ec.message().c_str());
        return 2;
    }
    FolderLock lock;
    lock.fd = ::open((work / "lock").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (lock.fd < 0) {
        std::fprintf(stderr, "error: cannot write in %s: %s\n", work.c_str(), std::strerror(errno));
        return 2;
    }
    if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
        std::fprintf(stderr, "error: another `ursa download` is writing into %s\n", out.c_str());
        return 2;
    }
    // Temporary files of an interrupted run (only ever ours: the folder is ours).
    for (const auto& f : fs::directory_iterator(work, ec))
        if (f.path().extension() == ".part") fs::remove(f.path(), ec);
    for (const auto& f : fs::directory_iterator(out, ec))  // and its report's (the lock says none is running)
        if (report_temp_named(f.path().filename().string()) && f.is_regular_file(ec)) fs::remove(f.path(), ec);

    // What is there already: an earlier run's report, and files named by content.
    std::vector<Outcome> items(entries.size());
    std::map<std::string, std::string> known;  // sha256 prefix (16 hex) -> label/name
    for (const auto& dir : fs::directory_iterator(out, ec)) {
        if (!dir.is_directory(ec) || dir.path().filename().string()[0] == '.') continue;
        for (const auto& f : fs::directory_iterator(dir.path(), ec)) {
            const std::string name = f.path().filename().string();
            if (f.is_regular_file(ec) && content_named(name))
                known.emplace(name.substr(0, 16), dir.path().filename().string() + "/" + name);
        }
    }
    auto earlier = earlier_items(out);
    std::map<std::pair<std::string, std::string>, size_t> first_index;
    Scheduler scheduler(std::max(1, o.per_host), o.host_delay_s);
    size_t to_fetch = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto key = std::make_pair(entries[i].label, entries[i].url);
        if (auto it = earlier.find(key); it != earlier.end()) {
            items[i] = it->second;
            continue;
        }
        if (auto it = first_index.find(key); it != first_index.end()) {
            items[i].repeat_of = it->second;  // settled when the first one is
            items[i].reason = "listed before, at " + entries[it->second].origin;
            continue;
        }
        first_index[key] = i;
        scheduler.add({i, url_host(entries[i].url)});
        ++to_fetch;
    }

    // Workers fetch and check; this thread commits results in list order, so which of
    // two copies is kept never depends on timing.
    std::vector<std::optional<Fetched>> results(entries.size());
    std::mutex results_mutex;
    std::condition_variable results_cv;
    std::atomic<size_t> finished{0};
    const int workers = std::max(1, std::min<int>(o.workers, static_cast<int>(std::max<size_t>(to_fetch, 1))));
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w)
        threads.emplace_back([&] {
            HttpClient client;
            Task task;
            while (scheduler.take(task)) {
                const std::string temp = (work / (std::to_string(task.index) + ".part")).string();
                Fetched f = fetch_one(client, entries[task.index], temp, o);
                ++task.attempts;
                if (!f.ok && f.transient && task.attempts <= o.retries) {
                    // Doubling backoff, or longer when the server said so (Retry-After).
                    HttpResponse said;
                    said.retry_after_s = f.retry_after_s;
                    scheduler.done(task, retry_wait(said, o.backoff_s * std::pow(2.0, task.attempts - 1)));
                    continue;
                }
                std::vector<Task> dropped;  // on a full disk: the rest fail now rather than each write
                if (!f.no_space.empty()) dropped = scheduler.drop_pending();
                {
                    std::lock_guard<std::mutex> l(results_mutex);
                    for (const Task& t : dropped) {
                        items[t.index].attempts = t.attempts;
                        results[t.index] = fail("skipped: the disk is full (" + f.no_space +
                                                "); free some space and run again");
                    }
                    items[task.index].attempts = task.attempts;  // read by the committer after it sees the result
                    results[task.index] = std::move(f);
                }
                finished += 1 + dropped.size();
                results_cv.notify_all();
                scheduler.done(task, -1);
            }
        });

    ReportWriter report((out / kReport).string());
    std::unique_ptr<ProgressBar> bar;
    if (o.progress && to_fetch > 0) bar = std::make_unique<ProgressBar>("download", to_fetch);
    size_t next = 0;
    std::set<std::string> saved;  // files this run put in place
    // Under results_mutex.
    auto ready_to_commit = [&](size_t i) {
        return i < entries.size() &&
               (items[i].status != "pending" || items[i].repeat_of != SIZE_MAX || results[i].has_value());
    };
    auto commit = [&](size_t i) {
        Outcome& it = items[i];
        const UrlEntry& e = entries[i];
        if (it.status != "pending") return;  // from an earlier run
        if (it.repeat_of != SIZE_MAX) {
            const Outcome& first = items[it.repeat_of];
            if (first.status == "failed") {
                it.status = "failed";
                it.error = first.error;
            } else {
                it.status = "duplicate";
                it.duplicate_of = first.status == "downloaded" ? first.file : first.duplicate_of;
                it.conflict = first.conflict;
            }
            return;
        }
        Fetched f = std::move(*results[i]);
        if (!f.ok) {
            it.status = "failed";
            it.error = f.error + (it.attempts > 1 ? " (" + std::to_string(it.attempts) + " attempts)" : "");
            return;
        }
        const std::string prefix = f.sha256.substr(0, 16);
        const std::string name = e.label + "/" + prefix + "." + f.ext;
        auto known_it = known.find(prefix);
        std::error_code move_ec;
        if (known_it == known.end()) {
            move_ec = move_file(f.temp, out / name);
            if (!move_ec) {
                known[prefix] = name;
                saved.insert(name);
                it.status = "downloaded";
                it.file = name;
                it.fetched = std::move(f);
                return;
            }
            if (move_ec != std::errc::file_exists) {
                fs::remove(f.temp, ec);
                it.status = "failed";
                it.error = "cannot move the download to " + (out / name).string() + ": " + move_ec.message();
                return;
            }
            known_it = known.emplace(prefix, name).first;  // appeared meanwhile: the same bytes
        }
        fs::remove(f.temp, ec);
        if (known_it->second == name && !saved.count(name)) {  // saved by an interrupted run that did not report it
            it.status = "downloaded";
            it.file = name;
            it.fetched = std::move(f);
            return;
        }
        it.status = "duplicate";
        it.duplicate_of = known_it->second;
        it.conflict = known_it->second.substr(0, known_it->second.find('/')) != e.label;
        it.fetched = std::move(f);
    };
    for (;;) {
        {
            std::unique_lock<std::mutex> l(results_mutex);
            results_cv.wait_for(l, std::chrono::milliseconds(250), [&] { return ready_to_commit(next); });
        }
        for (;;) {
            bool ready;
            {
                std::lock_guard<std::mutex> l(results_mutex);
                ready = ready_to_commit(next);
            }
            if (!ready) break;
            commit(next++);
        }
        if (bar) {
            const Counts c = count(items);
            bar->update(finished.load(), std::to_string(c.downloaded) + " new, " + std::to_string(c.duplicate) +
                                             " duplicate, " + std::to_string(c.failed) + " failed");
        }
        if (next == entries.size()) break;
        report.write(out.string(), entries, items, false);
    }
    for (auto& t : threads) t.join();
    if (bar) bar->finish();
    report.write(out.string(), entries, items, true);

    // Per label, then each failure.
    std::map<std::string, std::array<size_t, 4>> per_label;  // new, earlier, duplicate, failed
    for (size_t i = 0; i < entries.size(); ++i) {
        auto& row = per_label[entries[i].label];
        const Outcome& it = items[i];
        ++row[it.status == "failed" ? 3 : it.earlier ? 1 : it.status == "duplicate" ? 2 : 0];
    }
    std::printf("%-24s %8s %8s %10s %8s\n", "label", "new", "earlier", "duplicate", "failed");
    for (const auto& [label, row] : per_label)
        std::printf("%-24s %8zu %8zu %10zu %8zu\n", label.c_str(), row[0], row[1], row[2], row[3]);
    const Counts c = count(items);
    for (size_t i = 0; i < entries.size(); ++i)
        if (items[i].status == "failed")
            std::fprintf(stderr, "failed: %s %s (%s): %s\n", entries[i].label.c_str(), entries[i].url.c_str(),
                         entries[i].origin.c_str(), items[i].error.c_str());
    std::printf("%zu URLs: %zu downloaded, %zu already there from an earlier run, %zu duplicates, %zu failed\n",
                entries.size(), c.downloaded, c.earlier, c.duplicate, c.failed);
    std::printf("report: %s\n", (out / kReport).c_str());
    if (report.failed()) return 2;
    return c.failed > 0 ? 1 : 0;
}

}  // namespace ursa
