// Benchmark (not a test): encoded image → model input tensor with core, natively.
// usage: ursa_bench_preprocess IMAGE [--size 224] [--method crop] [--runs 10]
// Prints the median and best time of decode + fit + normalise over the runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ursa/image.h"
#include "ursa/preprocess.h"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s IMAGE [--size N] [--method crop|squish|pad] [--runs R]\n", argv[0]);
        return 2;
    }
    ursa::InputSpec spec;
    spec.resize = ursa::ResizeMethod::Crop;
    int runs = 10;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--size") spec.height = spec.width = std::atoi(argv[i + 1]);
        else if (flag == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
        else if (flag == "--method") spec.resize = ursa::parse_resize_method(argv[i + 1]).value();
    }
    auto bytes = ursa::read_file(argv[1]);
    if (!bytes) {
        std::fprintf(stderr, "error: %s\n", bytes.error().message.c_str());
        return 2;
    }
    std::vector<double> ms;
    for (int r = 0; r < runs; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        auto tensor = ursa::preprocess(bytes->data(), bytes->size(), spec);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (!tensor) {
            std::fprintf(stderr, "error: %s\n", tensor.error().message.c_str());
            return 1;
        }
    }
    std::sort(ms.begin(), ms.end());
    std::printf("native core: median %.1f ms, best %.1f ms (%d runs)\n", ms[ms.size() / 2], ms[0], runs);
    return 0;
}
