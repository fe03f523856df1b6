// What a model needs to know of data-parallel training: its rank, the world size
// and a sum over every rank. The trainer's c10d process group implements it; the
// models see only this (so they do not depend on c10d).
#pragma once
#include <torch/types.h>

namespace ursa {

struct Collective {
    virtual ~Collective() = default;
    virtual int rank() const = 0;
    virtual int world() const = 0;
    // In place: every rank's `t` becomes the element-wise sum over the ranks.
    virtual void allreduce_sum(torch::Tensor& t) = 0;
};

// While set (not null), BatchNorm layers in training mode use the statistics of the
// whole global batch (synchronized over the ranks, as PyTorch's SyncBatchNorm), and
// Dropout draws the global batch's mask and keeps this rank's rows, so that N ranks
// of B images compute what one process computes on N*B images (each rank holds rows
// [rank*B, (rank+1)*B) of the global batch). Set per thread.
void set_batch_sync(Collective* collective);
Collective* batch_sync();

}  // namespace ursa

namespace torch::nn {
class BatchNorm1dImpl;
class BatchNorm2dImpl;
class DropoutImpl;
class SequentialImpl;
}  // namespace torch::nn

namespace ursa {

// The layers as the models call them: synchronized over the ranks while batch_sync()
// is set and the layer is training, else the layer's own forward.
torch::Tensor batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x);
torch::Tensor batch_norm(torch::nn::BatchNorm1dImpl& bn, const torch::Tensor& x);
torch::Tensor dropout(torch::nn::DropoutImpl& d, const torch::Tensor& x);
// A Sequential's forward that routes its BatchNorm and Dropout layers through the above.
torch::Tensor run_sequential(torch::nn::SequentialImpl& seq, torch::Tensor x);

}  // namespace ursa
