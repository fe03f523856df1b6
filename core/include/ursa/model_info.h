// What an exported model says about itself (ONNX metadata_props, see design.md):
// labels, input size, resize method, mean/std, arch, validation error, version.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ursa/onnx.h"
#include "ursa/preprocess.h"
#include "ursa/result.h"

namespace ursa {

struct ModelInfo {
    std::vector<std::string> labels;
    InputSpec input;
    std::string arch;         // "" when absent
    double valid_error = -1;  // < 0 when absent
    std::string version;      // "" when absent
};

// Keys of the metadata contract.
constexpr const char* kMetaLabels = "ursa.labels";
constexpr const char* kMetaInput = "ursa.input";
constexpr const char* kMetaArch = "ursa.arch";
constexpr const char* kMetaValidError = "ursa.valid_error";
constexpr const char* kMetaVersion = "ursa.version";

// ursa.labels and ursa.input are required; an error names each missing or bad key.
Result<ModelInfo> model_info_from_metadata(const onnx::MetadataProps& props);
Result<ModelInfo> read_model_info(const uint8_t* data, size_t size);

// The `ursa.input` JSON object ({"size":[H,W],"resize":…,"mean":[3],"std":[3]}).
Result<InputSpec> parse_input_spec(const std::string& json_text);

// The metadata values as JSON strings, for the exporter.
std::string labels_json(const std::vector<std::string>& labels);
std::string input_json(const InputSpec& spec);

// The whole ModelInfo as one JSON object (for the page and `ursa predict`):
// {"labels":[…],"input":{"size":[H,W],"resize":"…","mean":[…],"std":[…]},"arch":…,"valid_error":…,"version":…}
std::string to_json(const ModelInfo& info);

}  // namespace ursa
