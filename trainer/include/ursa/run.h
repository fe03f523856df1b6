// The run folder `ursa train` writes: model.safetensors, config.json, labels.txt,
// history.csv, skipped.csv (files that could not be used). Every file is written
// atomically; config.json is written last, so its presence marks a finished run.
#pragma once
#include <string>
#include <vector>

#include "ursa/preprocess.h"
#include "ursa/result.h"

namespace ursa {

struct RunConfig {
    std::string arch;
    InputSpec input;
    std::vector<std::string> labels;
    double valid_error = -1;  // last epoch's error rate; < 0 when there was no validation set
    int epochs = 0;
    std::string data;         // dataset folder trained on
    std::string split;
};

constexpr const char* kRunWeights = "model.safetensors";
constexpr const char* kRunConfig = "config.json";

Result<bool> write_run_config(const std::string& run_dir, const RunConfig& config);
Result<RunConfig> read_run_config(const std::string& run_dir);

}  // namespace ursa
