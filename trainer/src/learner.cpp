#include "ursa/learner.h"
#include "ursa/matmul_conv.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <malloc.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <future>
#include <thread>

#include "ursa/io.h"
#include "ursa/models.h"
#include "ursa/progress.h"
#include "ursa/run.h"
#include "ursa/safetensors.h"
#include "ursa/svg.h"

namespace fs = std::filesystem;

namespace ursa {

namespace {

// ref: fastai SchedCos — start + (1 + cos(pi*(1-pos))) * (end-start) / 2
double sched_cos(double start, double end, double pos) {
    return start + (1 + std::cos(M_PI * (1 - pos))) * (end - start) / 2;
}

// Exponential moving average of the training loss, debiased (fastai's Recorder, beta 0.98).
struct SmoothLoss {
    double beta = 0.98, value = 0;
    int64_t count = 0;
    double add(double loss) {
        ++count;
        value = beta * value + (1 - beta) * loss;
        return value / (1 - std::pow(beta, static_cast<double>(count)));
    }
};

// Channels-last weights and inputs. On an idle 2-core machine libtorch 1.13 runs
// NCHW and channels-last convolutions at about the same speed, but with another busy
// process NCHW slowed down ~7x here while channels-last did not. A fixed choice (not
// a timed one) keeps runs with the same seed bit-reproducible.
constexpr torch::MemoryFormat kMemoryFormat = torch::MemoryFormat::ChannelsLast;

void report_failures(const std::vector<Failure>& failures, const std::string& run_dir) {
    if (failures.empty()) return;
    std::fprintf(stderr, "skipped %zu file(s) that could not be used:\n", failures.size());
    std::string csv = "file,reason\n";
    for (size_t i = 0; i < failures.size(); ++i) {
        if (i < 20) std::fprintf(stderr, "  %s: %s\n", failures[i].path.c_str(), failures[i].reason.c_str());
        std::string reason = failures[i].reason;
        for (char& c : reason)
            if (c == '"') c = '\'';
        csv += "\"" + failures[i].path + "\",\"" + reason + "\"\n";
    }
    if (failures.size() > 20) std::fprintf(stderr, "  … and %zu more\n", failures.size() - 20);
    std::fprintf(stderr, "the full list is in %s/skipped.csv\n", run_dir.c_str());
    write_file_atomic((fs::path(run_dir) / "skipped.csv").string(), csv);
}

}  // namespace

double OneCycle::lr(double pos) const {
    if (pos < pct_start) return sched_cos(lr_max / div, lr_max, pos / pct_start);
    return sched_cos(lr_max, lr_max / div_final, (pos - pct_start) / (1 - pct_start));
}

double OneCycle::momentum(double pos) const {
    if (pos < pct_start) return sched_cos(0.95, 0.85, pos / pct_start);
    return sched_cos(0.85, 0.95, (pos - pct_start) / (1 - pct_start));
}

int epoch_size(const TrainOptions& o, int epoch) {
    return o.start_size > 0 && epoch < o.start_epochs ? o.start_size : o.size;
}

torch::Tensor resize_batch(const torch::Tensor& images, int64_t size) {
    if (images.size(2) == size && images.size(3) == size) return images;
    namespace F = torch::nn::functional;
    return F::interpolate(images, F::InterpolateFuncOptions()
                                      .size(std::vector<int64_t>{size, size})
                                      .mode(torch::kBilinear)
                                      .align_corners(false)
                                      .antialias(true));
}

torch::Tensor classification_loss(const torch::Tensor& logits, const torch::Tensor& targets, double eps, bool sum) {
    namespace F = torch::nn::functional;
    if (eps <= 0) {
        return sum ? F::cross_entropy(logits, targets, F::CrossEntropyFuncOptions().reduction(torch::kSum))
                   : F::cross_entropy(logits, targets);
    }
    // ref: fastai losses.py LabelSmoothingCrossEntropy (reduction mean or sum alike for both terms).
    const torch::Tensor log_preds = torch::log_softmax(logits, -1);
    const double classes = static_cast<double>(logits.size(-1));
    torch::Tensor smooth = -log_preds.sum(-1);
    torch::Tensor nll = -log_preds.gather(1, targets.view({-1, 1})).squeeze(1);
    smooth = sum ? smooth.sum() : smooth.mean();
    nll = sum ? nll.sum() : nll.mean();
    return smooth * (eps / classes) + nll * (1 - eps);
}

InputSpec input_spec(const TrainOptions& o) {
    InputSpec spec;
    spec.height = spec.width = o.size;
    spec.resize = o.resize;
    spec.pad_mode = o.pad_mode;
    return spec;
}

bool uses_crop_strips(const TrainOptions& o) { return o.augment && o.resize == ResizeMethod::Crop; }

Storage training_storage(const TrainOptions& o) {
    if (o.resize == ResizeMethod::RandomResizedCrop) return Storage::whole;
    return uses_crop_strips(o) ? Storage::crop_strips : Storage::fitted;
}

bool draws_batch_params(const TrainOptions& o) {
    return o.augment || o.resize == ResizeMethod::RandomResizedCrop || o.aug.erase_p > 0;
}

AugOptions batch_aug_options(const TrainOptions& o) {
    AugOptions a = o.augment ? o.aug : no_batch_aug(o.aug);
    a.random_resized_crop = o.resize == ResizeMethod::RandomResizedCrop;
    return a;
}

std::vector<Phase> training_plan(const TrainOptions& o) {
    if (o.pretrained.empty()) return {{"one-cycle", o.epochs, {o.lr, o.lr, o.lr}, 25.0, 0.25, false}};
    // ref: fastai callback/schedule.py fine_tune, optimizer.py set_hyper (slice → lrs).
    std::vector<Phase> plan;
    if (o.freeze_epochs > 0) plan.push_back({"frozen", o.freeze_epochs, {o.lr / 10, o.lr / 10, o.lr}, 25.0, 0.99, true});
    const double base = o.lr / 2, lo = base / 100;
    // even_mults(lo, base, 3): geometric steps from lo to base.
    plan.push_back({"unfrozen", o.epochs, {lo, std::sqrt(lo * base), base}, 5.0, 0.3, false});
    return plan;
}

int64_t valley_index(const std::vector<double>& all_lrs, const std::vector<double>& all_losses, int num_it) {
    // ref: fastai callback/schedule.py lr_find (lrs[num_it//10:-5], cut at the first
    // NaN) and valley (longest decreasing subsequence, O(n^2) as there).
    const int64_t n_all = static_cast<int64_t>(std::min(all_lrs.size(), all_losses.size()));
    const int64_t first = num_it / 10, last = n_all - 5;
    std::vector<double> losses;
    for (int64_t i = first; i < last; ++i) {
        if (std::isnan(all_losses[static_cast<size_t>(i)])) break;
        losses.push_back(all_losses[static_cast<size_t>(i)]);
    }
    const int64_t n = static_cast<int64_t>(losses.size());
    if (n < 2) return -1;
    std::vector<int64_t> lds(static_cast<size_t>(n), 1);
    int64_t max_start = 0, max_end = 0;
    for (int64_t i = 1; i < n; ++i) {
        for (int64_t j = 0; j < i; ++j) {
            if (losses[i] < losses[j] && lds[i] < lds[j] + 1) lds[i] = lds[j] + 1;
            if (lds[max_end] < lds[i]) {
                max_end = i;
                max_start = max_end - lds[max_end];
            }
        }
    }
    const double sections = static_cast<double>(max_end - max_start) / 3;
    const int64_t idx = max_start + static_cast<int64_t>(sections) + static_cast<int64_t>(sections / 2);
    return first + idx;
}

Learner::Learner(Classifier m, const TrainOptions& o, Prepared train, Prepared valid)
    : model(std::move(m)),
      opt(param_groups(model), o.weight_decay),
      rng(o.seed),
      options(o),
      spec(input_spec(o)),
      train_data(std::move(train)),
      valid_data(std::move(valid)) {
    const int64_t n = static_cast<int64_t>(train_data.images.size());
    bs_ = std::max<int64_t>(1, std::min<int64_t>(o.batch_size, n));
    loader_threads_ = thread_count(o.threads);
}

int64_t Learner::batches_per_epoch() const {
    return static_cast<int64_t>(train_data.images.size()) / global_batch_size();
}

void Learner::freeze(bool frozen) {
    freeze_to(model, frozen ? -1 : 0);
    opt.clear_state();
    frozen_ = frozen;
}

std::vector<int64_t> Learner::epoch_order() {
    std::vector<int64_t> order(train_data.images.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    return order;
}

Learner::BatchDraw Learner::draw_batch(std::vector<int64_t> idx) {
    BatchDraw d{std::move(idx), {}};
    if (draws_batch_params(options)) {
        const AugOptions a = batch_aug_options(options);
        for (size_t i = 0; i < d.idx.size(); ++i) d.aug.push_back(draw_aug_params(rng, a));
    }
    if (group && static_cast<int64_t>(d.idx.size()) == global_batch_size()) {  // this rank's rows
        const auto first = static_cast<std::ptrdiff_t>(group->rank() * bs_), last = first + bs_;
        d.idx = std::vector<int64_t>(d.idx.begin() + first, d.idx.begin() + last);
        if (!d.aug.empty()) d.aug = std::vector<AugParams>(d.aug.begin() + first, d.aug.begin() + last);
    }
    return d;
}

Batch Learner::load_batch(const BatchDraw& d) const {
    torch::NoGradGuard no_grad;
    return make_batch(train_data, d.idx, spec, d.aug.empty() ? nullptr : &d.aug, loader_threads_);
}

double Learner::train_batch(const std::vector<int64_t>& idx, const std::vector<double>& lrs, double mom) {
    return step(load_batch(draw_batch(idx)), lrs, mom);
}

double Learner::step(const Batch& b, const std::vector<double>& lrs, double mom) {
    model->train();
    opt.set_lrs(lrs);
    opt.set_mom(mom);
    torch::Tensor logits;
    {
        const Bf16AutocastScope autocast(options.bf16, device);
        // Shrunk here, not on the loader's thread: torch's operators there would start a
        // second OpenMP team on the cores the model is using.
        logits = model->forward(resize_batch(b.images.to(device), feed_size()).contiguous(kMemoryFormat));
    }
    torch::Tensor loss = classification_loss(logits.to(torch::kFloat32), b.labels.to(device), options.label_smoothing);
    opt.zero_grad();
    if (group) group->begin_gradients();
    loss.backward();
    if (group) {
        group->finish_gradients();
        torch::Tensor mean = loss.detach().to(torch::kCPU, torch::kDouble).reshape({1});
        group->allreduce_sum(mean);
        opt.step();
        return mean.item<double>() / group->world();
    }
    opt.step();
    return loss.item<double>();
}

std::pair<double, double> Learner::validate(bool flip_tta) {
    torch::NoGradGuard no_grad;
    model->eval();
    const int64_t total = static_cast<int64_t>(valid_data.images.size());
    if (total == 0) return {NAN, NAN};
    // Each rank validates its contiguous share; the sums are added over the ranks.
    const int64_t rank = group ? group->rank() : 0, begin = total * rank / world(),
                  n = total * (rank + 1) / world();
    double loss_sum = 0;
    int64_t wrong = 0;
    ProgressBar bar("valid", static_cast<size_t>((n - begin + bs_ - 1) / bs_));
    for (int64_t start = begin, k = 0; start < n; start += bs_, ++k) {
        std::vector<int64_t> idx;
        for (int64_t i = start; i < std::min(n, start + bs_); ++i) idx.push_back(i);
        Batch b = make_batch(valid_data, idx, spec);
        b.images = resize_batch(b.images.to(device), feed_size());
        b.labels = b.labels.to(device);
        auto predict = [&](const torch::Tensor& x) {  // under autocast as training, as fastai's mixed precision
            const Bf16AutocastScope autocast(options.bf16, device);
            return model->forward(x.to(device).contiguous(kMemoryFormat)).to(torch::kFloat32);
        };
        torch::Tensor logits = predict(b.images);
        if (flip_tta)  // log of the mean probability: log_softmax leaves it as it is
            logits = ((logits.softmax(1) + predict(b.images.flip({3})).softmax(1)) / 2).log();
        loss_sum += classification_loss(logits, b.labels, options.label_smoothing, /*sum=*/true).item<double>();
        wrong += logits.argmax(1).ne(b.labels).sum().item<int64_t>();
        bar.update(static_cast<size_t>(k + 1));
    }
    bar.finish();
    if (group) {
        torch::Tensor sums = torch::tensor({loss_sum, static_cast<double>(wrong)}, torch::kDouble);
        group->allreduce_sum(sums);
        loss_sum = sums[0].item<double>(), wrong = static_cast<int64_t>(std::llround(sums[1].item<double>()));
    }
    return {loss_sum / total, static_cast<double>(wrong) / total};
}

LrFindResult Learner::lr_find(const LrFindOptions& f) {
    // ref: fastai callback/schedule.py LRFinder: SchedExp(start, end) at pos =
    // iteration / num_it, the Recorder's smoothed loss, stop at 4x the best.
    std::map<std::string, torch::Tensor> saved;
    for (auto& [name, t] : state_of(*model)) saved[name] = t.detach().clone();
    std::map<std::string, torch::Tensor> saved_opt;  // state() hands out the live tensors: copy them
    for (auto& [name, t] : opt.state()) saved_opt[name] = t.clone();

    LrFindResult r;
    SmoothLoss smooth;
    double best = INFINITY;
    const int64_t per_epoch = batches_per_epoch();
    const size_t groups = opt.lrs().size();
    ProgressBar bar("lr-find", static_cast<size_t>(f.num_it));
    std::vector<int64_t> order;
    for (int it = 0; it < f.num_it; ++it) {
        const int64_t k = it % per_epoch;
        if (k == 0) order = epoch_order();
        const double lr = f.start_lr * std::pow(f.end_lr / f.start_lr, static_cast<double>(it) / f.num_it);
        std::vector<int64_t> idx(order.begin() + k * bs_, order.begin() + (k + 1) * bs_);
        const double loss = smooth.add(train_batch(idx, std::vector<double>(groups, lr), 0.9));
        r.lrs.push_back(lr);
        r.losses.push_back(loss);
        char suffix[48];
        std::snprintf(suffix, sizeof suffix, "lr %.2e loss %.4f", lr, loss);
        bar.update(static_cast<size_t>(it + 1), suffix);
        if (loss < best) best = loss;
        if (f.stop_div && (loss > 4 * best || std::isnan(loss))) {
            r.diverged = true;
            break;
        }
    }
    bar.finish();
    // Restore the weights, buffers and optimizer state as they were.
    {
        torch::NoGradGuard no_grad;
        for (auto& [name, t] : state_of(*model)) t.copy_(saved.at(name));
    }
    opt.load_state(saved_opt);
    r.valley = valley_index(r.lrs, r.losses, f.num_it);
    return r;
}

namespace {

nlohmann::json options_to_json(const TrainOptions& o) {
    return {{"data", o.data},
            {"arch", o.arch},
            {"size", o.size},
            {"resize", to_string(o.resize)},
            {"pad_mode", to_string(o.pad_mode)},
            {"split", o.dataset.split},
            {"valid_pct", o.dataset.valid_pct},
            {"csv", o.dataset.csv},
            {"train_folder", o.dataset.train_folder},
            {"valid_folder", o.dataset.valid_folder},
            {"epochs", o.epochs},
            {"bs", o.batch_size},
            {"lr", o.lr},
            {"wd", o.weight_decay},
            {"label_smoothing", o.label_smoothing},
            {"tta", o.tta},
            {"augment", o.augment},
            {"aug_mult", o.aug.mult},
            {"max_zoom", o.aug.max_zoom},
            {"min_scale", o.aug.min_scale},
            {"random_erase", o.aug.erase_p},
            {"bf16", o.bf16},
            {"fp32_blocks", o.fp32_blocks},
            {"matmul_convs", o.matmul_convs},
            {"start_size", o.start_size},
            {"start_epochs", o.start_epochs},
            {"device", o.device},
            {"max_pixels", o.max_pixels},
            {"seed", o.seed},
            {"limit_train", o.limit_train},
            {"pretrained", o.pretrained},
            {"freeze_epochs", o.freeze_epochs}};
}

Result<TrainOptions> options_from_json(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return make_error("the saved training options are not JSON");
    try {
        TrainOptions o;
        o.data = j.at("data");
        o.arch = j.at("arch");
        o.size = j.at("size");
        o.resize = parse_resize_method(j.at("resize")).value();
        o.pad_mode = parse_pad_mode(j.at("pad_mode")).value();
        o.dataset.split = j.at("split");
        o.dataset.valid_pct = j.at("valid_pct");
        o.dataset.csv = j.at("csv");
        o.dataset.train_folder = j.at("train_folder");
        o.dataset.valid_folder = j.at("valid_folder");
        o.epochs = j.at("epochs");
        o.batch_size = j.at("bs");
        o.lr = j.at("lr");
        o.weight_decay = j.at("wd");
        o.label_smoothing = j.value("label_smoothing", 0.0);
        o.tta = j.value("tta", false);
        o.augment = j.at("augment");
        o.aug.mult = j.at("aug_mult");
        o.aug.max_zoom = j.value("max_zoom", AugOptions{}.max_zoom);  // runs from before --max-zoom
        o.aug.min_scale = j.value("min_scale", 0.08);
        o.aug.erase_p = j.value("random_erase", 0.0);  // runs from before --random-erase
        o.bf16 = j.at("bf16");
        o.fp32_blocks = j.value("fp32_blocks", std::vector<std::string>{});
        o.matmul_convs = j.value("matmul_convs", false);  // runs from before them had none
        o.start_size = j.value("start_size", 0);  // runs from before --start-size
        o.start_epochs = j.value("start_epochs", 0);
        o.device = j.value("device", "auto");
        o.max_pixels = j.at("max_pixels");
        o.seed = j.at("seed");
        o.dataset.seed = o.seed;
        o.limit_train = j.at("limit_train");
        o.pretrained = j.at("pretrained");
        o.freeze_epochs = j.at("freeze_epochs");
        return o;
    } catch (const std::exception& e) {
        return make_error(std::string("the saved training options are incomplete: ") + e.what());
    }
}

}  // namespace

Result<TrainOptions> read_train_options(const std::string& run_dir) {
    const std::string path = (fs::path(run_dir) / kRunOptions).string();
    auto bytes = read_file(path);
    if (!bytes) return bytes.error();
    auto o = options_from_json(std::string(bytes->begin(), bytes->end()));
    if (!o) return make_error(path + ": " + o.error().message);
    o->out = run_dir;
    return o;
}

namespace {

constexpr const char* kCheckpoint = "checkpoint.safetensors";

// Where a run stands after a finished epoch: everything needed to continue as if
// nothing had happened.
struct Progress {
    int epochs_done = 0;           // over the whole plan
    SmoothLoss smooth;             // of the current phase
    nlohmann::json history = nlohmann::json::array();
    double train_seconds = 0;
};

torch::Tensor torch_rng_state() {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return gen.get_state();
}

void set_torch_rng_state(const torch::Tensor& state) {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
}

std::string fmt_double(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

Result<bool> save_checkpoint(const std::string& run, const Learner& l, const Progress& p) {
    std::map<std::string, torch::Tensor> tensors;
    for (auto& [name, t] : state_of(*l.model)) tensors["model." + name] = t;
    for (auto& [name, t] : l.opt.state()) tensors["opt." + name] = t;
    tensors["rng.torch"] = torch_rng_state();
    std::ostringstream rng;
    rng << l.rng;
    return save_tensors(tensors, (fs::path(run) / kCheckpoint).string(),
                        {{"format", "ursa-checkpoint-1"},
                         {"options", options_to_json(l.options).dump()},
                         {"epochs_done", std::to_string(p.epochs_done)},
                         {"frozen", l.frozen() ? "1" : "0"},
                         {"global_batch", std::to_string(l.global_batch_size())},
                         {"rng", rng.str()},
                         {"smooth_value", fmt_double(p.smooth.value)},
                         {"smooth_count", std::to_string(p.smooth.count)},
                         {"history", p.history.dump()},
                         {"train_seconds", fmt_double(p.train_seconds)}});
}

struct Checkpoint {
    TrainOptions options;
    std::map<std::string, std::string> meta;
    std::map<std::string, torch::Tensor> tensors;
};

Result<Checkpoint> read_checkpoint(const std::string& run) {
    const std::string path = (fs::path(run) / kCheckpoint).string();
    if (!fs::exists(path)) return make_error("no checkpoint to resume from: " + path + " does not exist");
    Checkpoint c;
    auto tensors = read_safetensors(path, &c.meta);
    if (!tensors) return tensors.error();
    c.tensors = std::move(*tensors);
    for (const char* key : {"format", "options", "epochs_done", "frozen", "rng", "smooth_value", "smooth_count",
                            "history", "train_seconds"})
        if (!c.meta.count(key)) return make_error(path + " is not an Ursa checkpoint (no '" + key + "')");
    if (c.meta["format"] != "ursa-checkpoint-1")
        return make_error(path + ": unknown checkpoint format " + c.meta["format"]);
    auto options = options_from_json(c.meta["options"]);
    if (!options) return make_error(path + ": " + options.error().message);
    c.options = *options;
    return c;
}

// Restores model, optimizer, generators and progress from a checkpoint into `l`,
// whose freeze state must already be the checkpoint's.
Result<Progress> restore(Learner& l, Checkpoint& c, const std::string& source) {
    std::map<std::string, torch::Tensor> model, opt;
    for (auto& [name, t] : c.tensors) {
        if (name.rfind("model.", 0) == 0) model[name.substr(6)] = t;
        if (name.rfind("opt.", 0) == 0) opt[name.substr(4)] = t;
    }
    auto loaded = load_into(*l.model, model, source);
    if (!loaded) return loaded.error();
    const std::string bad = l.opt.load_state(opt);
    if (!bad.empty()) return make_error(source + ": " + bad);
    auto rng_state = c.tensors.find("rng.torch");
    if (rng_state == c.tensors.end()) return make_error(source + ": no torch generator state");
    set_torch_rng_state(rng_state->second);
    std::istringstream rng(c.meta["rng"]);
    rng >> l.rng;
    if (rng.fail()) return make_error(source + ": bad generator state");
    Progress p;
    try {
        p.epochs_done = std::stoi(c.meta["epochs_done"]);
        p.smooth.value = std::stod(c.meta["smooth_value"]);
        p.smooth.count = std::stoll(c.meta["smooth_count"]);
        p.train_seconds = std::stod(c.meta["train_seconds"]);
    } catch (const std::exception&) {
        return make_error(source + ": bad progress numbers");
    }
    p.history = nlohmann::json::parse(c.meta["history"], nullptr, false);
    if (!p.history.is_array()) return make_error(source + ": bad history");
    return p;
}

std::string history_csv(const nlohmann::json& history) {
    std::string csv = "epoch,train_loss,valid_loss,error_rate,time\n";
    char row[160];
    int epoch = 0;
    for (const auto& h : history) {
        std::snprintf(row, sizeof row, "%d,%.6f,%.6f,%.6f,%s\n", epoch++, h.at("train_loss").get<double>(),
                      h.at("valid_loss").get<double>(), h.at("error_rate").get<double>(),
                      h.at("time").get<std::string>().c_str());
        csv += row;
    }
    return csv;
}

}  // namespace

bool trains_on_cuda(const std::string& device, bool has_cuda) {
    return device == "cuda" || (device == "auto" && has_cuda);
}

bool use_bf16(const std::string& precision, const std::string& device) {
    if (precision != "auto") return precision == "bf16";
    return !trains_on_cuda(device, torch::cuda::is_available()) && cpu_has_native_bf16();
}

void set_memory_format(torch::nn::Module& model, torch::MemoryFormat format) {
    torch::NoGradGuard no_grad;
    for (auto& p : model.parameters())
        if (p.dim() == 4) p.set_data(p.data().contiguous(format));
}

std::vector<BlockTiming> time_blocks(Classifier& model, int64_t batch, int64_t size) {
    std::vector<std::pair<torch::Tensor, torch::Tensor>> saved;  // BatchNorm's running statistics and a copy
    for (const auto& b : model->buffers()) saved.emplace_back(b, b.clone());
    const bool was_training = model->is_training();
    model->train();
    auto& body = *model->body;
    torch::Tensor x;
    {
        torch::NoGradGuard no_grad;
        auto gen = at::detail::createCPUGenerator(0);
        x = torch::empty({batch, 3, size, size}).uniform_(-1, 1, gen).contiguous(kMemoryFormat);
        x = torch::relu(body.bn1(body.conv1(x)));
        if (body.maxpool) x = body.maxpool(x);
    }
    std::vector<BlockTiming> timings;
    for (auto& [name, block] : body_blocks(model)) {
        BlockTiming t{name};
        for (const bool bf16 : {true, false}) {
            double best = INFINITY;
            for (int rep = 0; rep < 4; ++rep) {  // the first builds oneDNN's kernels
                const torch::Tensor in = x.to(bf16 ? torch::kBFloat16 : torch::kFloat32).requires_grad_();
                const auto t0 = std::chrono::steady_clock::now();
                torch::Tensor y;
                {
                    const Bf16AutocastScope autocast(bf16, torch::kCPU);
                    y = block->residual(in);
                }
                y.to(torch::kFloat32).sum().backward();
                const double ms =
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
                if (rep > 0) best = std::min(best, ms);
            }
            (bf16 ? t.bf16_ms : t.fp32_ms) = best;
        }
        timings.push_back(t);
        torch::NoGradGuard no_grad;
        x = block->residual(x.to(torch::kFloat32));
    }
    {
        torch::NoGradGuard no_grad;
        for (auto& [live, copy] : saved) live.copy_(copy);
    }
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    model->train(was_training);
    return timings;
}

std::vector<std::string> faster_in_fp32(const std::vector<BlockTiming>& timings) {
    std::vector<std::string> names;
    for (const auto& t : timings)
        if (t.fp32_ms < 0.85 * t.bf16_ms) names.push_back(t.name);
    return names;
}

namespace {

// Data, split and model as train and lr-find both need them (prepare fills it;
// it returns the exit status, non-zero after printing the error).
struct Setup {
    Dataset ds;
    std::unique_ptr<Learner> learner;
    std::vector<Failure> failures;
};

// What `precision:` prints: fp32, or bf16 autocast and the blocks that are not.
std::string precision_line(const TrainOptions& o) {
    std::string line = o.bf16 ? "bf16 autocast" : "fp32";
    for (size_t i = 0; i < o.fp32_blocks.size(); ++i) line += (i == 0 ? ", fp32 in " : ", ") + o.fp32_blocks[i];
    if (o.matmul_convs) line += "; convolutions on small maps as matrix products";
    return line;
}

// `with_valid`: lr-find never validates, so it does not decode the validation set.
int prepare(const TrainOptions& o, Setup& s, const std::string& failures_dir, bool with_valid = true) {
    const int threads = thread_count(o.threads);
    torch::set_num_threads(threads);
    torch::manual_seed(o.seed);
    const auto& archs = known_archs();
    if (std::find(archs.begin(), archs.end(), o.arch) == archs.end()) {
        std::fprintf(stderr, "error: unknown architecture '%s'\n", o.arch.c_str());
        return 2;
    }
    // The device: --device cuda needs a libtorch built with CUDA and a visible GPU;
    // auto takes the GPU when there is one.
    const bool has_cuda = torch::cuda::is_available();
    if (o.device == "cuda" && !has_cuda) {
        std::fprintf(stderr, "error: --device cuda: this libtorch sees no CUDA GPU (or was built without CUDA)\n");
        return 2;
    }
    const torch::Device device = trains_on_cuda(o.device, has_cuda) ? torch::kCUDA : torch::kCPU;
    if (!o.pretrained.empty() && !fs::exists(o.pretrained)) {
        std::fprintf(stderr, "error: pretrained weights %s do not exist (`ursa fetch-weights %s` downloads them)\n",
                     o.pretrained.c_str(), o.arch.c_str());
        return 2;
    }
    auto ds = make_dataset(o.data, o.dataset);
    if (!ds) {
        std::fprintf(stderr, "error: %s\n", ds.error().message.c_str());
        return 2;
    }
    s.ds = *ds;
    std::vector<Item> train_items = ds->train;
    if (o.limit_train > 0 && static_cast<int64_t>(train_items.size()) > o.limit_train) {
        std::mt19937_64 rng(o.seed);
        std::shuffle(train_items.begin(), train_items.end(), rng);
        train_items.resize(static_cast<size_t>(o.limit_train));
    }
    std::printf("dataset %s: %zu labels, %zu train / %zu valid images (%s split)\n", o.data.c_str(),
                ds->vocab.size(), train_items.size(), ds->valid.size(), ds->split.c_str());
    std::fflush(stdout);

    const InputSpec spec = input_spec(o);
    DecodeOptions decode{o.max_pixels};
    Prepared train_data = prepare_items(train_items, spec, decode, threads, "load train", training_storage(o));
    Prepared valid_data = with_valid ? prepare_items(ds->valid, spec, decode, threads, "load valid") : Prepared{};
    s.failures = train_data.failures;
    s.failures.insert(s.failures.end(), valid_data.failures.begin(), valid_data.failures.end());
    if (!failures_dir.empty()) report_failures(s.failures, failures_dir);
    if (train_data.images.size() < 2) {
        std::fprintf(stderr, "error: fewer than 2 usable training images\n");
        return 2;
    }
    if (with_valid && valid_data.images.empty()) {
        std::fprintf(stderr, "error: none of the %zu validation images could be read\n", ds->valid.size());
        return 2;
    }

    auto made = make_classifier(o.arch, static_cast<int64_t>(ds->vocab.size()));
    if (!made) {
        std::fprintf(stderr, "error: %s\n", made.error().message.c_str());
        return 2;
    }
    Classifier model = *made;
    if (!o.pretrained.empty()) {
        auto loaded = load_pretrained(model, o.pretrained);
        if (!loaded) {
            std::fprintf(stderr, "error: %s\n", loaded.error().message.c_str());
            return 2;
        }
        std::printf("body weights from %s\n", o.pretrained.c_str());
    }
    if (device.is_cuda()) torch::cuda::manual_seed_all(o.seed);
    model->to(device);
    set_memory_format(*model, kMemoryFormat);
    TrainOptions run_options = o;
    std::string timed;
    const bool cpu_bf16 = o.bf16 && !device.is_cuda();  // where fp32 blocks apply
    if (!cpu_bf16) {
        if (o.time_blocks || !o.fp32_blocks.empty())
            std::fprintf(stderr, "note: --fp32-blocks applies to bf16 autocast on a CPU; this run is %s\n",
                         device.is_cuda() ? "on CUDA" : "fp32");
        run_options.fp32_blocks.clear();
        run_options.time_blocks = false;
    }
    if (!matmul_convs_apply(o.bf16, device.is_cuda())) run_options.matmul_convs = false;
    set_matmul_convs(model, run_options.matmul_convs);  // before the timing: the bf16 blocks run so
    if (cpu_bf16 && o.time_blocks) {
        const std::vector<BlockTiming> timings = time_blocks(model, o.batch_size, o.size);
        run_options.fp32_blocks = faster_in_fp32(timings);
        timed = "each block timed both ways, ms bf16 / fp32:";
        for (size_t i = 0; i < timings.size(); ++i)
            timed += fmt::format("{} {} {:.1f} / {:.1f}", i == 0 ? "" : ",", timings[i].name, timings[i].bf16_ms,
                                 timings[i].fp32_ms);
    }
    if (auto ok = set_fp32_blocks(model, run_options.fp32_blocks); !ok) {
        std::fprintf(stderr, "error: %s\n", ok.error().message.c_str());
        return 2;
    }
    s.learner = std::make_unique<Learner>(model, run_options, std::move(train_data), std::move(valid_data));
    s.learner->device = device;
    std::printf("device: %s\n", device.is_cuda() ? "cuda" : "cpu");
    std::printf("precision: %s\n", precision_line(run_options).c_str());
    if (!timed.empty()) std::printf("  (%s)\n", timed.c_str());
    return 0;
}

}  // namespace

namespace {

int train_process(const TrainOptions& given, ProcessGroup* group) {
    const bool lead = !group || group->rank() == 0;  // rank 0 alone writes the run folder
    TrainOptions o = given;
    std::optional<Checkpoint> checkpoint;
    if (!given.resume.empty()) {
        auto c = read_checkpoint(given.resume);
        if (!c) {
            std::fprintf(stderr, "error: %s\n", c.error().message.c_str());
            return 2;
        }
        o = c->options;
        if (!given.data.empty() && fs::path(given.data).lexically_normal() != fs::path(o.data).lexically_normal())
            std::fprintf(stderr, "note: the run was started on %s; that folder is used, not %s\n", o.data.c_str(),
                         given.data.c_str());
        o.out = given.resume;
        o.resume = given.resume;
        o.threads = given.threads;
        o.nproc = given.nproc, o.rank = given.rank, o.world_size = given.world_size, o.master = given.master;
        o.dist_timeout = given.dist_timeout;
        // The run keeps its global batch whatever the world size now (older
        // checkpoints have none: their --bs stands).
        const int world = group ? group->world() : 1;
        if (auto g = c->meta.find("global_batch"); g != c->meta.end()) {
            const long long global = std::atoll(g->second.c_str());
            if (global < world || global % world != 0) {
                std::fprintf(stderr, "error: the run's global batch of %lld images cannot be shared evenly by %d ranks\n",
                             global, world);
                return 2;
            }
            o.batch_size = static_cast<int>(global / world);
        }
        checkpoint = std::move(*c);
        std::printf("resuming %s with the options it was started with\n", o.out.c_str());
    }
    if (lead) {
        std::error_code ec;
        fs::create_directories(o.out, ec);
        if (ec) {
            std::fprintf(stderr, "error: cannot create run folder %s: %s\n", o.out.c_str(), ec.message().c_str());
            return 2;
        }
        if (auto saved = write_file_atomic((fs::path(o.out) / kRunOptions).string(), options_to_json(o).dump(2) + "\n");
            !saved) {
            std::fprintf(stderr, "error: %s\n", saved.error().message.c_str());
            return 2;
        }
    }
    Setup s;
    if (int rc = prepare(o, s, lead ? o.out : ""); rc != 0) return rc;
    Learner& l = *s.learner;
    if (group) {
        if (l.device.is_cuda()) {
            std::fprintf(stderr, "error: data-parallel training on CUDA needs NCCL, which this build does not have; "
                                 "use --device cpu (Gloo) or one process\n");
            return 2;
        }
        if (auto ok = l.set_group(group); !ok) {
            std::fprintf(stderr, "error: %s\n", ok.error().message.c_str());
            return 2;
        }
        if (o.time_blocks && o.bf16 && !l.device.is_cuda()) {  // the ranks' timings may differ: a majority decides
            auto blocks = body_blocks(l.model);
            torch::Tensor votes = torch::zeros({static_cast<int64_t>(blocks.size())}, torch::kDouble);
            for (size_t i = 0; i < blocks.size(); ++i)
                votes[static_cast<int64_t>(i)] = blocks[i].second->fp32_under_autocast ? 1.0 : 0.0;
            group->allreduce_sum(votes);
            l.options.fp32_blocks.clear();
            for (size_t i = 0; i < blocks.size(); ++i)
                if (2 * votes[static_cast<int64_t>(i)].item<double>() > group->world())
                    l.options.fp32_blocks.push_back(blocks[i].first);
            (void)set_fp32_blocks(l.model, l.options.fp32_blocks);
            std::printf("precision over the ranks: %s\n", precision_line(l.options).c_str());
        }
        std::printf("data parallel: %d ranks, %lld images per rank and batch (global batch %lld), BatchNorm "
                    "synchronized\n",
                    group->world(), static_cast<long long>(l.batch_size()),
                    static_cast<long long>(l.global_batch_size()));
    }
    // The timed choice of fp32 blocks, and matmul convolutions only where they apply, kept for --resume.
    if (lead && (l.options.fp32_blocks != o.fp32_blocks || l.options.matmul_convs != o.matmul_convs)) {
        if (auto saved = write_file_atomic((fs::path(o.out) / kRunOptions).string(),
                                           options_to_json(l.options).dump(2) + "\n");
            !saved) {
            std::fprintf(stderr, "error: %s\n", saved.error().message.c_str());
            return 2;
        }
    }
    const std::vector<Phase> plan = training_plan(o);
    int total_epochs = 0;
    for (const auto& ph : plan) total_epochs += ph.epochs;
    if (o.start_size > 0 && o.start_epochs > 0)
        std::printf("progressive resizing: %s at %d px, then %d px\n",
                    o.start_epochs == 1 ? "epoch 0" : fmt::format("epochs 0-{}", o.start_epochs - 1).c_str(),
                    o.start_size, o.size);

    Progress p;
    if (checkpoint) {
        l.freeze(checkpoint->meta["frozen"] == "1");
        auto restored = restore(l, *checkpoint, (fs::path(o.out) / kCheckpoint).string());
        if (!restored) {
            std::fprintf(stderr, "error: %s\n", restored.error().message.c_str());
            return 2;
        }
        p = *restored;
        std::printf("%d of %d epochs were done\n", p.epochs_done, total_epochs);
    }

    const int64_t batches = l.batches_per_epoch();
    const int64_t bs = l.global_batch_size();
    int epoch_base = 0;
    for (const Phase& ph : plan) {
        const int phase_end = epoch_base + ph.epochs;
        if (p.epochs_done >= phase_end) {
            epoch_base = phase_end;
            continue;
        }
        const int first = p.epochs_done - epoch_base;  // > 0 when resuming inside this phase
        if (first == 0) {
            l.freeze(ph.frozen);
            p.smooth = SmoothLoss{};
        }
        if (plan.size() > 1)
            std::printf("%s: %d epoch%s, %s, learning rates %.2g / %.2g / %.2g\n", ph.name.c_str(), ph.epochs,
                        ph.epochs == 1 ? "" : "s", ph.frozen ? "body frozen except BatchNorm" : "every layer",
                        ph.lr_max[0], ph.lr_max[1], ph.lr_max[2]);
        std::printf("%-6s %-11s %-11s %-11s %s\n", "epoch", "train_loss", "valid_loss", "error_rate", "time");
        std::fflush(stdout);
        std::vector<OneCycle> sched;
        for (double lr : ph.lr_max) sched.push_back(OneCycle{lr, ph.div, 1e5, ph.pct_start});
        const double total = static_cast<double>(batches) * ph.epochs;
        for (int epoch = first; epoch < ph.epochs; ++epoch) {
            const auto t0 = std::chrono::steady_clock::now();
            l.set_feed_size(epoch_size(o, epoch_base + epoch));
            const std::vector<int64_t> order = l.epoch_order();
            double train_loss = 0;
            ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(ph.epochs), batches);
            std::vector<double> lrs(sched.size());
            // The loader runs one batch ahead on its own thread: batch k+1 is cut and
            // augmented while the model trains on batch k. Draws stay in batch order.
            auto load = [&](int64_t k) {
                Learner::BatchDraw d = l.draw_batch({order.begin() + k * bs, order.begin() + (k + 1) * bs});
                return std::async(std::launch::async, [&l, d = std::move(d)] { return l.load_batch(d); });
            };
            std::future<Batch> next;
            if (batches > 0) next = load(0);
            for (int64_t k = 0; k < batches; ++k) {
                Batch batch = next.get();
                if (k + 1 < batches) next = load(k + 1);
                const double pos = (epoch * batches + k) / total;
                for (size_t g = 0; g < sched.size(); ++g) lrs[g] = sched[g].lr(pos);
                train_loss = p.smooth.add(l.step(batch, lrs, sched.back().momentum(pos)));
                char suffix[32];
                std::snprintf(suffix, sizeof suffix, "loss %.4f", train_loss);
                bar.update(static_cast<size_t>(k + 1), suffix);
            }
            bar.finish();
            p.train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const auto [valid_loss, error_rate] = l.validate();
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::printf("%-6d %-11.6f %-11.6f %-11.6f %s\n", epoch, train_loss, valid_loss, error_rate,
                        format_duration(secs).c_str());
            std::fflush(stdout);
            p.history.push_back({{"phase", ph.name},
                                 {"epoch", epoch},
                                 {"train_loss", train_loss},
                                 {"valid_loss", valid_loss},
                                 {"error_rate", error_rate},
                                 {"time", format_duration(secs)}});
            ++p.epochs_done;
            if (!lead) continue;
            auto saved = save_safetensors(*l.model, (fs::path(o.out) / kRunWeights).string(),
                                          {{"arch", o.arch}, {"epoch", std::to_string(p.epochs_done - 1)}});
            auto hist = write_file_atomic((fs::path(o.out) / "history.csv").string(), history_csv(p.history));
            auto hist_json = write_file_atomic((fs::path(o.out) / "history.json").string(), p.history.dump(1) + "\n");
            auto check = save_checkpoint(o.out, l, p);
            for (const auto* r : {&saved, &hist, &hist_json, &check})
                if (!*r) {
                    std::fprintf(stderr, "error: %s\n", r->error().message.c_str());
                    return 2;
                }
        }
        epoch_base = phase_end;
    }

    double last_error = -1;
    if (!p.history.empty()) {
        const double e = p.history.back().at("error_rate").get<double>();
        last_error = std::isnan(e) ? -1 : e;
    }
    if (o.tta && p.epochs_done > 0) {  // every rank takes part: validate adds the ranks' sums
        l.set_feed_size(epoch_size(o, p.epochs_done - 1));
        const auto [tta_loss, tta_error] = l.validate(/*flip_tta=*/true);
        std::printf("tta (mean of each picture and its mirror): valid_loss %.6f error_rate %.6f\n", tta_loss,
                    tta_error);
        std::fflush(stdout);
        if (lead) {
            p.history.back()["tta_valid_loss"] = tta_loss;
            p.history.back()["tta_error_rate"] = tta_error;
            auto saved = write_file_atomic((fs::path(o.out) / "history.json").string(), p.history.dump(1) + "\n");
            if (!saved) {
                std::fprintf(stderr, "error: %s\n", saved.error().message.c_str());
                return 2;
            }
        }
    }
    if (!lead) return s.failures.empty() ? 0 : 1;
    std::string labels_txt;
    for (const auto& label : s.ds.vocab) labels_txt += label + "\n";
    RunConfig config{o.arch, l.spec, s.ds.vocab, last_error, total_epochs, o.data, s.ds.split};
    auto ok_labels = write_file_atomic((fs::path(o.out) / "labels.txt").string(), labels_txt);
    auto ok_config = write_run_config(o.out, config);
    if (!ok_labels || !ok_config) {
        std::fprintf(stderr, "error: %s\n", (!ok_labels ? ok_labels.error() : ok_config.error()).message.c_str());
        return 2;
    }
    const double images = static_cast<double>(batches) * bs * (p.epochs_done);
    if (p.train_seconds > 0)
        std::printf("trained on %.0f images in %.1f s: %.1f images/s (batches only, without loading and validation)\n",
                    images, p.train_seconds, images / p.train_seconds);
    if (!s.failures.empty())
        std::printf("%zu file(s) could not be used and were skipped: %s/skipped.csv lists them\n", s.failures.size(),
                    o.out.c_str());
    std::printf("run written to %s\n", o.out.c_str());
    return s.failures.empty() ? 0 : 1;
}

}  // namespace

Result<bool> Learner::set_group(ProcessGroup* g) {
    group = g;
    const int64_t n = static_cast<int64_t>(train_data.images.size());
    if (n < g->world())
        return make_error(std::to_string(n) + " training images cannot be shared by " + std::to_string(g->world()) +
                          " ranks");
    bs_ = std::max<int64_t>(1, std::min<int64_t>(options.batch_size, n / g->world()));
    {
        torch::NoGradGuard no_grad;  // every rank starts from rank 0's weights
        for (auto& t : model->parameters()) g->broadcast(t);
        for (auto& t : model->buffers()) g->broadcast(t);
    }
    g->watch_gradients(model->parameters());
    return true;
}

namespace {

// Keeps freed memory for reuse instead of handing it back to the kernel. A training
// step frees and allocates the same activation-sized blocks every batch; by default
// glibc returns large blocks (mmap) and trims the heap's top, so each step paid for
// fresh zero-filled pages: 10 % of `--arch small`'s time at 28 px was page faults in
// the kernel, and this makes it about 18 % faster (616 → 730 images/s at --bs 256).
void keep_freed_memory() {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: blocks below it come from the heap
    mallopt(M_TRIM_THRESHOLD, 1 << 30);   // and the heap is not trimmed until 1 GiB is free
#endif
}

}  // namespace

int train(const TrainOptions& given) {
    keep_freed_memory();
    auto dc = dist_config(given.rank, given.world_size, given.master, given.dist_timeout);
    if (!dc) {
        std::fprintf(stderr, "error: %s\n", dc.error().message.c_str());
        return 2;
    }
    if (dc->world == 1) return train_process(given, nullptr);
    TrainOptions o = given;
    if (o.threads == 0)  // the cores shared by this machine's ranks
        o.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / dc->local_world);
    if (dc->rank != 0) {  // one table and one set of bars: rank 0's; errors still show
        show_progress_bars(false);
        if (!std::freopen("/dev/null", "w", stdout)) std::fprintf(stderr, "note: rank %d prints its table too\n", dc->rank);
    }
    auto group = ProcessGroup::connect(*dc);
    if (!group) {
        std::fprintf(stderr, "error: %s\n", group.error().message.c_str());
        return 2;
    }
    set_batch_sync(group->get());
    int rc = 2;
    try {
        rc = train_process(o, group->get());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: rank %d of %d: data-parallel training stopped: %s\n", dc->rank, dc->world,
                     e.what());
    }
    set_batch_sync(nullptr);
    return rc;
}

namespace {

// The lr_find curve as an SVG: smoothed loss against the learning rate (log scale),
// the valley marked, as fastai's plot_lr_find.
std::string lr_find_svg(const LrFindResult& r) {
    SvgChart c;
    c.title = "lr_find";
    c.xlabel = "learning rate (log scale)";
    c.ylabel = "loss (smoothed)";
    c.log_x = true;
    c.series.push_back({"loss", "#1f77b4", r.lrs, r.losses});
    if (r.valley >= 0) {
        const size_t v = static_cast<size_t>(r.valley);
        char label[48];
        std::snprintf(label, sizeof label, "valley %.2e", r.lrs[v]);
        c.markers.push_back({r.lrs[v], r.losses[v], label, "valley"});
    }
    return render_svg(c);
}

}  // namespace

int lr_find_command(const TrainOptions& o, const LrFindOptions& f) {
    keep_freed_memory();
    if (!(f.start_lr > 0 && f.end_lr > f.start_lr) || f.num_it < 2) {
        std::fprintf(stderr, "error: lr-find needs 0 < --start-lr < --end-lr and --num-it >= 2\n");
        return 2;
    }
    Setup s;
    if (int rc = prepare(o, s, "", /*with_valid=*/false); rc != 0) return rc;
    for (const auto& fail : s.failures)
        std::fprintf(stderr, "skipped %s: %s\n", fail.path.c_str(), fail.reason.c_str());
    Learner& l = *s.learner;
    l.freeze(!o.pretrained.empty());  // a pretrained learner starts frozen, as in fastai
    const LrFindResult r = l.lr_find(f);
    std::printf("%zu iterations%s\n", r.lrs.size(), r.diverged ? " (stopped: the loss diverged)" : "");
    if (r.valley < 0) {
        std::fprintf(stderr, "error: the loss curve is too short for a suggestion (use more --num-it)\n");
        return 2;
    }
    std::printf("valley: %.2e (loss %.4f)\n", r.lrs[static_cast<size_t>(r.valley)],
                r.losses[static_cast<size_t>(r.valley)]);
    if (!f.plot.empty()) {
        auto ok = write_file_atomic(f.plot, lr_find_svg(r));
        if (!ok) {
            std::fprintf(stderr, "error: %s\n", ok.error().message.c_str());
            return 2;
        }
        std::printf("plot written to %s\n", f.plot.c_str());
    }
    return s.failures.empty() ? 0 : 1;
}

}  // namespace ursa
