// Training: fastai's fit_one_cycle with Adam (decoupled weight decay), a per-epoch
// table and progress bars, and the run folder.
#pragma once
#include <cstdint>
#include <string>

#include "ursa/dataset.h"
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
    int threads = 0;             // 0 = every core
    bool augment = true;         // fastai's aug_transforms on training batches
    AugOptions aug;
    bool bf16 = false;           // bf16 autocast for convolutions (AMX on recent Xeons)
    int64_t max_pixels = kDefaultMaxPixels;
    uint64_t seed = 42;
    int64_t limit_train = 0;     // use only the first N training items (0 = all)
};

// What the model is fed: size, resize method, pad mode (fastai's mean and std).
InputSpec input_spec(const TrainOptions& options);

// Whether training keeps crop strips and cuts the window at random (prepare_items):
// with resize crop and augmentation on.
bool uses_crop_strips(const TrainOptions& options);

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
