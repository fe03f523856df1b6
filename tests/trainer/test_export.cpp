#include "torch_doctest.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

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

namespace {

// Bound on max |fp16 export - libtorch| as a fraction of the largest |logit|. Measured
// on random-init resnet18 and small at 32 px, seeds 1-6 and 11: 7e-4 to 3.2e-3 (weights
// rounded to half, relative error <= 2^-11 each), so 1e-2 leaves a 3x margin.
constexpr float kFp16Tolerance = 1e-2f;

// ONNX Runtime Web (wasm backend, one thread) under Node via ort_node_parity.mjs, one
// Node start for all `models`: each one's first output on `x`. Empty (and a failed
// check with Node's stderr) if Node or web/'s onnxruntime-web are missing or fail.
std::vector<std::vector<float>> run_ort_web(const std::vector<std::string>& models, const torch::Tensor& x,
                                            int64_t out_numel) {
    namespace fs = std::filesystem;
    const std::string node = URSA_NODE, script = URSA_ORT_PARITY_SCRIPT;
    const fs::path dir = fs::path(URSA_TEST_TMP) / "ort-parity";
    fs::create_directories(dir);
    const std::string in = (dir / "input.f32").string(), err = (dir / "node.err").string();
    {
        std::ofstream f(in, std::ios::binary);
        f.write(static_cast<const char*>(x.data_ptr()), std::streamsize(x.numel() * sizeof(float)));
    }
    std::string shape;
    for (int64_t d : x.sizes()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    std::string cmd = "'" + node + "' '" + script + "' '" + in + "' " + shape;
    std::vector<std::string> outs;
    for (size_t k = 0; k < models.size(); ++k) {
        outs.push_back((dir / ("out" + std::to_string(k) + ".f32")).string());
        fs::remove(outs.back());
        cmd += " '" + models[k] + "' '" + outs.back() + "'";
    }
    cmd += " >/dev/null 2>'" + err + "'";
    if (node.empty()) {
        FAIL_CHECK("node was not found when CMake configured the tests: the export parity test needs it");
        return {};
    }
    if (std::system(cmd.c_str()) != 0) {
        std::ifstream e(err);
        FAIL_CHECK("ONNX Runtime Web under Node failed (web/'s npm packages installed?): "
                   << std::string((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>()));
        return {};
    }
    std::vector<std::vector<float>> values;
    for (size_t k = 0; k < models.size(); ++k) {
        std::ifstream f(outs[k], std::ios::binary);
        std::vector<float> v(size_t(out_numel) + 1);
        f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
        v.resize(size_t(f.gcount()) / sizeof(float));
        if (v.size() != size_t(out_numel)) {
            FAIL_CHECK(models[k] << ": ONNX Runtime Web wrote " << v.size() << " values, expected " << out_numel);
            return {};
        }
        values.push_back(std::move(v));
    }
    return values;
}

float max_abs_diff(const std::vector<float>& a, const float* b) {
    float worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    return worst;
}

}  // namespace

// Also run by CTest "export-parity" (tests/cli/export_parity.sh); CTest "trainer" leaves
// it out, so that the trainer tests need no Node.
TEST_CASE("export parity: fp32 and fp16 ONNX on libtorch, core's engine and ONNX Runtime Web") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(URSA_TEST_TMP) / "ort-parity";
    fs::create_directories(dir);
    const int size = 32, classes = 5;
    torch::manual_seed(11);
    const torch::Tensor x = torch::randn({2, 3, size, size});
    const Tensor input{{2, 3, size, size}, std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel())};

    struct Case {
        std::string arch;
        torch::Tensor expected;                  // libtorch's logits
        std::vector<std::vector<float>> engine;  // core's engine on the fp32 and fp16 files
    };
    std::vector<Case> cases;
    std::vector<std::string> paths;  // per arch: fp32, fp16
    for (const std::string arch : {"resnet18", "small"}) {
        CAPTURE(arch);
        torch::manual_seed(11);
        Classifier model = make_classifier(arch, classes).value();
        randomize_batchnorm(*model, size);
        model->eval();
        Case c{arch, model->forward(x).detach().contiguous(), {}};
        for (OnnxWeights w : {OnnxWeights::Fp32, OnnxWeights::Fp16}) {
            auto bytes = export_onnx(model, config_for(arch, size, classes), w);
            REQUIRE_MESSAGE(bytes.ok(), (bytes.ok() ? "" : bytes.error().message));
            paths.push_back((dir / (arch + (w == OnnxWeights::Fp16 ? "-fp16.onnx" : "-fp32.onnx"))).string());
            std::ofstream(paths.back(), std::ios::binary).write(bytes->data(), std::streamsize(bytes->size()));
            auto info = read_model_info(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
            CHECK(info.ok());  // the metadata contract holds for both
            auto engine = Engine::load(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
            REQUIRE_MESSAGE(engine.ok(), (engine.ok() ? "" : engine.error().message));
            auto out = (*engine)->run(input);
            REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.error().message));
            REQUIRE(out->shape == (std::vector<int64_t>{2, classes}));
            c.engine.push_back(out->data);
        }
        const auto size32 = fs::file_size(paths[paths.size() - 2]), size16 = fs::file_size(paths.back());
        MESSAGE(arch << ": fp32 " << size32 << " bytes, fp16 " << size16 << " bytes (" << double(size16) / double(size32)
                     << "x)");
        CHECK(double(size16) < 0.55 * double(size32));
        cases.push_back(std::move(c));
    }

    auto ort = run_ort_web(paths, x, 2 * classes);
    REQUIRE(ort.size() == paths.size());
    int argmax_rows = 0;
    for (size_t k = 0; k < cases.size(); ++k) {
        const Case& c = cases[k];
        CAPTURE(c.arch);
        const float* expected = c.expected.data_ptr<float>();
        const float scale = c.expected.abs().max().item<float>();
        const auto &engine32 = c.engine[0], &engine16 = c.engine[1], &ort32 = ort[2 * k], &ort16 = ort[2 * k + 1];
        const float d_engine32 = max_abs_diff(engine32, expected), d_ort32 = max_abs_diff(ort32, expected);
        const float d_engine16 = max_abs_diff(engine16, expected), d_ort16 = max_abs_diff(ort16, expected);
        const float d_ort_engine16 = max_abs_diff(ort16, engine16.data());
        MESSAGE(c.arch << ": max |logit| " << scale << "; max |x - libtorch|: fp32 engine " << d_engine32
                       << ", fp32 ONNX Runtime Web " << d_ort32 << ", fp16 engine " << d_engine16 << " ("
                       << d_engine16 / scale << " of max |logit|), fp16 ONNX Runtime Web " << d_ort16
                       << "; fp16 engine vs ONNX Runtime Web " << d_ort_engine16);
        CHECK(d_engine32 <= 1e-4f);
        CHECK(d_ort32 <= 1e-4f);
        // fp16 stores the weights rounded to half (relative error <= 2^-11); the
        // arithmetic stays float32, so both runtimes compute with the same weights.
        CHECK(d_engine16 <= kFp16Tolerance * scale);
        CHECK(d_ort16 <= kFp16Tolerance * scale);
        CHECK(d_ort_engine16 <= 1e-4f);
        CHECK(d_engine16 > 0.f);  // the weights really were rounded
        // Same top class as libtorch wherever libtorch's top-2 gap is wider than twice
        // the bound (else a flip is a near tie, not an error); with this seed, all rows.
        for (int64_t n = 0; n < 2; ++n) {
            CAPTURE(n);
            auto [values, indices] = c.expected[n].topk(2);
            const float gap = (values[0] - values[1]).item<float>();
            const int64_t want = indices[0].item<int64_t>();
            auto top = [&](const std::vector<float>& v) {
                return std::max_element(v.begin() + n * classes, v.begin() + (n + 1) * classes) - v.begin() - n * classes;
            };
            if (gap > 2e-4f) {
                CHECK(top(engine32) == want);
                CHECK(top(ort32) == want);
            }
            if (gap > 2 * kFp16Tolerance * scale) {
                CHECK(top(engine16) == want);
                CHECK(top(ort16) == want);
                ++argmax_rows;
            }
        }
    }
    CHECK(argmax_rows == 4);  // every row was compared: no near ties with this seed
}

TEST_CASE("fp16 export refuses weights beyond float16's range") {
    torch::manual_seed(4);
    Classifier model = make_classifier("resnet18", 3).value();
    {
        torch::NoGradGuard g;
        model->named_parameters()["head.8.weight"][0][0] = 1e5f;  // BatchNorm at init folds with scale ~1
    }
    const auto cfg = config_for("resnet18", 32, 3);
    auto half = export_onnx(model, cfg, OnnxWeights::Fp16);
    REQUIRE_FALSE(half.ok());
    CHECK_MESSAGE(half.error().message.find("'head.8.weight'") != std::string::npos, half.error().message);
    CHECK(half.error().message.find("--weights fp32") != std::string::npos);
    CHECK(export_onnx(model, cfg, OnnxWeights::Fp32).ok());
    CHECK(parse_onnx_weights("fp16").ok());
    CHECK_FALSE(parse_onnx_weights("bf16").ok());
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

TEST_CASE("--arch small: a 16-wide full-resolution 3x3 stem, no max-pool, widths 32, 64, 128, 128 with one block each") {
    Classifier m = make_classifier("small", 10).value();
    auto params = m->named_parameters();
    CHECK(params["body.conv1.weight"].sizes() == torch::IntArrayRef({16, 3, 3, 3}));
    CHECK_FALSE(m->body->maxpool);
    for (const char* name : {"body.layer1.0.conv1.weight", "body.layer1.0.downsample.0.weight",
                             "body.layer4.0.conv2.weight", "head.4.weight", "head.8.weight"})
        CHECK_MESSAGE(params.contains(name), name);
    CHECK_FALSE(params.contains("body.layer1.1.conv1.weight"));  // one block per layer
    CHECK(params["body.layer1.0.conv1.weight"].sizes() == torch::IntArrayRef({32, 16, 3, 3}));
    CHECK(params["body.layer3.0.conv2.weight"].sizes() == torch::IntArrayRef({128, 128, 3, 3}));
    CHECK(params["body.layer4.0.conv2.weight"].sizes() == torch::IntArrayRef({128, 128, 3, 3}));
    CHECK(params["body.layer4.0.downsample.0.weight"].sizes() == torch::IntArrayRef({128, 128, 1, 1}));
    CHECK(params["head.4.weight"].sizes() == torch::IntArrayRef({512, 256}));
    int64_t count = 0;
    for (const auto& p : m->parameters()) count += p.numel();
    CHECK(count == 752656);  // counted by hand from the shapes above
    // 28 px: the stem keeps 28x28, layer1 makes 14, then 7, 4, 2.
    m->eval();
    torch::NoGradGuard g;
    torch::Tensor x = torch::randn({2, 3, 28, 28});
    torch::Tensor stem = torch::relu(m->body->bn1(m->body->conv1(x)));
    CHECK(stem.sizes() == torch::IntArrayRef({2, 16, 28, 28}));
    CHECK(m->body->forward(x).sizes() == torch::IntArrayRef({2, 128, 2, 2}));
    // resnet18 keeps torchvision's stem and max-pool.
    Classifier r = make_classifier("resnet18", 10).value();
    CHECK(r->body->maxpool);
    CHECK(r->named_parameters()["body.conv1.weight"].sizes() == torch::IntArrayRef({64, 3, 7, 7}));
}

TEST_CASE("FastLinear (the head's linears) gives nn::Linear's outputs and gradients") {
    torch::manual_seed(5);
    for (int64_t batch : {1, 2, 64}) {
        CAPTURE(batch);
        FastLinear fast(torch::nn::LinearOptions(96, 40).bias(false));
        torch::nn::Linear plain(torch::nn::LinearOptions(96, 40).bias(false));
        {
            torch::NoGradGuard g;
            plain->weight.copy_(fast->weight);
        }
        torch::Tensor x = torch::randn({batch, 96});
        torch::Tensor xf = x.clone().requires_grad_(), xp = x.clone().requires_grad_();
        torch::Tensor yf = fast(xf), yp = plain(xp);
        REQUIRE(yf.sizes() == yp.sizes());
        CHECK(torch::allclose(yf, yp, 1e-5, 1e-5));
        torch::Tensor up = torch::randn_like(yp);
        (yf * up).sum().backward();
        (yp * up).sum().backward();
        CHECK(torch::allclose(fast->weight.grad(), plain->weight.grad(), 1e-4, 1e-4));
        CHECK(torch::allclose(xf.grad(), xp.grad(), 1e-5, 1e-5));
    }
    // The head's linears are FastLinear, and still nn::Linear to the exporter.
    Classifier m = make_classifier("small", 3).value();
    CHECK(m->head->ptr(4)->as<FastLinearImpl>() != nullptr);
    CHECK(m->head->ptr(8)->as<torch::nn::LinearImpl>() != nullptr);
}
