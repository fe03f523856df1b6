#include "torch_doctest.h"

#include <filesystem>

#include "ursa/engine.h"
#include "ursa/exporter.h"
#include "ursa/model_info.h"
#include "ursa/models.h"
#include "ursa/predictor.h"
#include "ursa/safetensors.h"

using namespace ursa;

namespace {

// BatchNorm as in a trained model: running statistics calibrated on data (so
// activations stay at a realistic scale) and affine parameters away from 1/0, so
// folding is really exercised.
void randomize_batchnorm(torch::nn::Module& m, int size) {
    torch::NoGradGuard g;
    for (auto& p : m.named_parameters())
        if (p.value().dim() == 1) p.value().uniform_(0.7, 1.3);
    auto* model = dynamic_cast<ClassifierImpl*>(&m);
    if (!model) return;
    model->train();
    for (auto& mod : model->modules(false))
        if (auto* bn = mod->as<torch::nn::BatchNorm2d>()) bn->options.momentum(0.5);
    for (int i = 0; i < 6; ++i) model->forward(torch::randn({8, 3, size, size}));
    model->eval();
}

RunConfig config_for(const std::string& arch, int size, int classes) {
    RunConfig c;
    c.arch = arch;
    c.input.height = c.input.width = size;
    c.input.resize = ResizeMethod::Squish;
    for (int i = 0; i < classes; ++i) c.labels.push_back("class" + std::to_string(i));
    c.valid_error = 0.125;
    return c;
}

}  // namespace

TEST_CASE("exported ONNX matches libtorch logits within 1e-4 on core's engine") {
    for (const std::string arch : {"resnet18", "small", "resnet34"}) {
        CAPTURE(arch);
        torch::manual_seed(3);
        const int size = arch == "small" ? 28 : 40;
        Classifier model = make_classifier(arch, 4).value();
        randomize_batchnorm(*model, size);
        model->eval();
        torch::Tensor x = torch::randn({3, 3, size, size});
        torch::Tensor expected = model->forward(x).detach();

        auto bytes = export_onnx(model, config_for(arch, size, 4));
        REQUIRE_MESSAGE(bytes.ok(), (bytes.ok() ? "" : bytes.error().message));
        auto engine = Engine::load(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
        REQUIRE_MESSAGE(engine.ok(), (engine.ok() ? "" : engine.error().message));
        CHECK((*engine)->input_name() == "image");
        CHECK((*engine)->output_name() == "logits");
        CHECK((*engine)->input_shape() == (std::vector<int64_t>{-1, 3, size, size}));

        Tensor input{{3, 3, size, size}, std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel())};
        auto out = (*engine)->run(input);
        REQUIRE(out.ok());
        REQUIRE(out->shape == (std::vector<int64_t>{3, 4}));
        float worst = 0;
        for (int64_t i = 0; i < expected.numel(); ++i)
            worst = std::max(worst, std::abs(out->data[i] - expected.data_ptr<float>()[i]));
        MESSAGE(arch << ": max |libtorch - engine| = " << worst << ", max |logit| = " << expected.abs().max().item<float>());
        CHECK(worst <= 1e-4f);
    }
}

TEST_CASE("exported ONNX carries the metadata contract") {
    torch::manual_seed(1);
    Classifier model = make_classifier("resnet18", 3).value();
    auto cfg = config_for("resnet18", 32, 3);
    cfg.labels = {"black", "grizzly", "teddy"};
    auto bytes = export_onnx(model, cfg);
    REQUIRE(bytes.ok());
    auto info = read_model_info(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    REQUIRE(info.ok());
    CHECK(info->labels == cfg.labels);
    CHECK(info->input.height == 32);
    CHECK(info->input.resize == ResizeMethod::Squish);
    CHECK(info->arch == "resnet18");
    CHECK(info->valid_error == doctest::Approx(0.125));
    CHECK(info->version == URSA_VERSION);
    auto predictor = Predictor::load(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    CHECK(predictor.ok());
}

TEST_CASE("safetensors round-trips every parameter and buffer") {
    torch::manual_seed(2);
    Classifier a = make_classifier("resnet18", 5).value();
    randomize_batchnorm(*a, 32);
    const std::string path = std::string(URSA_TEST_TMP) + "/roundtrip.safetensors";
    REQUIRE(save_safetensors(*a, path, {{"arch", "resnet18"}}).ok());
    torch::manual_seed(99);
    Classifier b = make_classifier("resnet18", 5).value();
    auto tensors = read_safetensors(path);
    REQUIRE(tensors.ok());
    REQUIRE(load_into(*b, *tensors, path).ok());
    auto pb = b->named_parameters();
    for (auto& p : a->named_parameters()) CHECK(torch::equal(p.value(), pb[p.key()]));
    auto bb = b->named_buffers();
    for (auto& buf : a->named_buffers()) CHECK(torch::equal(buf.value(), bb[buf.key()]));

    Classifier wrong = make_classifier("resnet18", 7).value();
    auto mismatch = load_into(*wrong, *tensors, path);
    REQUIRE_FALSE(mismatch.ok());
    CHECK(mismatch.error().message.find("head.8.weight") != std::string::npos);
}

TEST_CASE("parameter names follow torchvision") {
    Classifier m = make_classifier("resnet18", 3).value();
    auto params = m->named_parameters();
    for (const char* name : {"body.conv1.weight", "body.bn1.weight", "body.layer1.0.conv1.weight",
                             "body.layer2.0.downsample.0.weight", "body.layer2.0.downsample.1.bias",
                             "body.layer4.1.bn2.weight", "head.2.weight", "head.4.weight", "head.8.weight"})
        CHECK_MESSAGE(params.contains(name), name);
    CHECK_FALSE(params.contains("head.4.bias"));  // fastai's head linears have no bias
    CHECK(params["head.4.weight"].sizes() == torch::IntArrayRef({512, 1024}));
    CHECK_FALSE(make_classifier("vgg16", 3).ok());
}
