#include "cli.h"
#include <cstdlib>
#include <sstream>

#include "ursa/distributed.h"
#include "ursa/learner.h"

namespace ursa::cli {

namespace {

// The flags that decide what the model is fed (shared by train and summary). The
// returned callback turns the string flags into options once parsing is done.
std::function<void()> add_data_options(CLI::App* sub, const std::shared_ptr<TrainOptions>& o,
                                       bool data_required = true) {
    auto method = std::make_shared<std::string>("crop");
    auto pad_mode = std::make_shared<std::string>("zeros");
    auto* data = sub->add_option("data", o->data, "Dataset folder");
    if (data_required) data->required();
    sub->add_option("--size", o->size, "Input size N (N x N pixels)")->check(CLI::Range(16, 1024))->capture_default_str();
    sub->add_option("--resize-method", *method,
                    "How images are brought to N x N: fastai's Resize methods, or RandomResizedCrop (a random "
                    "window per training item; validation squishes to N + ceil(0.14 N / 8) * 8 and cuts out the "
                    "centre)")
        ->check(CLI::IsMember({"crop", "squish", "pad", "random-resized-crop"}))
        ->capture_default_str();
    sub->add_option("--min-scale", o->aug.min_scale,
                    "random-resized-crop: the smallest window, as a fraction of the image's area")
        ->check(CLI::Range(0.01, 1.0))
        ->capture_default_str();
    sub->add_option("--pad-mode", *pad_mode, "What --resize-method pad fills its margins with")
        ->check(CLI::IsMember({"zeros", "border", "reflection"}))
        ->capture_default_str();
    sub->add_option("--split", o->dataset.split,
                    "auto: folder split when DATA/train and DATA/valid exist, else random")
        ->check(CLI::IsMember({"auto", "folder", "random"}))
        ->capture_default_str();
    sub->add_option("--train-folder", o->dataset.train_folder,
                    "The folder split's training folder under DATA (fastai's GrandparentSplitter train_name)")
        ->capture_default_str();
    sub->add_option("--valid-folder", o->dataset.valid_folder,
                    "The folder split's validation folder under DATA (valid_name)")
        ->capture_default_str();
    sub->add_option("--csv", o->dataset.csv,
                    "Labels (and split) from a CSV of file,label[,is_valid] rows, files relative to DATA")
        ->check(CLI::ExistingFile);
    sub->add_option("--valid-pct", o->dataset.valid_pct, "Validation fraction for the random split")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    sub->add_option("--seed", o->seed, "Seed for the split, initialisation and shuffling")->capture_default_str();
    sub->add_option("--bs", o->batch_size, "Batch size")->check(CLI::Range(1, 65536))->capture_default_str();
    sub->add_flag("--no-aug{false},--aug", o->augment,
                  "fastai's aug_transforms on training batches: flip, rotate 10 deg, zoom 1-1.1, warp 0.2, "
                  "lighting 0.2 (default on)");
    sub->add_option("--aug-mult", o->aug.mult, "Scales the rotation, warp and lighting of --aug (fastai's mult)")
        ->check(CLI::Range(0.0, 10.0))
        ->capture_default_str();
    sub->add_option("--max-zoom", o->aug.max_zoom,
                    "--aug zooms in by a random 1 to this about a random centre (fastai's max_zoom); 1 = no zoom")
        ->check(CLI::Range(1.0, 10.0))
        ->capture_default_str();
    sub->add_option("--random-erase", o->aug.erase_p,
                    "RandomErasing: the probability that a training image gets a box (up to 30 % of its area, "
                    "aspect 0.3-3.3) of N(0,1) noise after normalisation; each image its own box; 0 = off")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    sub->add_option("--max-pixels", o->max_pixels, "Refuse images larger than this many pixels")->capture_default_str();
    return [o, method, pad_mode] {
        o->dataset.seed = o->seed;
        o->resize = parse_resize_method(*method).value();
        o->pad_mode = parse_pad_mode(*pad_mode).value();
    };
}

// Architecture, starting weights and compute (shared by train and lr-find).
void add_model_options(CLI::App* sub, const std::shared_ptr<TrainOptions>& o,
                       const std::shared_ptr<std::string>& precision, const std::shared_ptr<std::string>& fp32_blocks) {
    sub->add_option("--arch", o->arch, "Architecture")
        ->check(CLI::IsMember({"resnet18", "resnet34", "small"}))
        ->capture_default_str();
    sub->add_option("--pretrained", o->pretrained,
                    "Body weights (.safetensors with torchvision names, e.g. from `ursa fetch-weights`); training "
                    "is then fastai's fine_tune")
        ->check(CLI::ExistingFile);
    sub->add_option("--threads", o->threads, "Threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    sub->add_option("--device", o->device, "Where to train: cuda needs a libtorch built with CUDA; auto uses it when present")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
        ->capture_default_str();
    sub->add_option("--precision", *precision,
                    "fp32, or bf16 autocast (fast on CPUs with AMX/AVX-512 bf16); auto: bf16 on such a CPU, fp32 "
                    "on others and on CUDA")
        ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
        ->capture_default_str();
    sub->add_option("--fp32-blocks", *fp32_blocks,
                    "Under bf16 on a CPU, residual blocks to run in fp32 (oneDNN's AMX backward is slow on small "
                    "feature maps): none; a list such as layer3.0,layer4.0; or timed: time each block both ways "
                    "before training and take those at least 15 % faster in fp32 (the choice then depends on "
                    "the timing, so a seeded run may not repeat exactly)")
        ->capture_default_str();
    sub->add_flag("--matmul-convs,--no-matmul-convs{false}", o->matmul_convs,
                  "On a CPU, the residual blocks' convolutions on small feature maps as one matrix product each "
                  "(im2col + matmul), where oneDNN's convolution kernels are slow: under bf16 (oneDNN's matmul; "
                  "which passes depends on whether the CPU has AMX), and in fp32 where libtorch's BLAS is "
                  "OpenBLAS or MKL (default on)");
}

// --fp32-blocks none | timed | layer3.0,layer4.0 into the options.
void set_fp32_blocks_option(TrainOptions& o, const std::string& value) {
    o.time_blocks = value == "timed";
    o.fp32_blocks.clear();
    if (value == "none" || value == "timed") return;
    std::string name;
    std::istringstream names(value);
    while (std::getline(names, name, ','))
        if (!name.empty()) o.fp32_blocks.push_back(name);
}

// --start-size and --start-epochs come together: smaller than --size, for fewer
// epochs than the run has (with --pretrained, fine_tune's frozen ones count too).
void check_progressive(const TrainOptions& o) {
    if (!o.resume.empty() || (o.start_size == 0 && o.start_epochs == 0)) return;
    int total = 0;
    for (const Phase& phase : training_plan(o)) total += phase.epochs;
    if (o.start_size == 0 || o.start_epochs == 0)
        throw CLI::ValidationError("--start-size", "needs --start-epochs (and --start-epochs needs --start-size)");
    if (o.start_size < 16 || o.start_size >= o.size)
        throw CLI::ValidationError("--start-size", std::to_string(o.start_size) + " is not in [16, --size " +
                                                       std::to_string(o.size) + ")");
    if (o.start_epochs >= total)
        throw CLI::ValidationError("--start-epochs", std::to_string(o.start_epochs) + " leaves none of the run's " +
                                                         std::to_string(total) + " epochs at --size");
}

}  // namespace

void add_train(CLI::App& app, Run& run, std::vector<std::string> argv) {
    auto o = std::make_shared<TrainOptions>();
    auto precision = std::make_shared<std::string>("auto");
    auto fp32_blocks = std::make_shared<std::string>("none");
    auto* sub = app.add_subcommand("train", "Train a classifier on DATA/<label>/*.jpg (or DATA/{train,valid}/<label>/*)");
    auto finish = add_data_options(sub, o, /*data_required=*/false);
    sub->add_option("--out", o->out, "Run folder to write (weights, checkpoint, history.csv, labels.txt)");
    add_model_options(sub, o, precision, fp32_blocks);
    sub->add_option("--epochs", o->epochs, "Epochs (with --pretrained: epochs after the frozen ones, as fine_tune)")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    sub->add_option("--lr", o->lr, "Peak learning rate of the one-cycle schedule (with --pretrained: fine_tune's base_lr)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->add_option("--freeze-epochs", o->freeze_epochs, "With --pretrained: epochs with the body frozen first")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    sub->add_option("--wd", o->weight_decay, "Weight decay (decoupled)")->capture_default_str();
    sub->add_option("--label-smoothing", o->label_smoothing,
                    "fastai's LabelSmoothingCrossEntropy with this eps (e.g. 0.1) as the loss, training and "
                    "validation; 0 = plain cross-entropy")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    sub->add_option("--start-size", o->start_size,
                    "Progressive resizing: train (and validate) the first --start-epochs epochs on batches shrunk "
                    "to this many px (antialiased bilinear), then at --size; 0 = off")
        ->check(CLI::Range(0, 1024));
    sub->add_option("--start-epochs", o->start_epochs, "How many epochs --start-size lasts")->check(CLI::NonNegativeNumber);
    sub->add_flag("--tta", o->tta,
                  "After the last epoch, validate once more with test-time augmentation: each prediction the mean "
                  "of the softmax on the picture and on its mirror (printed and saved in history.json; the "
                  "exported model does not do it)");
    sub->add_option("--limit-train", o->limit_train, "Train on a random subset of N training images (0 = all)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--nproc", o->nproc,
                    "Data-parallel training with N processes on this machine (Gloo on loopback); --bs is per "
                    "process, so the global batch is N x --bs")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    sub->add_option("--rank", o->rank, "This process's rank when the ranks are started elsewhere (default: $RANK)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--world-size", o->world_size, "How many ranks there are (default: $WORLD_SIZE, else 1)")
        ->check(CLI::PositiveNumber);
    sub->add_option("--master", o->master, "ADDR:PORT of rank 0 (default: $MASTER_ADDR:$MASTER_PORT, else 127.0.0.1:29500)");
    sub->add_option("--dist-timeout", o->dist_timeout,
                    "Seconds a rank waits for the others before it gives up (rendezvous and each collective)")
        ->check(CLI::Range(1, 86400))
        ->capture_default_str();
    auto* resume = sub->add_option("--resume", o->resume,
                                   "Continue the run in this folder (default: --out) from its last checkpoint, with "
                                   "the options it was started with")
                       ->expected(0, 1);
    sub->callback([o, finish, precision, fp32_blocks, resume, argv, &run] {
        if (resume->count() > 0 && o->resume.empty()) o->resume = o->out;  // `--out RUN --resume`
        if (resume->count() > 0 && o->resume.empty()) throw CLI::RequiredError("--resume RUN (or --out RUN --resume)");
        if (o->resume.empty() && (o->data.empty() || o->out.empty()))
            throw CLI::RequiredError(o->data.empty() ? "data" : "--out");
        finish();
        check_progressive(*o);
        o->bf16 = use_bf16(*precision, o->device);
        set_fp32_blocks_option(*o, *fp32_blocks);
        if (o->nproc > 1 && !std::getenv(kLaunchedEnv)) {
            if (o->rank >= 0 || o->world_size >= 0) throw CLI::ValidationError("--nproc", "takes no --rank or --world-size");
            run = [o, argv] { return launch_local(o->nproc, argv, o->dist_timeout); };
            return;
        }
        run = [o] { return train(*o); };
    });
}

void add_lr_find(CLI::App& app, Run& run) {
    auto o = std::make_shared<TrainOptions>();
    auto f = std::make_shared<LrFindOptions>();
    auto precision = std::make_shared<std::string>("auto");
    auto fp32_blocks = std::make_shared<std::string>("none");
    auto* sub = app.add_subcommand("lr-find", "Sweep the learning rate over training batches (fastai's lr_find) and "
                                              "suggest one (valley); takes train's data and model flags");
    auto finish = add_data_options(sub, o);
    add_model_options(sub, o, precision, fp32_blocks);
    sub->add_option("--start-lr", f->start_lr, "First learning rate")->check(CLI::PositiveNumber)->capture_default_str();
    sub->add_option("--end-lr", f->end_lr, "Last learning rate")->check(CLI::PositiveNumber)->capture_default_str();
    sub->add_option("--num-it", f->num_it, "Iterations (batches)")->check(CLI::Range(2, 100000))->capture_default_str();
    sub->add_flag("--no-stop-div{false}", f->stop_div, "Go on when the loss exceeds 4x the best");
    sub->add_option("--plot", f->plot, "Write the loss curve as SVG to this file");
    sub->callback([o, f, finish, precision, fp32_blocks, &run] {
        finish();
        o->bf16 = use_bf16(*precision, o->device);
        set_fp32_blocks_option(*o, *fp32_blocks);
        run = [o, f] { return lr_find_command(*o, *f); };
    });
}

void add_summary(CLI::App& app, Run& run) {
    auto o = std::make_shared<TrainOptions>();
    auto item = std::make_shared<int64_t>(0);
    auto* sub = app.add_subcommand("summary", "Show each step of the data pipeline for one training item (like "
                                              "fastai's DataBlock.summary); takes train's data flags");
    auto finish = add_data_options(sub, o);
    sub->add_option("--item", *item, "Which training item (0 = the first)")->check(CLI::NonNegativeNumber);
    sub->callback([o, finish, item, &run] {
        finish();
        run = [o, item] { return summarize(*o, *item); };
    });
}

void add_show_batch(CLI::App& app, Run& run) {
    auto o = std::make_shared<TrainOptions>();
    auto rows = std::make_shared<int>(3);
    auto unique = std::make_shared<bool>(false);
    auto out = std::make_shared<std::string>();
    auto* sub = app.add_subcommand("show-batch", "A grid of augmented training images with their labels (like "
                                                 "fastai's show_batch); takes train's data flags");
    auto finish = add_data_options(sub, o);
    sub->add_option("--rows", *rows, "The grid is rows x rows")->check(CLI::Range(1, 16))->capture_default_str();
    sub->add_flag("--unique", *unique, "One image through rows x rows different augmentations");
    sub->add_option("-o,--out", *out, "Output PNG")->required();
    sub->callback([o, finish, rows, unique, out, &run] {
        finish();
        run = [o, rows, unique, out] { return show_batch(*o, *rows, *unique, *out); };
    });
}

}  // namespace ursa::cli
