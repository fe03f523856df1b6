// What the model gets wrong (fastai's ClassificationInterpretation): every item's
// loss, prediction and probability on a split, the confusion matrix, the most
// confused pairs, and the self-contained HTML report of `ursa interpret`.
#pragma once
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "ursa/dataset.h"
#include "ursa/learner.h"
#include "ursa/result.h"

namespace ursa {

struct ItemResult {
    std::string path;
    int actual = 0, predicted = 0;
    double prob = 0;  // softmax probability of the predicted label
    double loss = 0;  // cross-entropy against the actual label
};

struct Interpretation {
    std::vector<std::string> vocab;
    std::string data, split;          // the dataset folder and "valid" or "train"
    std::vector<ItemResult> items;    // in dataset order
    std::vector<Failure> failures;    // files that could not be read
    TrainOptions options;             // what the run was trained with
    int64_t train_items = 0;          // training items the run saw per epoch
};

struct InterpretOptions {
    std::string run;
    std::string data;          // "" = the folder the run was trained on
    std::string split = "valid";
    std::string out;           // report.html ("" = text only)
    int top_k = 9;
    int min_val = 1;           // most_confused's threshold
    bool normalize = false;    // confusion matrix as row fractions
    int threads = 0;
};

// Runs the run's model over the items of `split` (valid or train) of the run's
// dataset with validation transforms (no augmentation), as fastai's
// ClassificationInterpretation.from_learner does on ds_idx=1.
Result<Interpretation> interpret_run(const InterpretOptions& options);

// counts[actual][predicted].
std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<ItemResult>& items, size_t classes);

// (actual, predicted, count) off the diagonal with count >= min_val, most first
// (ties in label order), as fastai's most_confused.
std::vector<std::tuple<int, int, int64_t>> most_confused(const std::vector<std::vector<int64_t>>& cm, int64_t min_val);

// Indices of the k largest losses, largest first.
std::vector<size_t> top_losses(const std::vector<ItemResult>& items, size_t k);

// `ursa interpret`: prints the confusion matrix and most-confused pairs, and writes
// the HTML report (curves, schedule, matrix, pairs, top losses). 0 ok, 1 some files
// failed, 2 errors.
int interpret_command(const InterpretOptions& options);

}  // namespace ursa
