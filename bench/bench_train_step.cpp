// One training step's compute alone, without data loading: forward (with bf16 autocast
// or fp32), loss, backward and Adam on a random channels-last batch, timed per part.
// usage: ursa_bench_train_step [ARCH resnet18] [SIZE 128] [BS 64]
//                              [fp32|fp32-onednn|fp32-ab|bf16|bf16-onednn|bf16-ab|auto] [STEPS 20]
//                              [THREADS 0 = all cores]
// bf16: as `ursa train` under bf16 (small-map convolutions as matrix products);
// bf16-onednn: oneDNN's convolutions everywhere (--no-matmul-convs); fp32: as `ursa train`
// under fp32 (small-map convolutions as matrix products where the BLAS is OpenBLAS or MKL);
// fp32-onednn: fp32 with oneDNN's convolutions everywhere; fp32-ab, bf16-ab: the matmul
// convolutions on and off in alternate steps of the same process, each way's median step
// reported (on a machine whose speed drifts, the fair comparison); auto: bf16, with
// the blocks that time at least 15 % faster in fp32 in fp32, as `ursa train
// --fp32-blocks timed` chooses them.
#include <torch/torch.h>

#include <chrono>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "ursa/learner.h"
#include "ursa/matmul_conv.h"
#include "ursa/models.h"
#include "ursa/optimizer.h"
#include "ursa/progress.h"

using clk = std::chrono::steady_clock;

int main(int argc, char** argv) {
    const std::string arch = argc > 1 ? argv[1] : "resnet18";
    const int size = argc > 2 ? std::stoi(argv[2]) : 128, bs = argc > 3 ? std::stoi(argv[3]) : 64;
    const std::string mode = argc > 4 ? argv[4] : "bf16";
    const bool bf16 = mode.rfind("fp32", 0) != 0;
    const bool ab = mode == "fp32-ab" || mode == "bf16-ab", onednn = mode == "bf16-onednn" || mode == "fp32-onednn";
    const int steps = argc > 5 ? std::stoi(argv[5]) : 20, warmup = 3;
    const int threads = ursa::thread_count(argc > 6 ? std::stoi(argv[6]) : 0);
    torch::set_num_threads(threads);
    torch::manual_seed(0);
    auto made = ursa::make_classifier(arch, 10);
    if (!made) {
        std::fprintf(stderr, "error: %s\n", made.error().message.c_str());
        return 2;
    }
    ursa::Classifier model = *made;
    ursa::set_memory_format(*model, torch::MemoryFormat::ChannelsLast);  // as ursa train lays them out
    const bool applies = ursa::matmul_convs_apply(bf16, false);
    const bool matmul = !onednn && applies;  // what ursa train would do
    if (ab && !applies)
        std::fprintf(stderr,
                     "note: libtorch's BLAS is not OpenBLAS or MKL, so fp32 convolutions stay with oneDNN either way; "
                     "the two columns time the same thing\n");
    ursa::set_matmul_convs(model, matmul);
    std::string fp32_in;
    if (mode == "auto") {
        const auto blocks = ursa::faster_in_fp32(ursa::time_blocks(model, bs, size));
        (void)ursa::set_fp32_blocks(model, blocks);
        for (const auto& b : blocks) fp32_in += (fp32_in.empty() ? ", fp32 in " : ", ") + b;
    }
    ursa::Adam opt(ursa::param_groups(model), 0.01);
    opt.set_lrs({1e-3, 1e-3, 1e-3});
    const torch::Tensor x = torch::randn({bs, 3, size, size}).contiguous(torch::MemoryFormat::ChannelsLast);
    const torch::Tensor y = torch::randint(0, 10, {bs}, torch::kLong);
    model->train();
    double forward = 0, backward = 0, adam = 0;
    std::vector<double> with_matmul, without;  // per-step totals, for -ab
    auto ms = [](clk::time_point a, clk::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
    for (int i = 0; i < warmup + (ab ? 2 : 1) * steps; ++i) {
        const bool on = ab ? i % 2 == 0 : matmul;
        if (ab) ursa::set_matmul_convs(model, on);
        const auto t0 = clk::now();
        torch::Tensor logits;
        {
            const ursa::Bf16AutocastScope autocast(bf16, torch::kCPU);
            logits = model->forward(x);
        }
        torch::Tensor loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), y);
        const auto t1 = clk::now();
        opt.zero_grad();
        loss.backward();
        const auto t2 = clk::now();
        opt.step();
        const auto t3 = clk::now();
        if (i < warmup) continue;
        forward += ms(t0, t1), backward += ms(t1, t2), adam += ms(t2, t3);
        (on ? with_matmul : without).push_back(ms(t0, t3));
    }
    const char* precision = bf16 ? "bf16 autocast" : "fp32";
    if (ab) {
        auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
        };
        const double a = median(with_matmul), b = median(without);
        std::printf("%s %d px, batch %d, %s, %d threads, %d steps each way, alternating: median step %.1f ms with the "
                    "matmul convolutions (%.1f images/s), %.1f ms with oneDNN's (%.1f images/s); %.3fx\n",
                    arch.c_str(), size, bs, precision, threads, steps, a, bs / a * 1000, b, bs / b * 1000, b / a);
        return 0;
    }
    std::printf("%s %d px, batch %d, %s%s%s, %d threads: forward %.1f ms, backward %.1f ms, Adam %.1f ms per step; "
                "%.1f images/s\n",
                arch.c_str(), size, bs, precision, matmul ? "" : ", oneDNN convolutions", fp32_in.c_str(), threads,
                forward / steps, backward / steps, adam / steps, bs * steps / (forward + backward + adam) * 1000);
}
