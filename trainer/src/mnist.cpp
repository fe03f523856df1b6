#include <zlib.h>

#include <cstdio>
#include <filesystem>

#include "ursa/commands.h"
#include "ursa/io.h"
#include "ursa/progress.h"
#include "ursa/result.h"

namespace fs = std::filesystem;

namespace ursa {

namespace {

Result<std::vector<uint8_t>> read_gzip(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) return make_error("cannot open " + path + " (install dataset-fashion-mnist: tools/setup.sh)");
    std::vector<uint8_t> out;
    uint8_t buf[1 << 16];
    int n = 0;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
    int err = 0;
    const char* msg = gzerror(f, &err);
    gzclose(f);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) return make_error("cannot read " + path + ": " + msg);
    return out;
}

uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }

// ref: the IDX format — magic 0x00000803 (images: n, rows, cols) / 0x00000801 (labels: n).
Result<bool> convert(const std::string& images_path, const std::string& labels_path, const fs::path& out,
                     int per_class, const char* title) {
    auto images = read_gzip(images_path);
    if (!images) return images.error();
    auto labels = read_gzip(labels_path);
    if (!labels) return labels.error();
    if (images->size() < 16 || be32(images->data()) != 0x803) return make_error(images_path + " is not an IDX image file");
    if (labels->size() < 8 || be32(labels->data()) != 0x801) return make_error(labels_path + " is not an IDX label file");
    const uint32_t n = be32(images->data() + 4), rows = be32(images->data() + 8), cols = be32(images->data() + 12);
    if (be32(labels->data() + 4) != n || images->size() < 16 + size_t(n) * rows * cols || labels->size() < 8 + n)
        return make_error(images_path + " and " + labels_path + " do not match or are truncated");
    const auto& names = fashion_mnist_labels();
    for (const auto& name : names) fs::create_directories(out / name);
    std::vector<int> counts(names.size(), 0);
    ProgressBar bar(title, n);
    for (uint32_t i = 0; i < n; ++i) {
        const uint8_t label = (*labels)[8 + i];
        if (label >= names.size()) return make_error(labels_path + ": label out of range");
        if (per_class > 0 && counts[label] >= per_class) continue;
        ++counts[label];
        const auto png = encode_png(images->data() + 16 + size_t(i) * rows * cols, int(cols), int(rows), 1);
        char name[32];
        std::snprintf(name, sizeof name, "%05u.png", i);
        // Not durable: an interrupted import is simply run again.
        if (auto ok = write_file_atomic((out / names[label] / name).string(), png.data(), png.size(), false); !ok)
            return ok.error();
        if (i % 1000 == 999) bar.update(i + 1);
    }
    bar.update(n);
    return true;
}

}  // namespace

const std::vector<std::string>& fashion_mnist_labels() {
    static const std::vector<std::string> labels = {"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
                                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"};
    return labels;
}

int import_mnist(const std::string& source_dir, const std::string& out_dir, int per_class) {
    const fs::path src(source_dir), out(out_dir);
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) {
        std::fprintf(stderr, "error: cannot create %s: %s\n", out_dir.c_str(), ec.message().c_str());
        return 2;
    }
    // Fashion-MNIST's own test set (t10k) is the validation folder.
    for (auto [prefix, split] : {std::pair{"train", "train"}, std::pair{"t10k", "valid"}}) {
        auto ok = convert((src / (std::string(prefix) + "-images-idx3-ubyte.gz")).string(),
                          (src / (std::string(prefix) + "-labels-idx1-ubyte.gz")).string(), out / split, per_class,
                          split);
        if (!ok) {
            std::fprintf(stderr, "error: %s\n", ok.error().message.c_str());
            return 2;
        }
    }
    std::printf("wrote Fashion-MNIST to %s/{train,valid}/<label>/*.png\n", out_dir.c_str());
    return 0;
}

}  // namespace ursa
