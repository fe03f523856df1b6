#include "ursa/learner.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>
#include <thread>

#include "ursa/io.h"
#include "ursa/models.h"
#include "ursa/progress.h"
#include "ursa/run.h"
#include "ursa/safetensors.h"

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

struct EvalResult {
    double loss = 0, error_rate = 0;
};

// Adam with decoupled weight decay; no weight decay on BatchNorm and bias parameters.
torch::optim::AdamW make_optimizer(Classifier& model, const TrainOptions& o) {
    std::vector<torch::Tensor> decay, no_decay;
    for (auto& p : model->named_parameters()) {
        const bool is_bn_or_bias = p.value().dim() <= 1;  // BN weights/biases and biases are 1-D
        (is_bn_or_bias ? no_decay : decay).push_back(p.value());
    }
    auto opts = torch::optim::AdamWOptions(o.lr).betas({0.9, 0.99}).eps(1e-5).weight_decay(o.weight_decay);
    auto opts_no_wd = opts;
    opts_no_wd.weight_decay(0);
    return torch::optim::AdamW({torch::optim::OptimizerParamGroup(decay, std::make_unique<torch::optim::AdamWOptions>(opts)),
                                torch::optim::OptimizerParamGroup(no_decay, std::make_unique<torch::optim::AdamWOptions>(opts_no_wd))},
                               opts);
}

// Channels-last weights and inputs. On an idle 2-core machine libtorch 1.13 runs
// NCHW and channels-last convolutions at about the same speed, but with another busy
// process NCHW slowed down ~7x here while channels-last did not. A fixed choice (not
// a timed one) keeps runs with the same seed bit-reproducible.
constexpr torch::MemoryFormat kMemoryFormat = torch::MemoryFormat::ChannelsLast;

void set_memory_format(torch::nn::Module& model, torch::MemoryFormat format) {
    torch::NoGradGuard no_grad;
    for (auto& p : model.parameters())
        if (p.dim() == 4) p.set_data(p.data().contiguous(format));
}

void set_hyper(torch::optim::AdamW& opt, double lr, double mom) {
    for (auto& g : opt.param_groups()) {
        auto& o = static_cast<torch::optim::AdamWOptions&>(g.options());
        o.lr(lr);
        o.betas({mom, 0.99});
    }
}

EvalResult evaluate(Classifier& model, const Prepared& valid, const InputSpec& spec, int bs,
                    torch::MemoryFormat format) {
    torch::NoGradGuard no_grad;
    model->eval();
    const int64_t n = static_cast<int64_t>(valid.images.size());
    if (n == 0) return {NAN, NAN};
    double loss_sum = 0;
    int64_t wrong = 0;
    ProgressBar bar("valid", static_cast<size_t>((n + bs - 1) / bs));
    for (int64_t start = 0, k = 0; start < n; start += bs, ++k) {
        std::vector<int64_t> idx;
        for (int64_t i = start; i < std::min(n, start + bs); ++i) idx.push_back(i);
        Batch b = make_batch(valid, idx, spec);
        torch::Tensor logits = model->forward(b.images.contiguous(format)).to(torch::kFloat32);
        loss_sum += torch::nn::functional::cross_entropy(
                        logits, b.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                        .item<double>();
        wrong += logits.argmax(1).ne(b.labels).sum().item<int64_t>();
        bar.update(static_cast<size_t>(k + 1));
    }
    bar.finish();
    return {loss_sum / n, static_cast<double>(wrong) / n};
}

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

InputSpec input_spec(const TrainOptions& o) {
    InputSpec spec;
    spec.height = spec.width = o.size;
    spec.resize = o.resize;
    spec.pad_mode = o.pad_mode;
    return spec;
}

bool uses_crop_strips(const TrainOptions& o) { return o.augment && o.resize == ResizeMethod::Crop; }

int train(const TrainOptions& o) {
    const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(threads);
    torch::manual_seed(o.seed);

    auto ds = make_dataset(o.data, o.dataset);
    if (!ds) {
        std::fprintf(stderr, "error: %s\n", ds.error().message.c_str());
        return 2;
    }
    std::error_code ec;
    fs::create_directories(o.out, ec);
    if (ec) {
        std::fprintf(stderr, "error: cannot create run folder %s: %s\n", o.out.c_str(), ec.message().c_str());
        return 2;
    }
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
    Prepared train_data = prepare_items(train_items, spec, decode, threads, "load train", uses_crop_strips(o));
    Prepared valid_data = prepare_items(ds->valid, spec, decode, threads, "load valid");
    std::vector<Failure> failures = train_data.failures;
    failures.insert(failures.end(), valid_data.failures.begin(), valid_data.failures.end());
    report_failures(failures, o.out);
    const int64_t n_train = static_cast<int64_t>(train_data.images.size());
    const int64_t bs = std::min<int64_t>(o.batch_size, n_train);
    if (n_train < 2) {
        std::fprintf(stderr, "error: fewer than 2 usable training images\n");
        return 2;
    }
    if (valid_data.images.empty()) {
        std::fprintf(stderr, "error: none of the %zu validation images could be read\n", ds->valid.size());
        return 2;
    }

    auto made = make_classifier(o.arch, static_cast<int64_t>(ds->vocab.size()));
    if (!made) {
        std::fprintf(stderr, "error: %s\n", made.error().message.c_str());
        return 2;
    }
    Classifier model = *made;
    const torch::MemoryFormat format = kMemoryFormat;
    set_memory_format(*model, format);
    auto opt = make_optimizer(model, o);
    const int64_t batches = n_train / bs;  // drop_last, as fastai's training loader
    const OneCycle sched{o.lr};
    const double total = static_cast<double>(batches) * o.epochs;
    std::mt19937_64 rng(o.seed);
    SmoothLoss smooth;

    std::string history = "epoch,train_loss,valid_loss,error_rate,time\n";
    std::printf("%-6s %-11s %-11s %-11s %s\n", "epoch", "train_loss", "valid_loss", "error_rate", "time");
    std::fflush(stdout);
    double last_error = -1, train_seconds = 0;
    for (int epoch = 0; epoch < o.epochs; ++epoch) {
        const auto t0 = std::chrono::steady_clock::now();
        model->train();
        std::vector<int64_t> order(static_cast<size_t>(n_train));
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        double train_loss = 0;
        ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs), batches);
        for (int64_t k = 0; k < batches; ++k) {
            std::vector<int64_t> idx(order.begin() + k * bs, order.begin() + (k + 1) * bs);
            std::vector<AugParams> aug;
            if (o.augment)
                for (size_t i = 0; i < idx.size(); ++i) aug.push_back(draw_aug_params(rng, o.aug));
            Batch b = make_batch(train_data, idx, spec, o.augment ? &aug : nullptr);
            const double pos = (epoch * batches + k) / total;
            set_hyper(opt, sched.lr(pos), sched.momentum(pos));
            torch::Tensor loss;
            {
                at::autocast::set_cpu_enabled(o.bf16);
                at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
                torch::Tensor logits = model->forward(b.images.contiguous(format));
                at::autocast::set_cpu_enabled(false);
                if (o.bf16) at::autocast::clear_cache();
                loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), b.labels);
            }
            opt.zero_grad();
            loss.backward();
            opt.step();
            train_loss = smooth.add(loss.item<double>());
            char suffix[32];
            std::snprintf(suffix, sizeof suffix, "loss %.4f", train_loss);
            bar.update(static_cast<size_t>(k + 1), suffix);
        }
        bar.finish();
        train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const EvalResult v = evaluate(model, valid_data, spec, static_cast<int>(bs), format);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("%-6d %-11.6f %-11.6f %-11.6f %s\n", epoch, train_loss, v.loss, v.error_rate,
                    format_duration(secs).c_str());
        std::fflush(stdout);
        char row[160];
        std::snprintf(row, sizeof row, "%d,%.6f,%.6f,%.6f,%s\n", epoch, train_loss, v.loss, v.error_rate,
                      format_duration(secs).c_str());
        history += row;
        last_error = std::isnan(v.error_rate) ? -1 : v.error_rate;

        auto saved = save_safetensors(*model, (fs::path(o.out) / kRunWeights).string(),
                                      {{"arch", o.arch}, {"epoch", std::to_string(epoch)}});
        auto hist = write_file_atomic((fs::path(o.out) / "history.csv").string(), history);
        if (!saved || !hist) {
            std::fprintf(stderr, "error: %s\n", (!saved ? saved.error() : hist.error()).message.c_str());
            return 2;
        }
    }

    std::string labels_txt;
    for (const auto& l : ds->vocab) labels_txt += l + "\n";
    RunConfig config{o.arch, spec, ds->vocab, last_error, o.epochs, o.data, ds->split};
    auto ok_labels = write_file_atomic((fs::path(o.out) / "labels.txt").string(), labels_txt);
    auto ok_config = write_run_config(o.out, config);
    if (!ok_labels || !ok_config) {
        std::fprintf(stderr, "error: %s\n", (!ok_labels ? ok_labels.error() : ok_config.error()).message.c_str());
        return 2;
    }
    const double images = static_cast<double>(batches) * bs * o.epochs;
    std::printf("trained on %.0f images in %.1f s: %.1f images/s (batches only, without loading and validation)\n",
                images, train_seconds, images / train_seconds);
    std::printf("run written to %s\n", o.out.c_str());
    return failures.empty() ? 0 : 1;
}

}  // namespace ursa
