// BatchNorm and Dropout over a batch split across ranks (see collective.h).
#include <torch/torch.h>

#include "ursa/collective.h"

namespace ursa {

namespace {

// Per thread (a test runs ranks as threads); backward finds it in the autograd context.
thread_local Collective* g_sync = nullptr;

std::vector<int64_t> reduce_dims(const torch::Tensor& x) {  // every dim but the channels
    std::vector<int64_t> dims{0};
    for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
    return dims;
}

torch::Tensor per_channel_view(const torch::Tensor& v, const torch::Tensor& like) {
    std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
    shape[1] = v.size(0);
    return v.view(shape);
}

// ref: PyTorch torch/nn/modules/_functions.py SyncBatchNorm: the statistics of the
// global batch (two passes, the sums in double), the weight and bias gradients of
// this rank's rows (data parallelism averages them), the input gradient through the
// global statistics.
struct SyncBatchNormFn : torch::autograd::Function<SyncBatchNormFn> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& weight, const torch::Tensor& bias, torch::Tensor running_mean,
                                 torch::Tensor running_var, double momentum, double eps) {
        Collective& c = *g_sync;
        const auto dims = reduce_dims(x);
        const int64_t channels = x.size(1);
        torch::Tensor sums = torch::cat({x.sum(dims, false, torch::kDouble),
                                         torch::full({1}, static_cast<double>(x.numel() / channels), torch::kDouble)});
        c.allreduce_sum(sums);
        const double n = sums[channels].item<double>();
        const torch::Tensor mean = (sums.narrow(0, 0, channels) / n).to(x.scalar_type());
        const torch::Tensor xmu = x - per_channel_view(mean, x);
        torch::Tensor sq = xmu.square().sum(dims, false, torch::kDouble);
        c.allreduce_sum(sq);
        const torch::Tensor var = sq / n;
        const torch::Tensor invstd = (var + eps).rsqrt().to(x.scalar_type());
        const torch::Tensor xhat = xmu * per_channel_view(invstd, x);
        if (running_mean.defined()) {
            running_mean.mul_(1 - momentum).add_(mean, momentum);
            running_var.mul_(1 - momentum).add_((var * (n / std::max(1.0, n - 1))).to(running_var.scalar_type()), momentum);
        }
        ctx->save_for_backward({xhat, weight, invstd});
        ctx->saved_data["n"] = n;
        ctx->saved_data["sync"] = reinterpret_cast<int64_t>(&c);
        return xhat * per_channel_view(weight, x) + per_channel_view(bias, x);
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        Collective& c = *reinterpret_cast<Collective*>(ctx->saved_data["sync"].toInt());
        const auto saved = ctx->get_saved_variables();
        const torch::Tensor &xhat = saved[0], &weight = saved[1], &invstd = saved[2];
        const double n = ctx->saved_data["n"].toDouble();
        const torch::Tensor& g = grads[0];
        const auto dims = reduce_dims(g);
        const int64_t channels = g.size(1);
        const torch::Tensor local_dy = g.sum(dims), local_dy_xhat = (g * xhat).sum(dims);
        torch::Tensor both = torch::cat({local_dy, local_dy_xhat}).to(torch::kDouble);
        c.allreduce_sum(both);
        const torch::Tensor mean_dy = (both.narrow(0, 0, channels) / n).to(g.scalar_type());
        const torch::Tensor mean_dy_xhat = (both.narrow(0, channels, channels) / n).to(g.scalar_type());
        const torch::Tensor grad_x = (g - per_channel_view(mean_dy, g) - xhat * per_channel_view(mean_dy_xhat, g)) *
                                     per_channel_view(invstd * weight, g);
        return {grad_x, local_dy_xhat, local_dy, {}, {}, {}, {}};
    }
};

template <typename BatchNorm>
torch::Tensor sync_batch_norm(BatchNorm& bn, const torch::Tensor& x) {
    if (!g_sync || !bn.is_training() || !bn.options.affine()) return bn.forward(x);
    double momentum = 0;
    if (bn.options.track_running_stats()) {
        bn.num_batches_tracked += 1;
        momentum = bn.options.momentum() ? *bn.options.momentum() : 1.0 / bn.num_batches_tracked.template item<double>();
    }
    return SyncBatchNormFn::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, momentum, bn.options.eps());
}

}  // namespace

void set_batch_sync(Collective* collective) { g_sync = collective; }
Collective* batch_sync() { return g_sync; }

torch::Tensor batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) { return sync_batch_norm(bn, x); }
torch::Tensor batch_norm(torch::nn::BatchNorm1dImpl& bn, const torch::Tensor& x) { return sync_batch_norm(bn, x); }

// As ATen native/Dropout.cpp _dropout_impl (CPU): a noise tensor shaped like the input,
// each element kept with probability 1 - p and scaled by 1 / (1 - p). Kept where a
// uniform draw in [0, 1) is >= p: libtorch's CPU bernoulli_(1 - p) draws element by
// element and takes 3-4x as long as uniform_ (0.79 against 0.19 ms for 128 x 512).
// With a collective, the noise is drawn for the global batch and this rank keeps its
// rows, so each rank gets the rows one process would draw.
torch::Tensor dropout(torch::nn::DropoutImpl& d, const torch::Tensor& x) {
    const double p = d.options.p();
    if (!d.is_training() || p == 0 || p == 1 || x.numel() == 0 || !x.device().is_cpu()) return d.forward(x);
    auto sizes = x.sizes().vec();
    const int64_t rows = sizes[0], world = g_sync ? g_sync->world() : 1, rank = g_sync ? g_sync->rank() : 0;
    sizes[0] = rows * world;
    const torch::Tensor keep = torch::rand(sizes, x.options().dtype(torch::kFloat32)).ge_(p);
    return x * keep.narrow(0, rank * rows, rows).to(x.scalar_type()).mul_(1 / (1 - p));
}

torch::Tensor run_sequential(torch::nn::SequentialImpl& seq, torch::Tensor x) {
    for (auto& m : seq) {
        if (auto* bn2 = m.ptr()->as<torch::nn::BatchNorm2dImpl>()) x = batch_norm(*bn2, x);
        else if (auto* bn1 = m.ptr()->as<torch::nn::BatchNorm1dImpl>()) x = batch_norm(*bn1, x);
        else if (auto* drop = m.ptr()->as<torch::nn::DropoutImpl>()) x = dropout(*drop, x);
        else x = m.forward(x);
    }
    return x;
}

}  // namespace ursa
