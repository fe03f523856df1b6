// fastai's Adam with decoupled weight decay, written out so its state can be saved
// in a checkpoint and its update checked against the formula:
//   p ← p·(1 − lr·wd);  m ← mom·m + (1−mom)·g;  v ← sqr_mom·v + (1−sqr_mom)·g²
//   p ← p − lr/(1−momᵗ) · m / (√(v/(1−sqr_momᵗ)) + eps)
// ref: fastai optimizer.py (Adam, weight_decay with decouple_wd, average_grad with
// dampening, average_sqr_grad, step_stat, adam_step). Parameters sit in groups (the
// learner's body/body/head split), each with its own learning rate; weight decay is
// off for BatchNorm and bias parameters (wd_bn_bias=False). Parameters without a
// gradient (frozen) are skipped, as fastai skips p.grad is None.
#pragma once
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

namespace ursa {

struct AdamParam {
    torch::Tensor param;
    int group = 0;
    bool decay = true;       // false for BatchNorm and bias parameters
    torch::Tensor avg, sqr;  // first and second moments (undefined until the first step)
    int64_t step = 0;
};

class Adam {
  public:
    // groups[g] are the parameters of group g; 1-D parameters (BatchNorm weights and
    // biases, linear biases) get no weight decay.
    explicit Adam(const std::vector<std::vector<torch::Tensor>>& groups, double wd = 0.01);

    void set_lrs(const std::vector<double>& lrs);  // one per group
    void set_mom(double mom) { mom_ = mom; }
    double mom() const { return mom_; }
    const std::vector<double>& lrs() const { return lrs_; }

    void zero_grad();
    void step();
    // Forgets the moments and step counts (fastai clears them on every freeze change).
    void clear_state();

    // The moments and step counts as named tensors ("<i>.avg", "<i>.sqr", "<i>.step"
    // for parameter i in group order), to save and restore a checkpoint.
    std::map<std::string, torch::Tensor> state() const;
    // Fails (returns a message) when the state does not fit these parameters.
    std::string load_state(const std::map<std::string, torch::Tensor>& state);

    const std::vector<AdamParam>& params() const { return params_; }

    double sqr_mom = 0.99, eps = 1e-5, wd;

  private:
    std::vector<AdamParam> params_;
    std::vector<double> lrs_;
    double mom_ = 0.9;
};

}  // namespace ursa
