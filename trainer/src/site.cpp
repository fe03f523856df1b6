#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "ursa/commands.h"
#include "ursa/fetch.h"
#include "ursa/io.h"
#include "ursa/model_info.h"

namespace fs = std::filesystem;

namespace ursa {

namespace {

// Files of onnxruntime-web's dist/ that the wasm-only entry point loads.
const std::vector<std::string> kOrtFiles = {"ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs",
                                            "ort-wasm-simd-threaded.wasm"};
const std::vector<std::string> kCoreFiles = {"ursa_core.mjs", "ursa_core.wasm", "ursa_core_mt.mjs",
                                             "ursa_core_mt.wasm", "ursa_core_mt.worker.js"};
// Source files of web/ that are not part of the site.
const std::set<std::string> kNotShipped = {"package.json", "package-lock.json", "node_modules", "README.md"};
constexpr const char* kSiteMarker = ".ursa-site";
// Where sw.js receives the site's version and file list (see stamp_build).
constexpr const char* kBuildToken = "/* @ursa-build */ null";

// First existing folder among: the flag, the environment variable, the build-tree default.
std::string locate(const std::string& flag, const char* env, const fs::path& fallback) {
    if (!flag.empty()) return flag;
    if (const char* e = std::getenv(env); e && *e) return e;
    return fallback.string();
}

Result<bool> require_files(const fs::path& dir, const std::vector<std::string>& files, const std::string& hint) {
    for (const auto& f : files)
        if (!fs::is_regular_file(dir / f)) return make_error("missing " + (dir / f).string() + " (" + hint + ")");
    return true;
}

Result<bool> copy_tree(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(from, ec)) {
        const std::string name = entry.path().filename().string();
        if (kNotShipped.count(name) || name[0] == '.') continue;
        fs::copy(entry.path(), to / name, fs::copy_options::recursive, ec);
        if (ec) return make_error("cannot copy " + entry.path().string() + ": " + ec.message());
    }
    if (ec) return make_error("cannot read " + from.string() + ": " + ec.message());
    return true;
}

Result<bool> copy_files(const fs::path& from, const std::vector<std::string>& files, const fs::path& to) {
    std::error_code ec;
    fs::create_directories(to, ec);
    for (const auto& f : files) {
        fs::copy_file(from / f, to / f, fs::copy_options::overwrite_existing, ec);
        if (ec) return make_error("cannot copy " + (from / f).string() + ": " + ec.message());
    }
    return true;
}

// The policy of index.html's <meta http-equiv="Content-Security-Policy"> (keep the two equal).
constexpr const char* kSiteCsp =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

// README.txt of the site: what it is and how to host it.
std::string site_readme(const ModelInfo& info, const std::string& version) {
    std::string labels;
    for (size_t i = 0; i < info.labels.size(); ++i) labels += (i ? ", " : "") + info.labels[i];
    return "This folder is a photo classifier made by ursa " URSA_VERSION " (ursa web).\n"
           "Model: model.onnx, " + std::to_string(info.labels.size()) + " labels: " + labels + ".\n"
           "Photos are decoded and classified in the visitor's browser; nothing is uploaded.\n"
           "\n"
           "Hosting: copy the whole folder to any static host (GitHub Pages, a bucket, a web\n"
           "server). To try it locally:\n"
           "\n"
           "    python3 -m http.server -d . 8000     # then open http://localhost:8000/\n"
           "\n"
           "Opening index.html straight from disk (file://) does not work: browsers do not\n"
           "run its worker and WebAssembly from there.\n"
           "\n"
           "Threads: the page works single-threaded everywhere, and ONNX Runtime uses several\n"
           "threads where the page is cross-origin isolated. Its service worker makes it so on\n"
           "any https (or localhost) host by adding two headers to the site's files (the first\n"
           "visit reloads itself once to get them). Hosts that can send them with every file\n"
           "make that reload unnecessary:\n"
           "\n"
           "    Cross-Origin-Opener-Policy: same-origin\n"
           "    Cross-Origin-Embedder-Policy: require-corp\n"
           "\n"
           "index.html carries a strict Content-Security-Policy in a <meta> tag (this site's\n"
           "own files only, no inline script, WebAssembly allowed):\n"
           "\n"
           "    Content-Security-Policy: " + std::string(kSiteCsp) + "\n"
           "\n"
           "Where the host can send headers, send it as a header as well: a <meta> policy\n"
           "does not reach the page's workers, a header does (core's wasm needs no eval).\n"
           "\n"
           "Offline: after one visit a service worker (sw.js) keeps every file, so the page\n"
           "keeps working without a network. Serve the files with their usual types (.wasm\n"
           "as application/wasm, .mjs as text/javascript).\n"
           "\n"
           "Updates: this build is version " + version + ". Upload a new build over this one\n"
           "(the whole folder); a visitor's open page then offers \"A new version is available\n"
           "- Reload\" and switches over when they click it. Unchanged files are not\n"
           "downloaded again.\n"
           "\n"
           "Another model: the page's \"Use another model\" link loads any .onnx exported by\n"
           "`ursa export`; to ship it, replace model.onnx (or run `ursa web` again).\n";
}

// Every file under dir (not dot-files), relative, with '/' separators, sorted.
std::vector<std::string> site_files(const fs::path& dir) {
    std::vector<std::string> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {
            if (it->is_directory()) it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file()) files.push_back(it->path().lexically_relative(dir).generic_string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

// The site's version (from the SHA-256 of every file) and its file list with their
// hashes, written into sw.js: a new build is a byte-different sw.js, which is how
// browsers notice an update, and the service worker caches exactly these files,
// checks them by hash and reuses the ones an earlier version already holds.
Result<std::string> stamp_build(const fs::path& dir, const ModelInfo& info) {
    nlohmann::json files = nlohmann::json::object();
    std::string lines;
    for (const auto& f : site_files(dir)) {
        if (f == "README.txt") continue;  // written below, with the version
        auto sha = sha256_file((dir / f).string());
        if (!sha) return sha.error();
        if (f != "sw.js") files[f] = *sha;  // sw.js: its source counts for the version
        lines += f + " " + *sha + "\n";
    }
    const fs::path list = dir / ".ursa-files";
    if (auto ok = write_file_atomic(list.string(), lines.data(), lines.size(), false); !ok) return ok.error();
    auto digest = sha256_file(list.string());
    std::error_code ec;
    fs::remove(list, ec);
    if (!digest) return digest.error();
    const std::string version = digest->substr(0, 12);

    const fs::path sw = dir / "sw.js";
    if (fs::is_regular_file(sw)) {
        auto bytes = read_file(sw.string());
        if (!bytes) return bytes.error();
        std::string text(bytes->begin(), bytes->end());
        if (const auto at = text.find(kBuildToken); at != std::string::npos) {
            const nlohmann::json build = {{"version", version}, {"files", files}};
            text.replace(at, std::char_traits<char>::length(kBuildToken), build.dump());
            if (auto ok = write_file_atomic(sw.string(), text); !ok) return ok.error();
        }
    }
    if (auto ok = write_file_atomic((dir / "README.txt").string(), site_readme(info, version)); !ok)
        return ok.error();
    return version;
}

Result<bool> assemble(const SiteOptions& o, const ModelInfo& info, const fs::path& web, const fs::path& wasm,
                      const fs::path& ort, const fs::path& tmp) {
    std::error_code ec;
    fs::create_directories(tmp, ec);
    if (ec) return make_error("cannot create " + tmp.string() + ": " + ec.message());
    if (auto ok = copy_tree(web, tmp); !ok) return ok;
    if (auto ok = copy_files(wasm, kCoreFiles, tmp / "core"); !ok) return ok;
    if (auto ok = copy_files(ort, kOrtFiles, tmp / "ort"); !ok) return ok;
    fs::copy_file(o.model, tmp / "model.onnx", ec);
    if (ec) return make_error("cannot copy " + o.model + ": " + ec.message());
    auto version = stamp_build(tmp, info);
    if (!version) return version.error();
    return write_file_atomic((tmp / kSiteMarker).string(), std::string("made by ursa web\nversion " + *version + "\n"));
}

}  // namespace

int build_site(const SiteOptions& o) {
    auto bytes = read_file(o.model);
    if (!bytes) {
        std::fprintf(stderr, "error: model: %s\n", bytes.error().message.c_str());
        return 2;
    }
    auto info = read_model_info(bytes->data(), bytes->size());
    if (!info) {
        std::fprintf(stderr, "error: %s: %s\n", o.model.c_str(), info.error().message.c_str());
        return 2;
    }
    const fs::path src(URSA_SOURCE_DIR);
    const fs::path web = locate(o.web_dir, "URSA_WEB_DIR", src / "web");
    const fs::path wasm = locate(o.wasm_dir, "URSA_WASM_DIR", src / "build/wasm/wasm");
    const fs::path ort = locate(o.ort_dir, "URSA_ORT_DIR", src / "web/node_modules/onnxruntime-web/dist");
    for (auto check : {require_files(web, {"index.html", "app.js", "worker.js"}, "the page's source: --web-dir"),
                       require_files(wasm, kCoreFiles, "build the wasm preset: cmake --workflow --preset wasm"),
                       require_files(ort, kOrtFiles, "install onnxruntime-web: tools/setup.sh")}) {
        if (!check) {
            std::fprintf(stderr, "error: %s\n", check.error().message.c_str());
            return 2;
        }
    }

    // Build next to the target, then swap it in: the site is never half-written.
    const fs::path out = fs::absolute(o.out).lexically_normal();
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_empty(out, ec) && !fs::exists(out / kSiteMarker, ec)) {
        std::fprintf(stderr, "error: %s exists and was not made by `ursa web`; choose another --out\n",
                     out.string().c_str());
        return 2;
    }
    const auto stamp = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    const fs::path tmp = out.string() + ".tmp-" + stamp, old = out.string() + ".old-" + stamp;
    if (auto ok = assemble(o, *info, web, wasm, ort, tmp); !ok) {
        fs::remove_all(tmp, ec);
        std::fprintf(stderr, "error: %s\n", ok.error().message.c_str());
        return 2;
    }
    if (fs::exists(out, ec)) fs::rename(out, old, ec);
    fs::rename(tmp, out, ec);
    if (ec) {
        std::fprintf(stderr, "error: cannot move the site into %s: %s\n", out.string().c_str(), ec.message().c_str());
        return 2;
    }
    fs::remove_all(old, ec);  // the previous site made by `ursa web` (checked by its marker)
    std::printf("site written to %s (%zu labels, input %dx%d)\n", out.string().c_str(), info->labels.size(),
                info->input.height, info->input.width);
    std::printf("serve it with: python3 -m http.server -d %s 8000\n", out.string().c_str());
    return 0;
}

}  // namespace ursa
