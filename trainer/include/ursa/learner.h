// Training: fastai's fit_one_cycle with Adam (decoupled weight decay), a per-epoch
// table and progress bars, and the run folder.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ursa/cpu.h"
#include "ursa/dataset.h"
#include "ursa/distributed.h"
#include "ursa/models.h"
#include "ursa/optimizer.h"
#include "ursa/preprocess.h"

namespace ursa {

struct TrainOptions {
    std::string data;
    std::string out;
    std::string arch = "resnet18";
    int size = 224;
    ResizeMethod resize = ResizeMethod::Crop;  // fastai's Resize default
    PadMode pad_mode = PadMode::Zeros;         // fastai's default, for resize pad
    DatasetOptions dataset;
    int epochs = 4;
    int batch_size = 64;
    double lr = 2e-3;            // peak learning rate of the one-cycle schedule
    double weight_decay = 0.01;
    double label_smoothing = 0;  // fastai's LabelSmoothingCrossEntropy eps (0 = plain cross-entropy)
    bool tta = false;            // after training, validate once more with flip TTA
    int threads = 0;             // 0 = every core
    bool augment = true;         // fastai's aug_transforms on training batches
    AugOptions aug;
    bool bf16 = false;           // bf16 autocast for convolutions (AMX on recent Xeons); see cpu_has_native_bf16
    // Under bf16 on a CPU, the residual blocks ("layer3.0", …) that run in fp32 instead
    // (oneDNN's AMX backward kernels are slow on small feature maps); saved with the
    // run, so a resumed run keeps them. time_blocks (--fp32-blocks timed): prepare
    // times each block both ways and lists those at least 15 % faster in fp32.
    std::vector<std::string> fp32_blocks;
    bool time_blocks = false;
    // Under bf16 on a CPU, the blocks' convolutions on small maps as matrix products
    // (matmul_conv.h; --no-matmul-convs: oneDNN's convolutions everywhere).
    bool matmul_convs = true;
    // Progressive resizing (the fastai book's, within one schedule): the first
    // start_epochs epochs (counted over the whole plan) train and validate on the
    // batches shrunk to start_size px; the rest at `size`. 0: off.
    int start_size = 0;
    int start_epochs = 0;
    std::string device = "auto"; // auto | cpu | cuda
    int64_t max_pixels = kDefaultMaxPixels;
    uint64_t seed = 42;
    int64_t limit_train = 0;     // use only the first N training items (0 = all)
    // Weights for the body (.safetensors, torchvision names). With them training is
    // fastai's fine_tune: freeze_epochs with the body frozen, then `epochs` unfrozen.
    std::string pretrained;
    int freeze_epochs = 1;
    std::string resume;          // a run folder to continue from its checkpoint
    // Data parallelism (not saved with the run: a resumed run may use another world
    // size). --nproc N starts N ranks here; --rank/--world-size/--master (or torchrun's
    // environment) join ranks started elsewhere. --bs is per rank.
    int nproc = 1;
    int rank = -1, world_size = -1;  // -1: from the environment, else one process
    std::string master;              // ADDR:PORT of rank 0's store
    int dist_timeout = 300;          // seconds a rank waits for the others
};

// The training loss: cross-entropy, or with eps > 0 fastai's
// LabelSmoothingCrossEntropy, (1 - eps) * nll + eps / C * mean over the batch of
// -sum_c log_softmax(logits)_c (ref: fastai losses.py). reduction: mean or sum over the batch.
torch::Tensor classification_loss(const torch::Tensor& logits, const torch::Tensor& targets, double eps,
                                  bool sum = false);

// The size batches are fed at in epoch `epoch` (0-based, over the whole plan):
// options.start_size before options.start_epochs, else options.size.
int epoch_size(const TrainOptions& options, int epoch);

// Images [N,3,H,W] (float) brought to size x size with an antialiased bilinear
// filter (torch's, made to match Pillow's BILINEAR resize, which fastai's Resize
// uses); the same tensor when they are that size already.
torch::Tensor resize_batch(const torch::Tensor& images, int64_t size);

// One fit_one_cycle call of the training plan.
struct Phase {
    std::string name;            // "one-cycle", or fine_tune's "frozen" and "unfrozen"
    int epochs = 0;
    std::vector<double> lr_max;  // peak learning rate per parameter group (body, body, head)
    double div = 25.0, pct_start = 0.25;
    bool frozen = false;         // body frozen except BatchNorm (fastai's freeze, train_bn)
};

// The options a run was trained with, as train writes them to RUN/options.json
// (so interpret, clean and --resume rebuild the same split).
constexpr const char* kRunOptions = "options.json";
Result<TrainOptions> read_train_options(const std::string& run_dir);

// What train does: from scratch, fit_one_cycle(epochs, lr); with pretrained weights,
// fastai's fine_tune(epochs, base_lr=lr): fit_one_cycle(freeze_epochs, slice(lr),
// pct_start=0.99) frozen, then unfrozen fit_one_cycle(epochs, slice(lr/2/100, lr/2),
// pct_start=0.3, div=5).
std::vector<Phase> training_plan(const TrainOptions& options);

// What the model is fed: size, resize method, pad mode (fastai's mean and std).
InputSpec input_spec(const TrainOptions& options);

// Whether training keeps crop strips and cuts the window at random (prepare_items):
// with resize crop and augmentation on.
bool uses_crop_strips(const TrainOptions& options);

// What prepare_items keeps of training images: crop strips, whole images for
// random-resized-crop, else the fitted ones.
Storage training_storage(const TrainOptions& options);

// Whether training batches get AugParams (augmentation on, or random-resized-crop or
// random erasing, which are drawn with them even under --no-aug), and the options
// they are drawn with.
bool draws_batch_params(const TrainOptions& options);
AugOptions batch_aug_options(const TrainOptions& options);

// Whether --device (auto | cpu | cuda) trains on the GPU: cuda, or auto where libtorch
// sees one (has_cuda).
bool trains_on_cuda(const std::string& device, bool has_cuda);

// --precision auto|fp32|bf16 to whether training uses bf16 autocast: auto picks bf16
// on a CPU with native bf16 (cpu_has_native_bf16) and fp32 on CUDA or other CPUs.
bool use_bf16(const std::string& precision, const std::string& device);

// Lays the model's 4-D weights out in `format` (training uses channels-last).
void set_memory_format(torch::nn::Module& model, torch::MemoryFormat format);

// One residual block's training time (forward and backward of one batch), in ms.
struct BlockTiming {
    std::string name;  // "layer1.0", as body_blocks names it
    double bf16_ms = 0, fp32_ms = 0;
};

// Times every residual block of `model` (on the CPU, channels-last) on the
// activations a batch of `batch` random size x size images gives it, once under bf16
// autocast and once in fp32; the best of 3 after a warm-up. The weights, buffers and
// gradients are left as they were, and torch's random generator is not used.
std::vector<BlockTiming> time_blocks(Classifier& model, int64_t batch, int64_t size);

// The blocks that train at least 15 % faster in fp32 than under bf16 autocast.
std::vector<std::string> faster_in_fp32(const std::vector<BlockTiming>& timings);

// Runs the whole training; prints progress and the per-epoch table. Returns the
// process exit status: 0 success, 1 when some files were skipped (the model is
// still written), 2 when nothing could be trained (message printed).
int train(const TrainOptions& options);

// Prints each step of the data pipeline for training item `item` (fastai's
// DataBlock.summary): files and split, decoding, the resize window, augmentation
// drawn for it, normalisation and the batch shape. 0 ok, 1 the item failed, 2 usage.
int summarize(const TrainOptions& options, int64_t item);

// fastai's show_batch: a grid of rows x rows augmented training images with their
// labels, written as a PNG; `unique` shows one image through rows x rows draws.
int show_batch(const TrainOptions& options, int rows, bool unique, const std::string& out);

// fastai's `valley` suggestion on an lr_find curve: drops the first num_it/10 and the
// last 5 points (and everything from the first NaN), finds the longest decreasing
// subsequence of the losses and returns the index start + L/3 + L/6 into `lrs`
// (into the trimmed curve's original indices). -1 when the curve is too short.
int64_t valley_index(const std::vector<double>& lrs, const std::vector<double>& losses, int num_it);

struct LrFindOptions {
    double start_lr = 1e-7, end_lr = 10;
    int num_it = 100;
    bool stop_div = true;        // stop when the smoothed loss exceeds 4x the best
    std::string plot;            // SVG to write (empty: none)
};

struct LrFindResult {
    std::vector<double> lrs, losses;  // per batch: learning rate and smoothed loss
    int64_t valley = -1;              // index into lrs/losses, -1 if none
    bool diverged = false;
};

// Training state: model, optimizer (fastai's Adam, 3 parameter groups), data and the
// random generator that shuffles and draws augmentations.
class Learner {
  public:
    Learner(Classifier model, const TrainOptions& options, Prepared train, Prepared valid);

    void freeze(bool frozen);  // freeze_to(-1) or unfreeze; clears the optimizer state
    bool frozen() const { return frozen_; }
    // One optimizer step on the training items `idx`; returns the batch loss.
    // The same as step(load_batch(draw_batch(idx)), lrs, mom).
    double train_batch(const std::vector<int64_t>& idx, const std::vector<double>& lrs, double mom);
    // The three parts of a training step, so that the next batch can be loaded on
    // another thread while the model trains on this one. draw_batch draws the
    // batch's augmentation from `rng` (call it in batch order: the run stays the same
    // for a seed); load_batch cuts, augments and normalises it (it only reads the
    // Learner, so it may run on another thread); step is one optimizer step.
    // With a group, draw_batch takes the global batch's items and keeps this rank's.
    struct BatchDraw {
        std::vector<int64_t> idx;
        std::vector<AugParams> aug;  // empty: nothing drawn
    };
    BatchDraw draw_batch(std::vector<int64_t> idx);
    Batch load_batch(const BatchDraw& draw) const;
    double step(const Batch& batch, const std::vector<double>& lrs, double mom);
    // Mean loss and error rate on the validation set (eval mode, no augmentation).
    // flip_tta: each prediction is the mean of the softmax on the picture and on its
    // left-right mirror (test-time augmentation; the loss is then that mean's).
    std::pair<double, double> validate(bool flip_tta = false);
    // A shuffled order of the training items (the generator moves on).
    std::vector<int64_t> epoch_order();
    int64_t batch_size() const { return bs_; }  // per rank
    int64_t global_batch_size() const { return bs_ * world(); }
    int64_t batches_per_epoch() const;  // drop_last, as fastai's training loader
    int world() const { return group ? group->world() : 1; }
    // The size step and validate feed the model (epoch_size): they shrink the batches
    // (load_batch's are spec's size) with resize_batch. 0 (the start): spec's.
    void set_feed_size(int64_t size) { feed_size_ = size; }
    int64_t feed_size() const { return feed_size_ > 0 ? feed_size_ : spec.height; }
    // Joins a process group: --bs becomes per rank (capped so every rank has a
    // batch), and every rank takes rank 0's weights.
    Result<bool> set_group(ProcessGroup* group);
    // fastai's lr_find: an exponential learning-rate sweep over training batches
    // (all groups at the same rate), recording the smoothed loss; restores weights
    // and optimizer state afterwards.
    LrFindResult lr_find(const LrFindOptions& options);

    Classifier model;
    Adam opt;
    std::mt19937_64 rng;
    TrainOptions options;
    InputSpec spec;
    Prepared train_data, valid_data;
    torch::Device device{torch::kCPU};  // where the model and batches live
    // Data parallel: every rank draws the same order and augmentations and takes its
    // rows of each global batch; gradients, the reported loss and the validation
    // metrics are averaged over the ranks. Null: one process.
    ProcessGroup* group = nullptr;

  private:
    int64_t bs_;
    int loader_threads_ = 1;  // threads that cut one batch's items
    int64_t feed_size_ = 0;
    bool frozen_ = false;
};

// `ursa lr-find`: prepares the data and model as train would (frozen when
// pretrained), runs lr_find, prints the valley suggestion and writes the plot.
int lr_find_command(const TrainOptions& options, const LrFindOptions& find);

// One-cycle schedule values at fraction `pos` (0..1) of training (ref: fastai
// fit_one_cycle: cosine lr/div → lr → lr/div_final, momentum 0.95 → 0.85 → 0.95).
struct OneCycle {
    double lr_max;
    double div = 25.0;
    double div_final = 1e5;
    double pct_start = 0.25;
    double lr(double pos) const;
    double momentum(double pos) const;
};

}  // namespace ursa
