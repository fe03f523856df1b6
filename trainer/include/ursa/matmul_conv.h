// Convolutions as one matrix product each (im2col, then oneDNN's AMX matmul) for the
// shapes where oneDNN 2.6's own bf16 convolution kernels are slow: on small feature
// maps its AMX backward passes run at fp32's speed or below (a 512->512 3x3
// convolution on 4x4 maps, batch 64: weight gradient 49.6 ms against 10.4 ms as a
// matmul; BENCHMARKS.md).
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

// The plan for a convolution with `in_channels` inputs and `out_pixels` = Ho x Wo
// output positions, from timings of both ways on AMX (BENCHMARKS.md): the weight
// gradient as a matmul up to 8x8 outputs from 64 channels on; the forward pass and
// the input gradient up to 4x4 outputs from 256 channels on.
MatmulConvPlan matmul_conv_plan(int64_t in_channels, int64_t out_pixels);

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

// What the residual blocks call for a convolution: under CPU bf16 autocast, with
// `enabled`, matmul_conv2d on bf16 copies of x and the weight where
// matmul_conv_plan says so; the module's own forward otherwise (fp32, CUDA, shapes
// the plan leaves to oneDNN, bias, groups, dilation).
torch::Tensor conv_forward(torch::nn::Conv2dImpl& conv, const torch::Tensor& x, bool enabled);

}  // namespace ursa
