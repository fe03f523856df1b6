// Library entry points of the `ursa` subcommands that are not training. Each returns
// the process exit status (0 ok, 1 some inputs failed, 2 usage/setup error) and
// prints its own messages; the CLI files only parse flags and call these.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ursa/image.h"

namespace ursa {

// Fashion-MNIST (Debian's dataset-fashion-mnist idx files) → DIR/{train,valid}/<label>/*.png.
// `per_class` > 0 keeps only that many images per class and split.
int import_mnist(const std::string& source_dir, const std::string& out_dir, int per_class);

// The ten Fashion-MNIST class names as file-system-safe folder names.
const std::vector<std::string>& fashion_mnist_labels();

struct PredictOptions {
    std::string model;
    std::vector<std::string> files;
    int top = 3;
    bool json = false;
    long long max_pixels = 50'000'000;
    int threads = 0;  // the engine's threads (0 = every core)
};
int predict(const PredictOptions& options);

struct SiteOptions {
    std::string model;
    std::string out;
    std::string web_dir;   // the page's source files; "" = find them
    std::string wasm_dir;  // ursa_core.mjs + .wasm; "" = find them
    std::string ort_dir;   // onnxruntime-web dist/; "" = find it
};
int build_site(const SiteOptions& options);

struct VerifyOptions {
    std::string data;
    std::string move_bad;  // "" = leave failures where they are
    int64_t max_pixels = kDefaultMaxPixels;
    int threads = 0;       // 0 = every core
};
// Decodes every image under data; prints counts per label and each failure with its
// reason; moves failures under move_bad (same relative path, never overwriting).
// Returns 0 when all decode, 1 when some failed, 2 when data is not a folder of images.
int verify_dataset(const VerifyOptions& options);

int preprocess_file(const std::string& file, int size, const std::string& method, const std::string& pad_mode,
                    const std::string& out);

}  // namespace ursa
