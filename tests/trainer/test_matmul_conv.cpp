#include "torch_doctest.h"

#include <ATen/autocast_mode.h>

#include <filesystem>

#include "ursa/matmul_conv.h"
#include "ursa/models.h"

using namespace ursa;

namespace {

double max_rel(const torch::Tensor& a, const torch::Tensor& b) {
    return ((a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs().max() / b.to(torch::kFloat32).abs().max())
        .item<double>();
}

struct Shape {
    int64_t n, c, h, o, k, stride, pad;
};

}  // namespace

TEST_CASE("matmul_conv_plan, bf16 on AMX: weight gradients up to 8x8 outputs from 64 channels; the rest up to 4x4 from "
          "256") {
    const auto plan = [](int64_t c, int64_t px) { return matmul_conv_plan(torch::kBFloat16, c, px, 3, 1, true); };
    CHECK(plan(512, 16).forward);
    CHECK(plan(512, 16).grad_input);
    CHECK(plan(512, 16).grad_weight);
    CHECK(plan(256, 64).grad_weight);
    CHECK_FALSE(plan(256, 64).forward);
    CHECK_FALSE(plan(256, 64).grad_input);
    CHECK(plan(128, 4).grad_weight);
    CHECK_FALSE(plan(128, 4).forward);
    CHECK_FALSE(plan(32, 49).any());
    CHECK_FALSE(plan(128, 256).any());
    CHECK(matmul_conv_plan(torch::kBFloat16, 256, 16, 1, 2, true).forward);  // 1x1 downsampling too
}

TEST_CASE("matmul_conv_plan, bf16 without AMX: weight gradients up to 4x4 outputs from 64 channels, and of stride-2 3x3 "
          "convolutions from 32-64 channels up to 8x8; forward up to 4x4 from 256; no input gradients") {
    const auto plan = [](int64_t c, int64_t px, int64_t stride) {
        return matmul_conv_plan(torch::kBFloat16, c, px, 3, stride, false);
    };
    CHECK(plan(512, 16, 1).forward);
    CHECK(plan(512, 16, 1).grad_weight);
    CHECK_FALSE(plan(512, 16, 1).grad_input);  // oneDNN's avx512_core_bf16 input gradient is faster
    CHECK_FALSE(plan(256, 16, 2).grad_input);
    CHECK_FALSE(plan(256, 64, 1).grad_weight);  // 8x8: oneDNN's, unlike on AMX
    CHECK(plan(64, 16, 2).grad_weight);
    CHECK_FALSE(plan(64, 16, 2).forward);
    CHECK(plan(128, 4, 1).grad_weight);
    CHECK_FALSE(plan(64, 49, 1).any());
    CHECK_FALSE(plan(32, 16, 1).any());
    // stride-2 weight gradients from 32 to 64 channels up to 8x8 outputs, 3x3 only
    CHECK(plan(32, 49, 2).grad_weight);
    CHECK_FALSE(plan(32, 49, 2).forward);
    CHECK_FALSE(plan(32, 49, 2).grad_input);
    CHECK(plan(64, 64, 2).grad_weight);
    CHECK_FALSE(plan(16, 196, 2).any());
    CHECK_FALSE(plan(32, 196, 2).any());
    CHECK_FALSE(plan(128, 64, 2).any());  // resnet18's layer3.0.conv1 at 128 px: slower as a matmul
    CHECK_FALSE(plan(16, 49, 2).any());
    CHECK_FALSE(matmul_conv_plan(torch::kBFloat16, 32, 49, 1, 2, false).any());  // 1x1: the rule above only
    CHECK_FALSE(matmul_conv_plan(torch::kBFloat16, 32, 49, 3, 2, true).any());   // not on AMX (not measured)
    CHECK(matmul_conv_plan(torch::kBFloat16, 64, 16, 1, 2, false).grad_weight);  // 1x1 downsampling too
}

TEST_CASE("matmul_conv_plan, fp32: 3x3 only; weight gradients up to 4x4 from 128 channels; forward up to 4x4 from 256 "
          "or 2x2 from 128; input gradients of stride 2 up to 4x4 from 128") {
    const auto plan = [](int64_t c, int64_t px, int64_t stride) {
        return matmul_conv_plan(torch::kFloat32, c, px, 3, stride, false);
    };
    CHECK(plan(512, 16, 1).forward);
    CHECK(plan(512, 16, 1).grad_weight);
    CHECK_FALSE(plan(512, 16, 1).grad_input);  // stride 1: oneDNN's input gradient
    CHECK(plan(256, 16, 2).grad_input);
    CHECK(plan(128, 16, 1).grad_weight);
    CHECK_FALSE(plan(128, 16, 1).forward);
    CHECK(plan(128, 4, 1).forward);
    CHECK(plan(128, 4, 2).grad_input);
    CHECK_FALSE(plan(64, 16, 2).any());
    CHECK_FALSE(plan(256, 64, 1).any());
    for (const int64_t c : {64, 128, 256, 512})  // AMX or not: the same fp32 plan
        for (const int64_t px : {4, 16, 64})
            for (const int64_t stride : {1, 2}) {
                const MatmulConvPlan a = matmul_conv_plan(torch::kFloat32, c, px, 3, stride, true), b = plan(c, px, stride);
                CHECK((a.forward == b.forward && a.grad_input == b.grad_input && a.grad_weight == b.grad_weight));
            }
    CHECK_FALSE(matmul_conv_plan(torch::kFloat32, 512, 16, 1, 2, false).any());  // 1x1: not measured, oneDNN's
    CHECK_FALSE(matmul_conv_plan(torch::kHalf, 512, 16, 3, 1, true).any());
}

TEST_CASE("col2im is im2col's adjoint: <im2col(x), c> = <x, col2im(c)>") {
    torch::manual_seed(3);
    for (const Shape s : {Shape{2, 5, 7, 0, 3, 1, 1}, Shape{2, 4, 8, 0, 3, 2, 1}, Shape{3, 6, 4, 0, 1, 2, 0}}) {
        const torch::Tensor x = torch::randn({s.n, s.c, s.h, s.h}, torch::kDouble);
        const torch::Tensor cols = im2col(x, s.k, s.stride, s.pad);
        const int64_t ho = (s.h + 2 * s.pad - s.k) / s.stride + 1;
        REQUIRE(cols.sizes() == torch::IntArrayRef({s.n * ho * ho, s.k * s.k * s.c}));
        const torch::Tensor c = torch::randn_like(cols);
        const torch::Tensor back = col2im(c, x.sizes(), s.k, s.stride, s.pad);
        REQUIRE(back.sizes() == x.sizes());
        CHECK((cols * c).sum().item<double>() == doctest::Approx((x * back).sum().item<double>()).epsilon(1e-9));
    }
}

TEST_CASE("matmul_conv2d equals conv2d, output and both gradients, whichever parts the plan takes (fp32, 1e-4)") {
    torch::manual_seed(4);
    // The 1x1 stride-2 shape has 8 input channels, as every downsampling convolution of
    // Ursa's models has a multiple of 8: oneDNN 2.6's jit_1x1:avx2 weight gradient
    // corrupts the heap on channels-last inputs with 6 (AVX2-only CPUs; 8, 16 and 64 are fine).
    for (const Shape s : {Shape{4, 8, 6, 12, 3, 1, 1}, Shape{4, 8, 7, 16, 3, 2, 1}, Shape{3, 8, 8, 10, 1, 2, 0}}) {
        for (int mask = 0; mask < 8; ++mask) {
            const MatmulConvPlan plan{(mask & 1) != 0, (mask & 2) != 0, (mask & 4) != 0};
            INFO("shape c" << s.c << " h" << s.h << " k" << s.k << " s" << s.stride << ", plan " << mask);
            const torch::Tensor x0 = torch::randn({s.n, s.c, s.h, s.h}).contiguous(torch::MemoryFormat::ChannelsLast);
            const torch::Tensor w0 = torch::randn({s.o, s.c, s.k, s.k}).contiguous(torch::MemoryFormat::ChannelsLast);
            const torch::Tensor x1 = x0.clone().requires_grad_(), w1 = w0.clone().requires_grad_();
            const torch::Tensor x2 = x0.clone().requires_grad_(), w2 = w0.clone().requires_grad_();
            const torch::Tensor want = torch::conv2d(x1, w1, {}, s.stride, s.pad);
            const torch::Tensor got = matmul_conv2d(x2, w2, s.stride, s.pad, plan);
            REQUIRE(got.sizes() == want.sizes());
            CHECK(max_rel(got, want) < 1e-4);
            const torch::Tensor g = torch::randn_like(want);
            (want * g).sum().backward();
            (got * g).sum().backward();
            CHECK(max_rel(x2.grad(), x1.grad()) < 1e-4);
            CHECK(max_rel(w2.grad(), w1.grad()) < 1e-4);
        }
    }
}

TEST_CASE("conv_forward: under CPU bf16 autocast small maps go through matmuls, in bf16, close to oneDNN's; in fp32 on a fast BLAS too") {
    torch::manual_seed(5);
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(256, 256, 3).padding(1).bias(false));
    const torch::Tensor x = torch::randn({8, 256, 4, 4}).contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor want, got, plain;
    {
        const Bf16AutocastScope autocast(true, torch::kCPU);
        want = conv->forward(x);
        got = conv_forward(*conv, x, /*enabled=*/true);
        plain = conv_forward(*conv, x, /*enabled=*/false);
    }
    CHECK((got.scalar_type() == torch::kBFloat16));
    CHECK(max_rel(got, want) < 2e-2);             // bf16 rounding of two ways of summing
    CHECK(torch::equal(plain, want));             // disabled: the module's own forward
    // No autocast: fp32, a matmul where fast_fp32_matmul() (the fp32 plan takes 256 channels on 4x4).
    if (fast_fp32_matmul()) {
        CHECK(max_rel(conv_forward(*conv, x, true), conv->forward(x)) < 1e-5);
        CHECK_FALSE(torch::equal(conv_forward(*conv, x, true), conv->forward(x)));  // another summation order
    } else {
        CHECK(torch::equal(conv_forward(*conv, x, true), conv->forward(x)));
    }
    CHECK(torch::equal(conv_forward(*conv, x, false), conv->forward(x)));
    // The weight gradient reaches the fp32 parameter through the cast.
    {
        const Bf16AutocastScope autocast(true, torch::kCPU);
        conv_forward(*conv, x.requires_grad_(), true).to(torch::kFloat32).sum().backward();
    }
    REQUIRE(conv->weight.grad().defined());
    CHECK((conv->weight.grad().scalar_type() == torch::kFloat32));
    CHECK(x.grad().defined());
}

TEST_CASE("fast_fp32_matmul: true exactly when the system libblas.so.3 is OpenBLAS (tools/setup.sh installs it) or "
          "libtorch has MKL") {
    std::error_code ec;
    const std::string blas = std::filesystem::canonical("/usr/lib/x86_64-linux-gnu/libblas.so.3", ec).string();
    const bool openblas = !ec && blas.find("openblas") != std::string::npos;
    INFO("libblas.so.3 is " << blas);
    CHECK(fast_fp32_matmul() == (openblas || at::hasMKL()));
}

TEST_CASE("matmul_convs_apply: never on CUDA, always under bf16 on a CPU, in fp32 only with a fast BLAS") {
    CHECK_FALSE(matmul_convs_apply(true, true));
    CHECK_FALSE(matmul_convs_apply(false, true));
    CHECK(matmul_convs_apply(true, false));
    CHECK(matmul_convs_apply(false, false) == fast_fp32_matmul());
}
