// Benchmark (not a test): one image through the classifier, batch 1, on N threads (1 by default):
// core's own engine (the exported model.onnx, BatchNorm folded) next to libtorch (the
// run's model in eval mode, as `ursa train` left it). Both get the same random input;
// the largest logit difference is printed as a sanity check (it should be ~1e-5).
// usage: ursa_bench_engine RUN_DIR MODEL.onnx [--runs 20] [--warmup 3] [--threads 1]
//   --threads N  both runtimes' intra-op threads (0 = all cores)
// Prints one JSON line: {"size":[H,W],"engine_ms":…,"torch_ms":…,"max_abs_diff":…,"threads":N} (medians).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ursa/engine.h"
#include "ursa/image.h"
#include "ursa/models.h"
#include "ursa/run.h"

namespace {

template <class F>
double median_ms(int warmup, int runs, F&& f) {
    for (int i = 0; i < warmup; ++i) f();
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

int fail(const std::string& message) {
    std::fprintf(stderr, "ursa_bench_engine: %s\n", message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s RUN_DIR MODEL.onnx [--runs 20] [--warmup 3] [--threads 1]\n", argv[0]);
        return 2;
    }
    const std::string run_dir = argv[1], model_path = argv[2];
    int runs = 20, warmup = 3, threads = 1;
    for (int i = 3; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
        else if (flag == "--warmup") warmup = std::max(0, std::atoi(argv[i + 1]));
        else if (flag == "--threads") threads = std::max(0, std::atoi(argv[i + 1]));
        else return fail("unknown option " + flag);
    }
    threads = ursa::set_engine_threads(threads);
    torch::set_num_threads(threads);
    torch::set_num_interop_threads(1);

    auto config = ursa::read_run_config(run_dir);
    if (!config) return fail(config.error().message);
    auto model = ursa::load_run_model(run_dir, *config);
    if (!model) return fail(model.error().message);
    (*model)->eval();
    const int64_t h = config->input.height, w = config->input.width;

    auto bytes = ursa::read_file(model_path);
    if (!bytes) return fail(bytes.error().message);
    auto engine = ursa::Engine::load(bytes->data(), bytes->size());
    if (!engine) return fail(engine.error().message);

    torch::manual_seed(0);
    const torch::Tensor x = torch::randn({1, 3, h, w});
    ursa::Tensor input{{1, 3, h, w}, std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel())};

    torch::NoGradGuard no_grad;
    torch::Tensor torch_out;
    const double torch_ms = median_ms(warmup, runs, [&] { torch_out = (*model)->forward(x); });
    ursa::Tensor engine_out;
    std::string error;
    const double engine_ms = median_ms(warmup, runs, [&] {
        auto out = (*engine)->run(input);
        if (out) engine_out = std::move(*out);
        else error = out.error().message;
    });
    if (!error.empty()) return fail(error);

    const torch::Tensor ref = torch_out.contiguous();
    if (static_cast<int64_t>(engine_out.data.size()) != ref.numel()) return fail("output sizes differ");
    double diff = 0;
    for (int64_t i = 0; i < ref.numel(); ++i)
        diff = std::max(diff, static_cast<double>(std::fabs(engine_out.data[size_t(i)] - ref.data_ptr<float>()[i])));
    std::printf("{\"size\":[%lld,%lld],\"engine_ms\":%.3f,\"torch_ms\":%.3f,\"max_abs_diff\":%.3g,\"runs\":%d,\"threads\":%d}\n",
                static_cast<long long>(h), static_cast<long long>(w), engine_ms, torch_ms, diff, runs, threads);
    return 0;
}
