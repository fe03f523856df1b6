// A small reader of the ONNX protobuf wire format. It needs no protobuf library,
// so the same code runs natively and in WebAssembly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ursa/engine.h"
#include "ursa/result.h"

namespace ursa::onnx {

// ModelProto.metadata_props as (key, value) pairs, in file order.
using MetadataProps = std::vector<std::pair<std::string, std::string>>;

// Reads only metadata_props (and checks the bytes are a well-formed ModelProto
// at the top level). Cheap: skips the weights without copying them.
Result<MetadataProps> read_metadata_props(const uint8_t* data, size_t size);

// A serialized TensorProto (e.g. an ONNX test's input_0.pb) as a float Tensor;
// numeric types are converted (integers are exact up to 2^24).
Result<Tensor> read_tensor(const uint8_t* data, size_t size);

}  // namespace ursa::onnx
