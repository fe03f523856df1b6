#include "ursa/model_info.h"

#include <cstdio>
#include <cstdlib>

#include "ursa/json.h"

namespace ursa {

namespace {

// Shortest decimal that reads back as the same float ("0.485", not "0.48499998…").
std::string float_text(float value) {
    char buf[32];
    for (int precision = 1; precision <= 9; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, static_cast<double>(value));
        if (std::strtof(buf, nullptr) == value) break;
    }
    return buf;
}

std::string triple(const std::array<float, 3>& v) {
    return "[" + float_text(v[0]) + "," + float_text(v[1]) + "," + float_text(v[2]) + "]";
}

Result<std::array<float, 3>> read_triple(const json::Value& input, const char* key) {
    const json::Value* v = input.find(key);
    if (!v || !v->is_array() || v->array.size() != 3)
        return make_error(std::string(kMetaInput) + "." + key + " must be an array of 3 numbers");
    std::array<float, 3> out{};
    for (int i = 0; i < 3; ++i) {
        if (!v->array[i].is_number()) return make_error(std::string(kMetaInput) + "." + key + " must hold numbers");
        out[i] = static_cast<float>(v->array[i].number);
    }
    return out;
}

Result<std::vector<std::string>> parse_labels(const std::string& text) {
    auto parsed = json::parse(text);
    if (!parsed) return make_error(std::string(kMetaLabels) + " is not valid JSON: " + parsed.error().message);
    if (!parsed->is_array() || parsed->array.empty())
        return make_error(std::string(kMetaLabels) + " must be a non-empty array of strings");
    std::vector<std::string> labels;
    for (const auto& item : parsed->array) {
        if (!item.is_string()) return make_error(std::string(kMetaLabels) + " must hold only strings");
        labels.push_back(item.string);
    }
    return labels;
}

// Metadata values are JSON; a bare word (not valid JSON) is taken as it is, so
// hand-written metadata like ursa.arch=resnet18 still reads.
std::string json_text(const std::string& value) {
    auto v = json::parse(value);
    return v.ok() && v->is_string() ? v->string : value;
}

double json_number(const std::string& value) {
    auto v = json::parse(value);
    return v.ok() && v->is_number() ? v->number : -1;
}

}  // namespace

Result<InputSpec> parse_input_spec(const std::string& text) {
    auto parsed = json::parse(text);
    if (!parsed) return make_error(std::string(kMetaInput) + " is not valid JSON: " + parsed.error().message);
    const json::Value& v = *parsed;
    InputSpec spec;
    const json::Value* size = v.find("size");
    if (!size || !size->is_array() || size->array.size() != 2 || !size->array[0].is_number() ||
        !size->array[1].is_number())
        return make_error(std::string(kMetaInput) + ".size must be [height, width]");
    const double h = size->array[0].number, w = size->array[1].number;
    if (h < 1 || w < 1 || h > 8192 || w > 8192 || h != static_cast<int>(h) || w != static_cast<int>(w))
        return make_error(std::string(kMetaInput) + ".size must hold whole numbers in 1..8192");
    spec.height = static_cast<int>(h), spec.width = static_cast<int>(w);
    if (const json::Value* r = v.find("resize")) {
        if (!r->is_string()) return make_error(std::string(kMetaInput) + ".resize must be a string");
        auto method = parse_resize_method(r->string);
        if (!method) return make_error(std::string(kMetaInput) + ".resize: " + method.error().message);
        spec.resize = *method;
    }
    if (const json::Value* p = v.find("pad_mode")) {  // optional; fastai's default is zeros
        if (!p->is_string()) return make_error(std::string(kMetaInput) + ".pad_mode must be a string");
        auto pad = parse_pad_mode(p->string);
        if (!pad) return make_error(std::string(kMetaInput) + ".pad_mode: " + pad.error().message);
        spec.pad_mode = *pad;
    }
    auto mean = read_triple(v, "mean");
    if (!mean) return mean.error();
    auto std = read_triple(v, "std");
    if (!std) return std.error();
    for (float s : *std)
        if (!(s > 0)) return make_error(std::string(kMetaInput) + ".std must be positive");
    spec.mean = *mean, spec.std = *std;
    return spec;
}

std::string labels_json(const std::vector<std::string>& labels) {
    std::string out = "[";
    for (size_t i = 0; i < labels.size(); ++i) out += (i ? "," : "") + json::quote(labels[i]);
    return out + "]";
}

std::string input_json(const InputSpec& spec) {
    return "{\"size\":[" + std::to_string(spec.height) + "," + std::to_string(spec.width) + "],\"resize\":\"" +
           to_string(spec.resize) + "\"" +
           (spec.resize == ResizeMethod::Pad ? std::string(",\"pad_mode\":\"") + to_string(spec.pad_mode) + "\"" : "") +
           ",\"mean\":" + triple(spec.mean) + ",\"std\":" + triple(spec.std) + "}";
}

Result<ModelInfo> model_info_from_metadata(const onnx::MetadataProps& props) {
    const std::string* labels = nullptr;
    const std::string* input = nullptr;
    ModelInfo info;
    for (const auto& [key, value] : props) {
        if (key == kMetaLabels) labels = &value;
        else if (key == kMetaInput) input = &value;
        else if (key == kMetaArch) info.arch = json_text(value);
        else if (key == kMetaVersion) info.version = json_text(value);
        else if (key == kMetaValidError) info.valid_error = json_number(value);
    }
    std::string missing;
    if (!labels) missing += std::string(missing.empty() ? "" : ", ") + kMetaLabels;
    if (!input) missing += std::string(missing.empty() ? "" : ", ") + kMetaInput;
    if (!missing.empty())
        return make_error("model has no Ursa metadata: missing " + missing +
                          " in metadata_props (export it with `ursa export`, or add them: see design.md)");
    auto parsed_labels = parse_labels(*labels);
    if (!parsed_labels) return parsed_labels.error();
    auto spec = parse_input_spec(*input);
    if (!spec) return spec.error();
    info.labels = std::move(*parsed_labels);
    info.input = *spec;
    return info;
}

Result<ModelInfo> read_model_info(const uint8_t* data, size_t size) {
    auto props = onnx::read_metadata_props(data, size);
    if (!props) return props.error();
    return model_info_from_metadata(*props);
}

std::string to_json(const ModelInfo& info) {
    std::string out = "{\"labels\":" + labels_json(info.labels) + ",\"input\":" + input_json(info.input);
    out += ",\"arch\":" + json::quote(info.arch);
    out += ",\"valid_error\":" + (info.valid_error < 0 ? std::string("null") : json::number(info.valid_error));
    out += ",\"version\":" + json::quote(info.version) + "}";
    return out;
}

}  // namespace ursa
