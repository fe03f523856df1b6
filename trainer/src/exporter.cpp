#include "ursa/exporter.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <torch/torch.h>

#include <filesystem>

#include "ursa/io.h"
#include "ursa/model_info.h"
#include "ursa/json.h"
#include "ursa/safetensors.h"

namespace ursa {

namespace {

// Builds the graph node by node; tensor names are generated in order.
class GraphBuilder {
  public:
    GraphBuilder(::onnx::GraphProto* g, OnnxWeights weights) : g_(g), weights_(weights) {}

    // A float32 weight for the next node. Fp16 stores it as FLOAT16 `name + ".fp16"`
    // (rounded to nearest even) and adds a Cast to FLOAT whose output is `name`.
    std::string initializer(const std::string& name, const torch::Tensor& t) {
        const bool half = weights_ == OnnxWeights::Fp16;
        torch::Tensor c = t.detach().to(half ? torch::kFloat16 : torch::kFloat32).contiguous();
        if (half && error_.empty() && !(torch::isfinite(c) | ~torch::isfinite(t)).all().item<bool>())
            error_ = "weight '" + name + "' has values beyond float16's range (|w| > 65504); export with --weights fp32";
        auto* init = g_->add_initializer();
        init->set_name(half ? name + ".fp16" : name);
        init->set_data_type(half ? ::onnx::TensorProto::FLOAT16 : ::onnx::TensorProto::FLOAT);
        for (int64_t d : c.sizes()) init->add_dims(d);
        init->set_raw_data(std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size()));
        if (half) integer(node("Cast", {init->name()}, name), "to", ::onnx::TensorProto::FLOAT);
        return name;
    }
    // The first weight that did not fit the requested precision, or "".
    const std::string& error() const { return error_; }

    ::onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs, const std::string& out = "") {
        auto* n = g_->add_node();
        n->set_op_type(op);
        n->set_name(op + "_" + std::to_string(counter_));
        for (const auto& i : inputs) n->add_input(i);
        n->add_output(out.empty() ? "t" + std::to_string(counter_) : out);
        ++counter_;
        return n;
    }

    static void ints(::onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& values) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(::onnx::AttributeProto::INTS);
        for (int64_t v : values) a->add_ints(v);
    }
    static void integer(::onnx::NodeProto* n, const std::string& name, int64_t value) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(::onnx::AttributeProto::INT);
        a->set_i(value);
    }

  private:
    ::onnx::GraphProto* g_;
    OnnxWeights weights_;
    int counter_ = 0;
    std::string error_;
};

// Per-channel scale and shift of an inference-mode BatchNorm: y = x*scale + shift.
std::pair<torch::Tensor, torch::Tensor> bn_affine(const torch::Tensor& weight, const torch::Tensor& bias,
                                                 const torch::Tensor& mean, const torch::Tensor& var, double eps) {
    torch::Tensor scale = weight.to(torch::kFloat64) / (var.to(torch::kFloat64) + eps).sqrt();
    return {scale, bias.to(torch::kFloat64) - mean.to(torch::kFloat64) * scale};
}

// Conv (no bias) followed by BatchNorm2d → one Conv with bias.
std::string conv_bn(GraphBuilder& gb, const std::string& name, const std::string& x, torch::nn::Conv2d& conv,
                    torch::nn::BatchNorm2d& bn) {
    auto [scale, shift] = bn_affine(bn->weight, bn->bias, bn->running_mean, bn->running_var, bn->options.eps());
    torch::Tensor w = conv->weight.to(torch::kFloat64) * scale.view({-1, 1, 1, 1});
    auto* n = gb.node("Conv", {x, gb.initializer(name + ".weight", w), gb.initializer(name + ".bias", shift)});
    const auto& o = conv->options;
    const int64_t k = (*o.kernel_size())[0], s = (*o.stride())[0];
    const int64_t p = (*c10::get<torch::ExpandingArray<2>>(o.padding()))[0];
    GraphBuilder::ints(n, "kernel_shape", {k, k});
    GraphBuilder::ints(n, "strides", {s, s});
    GraphBuilder::ints(n, "pads", {p, p, p, p});
    return n->output(0);
}

std::string relu(GraphBuilder& gb, const std::string& x) { return gb.node("Relu", {x})->output(0); }

std::string block(GraphBuilder& gb, const std::string& name, const std::string& x, BasicBlockImpl& b) {
    std::string out = relu(gb, conv_bn(gb, name + ".conv1", x, b.conv1, b.bn1));
    out = conv_bn(gb, name + ".conv2", out, b.conv2, b.bn2);
    std::string identity = x;
    if (b.downsample) {
        torch::nn::Conv2d conv(std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(b.downsample->ptr(0)));
        torch::nn::BatchNorm2d bn(std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(b.downsample->ptr(1)));
        identity = conv_bn(gb, name + ".downsample", x, conv, bn);
    }
    return relu(gb, gb.node("Add", {out, identity})->output(0));
}

// BatchNorm1d → Linear(no bias) folded into one Gemm: W·(x*s + t) = (W*s)·x + W·t.
std::string bn_linear(GraphBuilder& gb, const std::string& name, const std::string& x, torch::nn::BatchNorm1dImpl& bn,
                      torch::nn::LinearImpl& lin, const std::string& out = "") {
    auto [scale, shift] = bn_affine(bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.options.eps());
    torch::Tensor w = lin.weight.to(torch::kFloat64);
    torch::Tensor folded = w * scale.view({1, -1});
    torch::Tensor bias = w.matmul(shift);
    auto* n = gb.node("Gemm", {x, gb.initializer(name + ".weight", folded), gb.initializer(name + ".bias", bias)}, out);
    GraphBuilder::integer(n, "transB", 1);
    return n->output(0);
}

void set_tensor_type(::onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(::onnx::TensorProto::FLOAT);
    auto* shape = t->mutable_shape();
    for (int64_t d : dims) {
        auto* dim = shape->add_dim();
        if (d < 0) dim->set_dim_param("batch");
        else dim->set_dim_value(d);
    }
}

void add_meta(::onnx::ModelProto& m, const std::string& key, const std::string& value) {
    auto* p = m.add_metadata_props();
    p->set_key(key);
    p->set_value(value);
}

}  // namespace

Result<OnnxWeights> parse_onnx_weights(const std::string& name) {
    if (name == "fp32") return OnnxWeights::Fp32;
    if (name == "fp16") return OnnxWeights::Fp16;
    return make_error("unknown weight precision '" + name + "' (fp32 or fp16)");
}

Result<std::string> export_onnx(Classifier& model, const RunConfig& config, OnnxWeights weights) {
    torch::NoGradGuard no_grad;
    model->eval();
    ::onnx::ModelProto m;
    m.set_ir_version(7);
    m.set_producer_name("ursa");
    m.set_producer_version(URSA_VERSION);
    auto* opset = m.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOnnxOpset);
    auto* g = m.mutable_graph();
    g->set_name("ursa_" + config.arch);
    GraphBuilder gb(g, weights);

    const int64_t classes = static_cast<int64_t>(config.labels.size());
    set_tensor_type(g->add_input(), kOnnxInputName, {-1, 3, config.input.height, config.input.width});
    set_tensor_type(g->add_output(), kOnnxOutputName, {-1, classes});

    auto& body = *model->body;
    std::string x = relu(gb, conv_bn(gb, "body.conv1", kOnnxInputName, body.conv1, body.bn1));
    if (body.maxpool) {
        auto* pool = gb.node("MaxPool", {x});
        GraphBuilder::ints(pool, "kernel_shape", {3, 3});
        GraphBuilder::ints(pool, "strides", {2, 2});
        GraphBuilder::ints(pool, "pads", {1, 1, 1, 1});
        x = pool->output(0);
    }
    const std::pair<const char*, torch::nn::Sequential*> layers[] = {
        {"layer1", &body.layer1}, {"layer2", &body.layer2}, {"layer3", &body.layer3}, {"layer4", &body.layer4}};
    for (const auto& [lname, layer] : layers)
        for (size_t i = 0; i < (*layer)->size(); ++i)
            x = block(gb, std::string("body.") + lname + "." + std::to_string(i), x, *(*layer)->ptr(i)->as<BasicBlockImpl>());

    // fastai head: cat([max, avg]) → flatten → (BN → Linear) → ReLU → (BN → Linear).
    std::string mx = gb.node("GlobalMaxPool", {x})->output(0);
    std::string avg = gb.node("GlobalAveragePool", {x})->output(0);
    auto* cat = gb.node("Concat", {mx, avg});
    GraphBuilder::integer(cat, "axis", 1);
    auto* flat = gb.node("Flatten", {cat->output(0)});
    GraphBuilder::integer(flat, "axis", 1);
    auto& head = *model->head;
    x = bn_linear(gb, "head.4", flat->output(0), *head.ptr(2)->as<torch::nn::BatchNorm1dImpl>(),
                  *head.ptr(4)->as<torch::nn::LinearImpl>());
    x = relu(gb, x);
    bn_linear(gb, "head.8", x, *head.ptr(6)->as<torch::nn::BatchNorm1dImpl>(), *head.ptr(8)->as<torch::nn::LinearImpl>(),
              kOnnxOutputName);

    if (!gb.error().empty()) return make_error(gb.error());

    add_meta(m, kMetaLabels, labels_json(config.labels));
    add_meta(m, kMetaInput, input_json(config.input));
    add_meta(m, kMetaArch, json::quote(config.arch));
    add_meta(m, kMetaValidError, config.valid_error < 0 ? "null" : json::number(config.valid_error));
    add_meta(m, kMetaVersion, json::quote(URSA_VERSION));

    try {
        ::onnx::checker::check_model(m);
        ::onnx::ModelProto inferred = m;
        ::onnx::shape_inference::InferShapes(inferred, ::onnx::OpSchemaRegistry::Instance(),
                                           ::onnx::ShapeInferenceOptions(/*check_type=*/true, /*error_mode=*/1));
    } catch (const std::exception& e) {
        return make_error(std::string("exported model failed the ONNX checker: ") + e.what());
    }
    std::string bytes;
    if (!m.SerializeToString(&bytes)) return make_error("cannot serialize the ONNX model");
    return bytes;
}

Result<bool> export_run(const std::string& run_dir, const std::string& out_path, OnnxWeights weights) {
    auto config = read_run_config(run_dir);
    if (!config) return config.error();
    auto model = load_run_model(run_dir, *config);
    if (!model) return model.error();
    auto bytes = export_onnx(*model, *config, weights);
    if (!bytes) return bytes.error();
    return write_file_atomic(out_path, *bytes);
}

}  // namespace ursa
