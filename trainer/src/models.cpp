#include "ursa/models.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "ursa/collective.h"
#include "ursa/matmul_conv.h"
#include "ursa/safetensors.h"

namespace nn = torch::nn;

namespace ursa {

namespace {

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

nn::Sequential make_layer(int64_t& inplanes, int64_t planes, int blocks, int64_t stride) {
    nn::Sequential layer;
    layer->push_back(BasicBlock(inplanes, planes, stride));
    inplanes = planes;
    for (int i = 1; i < blocks; ++i) layer->push_back(BasicBlock(inplanes, planes, 1));
    return layer;
}

// ref: torchvision ResNet.__init__ — kaiming_normal_(fan_out, relu) for convs, BN 1/0.
void init_body(nn::Module& body) {
    for (auto& m : body.modules(/*include_self=*/false)) {
        if (auto* c = m->as<nn::Conv2d>()) {
            nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
        } else if (auto* b = m->as<nn::BatchNorm2d>()) {
            nn::init::ones_(b->weight);
            nn::init::zeros_(b->bias);
        }
    }
}

// ref: fastai layers.py BatchNorm (weight 1, bias 1e-3) and apply_init(kaiming_normal_).
void init_head(nn::Sequential& head) {
    for (auto& m : head->modules(false)) {
        if (auto* l = m->as<nn::Linear>()) {
            nn::init::kaiming_normal_(l->weight, 0.0, torch::kFanIn, torch::kLeakyReLU);
        } else if (auto* b = m->as<nn::BatchNorm1d>()) {
            nn::init::ones_(b->weight);
            nn::init::constant_(b->bias, 1e-3);
        }
    }
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride) {
    conv1 = register_module("conv1", conv(inplanes, planes, 3, stride, 1));
    bn1 = register_module("bn1", nn::BatchNorm2d(planes));
    conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
    bn2 = register_module("bn2", nn::BatchNorm2d(planes));
    if (stride != 1 || inplanes != planes) {
        downsample = register_module(
            "downsample", nn::Sequential(conv(inplanes, planes, 1, stride, 0), nn::BatchNorm2d(planes)));
    }
}

Bf16AutocastScope::Bf16AutocastScope(bool on, const torch::Device& device)
    : on_(on), cuda_(device.is_cuda()),
      was_(cuda_ ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled()) {
    if (cuda_) {
        at::autocast::set_enabled(on_);
        if (on_) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    } else {
        at::autocast::set_cpu_enabled(on_);
        if (on_) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
}

Bf16AutocastScope::~Bf16AutocastScope() {
    if (cuda_) at::autocast::set_enabled(was_);
    else at::autocast::set_cpu_enabled(was_);
    if (on_) at::autocast::clear_cache();
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
    if (!fp32_under_autocast || !at::autocast::is_cpu_enabled()) return residual(x);
    const Bf16AutocastScope off(false, torch::kCPU);  // back on when the block is done, even on a throw
    return residual(x.to(torch::kFloat32));
}

torch::Tensor BasicBlockImpl::residual(const torch::Tensor& x) {
    torch::Tensor identity = x;
    if (downsample)
        identity = batch_norm(*(*downsample)[1]->as<nn::BatchNorm2dImpl>(),
                              conv_forward(*(*downsample)[0]->as<nn::Conv2dImpl>(), x, matmul_convs));
    torch::Tensor out = torch::relu(batch_norm(*bn1, conv_forward(*conv1, x, matmul_convs)));
    out = batch_norm(*bn2, conv_forward(*conv2, out, matmul_convs));
    return torch::relu(out + identity);
}

BodySpec body_spec(const std::string& arch) {
    BodySpec spec;
    if (arch == "resnet34") spec.blocks = {3, 4, 6, 3};
    if (arch == "small") {
        // Measured on Fashion-MNIST at 28 px (BENCHMARKS.md): a 16-wide stem and a last
        // layer of 128 (not 32 and 256) train 1.45x as many images per second (the
        // full-resolution stem's activations and layer4's weights dominated more than
        // their multiply-adds) for the same accuracy per epoch.
        spec.stem_width = 16;
        spec.stem_kernel = 3;
        spec.stem_stride = 1;
        spec.maxpool = false;
        spec.widths = {32, 64, 128, 128};
        spec.blocks = {1, 1, 1, 1};
        spec.strides = {2, 2, 2, 2};
    }
    return spec;
}

ResNetBodyImpl::ResNetBodyImpl(const BodySpec& s) {
    conv1 = register_module("conv1", conv(3, s.stem_width, s.stem_kernel, s.stem_stride, s.stem_kernel / 2));
    bn1 = register_module("bn1", nn::BatchNorm2d(s.stem_width));
    if (s.maxpool) maxpool = register_module("maxpool", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
    int64_t inplanes = s.stem_width;
    nn::Sequential* layers[] = {&layer1, &layer2, &layer3, &layer4};
    for (size_t i = 0; i < 4; ++i)
        *layers[i] = register_module("layer" + std::to_string(i + 1),
                                     make_layer(inplanes, s.widths[i], s.blocks[i], s.strides[i]));
    features = s.widths[3];
    init_body(*this);
}

torch::Tensor ResNetBodyImpl::forward(torch::Tensor x) {
    x = torch::relu(batch_norm(*bn1, conv1(x)));
    if (maxpool) x = maxpool(x);
    x = layer1->forward(x);
    x = layer2->forward(x);
    x = layer3->forward(x);
    return layer4->forward(x);
}

torch::Tensor FastLinearImpl::forward(const torch::Tensor& x) {
    if (x.dim() != 2 || !x.device().is_cpu() || x.scalar_type() != torch::kFloat32 || x.size(0) < 2)
        return torch::nn::LinearImpl::forward(x);
    const torch::Tensor w = weight.view({weight.size(0), weight.size(1), 1, 1});
    return torch::conv2d(x.view({x.size(0), x.size(1), 1, 1}), w, bias.defined() ? bias : torch::Tensor())
        .view({x.size(0), weight.size(0)});
}

torch::Tensor ConcatPoolImpl::forward(torch::Tensor x) {
    return torch::cat({torch::amax(x, {2, 3}, /*keepdim=*/true), x.mean({2, 3}, /*keepdim=*/true)}, 1);
}

ClassifierImpl::ClassifierImpl(const std::string& arch_name, int64_t classes) : arch(arch_name) {
    body = register_module("body", ResNetBody(body_spec(arch)));
    const int64_t f = body->features;
    head = register_module(
        "head", nn::Sequential(ConcatPool(), nn::Flatten(), nn::BatchNorm1d(2 * f), nn::Dropout(0.25),
                               FastLinear(nn::LinearOptions(2 * f, 512).bias(false)), nn::Functional(torch::relu),
                               nn::BatchNorm1d(512), nn::Dropout(0.5),
                               FastLinear(nn::LinearOptions(512, classes).bias(false))));
    init_head(head);
}

torch::Tensor ClassifierImpl::forward(torch::Tensor x) { return run_sequential(*head, body->forward(x)); }

std::vector<std::pair<std::string, BasicBlock>> body_blocks(Classifier& model) {
    std::vector<std::pair<std::string, BasicBlock>> blocks;
    auto& body = *model->body;
    const nn::Sequential* layers[] = {&body.layer1, &body.layer2, &body.layer3, &body.layer4};
    for (size_t l = 0; l < 4; ++l)
        for (size_t i = 0; i < (*layers[l])->size(); ++i)
            blocks.emplace_back("layer" + std::to_string(l + 1) + "." + std::to_string(i),
                                (*layers[l])->ptr<BasicBlockImpl>(i));
    return blocks;
}

Result<bool> set_fp32_blocks(Classifier& model, const std::vector<std::string>& names) {
    auto blocks = body_blocks(model);
    for (const auto& name : names)
        if (std::none_of(blocks.begin(), blocks.end(), [&](const auto& b) { return b.first == name; }))
            return make_error("--arch " + model->arch + " has no block '" + name + "'");
    for (auto& [name, block] : blocks)
        block->fp32_under_autocast = std::find(names.begin(), names.end(), name) != names.end();
    return true;
}

void set_matmul_convs(Classifier& model, bool on) {
    for (auto& [name, block] : body_blocks(model)) block->matmul_convs = on;
}

const std::vector<std::string>& known_archs() {
    static const std::vector<std::string> archs = {"resnet18", "resnet34", "small"};
    return archs;
}

std::vector<std::vector<torch::Tensor>> param_groups(Classifier& model) {
    std::vector<std::vector<torch::Tensor>> groups(3);
    auto& body = *model->body;
    for (nn::Module* m : {static_cast<nn::Module*>(body.conv1.get()), static_cast<nn::Module*>(body.bn1.get()),
                          static_cast<nn::Module*>(body.layer1.get()), static_cast<nn::Module*>(body.layer2.get())})
        for (auto& p : m->parameters()) groups[0].push_back(p);
    for (nn::Module* m : {static_cast<nn::Module*>(body.layer3.get()), static_cast<nn::Module*>(body.layer4.get())})
        for (auto& p : m->parameters()) groups[1].push_back(p);
    groups[2] = model->head->parameters();
    return groups;
}

void freeze_to(Classifier& model, int n) {
    auto groups = param_groups(model);
    const int count = static_cast<int>(groups.size());
    const int first_trained = n < 0 ? count + n : n;
    for (int g = 0; g < count; ++g)
        for (auto& p : groups[static_cast<size_t>(g)]) p.set_requires_grad(g >= first_trained);
    // train_bn: every BatchNorm keeps learning.
    for (auto& m : model->modules(/*include_self=*/false))
        if (m->as<nn::BatchNorm2d>() || m->as<nn::BatchNorm1d>())
            for (auto& p : m->parameters(/*recurse=*/false)) p.set_requires_grad(true);
}

Result<bool> load_pretrained(Classifier& model, const std::string& path) {
    auto tensors = read_safetensors(path);
    if (!tensors) return tensors.error();
    bool ursa_run = false;
    for (const auto& [name, t] : *tensors) ursa_run |= name.rfind("body.", 0) == 0;
    std::map<std::string, torch::Tensor> body;
    for (const auto& [name, t] : *tensors) {
        if (ursa_run) {
            if (name.rfind("body.", 0) == 0) body[name.substr(5)] = t;
        } else if (name.rfind("fc.", 0) != 0) {
            body[name] = t;
        }
    }
    // BatchNorm's step counter is not a weight; files made without it still load.
    for (const auto& b : model->body->named_buffers())
        if (b.key().size() >= 19 && b.key().compare(b.key().size() - 19, 19, "num_batches_tracked") == 0 &&
            !body.count(b.key()))
            body[b.key()] = b.value().clone();
    auto loaded = load_into(*model->body, body, path);
    if (!loaded) {
        std::string hint;
        if (model->arch == "small") hint = " (--arch small is a narrower ResNet with a 3x3 stride-1 stem; ImageNet weights are for resnet18/34)";
        return make_error(loaded.error().message + hint);
    }
    return true;
}

Result<Classifier> load_run_model(const std::string& run_dir, const RunConfig& config) {
    auto made = make_classifier(config.arch, static_cast<int64_t>(config.labels.size()));
    if (!made) return made.error();
    Classifier model = *made;
    const std::string weights = (std::filesystem::path(run_dir) / kRunWeights).string();
    auto tensors = read_safetensors(weights);
    if (!tensors) return tensors.error();
    if (auto ok = load_into(*model, *tensors, weights); !ok) return ok.error();
    return model;
}

Result<Classifier> make_classifier(const std::string& arch, int64_t classes) {
    bool known = false;
    for (const auto& a : known_archs()) known |= a == arch;
    if (!known) return make_error("unknown architecture '" + arch + "' (expected resnet18, resnet34 or small)");
    if (classes < 2) return make_error("a classifier needs at least 2 classes");
    return Classifier(arch, classes);
}

}  // namespace ursa
