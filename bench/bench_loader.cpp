// Benchmark: Ursa's training loader alone (no model): decode + RandomResizedCrop +
// fastai's aug_transforms + normalise, batches of 64, shuffled with drop-last, as
// `ursa train --resize-method random-resized-crop` feeds the model. Prints images/s
// for the first epoch (which decodes every file once) and for the later ones.
// usage: ursa_bench_loader DATA [--size 128] [--bs 64] [--epochs 3] [--threads 2]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include <sys/resource.h>

#include <torch/torch.h>

#include "ursa/augment.h"
#include "ursa/dataset.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds this process has used, every thread, user and system: the work done,
// whatever else shares the machine (wall-clock seconds are what the table compares).
double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s DATA [--size 128] [--bs 64] [--epochs 3] [--threads 2]\n", argv[0]);
        return 2;
    }
    std::string data = argv[1];
    int size = 128, bs = 64, epochs = 3;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const int v = std::atoi(argv[i + 1]);
        if (flag == "--size") size = v;
        else if (flag == "--bs") bs = v;
        else if (flag == "--epochs") epochs = v;
        else if (flag == "--threads") threads = v;
        else {
            std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
            return 2;
        }
    }
    torch::set_num_threads(threads);
    std::vector<ursa::Item> items;  // every image file; labels play no part in loading
    for (const auto& f : ursa::find_image_files(data)) items.push_back({f, 0});
    ursa::InputSpec spec;
    spec.width = spec.height = size;
    spec.resize = ursa::ResizeMethod::RandomResizedCrop;
    ursa::AugOptions aug;  // fastai's aug_transforms defaults
    aug.random_resized_crop = true;
    aug.min_scale = 0.08;

    const auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = cpu_seconds();
    ursa::Prepared prepared =
        ursa::prepare_items(items, spec, ursa::DecodeOptions{}, threads, "", ursa::Storage::whole);
    const double decode_s = seconds_since(t0);
    double cpu_mark = cpu0;
    const int64_t n = static_cast<int64_t>(prepared.images.size());
    if (n < bs) {
        std::fprintf(stderr, "error: %lld images, fewer than one batch of %d\n", static_cast<long long>(n), bs);
        return 2;
    }
    std::mt19937_64 rng(42);
    double checksum = 0;
    for (int e = 0; e < epochs; ++e) {
        const auto te = std::chrono::steady_clock::now();
        std::vector<int64_t> order(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
        std::shuffle(order.begin(), order.end(), rng);
        int64_t images = 0;
        for (int64_t k = 0; k + bs <= n; k += bs) {
            std::vector<int64_t> idx(order.begin() + k, order.begin() + k + bs);
            std::vector<ursa::AugParams> params;
            for (int i = 0; i < bs; ++i) params.push_back(ursa::draw_aug_params(rng, aug));
            ursa::Batch b = ursa::make_batch(prepared, idx, spec, &params, threads);
            checksum += b.images[0][0][0][0].item<double>();
            images += bs;
        }
        double s = seconds_since(te);
        if (e == 0) s += decode_s;
        const double cpu = cpu_seconds() - cpu_mark;
        cpu_mark += cpu;
        std::printf("ursa epoch %d: %lld images in %.2f s: %.1f img/s (%.2f CPU s)%s\n", e + 1,
                    static_cast<long long>(images), s, images / s, cpu,
                    e == 0 ? " (includes decoding every file once)" : "");
        std::fflush(stdout);
    }
    std::printf("(%lld files, %zu failed, checksum %.3f)\n", static_cast<long long>(n), prepared.failures.size(),
                checksum);
    return 0;
}
