#include "ursa/matmul_conv.h"

#include "ursa/cpu.h"

#include <ATen/autocast_mode.h>
#include <dlfcn.h>
#include <torch/torch.h>

#include <vector>

namespace ursa {

namespace {

int64_t out_extent(int64_t in, int64_t k, int64_t stride, int64_t pad) { return (in + 2 * pad - k) / stride + 1; }

// The positions tap (kh, kw) of a k x k kernel reads, of an NHWC tensor padded on
// every side: [N, ho, wo, C], a view.
torch::Tensor tap(const torch::Tensor& nhwc, int64_t kh, int64_t kw, int64_t stride, int64_t ho, int64_t wo) {
    return nhwc.slice(1, kh, kh + stride * (ho - 1) + 1, stride).slice(2, kw, kw + stride * (wo - 1) + 1, stride);
}

// weight [O,C,k,k] as [O, k*k*C], columns (kh, kw, c): a view when it is channels-last.
torch::Tensor weight_matrix(const torch::Tensor& w) { return w.permute({0, 2, 3, 1}).reshape({w.size(0), -1}); }

struct MatmulConvFn : torch::autograd::Function<MatmulConvFn> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& w, int64_t stride, int64_t pad, bool mm_forward,
                                 bool mm_grad_input, bool mm_grad_weight) {
        ctx->save_for_backward({x, w});
        ctx->saved_data["stride"] = stride;
        ctx->saved_data["pad"] = pad;
        ctx->saved_data["mm_grad_input"] = mm_grad_input;
        ctx->saved_data["mm_grad_weight"] = mm_grad_weight;
        if (!mm_forward) return at::conv2d(x, w, {}, stride, pad).contiguous(torch::MemoryFormat::ChannelsLast);
        const int64_t k = w.size(2), ho = out_extent(x.size(2), k, stride, pad),
                      wo = out_extent(x.size(3), k, stride, pad);
        return im2col(x, k, stride, pad).mm(weight_matrix(w).t()).view({x.size(0), ho, wo, w.size(0)}).permute({0, 3, 1, 2});
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        const auto saved = ctx->get_saved_variables();
        const torch::Tensor &x = saved[0], &w = saved[1];
        const int64_t stride = ctx->saved_data["stride"].toInt(), pad = ctx->saved_data["pad"].toInt();
        const bool mm_gi = ctx->saved_data["mm_grad_input"].toBool(), mm_gw = ctx->saved_data["mm_grad_weight"].toBool();
        const bool need_gi = ctx->needs_input_grad(0), need_gw = ctx->needs_input_grad(1);
        const torch::Tensor g = grads[0].to(x.scalar_type()).contiguous(torch::MemoryFormat::ChannelsLast);
        const int64_t k = w.size(2);
        const torch::Tensor g2 = g.permute({0, 2, 3, 1}).reshape({-1, w.size(0)});  // [N*Ho*Wo, O], a view
        torch::Tensor gi, gw;
        if (need_gi && mm_gi) gi = col2im(g2.mm(weight_matrix(w)), x.sizes(), k, stride, pad);
        if (need_gw && mm_gw)
            gw = g2.t().mm(im2col(x, k, stride, pad)).view({w.size(0), k, k, w.size(1)}).permute({0, 3, 1, 2});
        const bool onednn_gi = need_gi && !mm_gi, onednn_gw = need_gw && !mm_gw;
        if (onednn_gi || onednn_gw) {
            auto [a, b, c] = at::convolution_backward(g, x, w, c10::nullopt, {stride, stride}, {pad, pad}, {1, 1}, false,
                                                      {0, 0}, 1, {onednn_gi, onednn_gw, false});
            if (onednn_gi) gi = a;
            if (onednn_gw) gw = b;
        }
        return {gi, gw, {}, {}, {}, {}, {}};
    }
};

}  // namespace

MatmulConvPlan matmul_conv_plan(torch::ScalarType dtype, int64_t in_channels, int64_t out_pixels, int64_t kernel,
                                int64_t stride, bool amx) {
    MatmulConvPlan p;
    if (dtype == torch::kBFloat16) {  // AMX adds the input gradient and weight gradients up to 8x8
        p.forward = out_pixels <= 16 && in_channels >= 256;
        p.grad_input = amx && p.forward;
        p.grad_weight = out_pixels <= (amx ? 64 : 16) && in_channels >= 64;
        // Without AMX also the weight gradient of stride-2 3x3 convolutions from 32 to 64
        // channels up to 8x8 outputs (`small`'s layer2.0.conv1, 32 -> 64 on 7x7: 3-10 % off
        // the whole step on a Zen 4); from 128 channels (resnet18's layer3.0 at 128 px) the
        // whole step was 2-5 % slower with it.
        if (!amx && kernel == 3 && stride == 2 && out_pixels <= 64 && in_channels >= 32 && in_channels <= 64)
            p.grad_weight = true;
    } else if (dtype == torch::kFloat32 && kernel == 3) {
        p.grad_weight = out_pixels <= 16 && in_channels >= 128;
        p.forward = (out_pixels <= 16 && in_channels >= 256) || (out_pixels <= 4 && in_channels >= 128);
        p.grad_input = stride == 2 && out_pixels <= 16 && in_channels >= 128;
    }
    return p;
}

bool fast_fp32_matmul() {
    static const bool fast = at::hasMKL() || dlsym(RTLD_DEFAULT, "openblas_get_config") != nullptr;
    return fast;
}

bool matmul_convs_apply(bool bf16, bool cuda) { return !cuda && (bf16 || fast_fp32_matmul()); }

torch::Tensor im2col(const torch::Tensor& x, int64_t k, int64_t stride, int64_t pad) {
    const int64_t n = x.size(0), c = x.size(1);
    const int64_t ho = out_extent(x.size(2), k, stride, pad), wo = out_extent(x.size(3), k, stride, pad);
    torch::Tensor nhwc = x.permute({0, 2, 3, 1});
    if (pad > 0) nhwc = torch::constant_pad_nd(nhwc, {0, 0, pad, pad, pad, pad});
    nhwc = nhwc.contiguous();  // a no-op for a channels-last x
    // [N, ho, wo, kh, kw, C] as one strided view of the padded input, copied once: 2-3x
    // faster than concatenating the k*k taps (0.17 against 0.51 ms for 128 x 128 x 4 x 4 bf16).
    const int64_t hp = nhwc.size(1), wp = nhwc.size(2);
    return nhwc.as_strided({n, ho, wo, k, k, c}, {hp * wp * c, stride * wp * c, stride * c, wp * c, c, 1})
        .reshape({n * ho * wo, k * k * c});
}

torch::Tensor col2im(const torch::Tensor& cols, torch::IntArrayRef shape, int64_t k, int64_t stride, int64_t pad) {
    const int64_t n = shape[0], c = shape[1], h = shape[2], w = shape[3];
    const int64_t ho = out_extent(h, k, stride, pad), wo = out_extent(w, k, stride, pad);
    const torch::Tensor taps = cols.view({n, ho, wo, k * k, c});
    torch::Tensor padded = torch::zeros({n, h + 2 * pad, w + 2 * pad, c}, cols.options().dtype(at::promote_types(cols.scalar_type(), torch::kFloat32)));
    for (int64_t kh = 0; kh < k; ++kh)
        for (int64_t kw = 0; kw < k; ++kw)
            tap(padded, kh, kw, stride, ho, wo).add_(taps.select(3, kh * k + kw));
    return padded.slice(1, pad, pad + h).slice(2, pad, pad + w).to(cols.scalar_type()).permute({0, 3, 1, 2});
}

torch::Tensor matmul_conv2d(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride, int64_t pad,
                            const MatmulConvPlan& plan) {
    return MatmulConvFn::apply(x, weight, stride, pad, plan.forward, plan.grad_input, plan.grad_weight);
}

torch::Tensor conv_forward(torch::nn::Conv2dImpl& conv, const torch::Tensor& x, bool enabled) {
    const auto& o = conv.options;
    const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
    const bool square = (*o.kernel_size())[0] == (*o.kernel_size())[1] && (*o.stride())[0] == (*o.stride())[1] &&
                        padding && (**padding)[0] == (**padding)[1];
    const bool autocast = at::autocast::is_cpu_enabled();
    const bool bf16 = autocast && at::autocast::get_autocast_cpu_dtype() == at::kBFloat16;
    const bool fp32 = !autocast && x.scalar_type() == torch::kFloat32 && conv.weight.scalar_type() == torch::kFloat32;
    if (!enabled || !square || !x.device().is_cpu() || !(bf16 || (fp32 && fast_fp32_matmul())) ||
        conv.bias.defined() || o.groups() != 1 || (*o.dilation())[0] != 1 || (*o.dilation())[1] != 1 || x.dim() != 4)
        return conv.forward(x);
    const int64_t k = (*o.kernel_size())[0], stride = (*o.stride())[0], pad = (**padding)[0];
    const torch::ScalarType dtype = bf16 ? torch::kBFloat16 : torch::kFloat32;
    const MatmulConvPlan plan = matmul_conv_plan(
        dtype, x.size(1), out_extent(x.size(2), k, stride, pad) * out_extent(x.size(3), k, stride, pad), k, stride,
        cpu_bf16().amx_bf16);
    if (!plan.any()) return conv.forward(x);
    return matmul_conv2d(x.to(dtype), conv.weight.to(dtype), stride, pad, plan);
}

}  // namespace ursa
