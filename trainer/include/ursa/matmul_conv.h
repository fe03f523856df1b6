// Convolutions as one matrix product each (im2col, then a matmul) for the shapes where
// oneDNN 2.6's own convolution kernels are slow:
// - bf16 (oneDNN's AMX matmul): on small feature maps its AMX backward passes run at
//   fp32's speed or below (a 512->512 3x3 convolution on 4x4 maps, batch 64: weight
//   gradient 49.6 ms against 10.4 ms as a matmul);
// - fp32 (the system BLAS, OpenBLAS after tools/setup.sh): on AVX2 its kernels for 4x4
//   and smaller maps reach well under OpenBLAS's sgemm (the same weight gradient 115-131
//   ms against 39-58 ms on a Zen 3). BENCHMARKS.md has both tables.
#pragma once
#include <torch/nn.h>

#include <cstdint>

namespace ursa {

// Which parts of one convolution go through a matrix product; the others are
// oneDNN's convolution.
struct MatmulConvPlan {
    bool forward = false, grad_input = false, grad_weight = false;
    bool any() const { return forward || grad_input || grad_weight; }
};

// The plan for a k x k convolution with `in_channels` inputs, `out_pixels` = Ho x Wo
// output positions and `stride`, computed in `dtype` (kBFloat16 under autocast, or
// kFloat), on a CPU with AMX-BF16 (`amx`, cpu_bf16().amx_bf16) or without, from timings
// of both ways (BENCHMARKS.md, bench/conv_as_matmul.py):
// - bf16, on AMX: the weight gradient up to 8x8 outputs from 64 channels on; the
//   forward pass and the input gradient up to 4x4 outputs from 256 channels on;
// - bf16 without AMX (AVX-512 BF16, a Zen 5 and a Zen 4): the weight gradient up to 4x4
//   outputs from 64 channels on, and that of stride-2 3x3 convolutions up to 8x8 outputs
//   from 32 to 64 channels; the forward pass up to 4x4 from 256; the input gradient
//   stays oneDNN's (its avx512_core_bf16 kernel is faster there);
// - fp32, OpenBLAS on AVX2, 3x3 kernels only: the weight gradient up to 4x4 outputs
//   from 128 channels on; the forward pass up to 4x4 from 256 channels or 2x2 from 128;
//   the input gradient of stride-2 convolutions up to 4x4 outputs from 128 channels.
// `amx` does not change the fp32 plan. Other dtypes: nothing.
MatmulConvPlan matmul_conv_plan(torch::ScalarType dtype, int64_t in_channels, int64_t out_pixels, int64_t kernel,
                                int64_t stride, bool amx);

// Whether libtorch's fp32 matrix products reach an optimised BLAS (MKL, or OpenBLAS as
// the system libblas.so.3): without one (Debian's reference BLAS) an fp32 matmul is 40x
// slower than oneDNN's convolution, and fp32 convolutions stay with oneDNN.
bool fast_fp32_matmul();

// Whether matmul convolutions can apply to a run at all: on a CPU, under bf16
// autocast, or in fp32 where fast_fp32_matmul(). ursa train and the benchmarks ask
// this once per run; conv_forward still checks each call (device, dtype, shape).
bool matmul_convs_apply(bool bf16, bool cuda);

// im2col of x [N,C,H,W] (any layout; channels-last is a copy-free start) for a k x k
// kernel: [N*Ho*Wo, k*k*C], columns ordered (kh, kw, c), the memory order of a
// channels-last weight. Zero padding `pad` on every side.
torch::Tensor im2col(const torch::Tensor& x, int64_t k, int64_t stride, int64_t pad);

// Its adjoint: the columns summed back into an [N,C,H,W] gradient (channels-last
// strides, accumulated in float or wider, returned in the columns' dtype).
torch::Tensor col2im(const torch::Tensor& cols, torch::IntArrayRef shape, int64_t k, int64_t stride, int64_t pad);

// conv2d of x [N,C,H,W] with weight [O,C,k,k] (no bias, groups 1, dilation 1),
// differentiable in both: the plan's parts as matrix products, the rest through
// at::conv2d / at::convolution_backward. The output has channels-last strides.
torch::Tensor matmul_conv2d(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride, int64_t pad,
                            const MatmulConvPlan& plan);

// What the residual blocks call for a convolution, with `enabled`, on a CPU:
// under bf16 autocast, matmul_conv2d on bf16 copies of x and the weight where the
// bf16 plan for this CPU (with or without AMX) says so; without autocast, on fp32 x
// where fast_fp32_matmul() and the fp32 plan say so. The module's own forward otherwise
// (CUDA, shapes the plan leaves to oneDNN, bias, groups, dilation).
torch::Tensor conv_forward(torch::nn::Conv2dImpl& conv, const torch::Tensor& x, bool enabled);

}  // namespace ursa
