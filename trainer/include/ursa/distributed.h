// Data-parallel training over PyTorch's c10d: a TCPStore for the rendezvous and a
// Gloo process group for the collectives (CPU). The launcher of `ursa train --nproc N`
// starts N copies of the command with torchrun's environment variables.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "ursa/collective.h"
#include "ursa/result.h"

namespace ursa {

// Where this process stands: from --rank/--world-size/--master, else torchrun's
// RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK, LOCAL_WORLD_SIZE.
struct DistConfig {
    int rank = 0;
    int world = 1;
    int local_rank = 0;
    int local_world = 1;
    std::string master_addr = "127.0.0.1";
    int master_port = 29500;
    int timeout_s = 300;  // a collective (or the rendezvous) waiting longer fails
};

// Flags win over the environment; an unset rank/world with no environment means one
// process. Errors name the bad value.
Result<DistConfig> dist_config(int rank_flag, int world_flag, const std::string& master_flag, int timeout_s);

class ProcessGroup : public Collective {
  public:
    // Rendezvous with the other ranks (rank 0 serves the store) and connect them.
    static Result<std::unique_ptr<ProcessGroup>> connect(const DistConfig& config);
    ~ProcessGroup() override;
    int rank() const override { return rank_; }
    int world() const override { return world_; }
    void allreduce_sum(torch::Tensor& t) override;
    // Every rank gets rank 0's values of `t` (in place).
    void broadcast(torch::Tensor& t);
    // DDP's gradient averaging, overlapped with the backward pass: watch_gradients
    // hooks every parameter once; begin_gradients (before each backward) plans buckets
    // of about 25 MB over the parameters that now require a gradient, last layers
    // first; as the backward pass completes a bucket its all-reduce starts (in bucket
    // order on every rank); finish_gradients (after backward) starts what is left,
    // waits, and leaves each gradient the mean over the ranks.
    void watch_gradients(const std::vector<torch::Tensor>& params);
    void begin_gradients();
    void finish_gradients();

  private:
    struct State;
    std::unique_ptr<State> s_;
    int rank_ = 0, world_ = 1;
    ProcessGroup() = default;
};

// `ursa train --nproc N` on one machine: runs `argv` N times (as /proc/self/exe) with
// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free
// MASTER_PORT, waits for them, and when one fails stops the others after
// `timeout_s` at most. Returns 0 when every rank succeeded, else the first failure's
// exit status (2 for a rank killed by a signal).
int launch_local(int nproc, const std::vector<std::string>& argv, int timeout_s);

// Set in the processes launch_local starts, so they train instead of launching.
constexpr const char* kLaunchedEnv = "URSA_LAUNCHED";

}  // namespace ursa
