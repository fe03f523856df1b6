// ONNX export: BatchNorm folded into the convolutions and linears, opset 13,
// dynamic batch, Ursa metadata (design.md "ONNX model"). Built with libonnx's
// protobuf classes and checked (checker + strict shape inference) before writing.
//
// With OnnxWeights::Fp16 every initializer is stored as FLOAT16 (half the file) and
// followed by a Cast to FLOAT: the graph's input, output and arithmetic stay float32,
// so every runtime runs it (ONNX Runtime Web's wasm backend has no fp16 Conv/Gemm
// kernels; it folds the Casts into float32 constants at load) and the only error is
// the weights' rounding to half.
#pragma once
#include <string>

#include "ursa/models.h"
#include "ursa/result.h"
#include "ursa/run.h"

namespace ursa {

constexpr const char* kOnnxInputName = "image";
constexpr const char* kOnnxOutputName = "logits";
constexpr int kOnnxOpset = 13;

// How the exported file stores the weights (`ursa export --weights fp32|fp16`).
enum class OnnxWeights { Fp32, Fp16 };
// "fp32" / "fp16"; anything else is an Error.
Result<OnnxWeights> parse_onnx_weights(const std::string& name);

// Serialized ONNX model of `model` (in eval semantics) with metadata from `config`.
// Fp16 fails if a folded weight is beyond half's range (|w| > 65504).
Result<std::string> export_onnx(Classifier& model, const RunConfig& config,
                                OnnxWeights weights = OnnxWeights::Fp32);

// `ursa export RUN -o OUT`: loads the run's weights, exports, writes OUT atomically.
Result<bool> export_run(const std::string& run_dir, const std::string& out_path,
                        OnnxWeights weights = OnnxWeights::Fp32);

}  // namespace ursa
