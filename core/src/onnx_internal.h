// The parts of an ONNX ModelProto that the engine needs, parsed from the protobuf
// wire format by onnx.cpp. Field numbers follow onnx/onnx.proto (IR version 8).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "ursa/onnx.h"
#include "ursa/result.h"

namespace ursa::onnx {

// Success or an Error, for functions with nothing to return.
using Status = Result<std::monostate>;

// TensorProto.DataType values used here.
enum DataType : int32_t {
    kUndefined = 0,
    kFloat = 1,
    kUint8 = 2,
    kInt8 = 3,
    kUint16 = 4,
    kInt16 = 5,
    kInt32 = 6,
    kInt64 = 7,
    kString = 8,
    kBool = 9,
    kFloat16 = 10,
    kDouble = 11,
    kUint32 = 12,
    kUint64 = 13,
    kBfloat16 = 16,
};

const char* data_type_name(int32_t type);

// A TensorProto with its values converted to float (integers exactly up to 2^24).
struct TensorData {
    std::string name;
    std::vector<int64_t> dims;
    int32_t data_type = kUndefined;
    std::vector<float> values;
};

// AttributeProto.AttributeType values.
enum AttrType : int32_t {
    kAttrUndefined = 0,
    kAttrFloat = 1,
    kAttrInt = 2,
    kAttrString = 3,
    kAttrTensor = 4,
    kAttrGraph = 5,
    kAttrFloats = 6,
    kAttrInts = 7,
    kAttrStrings = 8,
};

struct Attribute {
    std::string name;
    int32_t type = kAttrUndefined;  // inferred from the fields present if absent
    float f = 0.f;
    int64_t i = 0;
    std::string s;
    bool has_t = false;
    TensorData t;
    std::vector<float> floats;
    std::vector<int64_t> ints;
};

struct Node {
    std::string name;
    std::string op_type;
    std::string domain;
    std::vector<std::string> inputs;  // "" marks an absent optional input
    std::vector<std::string> outputs;
    std::vector<Attribute> attributes;
};

struct Dim {
    int64_t value = -1;  // -1 when symbolic or unknown
    std::string param;
};

struct ValueInfo {
    std::string name;
    int32_t elem_type = kUndefined;
    bool has_shape = false;
    std::vector<Dim> dims;
};

struct Graph {
    std::vector<Node> nodes;
    std::vector<TensorData> initializers;
    std::vector<ValueInfo> inputs;
    std::vector<ValueInfo> outputs;
    std::vector<ValueInfo> value_info;
};

struct Model {
    int64_t ir_version = 0;
    std::vector<std::pair<std::string, int64_t>> opsets;  // (domain, version)
    bool has_graph = false;
    Graph graph;
    MetadataProps metadata;
};

Result<Model> parse_model(const uint8_t* data, size_t size);
Result<TensorData> parse_tensor(const uint8_t* data, size_t size);

// IEEE 754 half and bfloat16 bit patterns to float (exact: every value, subnormals,
// infinities and NaNs included).
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);
// float to the nearest half / bfloat16, ties to even; beyond the largest finite value
// gives infinity, a NaN stays a (quiet) NaN.
uint16_t float_to_half(float f);
uint16_t float_to_bfloat16(float f);

}  // namespace ursa::onnx
