// Embind bindings over core: what the web page (and the Node tests) call.
// Thin on purpose: bytes in, plain JS values out; every failure becomes {error: "..."}
// (core never throws, and neither does this file). The one object handed out is an
// inference engine (loadEngine): JS owns it and frees its graph with .delete().
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ursa/classify.h"
#include "ursa/engine.h"
#include "ursa/image.h"
#include "ursa/json.h"
#include "ursa/model_info.h"
#include "ursa/preprocess.h"
#include "ursa/result.h"

using emscripten::val;

namespace {

// Copies a JS Uint8Array (or ArrayBuffer, or plain array of numbers) into wasm memory.
// ref: emscripten convertJSArrayToNumberVector — one TypedArray.set, no per-element calls.
template <class T>
std::vector<T> copy_from_js(val array) {
    if (array.isNull() || array.isUndefined()) return {};
    if (array.instanceof(val::global("ArrayBuffer"))) array = val::global("Uint8Array").new_(array);
    const val length = array["length"];
    if (!length.isNumber()) return {};
    std::vector<T> out(length.as<size_t>());
    // No allocation between taking the view and filling it (memory may grow).
    val view{emscripten::typed_memory_view(out.size(), out.data())};
    view.call<void>("set", array);
    return out;
}

val error_object(const std::string& message) {
    val out = val::object();
    out.set("error", message);
    return out;
}

// A new Float32Array owning a copy of `data` (the view into wasm memory would not survive growth).
val to_float32_array(const std::vector<float>& data) {
    return val::global("Float32Array").new_(emscripten::typed_memory_view(data.size(), data.data()));
}

// {tensor, width, height}: the model's input tensor; width/height are the upright
// image as decoded, not the model size.
val tensor_result(const std::vector<float>& tensor, int width, int height) {
    val out = val::object();
    out.set("tensor", to_float32_array(tensor));
    out.set("width", width);
    out.set("height", height);
    return out;
}

// modelInfo(Uint8Array onnxBytes) -> JSON string (core's to_json) or {"error":"..."}.
std::string model_info(val onnx_bytes) {
    const std::vector<uint8_t> bytes = copy_from_js<uint8_t>(onnx_bytes);
    auto info = ursa::read_model_info(bytes.data(), bytes.size());
    if (!info.ok()) return "{\"error\":" + ursa::json::quote(info.error().message) + "}";
    return ursa::to_json(info.value());
}

// preprocess(Uint8Array imageBytes, string inputSpecJson) -> {tensor, width, height} | {error}.
val preprocess(val image_bytes, const std::string& spec_json) {
    auto spec = ursa::parse_input_spec(spec_json);
    if (!spec.ok()) return error_object("input spec: " + spec.error().message);
    const std::vector<uint8_t> bytes = copy_from_js<uint8_t>(image_bytes);
    if (bytes.empty()) return error_object("empty file");
    auto decoded = ursa::decode_rgba(bytes.data(), bytes.size());
    if (!decoded.ok()) return error_object(decoded.error().message);
    const ursa::InputSpec& s = spec.value();
    auto fitted = ursa::fit_decoded(decoded.value(), s.width, s.height, s.resize, s.pad_mode);
    if (!fitted.ok()) return error_object(fitted.error().message);
    std::vector<float> tensor;
    ursa::normalize_to_chw(fitted.value(), s.mean, s.std, tensor);
    return tensor_result(tensor, decoded.value().upright_width(), decoded.value().upright_height());
}

// preprocessRGBA(Uint8Array rgba, width, height, string inputSpecJson): for images
// the browser decoded itself (WebP, AVIF, ...).
val preprocess_rgba(val rgba, int width, int height, const std::string& spec_json) {
    auto spec = ursa::parse_input_spec(spec_json);
    if (!spec.ok()) return error_object("input spec: " + spec.error().message);
    if (width < 1 || height < 1) return error_object("image has no pixels");
    const std::vector<uint8_t> pixels = copy_from_js<uint8_t>(rgba);
    if (pixels.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 4)
        return error_object("RGBA buffer size does not match " + std::to_string(width) + "x" +
                            std::to_string(height));
    auto image = ursa::image_from_rgba(pixels.data(), width, height);
    if (!image.ok()) return error_object(image.error().message);
    return tensor_result(ursa::image_to_tensor(image.value(), spec.value()), width, height);
}

// topK(Float32Array logits, k) -> [{index, prob}] after softmax, highest first.
val top_k(val logits, int k) {
    const std::vector<float> scores = copy_from_js<float>(logits);
    val out = val::array();
    if (scores.empty() || k < 1) return out;
    const std::vector<ursa::Scored> best = ursa::top_k(ursa::softmax(scores), k);
    for (size_t i = 0; i < best.size(); ++i) {
        val item = val::object();
        item.set("index", best[i].index);
        item.set("prob", best[i].prob);
        out.set(i, item);
    }
    return out;
}

// sniffFormat(Uint8Array bytes) -> "jpeg", "png", "webp", ... or "".
std::string sniff_format(val bytes) {
    // The leading bytes are enough to recognise a container.
    val head = bytes;
    if (bytes.instanceof(val::global("ArrayBuffer"))) head = val::global("Uint8Array").new_(bytes);
    if (head["subarray"].isUndefined()) return "";
    const std::vector<uint8_t> lead = copy_from_js<uint8_t>(head.call<val>("subarray", 0, 64));
    return ursa::sniff_format(lead.data(), lead.size());
}

std::string version() { return URSA_VERSION; }

// Whether this build uses wasm SIMD128 (URSA_WASM_SIMD).
bool simd() {
#if defined(__wasm_simd128__)
    return true;
#else
    return false;
#endif
}

val string_array(const std::vector<std::string>& items) {
    val out = val::array();
    for (size_t i = 0; i < items.size(); ++i) out.set(i, items[i]);
    return out;
}

// A planned model of core's engine (the page's ?backend=ursa). Copies share the graph;
// the weights and plan are freed when JS has called .delete() on every handle.
class EngineHandle {
  public:
    explicit EngineHandle(std::shared_ptr<ursa::Engine> engine) : engine_(std::move(engine)) {}

    // run(Float32Array data, dims [N,C,H,W]) -> {logits: Float32Array, dims} | {error}.
    // The output is the one named "logits" when there is one, else the first.
    val run(val data, val dims) const {
        if (!engine_) return error_object("the model was released");
        ursa::Tensor input;
        const val length = dims["length"];
        if (!length.isNumber()) return error_object("dims must be an array of sizes");
        for (size_t i = 0, n = length.as<size_t>(); i < n; ++i) {
            const val d = dims[i];
            const double v = d.isNumber() ? d.as<double>() : -1;
            if (!(v >= 0) || v != static_cast<double>(static_cast<int64_t>(v)) || v > 1e9)
                return error_object("dims must be non-negative integers");
            input.shape.push_back(static_cast<int64_t>(v));
        }
        input.data = copy_from_js<float>(data);
        const std::vector<std::string>& inputs = engine_->input_names();
        if (inputs.size() != 1)
            return error_object("the model must have one input; this one has " + std::to_string(inputs.size()));
        std::vector<ursa::Tensor> feed;
        feed.push_back(std::move(input));  // moved, not copied (an initializer list would copy)
        auto outputs = engine_->run_all(feed);
        if (!outputs.ok()) return error_object(outputs.error().message);
        const std::vector<std::string>& names = engine_->output_names();
        size_t pick = 0;
        for (size_t i = 0; i < names.size(); ++i)
            if (names[i] == "logits") pick = i;
        if (pick >= outputs->size()) return error_object("the model gave no output");
        const ursa::Tensor& out = (*outputs)[pick];
        val result = val::object();
        result.set("logits", to_float32_array(out.data));
        val out_dims = val::array();
        for (size_t i = 0; i < out.shape.size(); ++i) out_dims.set(i, static_cast<double>(out.shape[i]));
        result.set("dims", out_dims);
        return result;
    }

  private:
    std::shared_ptr<ursa::Engine> engine_;
};

// loadEngine(Uint8Array onnxBytes) -> {engine, inputNames, inputShape, outputNames} | {error}.
// Parses and plans the graph once; unsupported operators are named here. inputShape
// has -1 for symbolic dimensions (the batch). The caller owns `engine` (.delete()).
val load_engine(val onnx_bytes) {
    std::shared_ptr<ursa::Engine> engine;
    {
        const std::vector<uint8_t> bytes = copy_from_js<uint8_t>(onnx_bytes);  // freed after the load
        if (bytes.empty()) return error_object("empty model file");
        auto loaded = ursa::Engine::load(bytes.data(), bytes.size());
        if (!loaded.ok()) return error_object(loaded.error().message);
        engine = std::move(loaded.value());
    }
    val out = val::object();
    out.set("inputNames", string_array(engine->input_names()));
    out.set("outputNames", string_array(engine->output_names()));
    val shape = val::array();
    const std::vector<int64_t>& dims = engine->input_shape();
    for (size_t i = 0; i < dims.size(); ++i) shape.set(i, static_cast<double>(dims[i]));
    out.set("inputShape", shape);
    out.set("engine", val(EngineHandle(std::move(engine))));
    return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(ursa_core) {
    emscripten::function("modelInfo", &model_info);
    emscripten::function("preprocess", &preprocess);
    emscripten::function("preprocessRGBA", &preprocess_rgba);
    emscripten::function("topK", &top_k);
    emscripten::function("sniffFormat", &sniff_format);
    emscripten::function("version", &version);
    emscripten::function("simd", &simd);
    emscripten::function("loadEngine", &load_engine);
    // setEngineThreads(n) -> the count in use (1 in the build without threads; at most
    // the worker pool + 1 in ursa_core_mt); engineThreads() -> the count in use.
    emscripten::function("setEngineThreads", &ursa::set_engine_threads);
    emscripten::function("engineThreads", &ursa::engine_threads);
    emscripten::class_<EngineHandle>("Engine").function("run", &EngineHandle::run);
}
