#include "ursa/fetch.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ursa/http.h"
#include "ursa/progress.h"
#include "ursa/safetensors.h"

namespace fs = std::filesystem;

namespace ursa {

namespace {

std::string errno_text() {
    return std::strerror(errno);
}

std::string megabytes(uint64_t bytes) {
    char buf[32];
    if (bytes < 1'000'000)
        std::snprintf(buf, sizeof buf, "%.0f kB", static_cast<double>(bytes) / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
    return buf;
}

// -1 when absent.
int64_t file_size(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

// "bytes A-B/T" or "bytes */T": first byte (-1 for "*") and total (-1 for "*").
bool parse_content_range(const std::string& value, int64_t& first, int64_t& total) {
    long long a = -1, b = -1, t = -1;
    if (std::sscanf(value.c_str(), "bytes %lld-%lld/%lld", &a, &b, &t) == 3) {
        first = a, total = t;
        return true;
    }
    if (std::sscanf(value.c_str(), "bytes */%lld", &t) == 1) {
        first = -1, total = t;
        return true;
    }
    return false;
}

// One HTTP request: the state its callbacks share.
struct Transfer {
    std::string dest;
    uint64_t offset = 0;    // bytes of dest we asked the server to skip
    uint64_t written = 0;   // bytes in dest now
    uint64_t received = 0;  // body bytes this request wrote
    const DownloadOptions* options = nullptr;
    // The current response (redirects give several).
    long status = 0;
    std::string reason;
    std::string content_range;
    int64_t content_length = -1;
    bool body_started = false;
    // Outcome.
    int fd = -1;
    int64_t total = -1;      // full size of the file when known
    bool truncated = false;  // dest was started over
    bool restart = false;    // dest must be started over (a 206 for bytes we did not ask for)
    std::string io_error;    // writing dest failed: not worth a retry
    std::unique_ptr<ProgressBar> bar;
    std::chrono::steady_clock::time_point body_start;
    uint64_t body_start_bytes = 0;

    ~Transfer() {
        if (fd >= 0) ::close(fd);
    }

    void new_response(const std::string& line) {
        // "HTTP/1.1 404 Not Found" or "HTTP/2 200"
        status = 0;
        reason.clear();
        const size_t sp = line.find(' ');
        if (sp != std::string::npos) {
            status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
            const size_t sp2 = line.find(' ', sp + 1);
            if (sp2 != std::string::npos) reason = trim_space(line.substr(sp2 + 1));
        }
        content_range.clear();
        content_length = -1;
        body_started = false;
    }

    bool success_status() const { return status == 200 || status == 206; }

    // At the first byte of a 200/206 body: decide whether it appends or starts over.
    bool start_body() {
        body_started = true;
        bool truncate = false;
        if (status == 206) {
            int64_t first = -1, size = -1;
            if (!parse_content_range(content_range, first, size) || first != static_cast<int64_t>(offset)) {
                restart = true;  // not the bytes we asked for: start over rather than guess
                return false;
            }
            total = size;
        } else {
            if (offset > 0)
                std::fprintf(stderr, "the server sent the whole file instead of the rest; starting over\n");
            truncate = true;
            written = 0;
            total = content_length;
        }
        if (!open_dest(truncate)) return false;
        if (options->progress && total > 0) {
            bar = std::make_unique<ProgressBar>(options->title, static_cast<size_t>(total));
            bar->update(written);
        }
        body_start = std::chrono::steady_clock::now();
        body_start_bytes = written;
        return true;
    }

    bool open_dest(bool truncate) {
        fd = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
        truncated = truncated || truncate;
        if (fd < 0) io_error = "cannot write " + dest + ": " + errno_text();
        return fd >= 0;
    }

    bool write_all(const char* data, size_t n) {
        while (n > 0) {
            const ssize_t w = ::write(fd, data, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                io_error = "cannot write " + dest + ": " + errno_text();
                return false;
            }
            data += w, n -= static_cast<size_t>(w), written += static_cast<uint64_t>(w),
                received += static_cast<uint64_t>(w);
        }
        return true;
    }

    void show_progress() {
        if (!bar) return;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - body_start).count();
        std::string suffix = megabytes(written);
        if (s > 0.5) {
            char rate[32];
            std::snprintf(rate, sizeof rate, " %.1f MB/s",
                          static_cast<double>(written - body_start_bytes) / 1e6 / s);
            suffix += rate;
        }
        bar->update(static_cast<size_t>(std::min<uint64_t>(written, static_cast<uint64_t>(total))), suffix);
    }
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string line(data, size * count);
    if (header_starts_with(line, "HTTP/"))
        t->new_response(trim_space(line));
    else if (header_starts_with(line, "content-range:"))
        t->content_range = trim_space(line.substr(14));
    else if (header_starts_with(line, "content-length:"))
        t->content_length = std::strtoll(line.c_str() + 15, nullptr, 10);
    return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    if (!t->success_status()) return n;                  // an error page or a redirect's body: not the file
    if (!t->body_started && !t->start_body()) return 0;  // aborts the transfer
    if (!t->write_all(data, n)) return 0;
    t->show_progress();
    return n;
}

enum class Outcome { done, transient, permanent, restart };

struct AttemptResult {
    Outcome outcome;
    std::string message;
};

AttemptResult attempt(CURL* curl, const std::string& url, Transfer& t) {
    char errbuf[CURL_ERROR_SIZE] = "";
    const std::string range = std::to_string(t.offset) + "-";
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);  // Hugging Face redirects to its CDN
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "ursa/" URSA_VERSION);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, t.options->connect_timeout_s);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, t.options->low_speed_bytes);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, t.options->low_speed_time_s);
    // A plain Range header rather than CURLOPT_RESUME_FROM: libcurl fails the latter when
    // the server answers 200, and here that answer just means "start over".
    if (t.offset > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);

    const CURLcode rc = curl_easy_perform(curl);
    curl_easy_reset(curl);  // drops the pointers to errbuf and t; keeps the connection cache
    if (t.bar) {
        t.show_progress();
        t.bar->finish();
    }
    if (!t.io_error.empty()) return {Outcome::permanent, t.io_error};
    if (t.restart) return {Outcome::restart, "the server sent a range that was not asked for"};
    if (rc != CURLE_OK) {
        std::string what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        return {transient_curl_error(rc) ? Outcome::transient : Outcome::permanent, what + " (" + url + ")"};
    }
    if (t.success_status()) {
        if (!t.body_started && t.status == 200 && !t.open_dest(/*truncate=*/true))
            return {Outcome::permanent, t.io_error};
        if (t.fd >= 0 && ::fsync(t.fd) != 0)
            return {Outcome::permanent, "cannot write " + t.dest + ": " + errno_text()};
        return {Outcome::done, ""};
    }
    if (t.status == 416) {
        // Nothing left to send from our offset: complete when the sizes agree.
        int64_t first = -1, size = -1;
        if (parse_content_range(t.content_range, first, size) && size == static_cast<int64_t>(t.offset)) {
            t.total = size;
            return {Outcome::done, ""};
        }
        return {Outcome::restart,
                "the server cannot resume at byte " + std::to_string(t.offset) + " (HTTP 416)"};
    }
    const std::string message = http_error(t.status, t.reason, url);
    return {transient_status(t.status) ? Outcome::transient : Outcome::permanent, message};
}

}  // namespace

Result<DownloadStats> download_file(const std::string& url, const std::string& dest,
                                    const DownloadOptions& options) {
    curl_init_once();
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) return make_error("cannot start libcurl");
    DownloadStats stats;
    int failures = 0, restarts = 0;
    bool old_bytes = file_size(dest) > 0;  // dest holds bytes from before this call
    double wait = options.backoff_s;
    for (;;) {
        Transfer t;
        t.dest = dest;
        t.options = &options;
        t.offset = static_cast<uint64_t>(std::max<int64_t>(0, file_size(dest)));
        t.written = t.offset;
        if (t.offset > 0)
            std::fprintf(stderr, "resuming %s at %s\n", dest.c_str(), megabytes(t.offset).c_str());
        ++stats.attempts;
        const AttemptResult r = attempt(curl.get(), url, t);
        if (t.truncated) old_bytes = false;
        switch (r.outcome) {
            case Outcome::done:
                stats.bytes = static_cast<uint64_t>(std::max<int64_t>(0, file_size(dest)));
                stats.resumed = old_bytes;
                return stats;
            case Outcome::permanent:
                return make_error(r.message);
            case Outcome::restart:
                if (++restarts > 2) return make_error(r.message);
                std::fprintf(stderr, "%s; starting over\n", r.message.c_str());
                if (::truncate(dest.c_str(), 0) != 0 && errno != ENOENT)
                    return make_error("cannot truncate " + dest + ": " + errno_text());
                old_bytes = false;
                continue;
            case Outcome::transient:
                break;
        }
        // An attempt that got further is progress, not a failure: it costs no retry.
        if (t.received > 0)
            wait = options.backoff_s;
        else
            ++failures;
        if (failures > options.retries)
            return make_error(r.message + " (gave up after " + std::to_string(stats.attempts) + " attempts)");
        std::fprintf(stderr, "%s; retrying in %.0f s\n", r.message.c_str(), wait);
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        wait = std::min(wait * 2, 30.0);
    }
}

namespace {

std::string hex_digest(const unsigned char* digest, unsigned int len) {
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) hex += digits[digest[i] >> 4], hex += digits[digest[i] & 15];
    return hex;
}

}  // namespace

Result<std::string> sha256_file(const std::string& path) {
    std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!f) return make_error("cannot read " + path + ": " + errno_text());
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
        return make_error("OpenSSL: cannot start SHA-256");
    std::vector<unsigned char> buf(1 << 20);
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0)
        if (EVP_DigestUpdate(ctx.get(), buf.data(), n) != 1) return make_error("OpenSSL: SHA-256 failed");
    if (std::ferror(f.get())) return make_error("cannot read " + path + ": " + errno_text());
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) return make_error("OpenSSL: SHA-256 failed");
    return hex_digest(digest, len);
}

std::string sha256_hex(const void* data, size_t size) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data, size, digest, &len, EVP_sha256(), nullptr);
    return hex_digest(digest, len);
}

Result<std::string> weights_cache_dir(const std::string& cache_dir_flag) {
    if (!cache_dir_flag.empty()) return cache_dir_flag;
    auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v ? v : "";
    };
    if (const std::string d = env("URSA_CACHE_DIR"); !d.empty()) return d;
    // The XDG spec says to ignore a relative XDG_CACHE_HOME.
    if (const std::string x = env("XDG_CACHE_HOME"); !x.empty() && x[0] == '/') return x + "/ursa/weights";
    if (const std::string h = env("HOME"); !h.empty()) return h + "/.cache/ursa/weights";
    return make_error("no cache folder: pass --cache-dir or set URSA_CACHE_DIR (HOME is not set)");
}

Result<WeightSource> default_weights(const std::string& arch) {
    // timm's tv_in1k ResNets are torchvision's IMAGENET1K_V1 weights under torchvision's
    // parameter names. The resnet18 hash is the Git LFS SHA-256 Hugging Face shows for
    // that file; no trustworthy one was at hand for resnet34, so the hash a download
    // computes is printed for the user to pin with --sha256.
    if (arch == "resnet18")
        return WeightSource{"https://huggingface.co/timm/resnet18.tv_in1k/resolve/main/model.safetensors",
                            "694f673df6520a3158624e8a89af086f59923ee4cd7436fe5bc3bc71d295ad81"};
    if (arch == "resnet34")
        return WeightSource{"https://huggingface.co/timm/resnet34.tv_in1k/resolve/main/model.safetensors",
                            ""};
    return make_error("no pretrained weights for arch '" + arch + "' (resnet18 or resnet34)");
}

namespace {

// A readable safetensors file with the tensors of a torchvision ResNet of this depth.
Result<bool> check_weights(const std::string& path, const std::string& arch) {
    auto tensors = read_safetensors(path);
    if (!tensors) {
        std::string m = tensors.error().message;  // "<path>: why"; the caller names the file
        if (m.rfind(path + ": ", 0) == 0) m.erase(0, path.size() + 2);
        return make_error(m);
    }
    for (const char* name : {"conv1.weight", "layer4.1.conv2.weight"})
        if (!tensors->count(name))
            return make_error(std::string("it has no tensor ") + name +
                              ", so it is not a torchvision-style ResNet");
    // ResNet-34 has six blocks in layer3, ResNet-18 two.
    const bool deep = tensors->count("layer3.5.conv2.weight") > 0;
    if (arch == "resnet34" && !deep) return make_error("it has no layer3.5: these are not ResNet-34 weights");
    if (arch == "resnet18" && deep)
        return make_error("it has a layer3.5: these are ResNet-34 weights, not ResNet-18");
    return true;
}

bool valid_sha256(const std::string& s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(),
                                         [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// Holds an exclusive lock on `path` (created if absent) so that two fetches of the same
// file do not write into one .part at once.
class FileLock {
  public:
    explicit FileLock(const std::string& path)
        : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) {}
    ~FileLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool open() const { return fd_ >= 0; }
    bool try_lock() { return ::flock(fd_, LOCK_EX | LOCK_NB) == 0; }

  private:
    int fd_;
};

}  // namespace

Result<std::string> fetch_weights(const FetchWeightsOptions& options) {
    auto source = default_weights(options.arch);
    if (!source) return source.error();
    const bool default_url = options.url.empty() || options.url == source->url;
    const std::string url = default_url ? source->url : options.url;
    std::string expected = options.sha256;
    std::transform(expected.begin(), expected.end(), expected.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!expected.empty() && !valid_sha256(expected))
        return make_error("--sha256 wants 64 hex digits, got '" + options.sha256 + "'");
    if (expected.empty() && default_url) expected = source->sha256;

    std::string final_path = options.out;
    if (final_path.empty()) {
        auto dir = weights_cache_dir(options.cache_dir);
        if (!dir) return dir.error();
        final_path = *dir + "/" + options.arch + ".safetensors";
    }
    const fs::path parent = fs::path(final_path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) return make_error("cannot create " + parent.string() + ": " + ec.message());

    if (fs::exists(final_path, ec)) {
        if (!fs::is_regular_file(final_path, ec)) return make_error(final_path + " exists and is not a file");
        auto sha = sha256_file(final_path);
        if (!sha) return sha.error();
        if (!expected.empty() && *sha != expected)
            return make_error(final_path + " already exists but does not match:\n  expected sha256 " +
                              expected + "\n  actual   sha256 " + *sha +
                              "\ndelete it (or choose another --out) to download again");
        auto ok = check_weights(final_path, options.arch);
        if (!ok)
            return make_error(final_path + " already exists but is not usable " + options.arch +
                              " weights: " + ok.error().message + "\ndelete it to download again");
        std::fprintf(stderr, "%s is already there (sha256 %s); nothing to download\n", final_path.c_str(),
                     sha->c_str());
        return final_path;
    }

    const std::string part = final_path + ".part", bad = final_path + ".bad";
    FileLock lock(part);
    if (!lock.open()) return make_error("cannot write " + part + ": " + errno_text());
    if (!lock.try_lock()) return make_error("another download into " + part + " is running");

    DownloadOptions d;
    d.retries = options.retries;
    d.title = fs::path(final_path).filename().string();
    std::fprintf(stderr, "downloading %s\n  from %s\n", final_path.c_str(), url.c_str());
    for (int round = 0;; ++round) {
        auto stats = download_file(url, part, d);
        if (!stats) {
            if (file_size(part) > 0)
                return make_error(stats.error().message + "\nthe partial download stays in " + part +
                                  "; run the command again to resume");
            std::remove(part.c_str());  // the empty file the lock made
            return stats.error();
        }
        auto sha = sha256_file(part);
        if (!sha) return sha.error();
        std::fprintf(stderr, "sha256 %s (%s)\n", sha->c_str(), megabytes(stats->bytes).c_str());
        if (!expected.empty() && *sha != expected) {
            // A resumed .part may hold the start of another file (another URL, or the
            // file changed on the server): one more try from the start settles it.
            if (stats->resumed && round == 0) {
                std::fprintf(stderr, "checksum mismatch after resuming; downloading again from the start\n");
                if (::truncate(part.c_str(), 0) != 0)
                    return make_error("cannot truncate " + part + ": " + errno_text());
                continue;
            }
            std::error_code rename_ec;
            fs::rename(part, bad, rename_ec);
            return make_error("checksum mismatch for " + url + ":\n  expected sha256 " + expected +
                              "\n  actual   sha256 " + *sha +
                              (rename_ec ? "" : "\nthe download was moved to " + bad));
        }
        auto ok = check_weights(part, options.arch);
        if (!ok) {
            std::error_code rename_ec;
            fs::rename(part, bad, rename_ec);
            return make_error(url + " did not give usable " + options.arch + " weights: " +
                              ok.error().message + (rename_ec ? "" : "\nthe download was moved to " + bad));
        }
        fs::rename(part, final_path, ec);
        if (ec) return make_error("cannot rename " + part + " to " + final_path + ": " + ec.message());
        if (expected.empty())
            std::fprintf(stderr, "no checksum is pinned for this download; pass --sha256 %s to pin it\n",
                         sha->c_str());
        else
            std::fprintf(stderr, "checksum ok\n");
        return final_path;
    }
}

}  // namespace ursa
