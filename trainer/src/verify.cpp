// `ursa verify`: decode every image of a dataset, report, and optionally move the
// failures aside (never delete them).
#include <cstdio>
#include <filesystem>
#include <map>
#include <system_error>

#include "ursa/clean.h"  // free_destination
#include "ursa/commands.h"
#include "ursa/dataset.h"
#include "ursa/io.h"
#include "ursa/progress.h"

namespace fs = std::filesystem;

namespace ursa {

namespace {

// rename, or copy + remove across file systems; the source goes only once the copy
// is complete.
std::error_code move_file(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::create_directories(to.parent_path(), ec);
    if (ec) return ec;
    fs::rename(from, to, ec);
    if (!ec || ec != std::errc::cross_device_link) return ec;
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

}  // namespace

int verify_dataset(const VerifyOptions& o) {
    std::error_code ec;
    if (!fs::is_directory(o.data, ec)) {
        std::fprintf(stderr, "error: %s is not a folder\n", o.data.c_str());
        return 2;
    }
    if (!o.move_bad.empty()) {  // inside DATA (and not hidden) the moved files would be read as data again
        const fs::path data = fs::weakly_canonical(o.data, ec), bad = fs::weakly_canonical(o.move_bad, ec);
        const fs::path rel = bad.lexically_relative(data);
        bool inside = !rel.empty() && *rel.begin() != "..", hidden = false;
        for (const auto& part : rel) hidden = hidden || (!part.empty() && part.string()[0] == '.' && part != "..");
        if (inside && !hidden) {
            std::fprintf(stderr,
                         "error: --move-bad %s is inside %s, where its files would be read as data again; use a "
                         "folder outside it or a hidden one (e.g. %s/.bad)\n",
                         o.move_bad.c_str(), o.data.c_str(), o.data.c_str());
            return 2;
        }
    }
    const std::vector<std::string> files = find_image_files(o.data);
    if (files.empty()) {
        std::fprintf(stderr, "error: no image files (by extension) under %s\n", o.data.c_str());
        return 2;
    }
    DecodeOptions decode;
    decode.max_pixels = o.max_pixels;
    std::vector<std::string> errors(files.size());
    parallel_for_with_progress(files.size(), o.threads, "verify", [&](size_t i) {
        auto bytes = read_file(files[i]);
        if (!bytes) {
            errors[i] = bytes.error().message;
        } else if (auto image = decode_image(bytes->data(), bytes->size(), decode); !image) {
            errors[i] = image.error().message;
        }
    });

    std::map<std::string, std::pair<int, int>> per_label;  // label -> (ok, failed)
    int failed = 0;
    for (size_t i = 0; i < files.size(); ++i) {
        auto& counts = per_label[fs::path(files[i]).parent_path().filename().string()];
        (errors[i].empty() ? counts.first : counts.second)++;
        failed += !errors[i].empty();
    }
    std::printf("%-24s %8s %8s\n", "label", "ok", "failed");
    for (const auto& [label, counts] : per_label)
        std::printf("%-24s %8d %8d\n", label.c_str(), counts.first, counts.second);
    std::printf("%zu images: %zu ok, %d failed\n", files.size(), files.size() - failed, failed);

    int move_errors = 0;
    for (size_t i = 0; i < files.size(); ++i) {
        if (errors[i].empty()) continue;
        std::fprintf(stderr, "%s: %s\n", files[i].c_str(), errors[i].c_str());
        if (o.move_bad.empty()) continue;
        const fs::path rel = fs::path(files[i]).lexically_relative(o.data);
        const fs::path dest = free_destination(o.move_bad, rel.empty() ? fs::path(files[i]).filename() : rel);
        if (auto err = move_file(files[i], dest)) {
            std::fprintf(stderr, "error: could not move %s to %s: %s\n", files[i].c_str(), dest.c_str(),
                         err.message().c_str());
            ++move_errors;
        } else {
            std::printf("moved %s -> %s\n", files[i].c_str(), dest.c_str());
        }
    }
    return failed || move_errors ? 1 : 0;
}

}  // namespace ursa
