// Weights as .safetensors: an 8-byte little-endian header length, a JSON header
// ({name: {dtype, shape, data_offsets}}), then raw little-endian data. Reading it
// runs no code (unlike a pickle).
#pragma once
#include <torch/nn/module.h>

#include <map>
#include <string>

#include "ursa/result.h"

namespace ursa {

// Every parameter and buffer of `module` by its dotted name (the tensors themselves,
// not copies).
std::map<std::string, torch::Tensor> state_of(const torch::nn::Module& module);

// Every parameter and buffer of `module` by its dotted name, plus string metadata.
Result<bool> save_safetensors(const torch::nn::Module& module, const std::string& path,
                              const std::map<std::string, std::string>& metadata = {});

// Named tensors (F32, F16, BF16, I64, U8) and string metadata, written atomically.
Result<bool> save_tensors(const std::map<std::string, torch::Tensor>& tensors, const std::string& path,
                          const std::map<std::string, std::string>& metadata = {});

// Tensors of a .safetensors file by name (F32, F16, BF16, I64, U8 are supported);
// the string metadata goes to `metadata` when given.
Result<std::map<std::string, torch::Tensor>> read_safetensors(const std::string& path,
                                                              std::map<std::string, std::string>* metadata = nullptr);

// Copies tensors into the module's parameters and buffers of the same name. Names
// missing on either side or shape mismatches are errors that list them.
Result<bool> load_into(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                       const std::string& source);

}  // namespace ursa
