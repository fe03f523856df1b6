// Items, labels and splits (fastai's DataBlock: get_image_files, parent_label,
// RandomSplitter / GrandparentSplitter), and the loader that turns them into batches
// through core's decode/resize/normalize.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ursa/image.h"
#include "ursa/augment.h"
#include "ursa/preprocess.h"

namespace ursa {

struct Item {
    std::string path;  // absolute or relative to the working directory
    int label = 0;     // index into the vocabulary
};

struct Failure {
    std::string path;
    std::string reason;
};

struct DatasetOptions {
    std::string split = "auto";  // auto | folder | random
    double valid_pct = 0.2;
    uint64_t seed = 42;
    std::string train_folder = "train";
    std::string valid_folder = "valid";
    // A CSV of `file,label[,is_valid]` rows (files relative to the dataset folder) in
    // place of the folder names; with is_valid it also gives the split.
    std::string csv;
};

struct Dataset {
    std::vector<std::string> vocab;  // sorted unique labels
    std::vector<Item> train, valid;
    std::string split;               // the split actually used: folder | random | csv
};

// One CSV record per row (RFC 4180: quoted fields, doubled quotes, CRLF); errors
// name the line.
Result<std::vector<std::vector<std::string>>> parse_csv(const std::string& text);

// Image files under `dir`, found by extension (case-insensitive), recursively,
// skipping hidden files and folders; sorted for reproducibility.
std::vector<std::string> find_image_files(const std::string& dir);

// Labels from parent folder names (or the CSV); split by folders (DIR/train,
// DIR/valid), by the CSV's is_valid column, or at random with a seed (fastai
// RandomSplitter: the first int(pct*n) of a seeded permutation are validation).
// No image is opened here.
Result<Dataset> make_dataset(const std::string& dir, const DatasetOptions& options);

// Decoded, resized (fitted) images held in memory as 8-bit RGB, in item order.
struct Prepared {
    std::vector<Image> images;
    std::vector<int> labels;
    std::vector<Failure> failures;  // files that could not be used, with reasons
};

// What prepare_items keeps of each image.
enum class Storage {
    // Fitted to the model size by spec.resize: validation, and training without
    // random crops.
    fitted,
    // A strip (training with augmentation and resize crop): resized so that its short
    // side is the model size, its long side up to twice that (the centre of longer
    // panoramas), so that make_batch can cut the crop window at a random position, as
    // fastai's Resize does on the training set. (fastai cuts the window from the
    // full-size photo and then resizes it; cutting it from the resized strip differs by
    // the resampling phase only.)
    crop_strips,
    // The whole image (random-resized-crop training), kept up to a short side of three
    // times the model size (long side six times), larger ones shrunk to a short side of
    // twice it: make_batch cuts fastai's random crop window from it and resizes that to
    // the model size. (fastai cuts from the full-size photo; a crop of the smallest
    // areas is upsampled from fewer pixels here, only for photos over three times the
    // model size.)
    whole,
};

// Decodes and prepares every item through core on `threads` threads, with a progress
// bar. Files that fail are reported in `failures` and left out.
Prepared prepare_items(const std::vector<Item>& items, const InputSpec& spec, const DecodeOptions& decode,
                       int threads, const std::string& title, Storage storage = Storage::fitted);

// A batch as tensors: images [B,3,H,W] float (normalised), labels [B] int64.
struct Batch {
    torch::Tensor images;
    torch::Tensor labels;
};

// An RGB triple (mean or std) as a [1,3,1,1] tensor, to broadcast over a batch.
torch::Tensor per_channel(const std::array<float, 3>& v);

// Normalises the images with the given indices into one batch. With `aug` (one
// entry per index: training) the batch is augmented first (see augment.h), a strip
// (see prepare_items) is cut at the position its AugParams give, and with
// spec.resize random-resized-crop a whole image gets fastai's random crop. The items
// are cut on `threads` threads; the batch is the same for any count.
Batch make_batch(const Prepared& data, const std::vector<int64_t>& indices, const InputSpec& spec,
                 const std::vector<AugParams>* aug = nullptr, int threads = 1);

}  // namespace ursa
