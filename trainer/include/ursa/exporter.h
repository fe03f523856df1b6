// ONNX export: BatchNorm folded into the convolutions and linears, opset 13,
// dynamic batch, Ursa metadata (design.md "ONNX model"). Built with libonnx's
// protobuf classes and checked (checker + strict shape inference) before writing.
#pragma once
#include <string>

#include "ursa/models.h"
#include "ursa/result.h"
#include "ursa/run.h"

namespace ursa {

constexpr const char* kOnnxInputName = "image";
constexpr const char* kOnnxOutputName = "logits";
constexpr int kOnnxOpset = 13;

// Serialized ONNX model of `model` (in eval semantics) with metadata from `config`.
Result<std::string> export_onnx(Classifier& model, const RunConfig& config);

// `ursa export RUN -o OUT`: loads the run's weights, exports, writes OUT atomically.
Result<bool> export_run(const std::string& run_dir, const std::string& out_path);

}  // namespace ursa
