// `ursa verify`: decode every image of a dataset, report, and optionally move the
// failures aside (never delete them).
#include <cstdio>
#include <filesystem>
#include <map>
#include <system_error>

#include "ursa/clean.h"  // dataset_images_to_move, free_destination, move_file
#include "ursa/commands.h"
#include "ursa/io.h"
#include "ursa/progress.h"

namespace fs = std::filesystem;

namespace ursa {

int verify_dataset(const VerifyOptions& o) {
    const auto found = dataset_images_to_move(o.data, o.move_bad, "--move-bad");
    if (!found) {
        std::fprintf(stderr, "error: %s\n", found.error().message.c_str());
        return 2;
    }
    const std::vector<std::string>& files = *found;
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
