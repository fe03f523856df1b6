#include "ursa/optimizer.h"

#include <torch/torch.h>

#include <cmath>

namespace ursa {

Adam::Adam(const std::vector<std::vector<torch::Tensor>>& groups, double weight_decay)
    : wd(weight_decay), lrs_(groups.size(), 1e-3) {
    for (size_t g = 0; g < groups.size(); ++g)
        for (const auto& p : groups[g]) params_.push_back({p, static_cast<int>(g), p.dim() > 1, {}, {}, 0});
}

void Adam::set_lrs(const std::vector<double>& lrs) {
    TORCH_CHECK(lrs.size() == lrs_.size(), "Adam: one learning rate per group");
    lrs_ = lrs;
}

void Adam::zero_grad() {
    for (auto& s : params_)
        if (s.param.grad().defined()) s.param.mutable_grad() = torch::Tensor();
}

void Adam::step() {
    torch::NoGradGuard no_grad;
    for (auto& s : params_) {
        const torch::Tensor& g = s.param.grad();
        if (!g.defined()) continue;
        const double lr = lrs_[static_cast<size_t>(s.group)];
        if (!s.avg.defined()) {
            s.avg = torch::zeros_like(s.param, torch::MemoryFormat::Preserve);
            s.sqr = torch::zeros_like(s.param, torch::MemoryFormat::Preserve);
        }
        ++s.step;
        if (s.decay && wd != 0) s.param.mul_(1 - lr * wd);
        s.avg.mul_(mom_).add_(g, 1 - mom_);
        s.sqr.mul_(sqr_mom).addcmul_(g, g, 1 - sqr_mom);
        const double debias1 = 1 - std::pow(mom_, static_cast<double>(s.step));
        const double debias2 = 1 - std::pow(sqr_mom, static_cast<double>(s.step));
        s.param.addcdiv_(s.avg, (s.sqr / debias2).sqrt_().add_(eps), -lr / debias1);
    }
}

void Adam::clear_state() {
    for (auto& s : params_) {
        s.avg = s.sqr = torch::Tensor();
        s.step = 0;
    }
}

std::map<std::string, torch::Tensor> Adam::state() const {
    std::map<std::string, torch::Tensor> out;
    for (size_t i = 0; i < params_.size(); ++i) {
        const auto& s = params_[i];
        if (!s.avg.defined()) continue;
        const std::string k = std::to_string(i);
        out[k + ".avg"] = s.avg;
        out[k + ".sqr"] = s.sqr;
        out[k + ".step"] = torch::tensor({s.step}, torch::kInt64);
    }
    return out;
}

std::string Adam::load_state(const std::map<std::string, torch::Tensor>& state) {
    clear_state();
    for (size_t i = 0; i < params_.size(); ++i) {
        auto& s = params_[i];
        const std::string k = std::to_string(i);
        auto avg = state.find(k + ".avg"), sqr = state.find(k + ".sqr"), step = state.find(k + ".step");
        if (avg == state.end() && sqr == state.end() && step == state.end()) continue;  // never stepped
        if (avg == state.end() || sqr == state.end() || step == state.end())
            return "optimizer state of parameter " + k + " is incomplete";
        if (avg->second.sizes() != s.param.sizes() || sqr->second.sizes() != s.param.sizes() ||
            step->second.numel() != 1)
            return "optimizer state of parameter " + k + " does not match its shape";
        s.avg = torch::empty_like(s.param, torch::MemoryFormat::Preserve).copy_(avg->second);
        s.sqr = torch::empty_like(s.param, torch::MemoryFormat::Preserve).copy_(sqr->second);
        s.step = step->second.item<int64_t>();
    }
    return "";
}

}  // namespace ursa
