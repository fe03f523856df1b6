#include "ursa/clean_serve.h"

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "ursa/clean.h"
#include "ursa/interpret.h"
#include "ursa/io.h"
#include "ursa/preprocess.h"

namespace fs = std::filesystem;

namespace ursa {

extern const char* const kCleanPageHtml;
extern const char* const kCleanPageJs;
extern const char* const kCleanPageCss;

namespace {

std::string random_token() {
    std::random_device rd;
    std::string t;
    const char* hex = "0123456789abcdef";
    for (int i = 0; i < 32; ++i) t += hex[rd() & 15];
    return t;
}

// Equal-time comparison, so the token cannot be guessed byte by byte from timings.
bool same_token(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

// A file's path relative to the dataset folder, '/'-separated (the plan's "file").
std::string relative_to(const std::string& path, const std::string& data) {
    fs::path rel = fs::path(path).lexically_relative(data);
    if (rel.empty() || *rel.begin() == "..") {
        std::error_code ec;
        rel = fs::relative(fs::path(path), fs::path(data), ec);
    }
    return rel.generic_string();
}

struct Entry {
    std::string file;  // relative to DATA
    std::string path;  // to open
    ItemResult result;
};

// Small thumbnails (128 px high, aspect kept, at most 256 wide) made once and kept
// in RUN/.clean-thumbs, named after the file's path, size and modification time.
Result<std::string> thumbnail(const Entry& e, const std::string& cache_dir, int64_t max_pixels) {
    std::error_code ec;
    const auto size = fs::file_size(e.path, ec);
    const auto mtime = fs::last_write_time(e.path, ec).time_since_epoch().count();
    if (ec) return make_error(e.path + ": " + ec.message());
    uint64_t h = 1469598103934665603ULL;  // FNV-1a of path, size, time
    auto mix = [&](const std::string& s) {
        for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    };
    mix(e.file + "\n" + std::to_string(size) + "\n" + std::to_string(mtime));
    char name[40];
    std::snprintf(name, sizeof name, "%016llx.png", static_cast<unsigned long long>(h));
    const fs::path cached = fs::path(cache_dir) / name;
    if (auto bytes = read_file(cached.string())) return std::string(bytes->begin(), bytes->end());
    auto bytes = read_file(e.path);
    if (!bytes) return bytes.error();
    DecodeOptions decode{max_pixels};
    auto decoded = decode_rgba(bytes->data(), bytes->size(), decode);
    if (!decoded) return make_error(e.path + ": " + decoded.error().message);
    const int w = decoded->upright_width(), ht = decoded->upright_height();
    const int th = std::min(128, ht);
    const int tw = std::clamp(static_cast<int>(std::lround(static_cast<double>(w) * th / ht)), 1, 256);
    auto image = fit_decoded(*decoded, tw, th, ResizeMethod::Squish, PadMode::Zeros, decode);
    if (!image) return make_error(e.path + ": " + image.error().message);
    const auto png = encode_png(*image);
    fs::create_directories(cache_dir, ec);
    write_file_atomic(cached.string(), png.data(), png.size(), /*durable=*/false);  // a cache: best effort
    return std::string(png.begin(), png.end());
}

}  // namespace

int clean_serve(const CleanServeOptions& o) {
    const std::string plan_path = o.plan.empty() ? (fs::path(o.run) / "clean-plan.json").string() : o.plan;
    std::map<std::string, std::vector<Entry>> splits;  // "train"/"valid" → entries, highest loss first
    std::vector<std::string> vocab;
    std::string data;
    int64_t max_pixels = kDefaultMaxPixels;
    std::vector<Failure> failures;
    for (const char* split : {"train", "valid"}) {
        InterpretOptions io;
        io.run = o.run;
        io.data = o.data;
        io.split = split;
        io.threads = o.threads;
        auto r = interpret_run(io);
        if (!r) {
            // A run without a validation split still has training items to clean.
            if (std::string(split) == "valid" && r.error().message.find("is empty") != std::string::npos) continue;
            std::fprintf(stderr, "error: %s\n", r.error().message.c_str());
            return 2;
        }
        vocab = r->vocab;
        data = r->data;
        max_pixels = r->options.max_pixels;
        failures.insert(failures.end(), r->failures.begin(), r->failures.end());
        auto& list = splits[split];
        for (auto& it : r->items) list.push_back({relative_to(it.path, r->data), it.path, it});
        std::stable_sort(list.begin(), list.end(),
                         [](const Entry& a, const Entry& b) { return a.result.loss > b.result.loss; });
    }
    for (const auto& f : failures) std::fprintf(stderr, "skipped %s: %s\n", f.path.c_str(), f.reason.c_str());
    std::map<std::string, const Entry*> by_file;
    for (const auto& [split, list] : splits)
        for (const auto& e : list) by_file[e.file] = &e;
    const std::string thumbs = (fs::path(o.run) / ".clean-thumbs").string();
    const std::string token = random_token();

    httplib::Server server;
    int port = 0;
    server.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
        // Loopback only, and only with the token: another web page the user has open
        // cannot read the photos or write the plan (DNS rebinding included).
        const std::string host = req.get_header_value("Host");
        const bool host_ok = host == "127.0.0.1:" + std::to_string(port) || host == "localhost:" + std::to_string(port);
        std::string given = req.get_param_value("token");
        if (given.empty()) given = req.get_header_value("X-Ursa-Token");
        // The page's own files hold nothing private; photos, labels and the plan do.
        const bool page_file =
            req.path == "/" || req.path == "/clean.js" || req.path == "/clean.css" || req.path == "/favicon.ico";
        if (!host_ok || (!page_file && !same_token(given, token))) {
            res.status = 403;
            res.set_content("forbidden: open the URL `ursa clean --serve` printed (it carries the token)\n",
                            "text/plain");
            return httplib::Server::HandlerResponse::Handled;
        }
        res.set_header("Content-Security-Policy",
                       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
        res.set_header("Referrer-Policy", "no-referrer");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_header("Cache-Control", "no-store");
        return httplib::Server::HandlerResponse::Unhandled;
    });
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(kCleanPageHtml, "text/html; charset=utf-8");
    });
    server.Get("/clean.js", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(kCleanPageJs, "text/javascript; charset=utf-8");
    });
    server.Get("/clean.css", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(kCleanPageCss, "text/css; charset=utf-8");
    });
    server.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    std::mutex plan_mutex;
    server.Get("/api/state", [&](const httplib::Request&, httplib::Response& res) {
        nlohmann::json counts = nlohmann::json::object();
        for (const auto& [split, list] : splits) {
            std::vector<int64_t> n(vocab.size(), 0);
            for (const auto& e : list) ++n[static_cast<size_t>(e.result.actual)];
            counts[split] = n;
        }
        nlohmann::json plan = nullptr;
        {
            std::lock_guard<std::mutex> lock(plan_mutex);
            if (auto bytes = read_file(plan_path)) {
                auto parsed = parse_clean_plan(std::string(bytes->begin(), bytes->end()), plan_path);
                if (parsed) plan = clean_plan_items(*parsed);
            }
        }
        res.set_content(nlohmann::json({{"run", o.run},
                                        {"data", data},
                                        {"plan_path", plan_path},
                                        {"vocab", vocab},
                                        {"counts", counts},
                                        {"page_size", o.page_size},
                                        {"plan", plan}})
                            .dump(),
                        "application/json");
    });
    server.Get("/api/items", [&](const httplib::Request& req, httplib::Response& res) {
        const std::string split = req.get_param_value("split");
        const std::string label = req.get_param_value("label");
        auto s = splits.find(split);
        const auto l = std::find(vocab.begin(), vocab.end(), label);
        if (s == splits.end() || l == vocab.end()) {
            res.status = 400;
            res.set_content("{\"error\":\"unknown split or label\"}", "application/json");
            return;
        }
        const int label_index = static_cast<int>(l - vocab.begin());
        int64_t offset = 0, limit = o.page_size;
        try {
            if (req.has_param("offset")) offset = std::max<int64_t>(0, std::stoll(req.get_param_value("offset")));
            if (req.has_param("limit")) limit = std::clamp<int64_t>(std::stoll(req.get_param_value("limit")), 1, 500);
        } catch (const std::exception&) {
            res.status = 400;
            res.set_content("{\"error\":\"bad offset or limit\"}", "application/json");
            return;
        }
        nlohmann::json items = nlohmann::json::array();
        int64_t total = 0;
        for (const auto& e : s->second) {
            if (e.result.actual != label_index) continue;
            if (total >= offset && total < offset + limit)
                items.push_back({{"file", e.file},
                                 {"label", vocab[static_cast<size_t>(e.result.actual)]},
                                 {"predicted", vocab[static_cast<size_t>(e.result.predicted)]},
                                 {"prob", e.result.prob},
                                 {"loss", e.result.loss}});
            ++total;
        }
        res.set_content(nlohmann::json({{"total", total}, {"offset", offset}, {"items", items}}).dump(),
                        "application/json");
    });
    server.Get("/thumb", [&](const httplib::Request& req, httplib::Response& res) {
        auto it = by_file.find(req.get_param_value("file"));
        if (it == by_file.end()) {  // only the dataset's own images, never any other file
            res.status = 404;
            return;
        }
        auto png = thumbnail(*it->second, thumbs, max_pixels);
        if (!png) {
            res.status = 500;
            res.set_content(png.error().message, "text/plain");
            return;
        }
        res.set_header("Cache-Control", "private, max-age=3600");
        res.set_content(*png, "image/png");
    });
    bool stop_requested = false;
    auto save = [&](const httplib::Request& req, httplib::Response& res) {
        auto plan = parse_clean_plan(req.body, "the page's plan");
        std::string error = plan ? "" : plan.error().message;
        if (plan)
            for (const auto& it : plan->items)
                if (!by_file.count(it.file)) error += "\n  " + it.file + " is not an image of this dataset";
        if (!error.empty()) {
            res.status = 400;
            res.set_content(nlohmann::json({{"error", error}}).dump(), "application/json");
            return false;
        }
        const nlohmann::json out = {{"version", 1}, {"data", data}, {"items", clean_plan_items(*plan)}};
        std::lock_guard<std::mutex> lock(plan_mutex);
        if (auto ok = write_file_atomic(plan_path, out.dump(2) + "\n"); !ok) {
            res.status = 500;
            res.set_content(nlohmann::json({{"error", ok.error().message}}).dump(), "application/json");
            return false;
        }
        std::printf("plan with %zu change(s) saved to %s\n", plan->items.size(), plan_path.c_str());
        std::fflush(stdout);
        res.set_content(nlohmann::json({{"path", plan_path}, {"items", plan->items.size()}}).dump(),
                        "application/json");
        return true;
    };
    server.Post("/api/plan", [&](const httplib::Request& req, httplib::Response& res) { save(req, res); });
    server.Post("/api/stop", [&](const httplib::Request& req, httplib::Response& res) {
        if (save(req, res)) {
            stop_requested = true;
            server.stop();
        }
    });

    if (o.port > 0) port = server.bind_to_port(o.host.c_str(), o.port) ? o.port : -1;
    else port = server.bind_to_any_port(o.host.c_str());
    if (port <= 0) {
        std::fprintf(stderr, "error: cannot listen on %s:%d\n", o.host.c_str(), o.port);
        return 2;
    }
    std::printf("%zu training and %zu validation images sorted by loss\n",
                splits.count("train") ? splits["train"].size() : 0, splits.count("valid") ? splits["valid"].size() : 0);
    std::printf("cleaner: http://%s:%d/?token=%s\n", o.host.c_str(), port, token.c_str());
    std::printf("marks are saved to %s; then: ursa clean %s --plan %s --apply   (Ctrl-C stops)\n", plan_path.c_str(),
                o.run.c_str(), plan_path.c_str());
    std::fflush(stdout);
    server.listen_after_bind();
    if (stop_requested) std::printf("stopped from the page\n");
    return 0;
}

}  // namespace ursa
