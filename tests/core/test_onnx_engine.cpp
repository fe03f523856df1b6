// ONNX reader and engine: the official ONNX backend test cases (libonnx-testdata),
// malformed input, hand-built models (metadata, shapes, FLOAT16) and a ResNet-18.
#include <doctest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ursa/engine.h"
#include "ursa/onnx.h"
#include "proto_writer.h"

#ifndef URSA_ONNX_TESTDATA
#define URSA_ONNX_TESTDATA ""
#endif

namespace {

using ursa::Engine;
using ursa::Tensor;
using Bytes = std::vector<uint8_t>;

bool read_file(const std::string& path, Bytes& out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    return true;
}

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t k = 0; k < s.size(); ++k) r += (k ? "," : "") + std::to_string(s[k]);
    return r + "]";
}

// "" if `got` matches `want` within |a-b| <= 1e-4 + 1e-4*|b|, else what differs.
std::string compare(const Tensor& got, const Tensor& want) {
    if (got.shape != want.shape) return "shape " + shape_str(got.shape) + " != " + shape_str(want.shape);
    if (got.data.size() != want.data.size()) return "size mismatch";
    for (size_t k = 0; k < want.data.size(); ++k) {
        float a = got.data[k], b = want.data[k];
        if (a == b || (std::isnan(a) && std::isnan(b))) continue;
        if (!(std::fabs(a - b) <= 1e-4f + 1e-4f * std::fabs(b)))
            return "element " + std::to_string(k) + ": " + std::to_string(a) + " != " + std::to_string(b);
    }
    return "";
}

// Runs one ONNX backend test folder (model.onnx + test_data_set_0); "" on success.
std::string run_onnx_case(const std::string& dir) {
    Bytes model;
    if (!read_file(dir + "/model.onnx", model)) return "cannot read model.onnx";
    auto engine = Engine::load(model.data(), model.size());
    if (!engine) return "load: " + engine.error().message;
    std::vector<Tensor> inputs, expected;
    for (auto* list : {&inputs, &expected}) {
        const char* prefix = list == &inputs ? "/test_data_set_0/input_" : "/test_data_set_0/output_";
        Bytes pb;
        for (int k = 0; read_file(dir + prefix + std::to_string(k) + ".pb", pb); ++k) {
            auto t = ursa::onnx::read_tensor(pb.data(), pb.size());
            if (!t) return "test data: " + t.error().message;
            list->push_back(*t);
        }
    }
    if (inputs.size() != (*engine)->input_names().size()) return "input count differs from the graph";
    auto outputs = (*engine)->run_all(inputs);
    if (!outputs) return "run: " + outputs.error().message;
    if (outputs->size() != expected.size()) return "output count differs";
    for (size_t k = 0; k < expected.size(); ++k) {
        std::string diff = compare((*outputs)[k], expected[k]);
        if (!diff.empty()) return "output " + std::to_string(k) + ": " + diff;
    }
    return "";
}


using namespace ursa_test;

Bytes model(const Proto& graph, const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
    return model_proto(graph, metadata).data();
}


// Backend test folders under URSA_ONNX_TESTDATA whose operators the engine supports.
// In data/node the weights are graph inputs, so these also exercise run_all.
const std::vector<std::string> kOnnxCases = {
    // Conv
    "node/test_basic_conv_with_padding",
    "node/test_basic_conv_without_padding",
    "node/test_conv_with_autopad_same",
    "node/test_conv_with_strides_and_asymmetric_padding",
    "node/test_conv_with_strides_no_padding",
    "node/test_conv_with_strides_padding",
    // Pools
    "node/test_maxpool_1d_default",
    "node/test_maxpool_2d_ceil",
    "node/test_maxpool_2d_default",
    "node/test_maxpool_2d_dilations",
    "node/test_maxpool_2d_pads",
    "node/test_maxpool_2d_precomputed_pads",
    "node/test_maxpool_2d_precomputed_same_upper",
    "node/test_maxpool_2d_precomputed_strides",
    "node/test_maxpool_2d_same_lower",
    "node/test_maxpool_2d_same_upper",
    "node/test_maxpool_2d_strides",
    "node/test_averagepool_1d_default",
    "node/test_averagepool_2d_ceil",
    "node/test_averagepool_2d_default",
    "node/test_averagepool_2d_pads",
    "node/test_averagepool_2d_pads_count_include_pad",
    "node/test_averagepool_2d_precomputed_pads",
    "node/test_averagepool_2d_precomputed_pads_count_include_pad",
    "node/test_averagepool_2d_precomputed_same_upper",
    "node/test_averagepool_2d_precomputed_strides",
    "node/test_averagepool_2d_same_lower",
    "node/test_averagepool_2d_same_upper",
    "node/test_averagepool_2d_strides",
    "node/test_globalaveragepool",
    "node/test_globalaveragepool_precomputed",
    "node/test_globalmaxpool",
    "node/test_globalmaxpool_precomputed",
    // Element-wise and broadcasting
    "node/test_relu",
    "node/test_sigmoid",
    "node/test_sigmoid_example",
    "node/test_identity",
    "node/test_add",
    "node/test_add_bcast",
    "node/test_sub",
    "node/test_sub_bcast",
    "node/test_sub_example",
    "node/test_mul",
    "node/test_mul_bcast",
    "node/test_mul_example",
    "node/test_div",
    "node/test_div_bcast",
    "node/test_div_example",
    "node/test_clip",
    "node/test_clip_default_inbounds",
    "node/test_clip_default_max",
    "node/test_clip_default_min",
    "node/test_clip_example",
    "node/test_clip_inbounds",
    "node/test_clip_outbounds",
    "node/test_clip_splitbounds",
    "node/test_dropout_default",
    "node/test_dropout_default_mask",
    "node/test_dropout_default_mask_ratio",
    "node/test_dropout_default_old",
    "node/test_dropout_default_ratio",
    "node/test_dropout_random_old",
    "node/test_batchnorm_epsilon",
    "node/test_batchnorm_example",
    // Softmax (opset 13 semantics)
    "node/test_softmax_axis_0",
    "node/test_softmax_axis_1",
    "node/test_softmax_axis_2",
    "node/test_softmax_default_axis",
    "node/test_softmax_example",
    "node/test_softmax_large_number",
    "node/test_softmax_negative_axis",
    // Gemm, MatMul
    "node/test_gemm_all_attributes",
    "node/test_gemm_alpha",
    "node/test_gemm_beta",
    "node/test_gemm_default_matrix_bias",
    "node/test_gemm_default_no_bias",
    "node/test_gemm_default_scalar_bias",
    "node/test_gemm_default_single_elem_vector_bias",
    "node/test_gemm_default_vector_bias",
    "node/test_gemm_default_zero_bias",
    "node/test_gemm_transposeA",
    "node/test_gemm_transposeB",
    "node/test_matmul_2d",
    "node/test_matmul_3d",
    "node/test_matmul_4d",
    // Shapes and data movement (Reshape's int64 shape input is passed as float values)
    "node/test_concat_1d_axis_0",
    "node/test_concat_1d_axis_negative_1",
    "node/test_concat_2d_axis_0",
    "node/test_concat_2d_axis_1",
    "node/test_concat_2d_axis_negative_1",
    "node/test_concat_2d_axis_negative_2",
    "node/test_concat_3d_axis_0",
    "node/test_concat_3d_axis_1",
    "node/test_concat_3d_axis_2",
    "node/test_concat_3d_axis_negative_1",
    "node/test_concat_3d_axis_negative_2",
    "node/test_concat_3d_axis_negative_3",
    "node/test_flatten_axis0",
    "node/test_flatten_axis1",
    "node/test_flatten_axis2",
    "node/test_flatten_axis3",
    "node/test_flatten_default_axis",
    "node/test_flatten_negative_axis1",
    "node/test_flatten_negative_axis2",
    "node/test_flatten_negative_axis3",
    "node/test_flatten_negative_axis4",
    "node/test_reshape_allowzero_reordered",
    "node/test_reshape_extended_dims",
    "node/test_reshape_negative_dim",
    "node/test_reshape_negative_extended_dims",
    "node/test_reshape_one_dim",
    "node/test_reshape_reduced_dims",
    "node/test_reshape_reordered_all_dims",
    "node/test_reshape_reordered_last_dims",
    "node/test_reshape_zero_and_negative_dim",
    "node/test_reshape_zero_dim",
    "node/test_transpose_default",
    "node/test_transpose_all_permutations_0",
    "node/test_transpose_all_permutations_1",
    "node/test_transpose_all_permutations_2",
    "node/test_transpose_all_permutations_3",
    "node/test_transpose_all_permutations_4",
    "node/test_transpose_all_permutations_5",
    "node/test_constant",
    // Cast between floating types (values are held as float: DOUBLE is float precision).
    // The BFLOAT16 cases are left out: their data files hold bfloat16 bits as UINT16.
    "node/test_cast_FLOAT16_to_FLOAT",
    "node/test_cast_FLOAT_to_FLOAT16",
    "node/test_cast_FLOAT16_to_DOUBLE",
    "node/test_cast_DOUBLE_to_FLOAT16",
    "node/test_cast_FLOAT_to_DOUBLE",
    "node/test_cast_DOUBLE_to_FLOAT",
    // PyTorch exports (weights as initializers, older opsets)
    "pytorch-converted/test_AvgPool2d",
    "pytorch-converted/test_AvgPool2d_stride",
    "pytorch-converted/test_BatchNorm1d_3d_input_eval",
    "pytorch-converted/test_BatchNorm2d_eval",
    "pytorch-converted/test_BatchNorm2d_momentum_eval",
    "pytorch-converted/test_Conv1d",
    "pytorch-converted/test_Conv1d_dilated",
    "pytorch-converted/test_Conv1d_groups",
    "pytorch-converted/test_Conv1d_pad1",
    "pytorch-converted/test_Conv1d_pad1size1",
    "pytorch-converted/test_Conv1d_pad2",
    "pytorch-converted/test_Conv1d_pad2size1",
    "pytorch-converted/test_Conv1d_stride",
    "pytorch-converted/test_Conv2d",
    "pytorch-converted/test_Conv2d_depthwise",
    "pytorch-converted/test_Conv2d_depthwise_padded",
    "pytorch-converted/test_Conv2d_depthwise_strided",
    "pytorch-converted/test_Conv2d_depthwise_with_multiplier",
    "pytorch-converted/test_Conv2d_dilated",
    "pytorch-converted/test_Conv2d_groups",
    "pytorch-converted/test_Conv2d_groups_thnn",
    "pytorch-converted/test_Conv2d_no_bias",
    "pytorch-converted/test_Conv2d_padding",
    "pytorch-converted/test_Conv2d_strided",
    "pytorch-converted/test_Linear",
    "pytorch-converted/test_Linear_no_bias",
    "pytorch-converted/test_MaxPool1d",
    "pytorch-converted/test_MaxPool1d_stride",
    "pytorch-converted/test_MaxPool1d_stride_padding_dilation",
    "pytorch-converted/test_MaxPool2d",
    "pytorch-converted/test_MaxPool2d_stride_padding_dilation",
    "pytorch-converted/test_PixelShuffle",
    "pytorch-converted/test_ReLU",
    "pytorch-converted/test_Sigmoid",
    "pytorch-converted/test_Softmax",
    "pytorch-converted/test_softmax_functional_dim3",
    "pytorch-converted/test_softmax_lastdim",
    "pytorch-operator/test_operator_add_broadcast",
    "pytorch-operator/test_operator_add_size1_broadcast",
    "pytorch-operator/test_operator_add_size1_right_broadcast",
    "pytorch-operator/test_operator_add_size1_singleton_broadcast",
    "pytorch-operator/test_operator_addconstant",
    "pytorch-operator/test_operator_addmm",
    "pytorch-operator/test_operator_clip",
    "pytorch-operator/test_operator_concat2",
    "pytorch-operator/test_operator_conv",
    "pytorch-operator/test_operator_flatten",
    "pytorch-operator/test_operator_maxpool",
    "pytorch-operator/test_operator_mm",
    "pytorch-operator/test_operator_permute2",
    "pytorch-operator/test_operator_view",
    "simple/test_single_relu_model",
};

std::string testdata() {
    std::string dir = URSA_ONNX_TESTDATA;
    if (dir.empty())
        FAIL("URSA_ONNX_TESTDATA is empty: install libonnx-testdata (tools/setup.sh) and reconfigure");
    return dir;
}

}  // namespace

TEST_CASE("engine reproduces the ONNX backend test cases") {
    const std::string root = testdata();
    size_t passed = 0;
    for (const auto& name : kOnnxCases) {
        std::string err = run_onnx_case(root + "/" + name);
        CHECK_MESSAGE(err.empty(), name << ": " << err);
        passed += err.empty();
    }
    MESSAGE("ONNX backend test cases passed: " << passed << " of " << kOnnxCases.size());
    CHECK(passed == kOnnxCases.size());
    CHECK(kOnnxCases.size() == 182);  // guards against the list shrinking by accident
}

// ---- Malformed input

TEST_CASE("malformed model bytes give an Error, never a crash") {
    const std::string root = testdata();
    SUBCASE("empty buffer") {
        auto e = Engine::load(nullptr, 0);
        REQUIRE_FALSE(e.ok());
        CHECK(e.error().message.find("empty") != std::string::npos);
        uint8_t none = 0;
        CHECK_FALSE(Engine::load(&none, 0).ok());
        CHECK_FALSE(ursa::onnx::read_metadata_props(nullptr, 0).ok());
    }
    SUBCASE("truncated at every length") {
        for (const char* name : {"pytorch-converted/test_Conv2d", "node/test_conv_with_strides_padding",
                                 "pytorch-converted/test_BatchNorm2d_eval"}) {
            Bytes bytes;
            REQUIRE(read_file(root + "/" + name + "/model.onnx", bytes));
            size_t errors = 0;
            for (size_t cut = 0; cut < bytes.size(); ++cut) {
                Bytes part(bytes.begin(), bytes.begin() + long(cut));
                auto e = Engine::load(part.data(), part.size());
                if (!e.ok()) {
                    ++errors;
                    CHECK_FALSE(e.error().message.empty());
                }
                (void)ursa::onnx::read_metadata_props(part.data(), part.size());
            }
            // A cut can land between top-level fields and leave a valid (smaller) model,
            // but most cuts fall inside the graph.
            CHECK_MESSAGE(errors * 10 >= bytes.size() * 9,
                          name << ": " << errors << " errors of " << bytes.size());
            for (size_t cut : {size_t(1), size_t(5), bytes.size() / 3, bytes.size() / 2}) {
                auto e = Engine::load(bytes.data(), cut);
                REQUIRE_FALSE(e.ok());
                CHECK_MESSAGE(e.error().message.find("malformed ONNX") != std::string::npos,
                              e.error().message);
            }
        }
    }
    SUBCASE("random bytes") {
        std::mt19937 rng(1234);
        for (int k = 0; k < 300; ++k) {
            Bytes junk(size_t(rng() % 2000));
            for (auto& b : junk) b = uint8_t(rng());
            CHECK_FALSE(Engine::load(junk.data(), junk.size()).ok());
            (void)ursa::onnx::read_metadata_props(junk.data(), junk.size());
            (void)ursa::onnx::read_tensor(junk.data(), junk.size());
        }
    }
    SUBCASE("mutated real models load or fail cleanly") {
        Bytes bytes;
        REQUIRE(read_file(root + "/pytorch-converted/test_Conv2d_groups/model.onnx", bytes));
        std::mt19937 rng(99);
        int loaded = 0;
        for (int k = 0; k < 2000; ++k) {
            Bytes m = bytes;
            for (uint32_t flips = 1 + rng() % 3; flips-- > 0;) m[rng() % m.size()] = uint8_t(rng());
            auto e = Engine::load(m.data(), m.size());
            loaded += e.ok();
            (void)ursa::onnx::read_metadata_props(m.data(), m.size());
        }
        MESSAGE("mutated models that still loaded: " << loaded << " of 2000");
    }
    SUBCASE("a tensor file with inconsistent data") {
        Proto t;  // dims [4] but only two floats of raw data
        t.packed(1, {4}).varint(2, 1).bytes(9, float_bytes({1.f, 2.f}));
        auto r = ursa::onnx::read_tensor(t.data().data(), t.b.size());
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("raw_data") != std::string::npos);
    }
}

TEST_CASE("unsupported operators and attributes are named at load") {
    const std::string root = testdata();
    Bytes bytes;
    REQUIRE(read_file(root + "/node/test_lrn/model.onnx", bytes));
    auto lrn = Engine::load(bytes.data(), bytes.size());
    REQUIRE_FALSE(lrn.ok());
    CHECK_MESSAGE(lrn.error().message.find("LRN") != std::string::npos, lrn.error().message);

    REQUIRE(read_file(root + "/node/test_maxpool_3d_default/model.onnx", bytes));
    auto pool3d = Engine::load(bytes.data(), bytes.size());
    REQUIRE_FALSE(pool3d.ok());
    CHECK(pool3d.error().message.find("3-D") != std::string::npos);

    auto graph_with = [](const Proto& n) {
        Proto g;
        g.msg(1, n).msg(11, value_info("x", {1, 2, 4, 4})).msg(12, value_info("y", {}));
        return model(g);
    };
    auto fancy = graph_with(node("FancyOp", {"x"}, {"y"}));
    auto r = Engine::load(fancy.data(), fancy.size());
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.error().message.find("FancyOp") != std::string::npos, r.error().message);
    CHECK(r.error().message.find("y_node") != std::string::npos);  // the node's name

    auto bad_pad = graph_with(
        node("MaxPool", {"x"}, {"y"}, {attr_ints("kernel_shape", {2, 2}), attr_str("auto_pad", "BOGUS")}));
    r = Engine::load(bad_pad.data(), bad_pad.size());
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.error().message.find("auto_pad") != std::string::npos, r.error().message);

    auto unknown_attr = graph_with(node("Relu", {"x"}, {"y"}, {attr_int("frobnicate", 1)}));
    r = Engine::load(unknown_attr.data(), unknown_attr.size());
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.error().message.find("frobnicate") != std::string::npos, r.error().message);

    auto dangling = graph_with(node("Add", {"x", "nowhere"}, {"y"}));
    r = Engine::load(dangling.data(), dangling.size());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("nowhere") != std::string::npos);

    auto other_domain = graph_with(node("Relu", {"x"}, {"y"}).bytes(7, "com.example"));
    r = Engine::load(other_domain.data(), other_domain.size());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("com.example") != std::string::npos);
}

// ---- metadata_props

TEST_CASE("read_metadata_props returns the pairs in file order") {
    Bytes m = model(Proto(), {{"ursa.labels", "[\"cat\",\"dog\"]"}, {"ursa.arch", "resnet18"}});
    auto props = ursa::onnx::read_metadata_props(m.data(), m.size());
    REQUIRE(props.ok());
    REQUIRE(props->size() == 2);
    CHECK((*props)[0].first == "ursa.labels");
    CHECK((*props)[0].second == "[\"cat\",\"dog\"]");
    CHECK((*props)[1].first == "ursa.arch");
    CHECK((*props)[1].second == "resnet18");

    Bytes plain = model(Proto());
    auto none = ursa::onnx::read_metadata_props(plain.data(), plain.size());
    REQUIRE(none.ok());
    CHECK(none->empty());

    // An entry whose value is cut short is an Error, not a partial list.
    Bytes cut(m.begin(), m.end() - 3);
    CHECK_FALSE(ursa::onnx::read_metadata_props(cut.data(), cut.size()).ok());
    // Bytes that are protobuf but not a ModelProto (no ir_version, no graph).
    Bytes other = Proto().bytes(3, "hello").data();
    CHECK_FALSE(ursa::onnx::read_metadata_props(other.data(), other.size()).ok());
}

// ---- Hand-built graphs

TEST_CASE("input shape, input checks and initializers listed as inputs") {
    // image [N,3,2,2] -> 1x1 Conv (weights also listed in graph.input, as older exporters
    // do) -> Relu -> GlobalAveragePool -> Flatten -> logits [N,2]
    const std::vector<float> w = {1.f, -1.f, 0.5f, -2.f, 0.f, 1.f}, b = {0.25f, -0.5f};
    Proto g;
    g.msg(1, node("Conv", {"image", "w", "b"}, {"c"}, {attr_ints("kernel_shape", {1, 1})}))
        .msg(1, node("Relu", {"c"}, {"r"}))
        .msg(1, node("GlobalAveragePool", {"r"}, {"p"}))
        .msg(1, node("Flatten", {"p"}, {"logits"}))
        .msg(5, tensor("w", {2, 3, 1, 1}, w))
        .msg(5, tensor("b", {2}, b))
        .msg(11, value_info("image", {-1, 3, 2, 2}))
        .msg(11, value_info("w", {2, 3, 1, 1}))
        .msg(11, value_info("b", {2}))
        .msg(12, value_info("logits", {-1, 2}));
    Bytes m = model(g);
    auto e = Engine::load(m.data(), m.size());
    REQUIRE_MESSAGE(e.ok(), e.error().message);
    Engine& engine = **e;
    CHECK(engine.input_name() == "image");
    CHECK(engine.output_name() == "logits");
    CHECK(engine.input_names() == std::vector<std::string>{"image"});
    CHECK(engine.input_shape() == std::vector<int64_t>{-1, 3, 2, 2});

    Tensor x{{2, 3, 2, 2}, random_values(24, 7)};
    auto y = engine.run(x);
    REQUIRE_MESSAGE(y.ok(), y.error().message);
    REQUIRE(y->shape == std::vector<int64_t>{2, 2});
    for (int n = 0; n < 2; ++n)
        for (int o = 0; o < 2; ++o) {
            float sum = 0.f;
            for (int p = 0; p < 4; ++p) {
                float v = b[size_t(o)];
                for (int c = 0; c < 3; ++c) v += w[size_t(o * 3 + c)] * x.data[size_t((n * 3 + c) * 4 + p)];
                sum += std::max(v, 0.f);
            }
            CHECK(y->data[size_t(n * 2 + o)] == doctest::Approx(sum / 4).epsilon(1e-5));
        }

    auto wrong = engine.run(Tensor{{1, 3, 5, 2}, std::vector<float>(30)});
    REQUIRE_FALSE(wrong.ok());
    CHECK_MESSAGE(wrong.error().message.find("[-1,3,2,2]") != std::string::npos, wrong.error().message);
    CHECK(wrong.error().message.find("[1,3,5,2]") != std::string::npos);
    CHECK_FALSE(engine.run(Tensor{{3, 2, 2}, std::vector<float>(12)}).ok());
    auto short_data = engine.run(Tensor{{1, 3, 2, 2}, std::vector<float>(5)});
    REQUIRE_FALSE(short_data.ok());
    CHECK(short_data.error().message.find("5 values") != std::string::npos);
    CHECK_FALSE(engine.run_all({}).ok());
}

TEST_CASE("FLOAT16 and INT64 initializers, Constant and Reshape") {
    // FLOAT16 bit patterns: 1, -2.5, 0.5, 65504 (max), 2^-24 (smallest subnormal), -0.
    const std::vector<uint16_t> halves = {0x3C00, 0xC100, 0x3800, 0x7BFF, 0x0001, 0x8000};
    const std::vector<float> expect = {1.f, -2.5f, 0.5f, 65504.f, 5.9604645e-8f, -0.f};
    std::string raw;
    for (uint16_t h : halves) raw += char(h & 0xff), raw += char(h >> 8);
    Proto h_raw, h_ints;
    h_raw.packed(1, {6}).varint(2, 10).bytes(8, "h_raw").bytes(9, raw);
    h_ints.packed(1, {6})
        .varint(2, 10)
        .bytes(8, "h_ints")
        .packed(5, std::vector<int64_t>(halves.begin(), halves.end()));
    Proto shape_const = Proto().bytes(1, "value").msg(5, int64_tensor("", {0, 3, -1})).varint(20, 4);
    Proto g;
    g.msg(1, node("Add", {"x", "h_raw"}, {"a"}))
        .msg(1, node("Sub", {"a", "h_ints"}, {"s"}))  // == x
        .msg(1, node("Constant", {}, {"shape"}, {shape_const}))
        .msg(1, node("Reshape", {"s", "shape"}, {"y"}))
        .msg(1, node("Reshape", {"h_raw", "flat"}, {"h"}))
        .msg(5, h_raw)
        .msg(5, h_ints)
        .msg(5, int64_tensor("flat", {-1}))
        .msg(11, value_info("x", {1, 6}))
        .msg(12, value_info("y", {}))
        .msg(12, value_info("h", {}));
    Bytes m = model(g);
    auto e = Engine::load(m.data(), m.size());
    REQUIRE_MESSAGE(e.ok(), e.error().message);
    CHECK((*e)->output_names() == std::vector<std::string>{"y", "h"});
    Tensor x{{1, 6}, {1, 2, 3, 4, 5, 6}};
    auto out = (*e)->run_all({x});
    REQUIRE_MESSAGE(out.ok(), out.error().message);
    CHECK((*out)[0].shape == std::vector<int64_t>{1, 3, 2});  // 0 copies dim 0, -1 is inferred
    for (size_t k = 0; k < 6; ++k) CHECK((*out)[0].data[k] == doctest::Approx(x.data[k]));
    CHECK((*out)[1].shape == std::vector<int64_t>{6});
    for (size_t k = 0; k < 6; ++k) CHECK((*out)[1].data[k] == expect[k]);
    CHECK(std::signbit((*out)[1].data[5]));
}

namespace {

// IEEE 754 binary16 by its definition: (-1)^s * 2^(e-15) * 1.m, 2^-14 * 0.m when e == 0.
float half_reference(uint16_t h) {
    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e == 31 ? (m ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity())
              : e == 0 ? std::ldexp(float(m), -24)
                       : std::ldexp(float(1024 + m), e - 25);
    return (h & 0x8000) ? -v : v;
}

uint32_t float_bits(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

std::string half_bytes(const std::vector<uint16_t>& halves) {
    std::string raw;
    for (uint16_t h : halves) raw += char(h & 0xff), raw += char(h >> 8);
    return raw;
}

Proto half_tensor(const std::string& name, const std::vector<int64_t>& dims, const std::vector<uint16_t>& halves) {
    Proto t;
    t.packed(1, dims).varint(2, 10).bytes(8, name).bytes(9, half_bytes(halves));
    return t;
}

}  // namespace

TEST_CASE("FLOAT16 tensors widen to float exactly: every bit pattern") {
    std::vector<uint16_t> all(65536);
    for (size_t k = 0; k < all.size(); ++k) all[k] = uint16_t(k);
    Proto t = half_tensor("all", {65536}, all);
    auto read = ursa::onnx::read_tensor(reinterpret_cast<const uint8_t*>(t.b.data()), t.b.size());
    REQUIRE_MESSAGE(read.ok(), read.error().message);
    REQUIRE(read->data.size() == all.size());
    size_t wrong = 0;
    for (size_t k = 0; k < all.size(); ++k) {
        float want = half_reference(uint16_t(k)), got = read->data[k];
        bool same = std::isnan(want) ? std::isnan(got) : float_bits(got) == float_bits(want);
        if (!same && ++wrong <= 5) CHECK_MESSAGE(same, "0x" << std::hex << k << ": " << got << " != " << want);
    }
    CHECK(wrong == 0);

    // The edges, spelled out.
    const std::vector<std::pair<uint16_t, float>> edges = {
        {0x0000, 0.f},           {0x8000, -0.f},          {0x0001, 5.9604645e-8f},  // smallest subnormal
        {0x8001, -5.9604645e-8f}, {0x03ff, 6.0975552e-5f}, {0x0400, 6.1035156e-5f},  // largest sub, smallest normal
        {0x3c00, 1.f},           {0x3555, 0.33325195f},   {0xc000, -2.f},
        {0x7bff, 65504.f},       {0xfbff, -65504.f}};
    for (const auto& edge : edges) {  // (no structured binding: doctest captures in lambdas)
        const uint16_t h = edge.first;
        CAPTURE(h);
        CHECK(float_bits(read->data[h]) == float_bits(edge.second));
    }
    CHECK(read->data[0x7c00] == std::numeric_limits<float>::infinity());
    CHECK(read->data[0xfc00] == -std::numeric_limits<float>::infinity());
    for (uint16_t nan : {0x7e00, 0x7c01, 0x7fff, 0xfe00, 0xfc01}) CHECK(std::isnan(read->data[nan]));
}

TEST_CASE("Cast: to FLOAT16 and BFLOAT16 rounds to nearest even, to FLOAT is planned away") {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    // Every finite half, then values between halves with the half each must round to.
    std::vector<float> x;
    std::vector<uint16_t> want;
    for (uint32_t h = 0; h < 65536; ++h)
        if (((h >> 10) & 0x1f) != 31) x.push_back(half_reference(uint16_t(h))), want.push_back(uint16_t(h));
    for (uint16_t h = 0; h < 0x7bff; ++h) {  // positive finite halves and their successor
        const float lo = half_reference(h), hi = half_reference(uint16_t(h + 1));
        const double mid = (double(lo) + double(hi)) / 2;  // exact in float: halves have 11 bits
        x.push_back(float(mid)), want.push_back((h & 1) ? uint16_t(h + 1) : h);  // tie: to even
        x.push_back(std::nextafter(float(mid), inf)), want.push_back(uint16_t(h + 1));
        x.push_back(std::nextafter(float(mid), 0.f)), want.push_back(h);
    }
    const std::vector<std::pair<float, uint16_t>> edges = {
        {65519.996f, 0x7bff}, {65520.f, 0x7c00}, {-65520.f, 0xfc00}, {1e10f, 0x7c00}, {inf, 0x7c00},
        {-inf, 0xfc00},       {0x1p-25f, 0x0000}, {-0x1p-25f, 0x8000}, {0x1.000002p-25f, 0x0001},
        {0x1p-149f, 0x0000},  {1.f / 3, 0x3555},  {0.1f, 0x2e66}};
    for (const auto& [f, h] : edges) x.push_back(f), want.push_back(h);
    x.push_back(nan), want.push_back(0x7e00);
    const int64_t n = int64_t(x.size());

    Proto g;
    g.msg(1, node("Cast", {"x"}, {"half"}, {attr_int("to", 10)}))
        .msg(1, node("Cast", {"x"}, {"bf16"}, {attr_int("to", 16)}))
        .msg(1, node("Cast", {"x"}, {"same"}, {attr_int("to", 1)}))
        .msg(1, node("Cast", {"same"}, {"twice"}, {attr_int("to", 11)}))
        .msg(1, node("Cast", {"x"}, {"int"}, {attr_int("to", 6)}))
        .msg(11, value_info("x", {n}))
        .msg(12, value_info("half", {}))
        .msg(12, value_info("bf16", {}))
        .msg(12, value_info("same", {}))
        .msg(12, value_info("twice", {}))
        .msg(12, value_info("int", {}));
    Bytes m = model(g);
    auto e = Engine::load(m.data(), m.size());
    REQUIRE_MESSAGE(e.ok(), e.error().message);
    auto out = (*e)->run_all({Tensor{{n}, x}});
    REQUIRE_MESSAGE(out.ok(), out.error().message);
    const Tensor &half = (*out)[0], &bf16 = (*out)[1];
    size_t wrong = 0;
    for (size_t k = 0; k < x.size(); ++k) {
        const float w = half_reference(want[k]);
        bool same = std::isnan(w) ? std::isnan(half.data[k]) : float_bits(half.data[k]) == float_bits(w);
        if (!same && ++wrong <= 5)
            CHECK_MESSAGE(same, std::hexfloat << x[k] << " -> " << half.data[k] << ", want " << w);
    }
    CHECK(wrong == 0);
    for (size_t k = 0; k < x.size(); ++k) {  // to FLOAT and DOUBLE: bit for bit
        if (std::isnan(x[k])) continue;
        if (float_bits((*out)[2].data[k]) != float_bits(x[k]) || float_bits((*out)[3].data[k]) != float_bits(x[k]))
            FAIL_CHECK("Cast to FLOAT changed element " << k);
    }
    // bfloat16: 8 significant bits, same exponent range as float.
    CHECK(bf16.data[n - 1] != bf16.data[n - 1]);  // NaN stays NaN
    const std::vector<std::pair<float, float>> bf = {
        {1.f, 1.f},           {1.00390625f, 1.f},  // 1 + 2^-8: a tie, to even
        {1.01171875f, 1.015625f}, {std::nextafter(1.00390625f, 2.f), 1.0078125f},
        {3.4e38f, inf},       {-1e-45f, -0.f}};
    for (const auto& io : bf) {
        const float in = io.first;
        auto r = (*e)->run_all({Tensor{{n}, std::vector<float>(size_t(n), in)}});
        REQUIRE(r.ok());
        CHECK_MESSAGE(float_bits((*r)[1].data[0]) == float_bits(io.second),
                      std::hexfloat << in << " -> " << (*r)[1].data[0]);
    }
    // INT32: truncation toward zero.
    auto r = (*e)->run_all({Tensor{{n}, std::vector<float>(size_t(n), -2.75f)}});
    REQUIRE(r.ok());
    CHECK((*r)[4].data[0] == -2.f);

    Proto bad;
    bad.msg(1, node("Cast", {"x"}, {"s"}, {attr_int("to", 8)})).msg(11, value_info("x", {1})).msg(12, value_info("s", {}));
    Bytes mb = model(bad);
    auto eb = Engine::load(mb.data(), mb.size());
    REQUIRE_FALSE(eb.ok());
    CHECK_MESSAGE(eb.error().message.find("Cast to STRING") != std::string::npos, eb.error().message);
}

TEST_CASE("a model with FLOAT16 initializers and Casts to FLOAT runs like its float twin") {
    // Conv → Relu → GlobalAveragePool → Flatten → Gemm, with weights that are halves
    // (random bit patterns in a normal range), stored once as FLOAT16 + Cast (as
    // `ursa export --weights fp16` writes them) and once as FLOAT: the outputs must be
    // bit-identical, since the Cast is exact and planned away.
    std::mt19937 rng(5);
    auto halves = [&rng](size_t n) {
        std::vector<uint16_t> h(n);
        for (auto& v : h) v = uint16_t((rng() & 0x83ff) | (0x3000 + (rng() % 6) * 0x400));  // ±[2^-3, 2^3)
        return h;
    };
    auto widen = [](const std::vector<uint16_t>& h) {
        std::vector<float> f;
        for (uint16_t v : h) f.push_back(half_reference(v));
        return f;
    };
    const auto w = halves(8 * 3 * 3 * 3), b = halves(8), w2 = halves(5 * 8), b2 = halves(5);
    auto graph = [&](bool fp16) {
        Proto g;
        auto weight = [&](const std::string& name, const std::vector<int64_t>& dims, const std::vector<uint16_t>& h) {
            if (fp16) {
                g.msg(5, half_tensor(name + ".fp16", dims, h));
                g.msg(1, node("Cast", {name + ".fp16"}, {name}, {attr_int("to", 1)}));
            } else {
                g.msg(5, tensor(name, dims, widen(h)));
            }
        };
        weight("w", {8, 3, 3, 3}, w);
        weight("b", {8}, b);
        weight("w2", {5, 8}, w2);
        weight("b2", {5}, b2);
        g.msg(1, node("Conv", {"x", "w", "b"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1})}))
            .msg(1, node("Relu", {"c"}, {"r"}))
            .msg(1, node("GlobalAveragePool", {"r"}, {"p"}))
            .msg(1, node("Flatten", {"p"}, {"f"}))
            .msg(1, node("Gemm", {"f", "w2", "b2"}, {"y"}, {attr_int("transB", 1)}))
            .msg(11, value_info("x", {-1, 3, 6, 6}))
            .msg(12, value_info("y", {-1, 5}))
            .msg(12, value_info("w2", {}));  // a Cast output can also be a graph output
        return model(g);
    };
    Bytes m32 = graph(false), m16 = graph(true);
    CHECK(m16.size() < m32.size());
    auto e32 = Engine::load(m32.data(), m32.size());
    auto e16 = Engine::load(m16.data(), m16.size());
    REQUIRE_MESSAGE(e32.ok(), e32.error().message);
    REQUIRE_MESSAGE(e16.ok(), e16.error().message);
    CHECK((*e16)->input_names() == std::vector<std::string>{"x"});
    Tensor x{{2, 3, 6, 6}, random_values(2 * 3 * 6 * 6, 21)};
    auto y32 = (*e32)->run_all({x});
    auto y16 = (*e16)->run_all({x});
    REQUIRE_MESSAGE(y32.ok(), y32.error().message);
    REQUIRE_MESSAGE(y16.ok(), y16.error().message);
    REQUIRE((*y16)[0].shape == std::vector<int64_t>{2, 5});
    for (size_t k = 0; k < 10; ++k) CHECK(float_bits((*y16)[0].data[k]) == float_bits((*y32)[0].data[k]));
    CHECK((*y16)[1].data == widen(w2));
    float scale = 0;
    for (float v : (*y32)[0].data) scale = std::max(scale, std::fabs(v));
    CHECK(scale > 0.1f);  // the comparison is not between zeros
}

namespace {

// Direct (slow, obviously right) convolution for checking im2col + GEMM.
std::vector<float> reference_conv(const Tensor& x, const Tensor& w, const std::vector<float>& bias,
                                  int stride, int pad, int dil, int group, std::vector<int64_t>& shape) {
    const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
    const int64_t M = w.shape[0], KH = w.shape[2], KW = w.shape[3], Cg = C / group, Mg = M / group;
    const int64_t OH = (H + 2 * pad - (KH - 1) * dil - 1) / stride + 1,
                  OW = (W + 2 * pad - (KW - 1) * dil - 1) / stride + 1;
    shape = {N, M, OH, OW};
    std::vector<float> y(size_t(N * M * OH * OW));
    for (int64_t n = 0; n < N; ++n)
        for (int64_t m = 0; m < M; ++m)
            for (int64_t oy = 0; oy < OH; ++oy)
                for (int64_t ox = 0; ox < OW; ++ox) {
                    double acc = bias.empty() ? 0.0 : bias[size_t(m)];
                    for (int64_t c = 0; c < Cg; ++c)
                        for (int64_t ky = 0; ky < KH; ++ky)
                            for (int64_t kx = 0; kx < KW; ++kx) {
                                int64_t iy = oy * stride - pad + ky * dil, ix = ox * stride - pad + kx * dil;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                int64_t ci = (m / Mg) * Cg + c;
                                acc += double(x.data[size_t(((n * C + ci) * H + iy) * W + ix)]) *
                                       w.data[size_t(((m * Cg + c) * KH + ky) * KW + kx)];
                            }
                    y[size_t(((n * M + m) * OH + oy) * OW + ox)] = float(acc);
                }
    return y;
}

}  // namespace

TEST_CASE("Conv and MatMul match direct references on shapes that cross the GEMM blocks") {
    struct Case {
        int n, c, m, h, w, k, stride, pad, dil, group;
        bool bias;
    };
    const Case cases[] = {
        {1, 32, 37, 20, 21, 3, 1, 1, 1, 1, true},  // K = 288, P = 420: several k and j blocks, M % 4 != 0
        {2, 6, 10, 17, 15, 5, 2, 2, 1, 2, false},  // strided, grouped
        {1, 8, 8, 12, 12, 3, 1, 2, 2, 8, true},    // depthwise, dilated
        {1, 16, 5, 9, 30, 1, 1, 0, 1, 1, true},    // 1x1: GEMM straight on the input
        {1, 3, 64, 40, 40, 7, 2, 3, 1, 1, false},  // a ResNet stem
    };
    for (const Case& cs : cases) {
        INFO("conv c=" << cs.c << " m=" << cs.m << " k=" << cs.k << " stride=" << cs.stride
                       << " group=" << cs.group);
        Tensor w{{cs.m, cs.c / cs.group, cs.k, cs.k},
                 random_values(size_t(cs.m * (cs.c / cs.group) * cs.k * cs.k), 11)};
        std::vector<float> bias = cs.bias ? random_values(size_t(cs.m), 12) : std::vector<float>{};
        Tensor x{{cs.n, cs.c, cs.h, cs.w}, random_values(size_t(cs.n * cs.c * cs.h * cs.w), 13)};
        Proto g;
        std::vector<std::string> inputs = {"x", "w"};
        if (cs.bias) inputs.push_back("b"), g.msg(5, tensor("b", {cs.m}, bias));
        g.msg(1, node("Conv", inputs, {"y"},
                      {attr_ints("strides", {cs.stride, cs.stride}),
                       attr_ints("pads", {cs.pad, cs.pad, cs.pad, cs.pad}),
                       attr_ints("dilations", {cs.dil, cs.dil}), attr_int("group", cs.group)}))
            .msg(5, tensor("w", w.shape, w.data))
            .msg(11, value_info("x", x.shape))
            .msg(12, value_info("y", {}));
        Bytes m = model(g);
        auto e = Engine::load(m.data(), m.size());
        REQUIRE_MESSAGE(e.ok(), e.error().message);
        auto y = (*e)->run(x);
        REQUIRE_MESSAGE(y.ok(), y.error().message);
        Tensor want;
        want.data = reference_conv(x, w, bias, cs.stride, cs.pad, cs.dil, cs.group, want.shape);
        std::string diff = compare(*y, want);
        CHECK_MESSAGE(diff.empty(), diff);
    }

    // [2, 67, 300] x [300, 513] (B broadcast over the batch)
    Tensor a{{2, 67, 300}, random_values(2 * 67 * 300, 21)}, b{{300, 513}, random_values(300 * 513, 22)};
    Proto g;
    g.msg(1, node("MatMul", {"a", "b"}, {"y"}))
        .msg(11, value_info("a", a.shape))
        .msg(11, value_info("b", b.shape))
        .msg(12, value_info("y", {}));
    Bytes m = model(g);
    auto e = Engine::load(m.data(), m.size());
    REQUIRE(e.ok());
    auto y = (*e)->run_all({a, b});
    REQUIRE_MESSAGE(y.ok(), y.error().message);
    Tensor want{{2, 67, 513}, std::vector<float>(2 * 67 * 513)};
    for (size_t t = 0; t < 2; ++t)
        for (size_t i = 0; i < 67; ++i)
            for (size_t j = 0; j < 513; ++j) {
                double acc = 0;
                for (size_t k = 0; k < 300; ++k)
                    acc += double(a.data[(t * 67 + i) * 300 + k]) * b.data[k * 513 + j];
                want.data[(t * 67 + i) * 513 + j] = float(acc);
            }
    std::string diff = compare((*y)[0], want);
    CHECK_MESSAGE(diff.empty(), diff);

    // Shapes that only meet at run time: the error names the node.
    Proto g2;
    g2.msg(1, node("Add", {"p", "q"}, {"y"}))
        .msg(11, value_info("p", {-1, -1}))
        .msg(11, value_info("q", {-1, -1}))
        .msg(12, value_info("y", {}));
    Bytes m2 = model(g2);
    auto add = Engine::load(m2.data(), m2.size());
    REQUIRE(add.ok());
    auto bad =
        (*add)->run_all({Tensor{{2, 3}, std::vector<float>(6)}, Tensor{{4, 5}, std::vector<float>(20)}});
    REQUIRE_FALSE(bad.ok());
    CHECK_MESSAGE(bad.error().message.find("Add (node 'y_node')") != std::string::npos, bad.error().message);
    CHECK(bad.error().message.find("[2,3]") != std::string::npos);
}

namespace {

// ResNet-18 (torchvision layout) with random weights, input [N,3,hw,hw] -> logits [N,classes].
struct ResNetBuilder {
    Proto g;
    int next = 0;
    uint32_t seed = 100;

    std::string fresh(const std::string& p) { return p + std::to_string(next++); }
    std::string weight(const std::vector<int64_t>& dims, std::vector<float> v) {
        std::string name = fresh("w");
        g.msg(5, tensor(name, dims, v));
        return name;
    }
    std::string op(const std::string& type, const std::vector<std::string>& in,
                   const std::vector<Proto>& attrs = {}, std::string out = "") {
        if (out.empty()) out = fresh(type);
        g.msg(1, node(type, in, {out}, attrs));
        return out;
    }
    std::string conv(const std::string& x, int64_t cin, int64_t cout, int64_t k, int64_t stride) {
        float scale = std::sqrt(6.f / float(cin * k * k));  // He-uniform keeps activations bounded
        std::string w = weight({cout, cin, k, k}, random_values(size_t(cout * cin * k * k), seed++, scale));
        return op("Conv", {x, w},
                  {attr_ints("kernel_shape", {k, k}), attr_ints("strides", {stride, stride}),
                   attr_ints("pads", {k / 2, k / 2, k / 2, k / 2})});
    }
    std::string bn(const std::string& x, int64_t c) {
        auto around = [&](float center, float spread) {
            auto v = random_values(size_t(c), seed++, spread);
            for (float& f : v) f += center;
            return weight({c}, v);
        };
        std::string s = around(1.f, 0.2f), b = around(0.f, 0.1f), mean = around(0.f, 0.1f),
                    var = around(1.f, 0.2f);
        return op("BatchNormalization", {x, s, b, mean, var}, {attr_float("epsilon", 1e-5f)});
    }
    std::string block(const std::string& x, int64_t cin, int64_t cout, int64_t stride) {
        std::string h = op("Relu", {bn(conv(x, cin, cout, 3, stride), cout)});
        h = bn(conv(h, cout, cout, 3, 1), cout);
        std::string shortcut = stride != 1 || cin != cout ? bn(conv(x, cin, cout, 1, stride), cout) : x;
        return op("Relu", {op("Add", {h, shortcut})});
    }
    Bytes build(int64_t hw, int64_t classes) {
        std::string y = op("Relu", {bn(conv("image", 3, 64, 7, 2), 64)});
        y = op("MaxPool", {y},
               {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}),
                attr_ints("pads", {1, 1, 1, 1})});
        int64_t cin = 64;
        for (int64_t cout : {64, 128, 256, 512}) {
            y = block(y, cin, cout, cout == 64 ? 1 : 2);
            y = block(y, cout, cout, 1);
            cin = cout;
        }
        y = op("Flatten", {op("GlobalAveragePool", {y})});
        std::string fc = weight({classes, 512}, random_values(size_t(classes * 512), seed++, 0.1f));
        std::string fb = weight({classes}, random_values(size_t(classes), seed++, 0.1f));
        op("Gemm", {y, fc, fb}, {attr_int("transB", 1)}, "logits");
        g.msg(11, value_info("image", {-1, 3, hw, hw})).msg(12, value_info("logits", {-1, classes}));
        return model(g, {{"ursa.arch", "resnet18"}});
    }
};


}  // namespace

TEST_CASE("a ResNet-18 at 64x64 runs and batches consistently") {
    Bytes m = ResNetBuilder().build(64, 10);
    auto e = Engine::load(m.data(), m.size());
    REQUIRE_MESSAGE(e.ok(), e.error().message);
    CHECK((*e)->input_shape() == std::vector<int64_t>{-1, 3, 64, 64});

    Tensor x{{2, 3, 64, 64}, random_values(2 * 3 * 64 * 64, 5)};
    auto batch = (*e)->run(x);
    REQUIRE_MESSAGE(batch.ok(), batch.error().message);
    REQUIRE(batch->shape == std::vector<int64_t>{2, 10});
    for (float v : batch->data) CHECK(std::isfinite(v));

    Tensor one{{1, 3, 64, 64}, std::vector<float>(x.data.begin() + 3 * 64 * 64, x.data.end())};
    auto t0 = std::chrono::steady_clock::now();
    auto single = (*e)->run(one);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    REQUIRE(single.ok());
    for (size_t k = 0; k < 10; ++k)
        CHECK(single->data[k] == doctest::Approx(batch->data[10 + k]).epsilon(1e-4));
    // Speed is reported here, measured in benchmarks, and never asserted in a test.
    MESSAGE("ResNet-18, 1x3x64x64: " << ms << " ms");
}

TEST_CASE("fused Relus, packed weights and reused buffers give the same values run after run") {
    // x -> Conv 3x3 (c; also read by Add, so its Relu is not fused) -> Relu (r) -> Add(r, c) (s)
    //   -> Conv 1x1 (d) -> Relu (e, fused) -> Relu (f, fused) = output; c is an output too.
    const Tensor w1{{6, 3, 3, 3}, random_values(162, 21)}, w2{{6, 6, 1, 1}, random_values(36, 22)};
    const std::vector<float> b1 = random_values(6, 23), b2 = random_values(6, 24);
    Proto g;
    g.msg(1, node("Conv", {"x", "w1", "b1"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1})}))
        .msg(1, node("Relu", {"c"}, {"r"}))
        .msg(1, node("Add", {"r", "c"}, {"s"}))
        .msg(1, node("Conv", {"s", "w2", "b2"}, {"d"}))
        .msg(1, node("Relu", {"d"}, {"e"}))
        .msg(1, node("Relu", {"e"}, {"f"}))
        .msg(5, tensor("w1", w1.shape, w1.data))
        .msg(5, tensor("b1", {6}, b1))
        .msg(5, tensor("w2", w2.shape, w2.data))
        .msg(5, tensor("b2", {6}, b2))
        .msg(11, value_info("x", {-1, 3, -1, -1}))
        .msg(12, value_info("f", {}))
        .msg(12, value_info("c", {}));
    Bytes m = model(g);
    auto e = Engine::load(m.data(), m.size());
    REQUIRE_MESSAGE(e.ok(), e.error().message);
    auto relu = [](std::vector<float> v) {
        for (float& x : v) x = x > 0.f ? x : 0.f;
        return v;
    };
    // Sizes that grow, shrink and come back, with a failing run in between.
    const std::vector<std::vector<int64_t>> shapes = {{1, 3, 9, 11}, {2, 3, 17, 5}, {1, 3, 4, 4}, {1, 3, 9, 11}};
    for (size_t t = 0; t < shapes.size(); ++t) {
        const auto& shape = shapes[t];
        INFO("run " << t << ", x " << shape_str(shape));
        Tensor x{shape, random_values(size_t(shape[0] * 3 * shape[2] * shape[3]), uint32_t(30 + t))};
        Tensor c, d;
        c.data = reference_conv(x, w1, b1, 1, 1, 1, 1, c.shape);
        Tensor s{c.shape, relu(c.data)};
        for (size_t k = 0; k < s.data.size(); ++k) s.data[k] += c.data[k];
        d.data = relu(reference_conv(s, w2, b2, 1, 0, 1, 1, d.shape));
        for (int repeat = 0; repeat < 2; ++repeat) {
            auto y = (*e)->run_all({x});
            REQUIRE_MESSAGE(y.ok(), y.error().message);
            REQUIRE(y->size() == 2);
            std::string diff = compare((*y)[0], d);
            CHECK_MESSAGE(diff.empty(), "f: " << diff);
            diff = compare((*y)[1], c);
            CHECK_MESSAGE(diff.empty(), "c: " << diff);
        }
        if (t == 1) CHECK_FALSE((*e)->run(Tensor{{1, 2, 4, 4}, std::vector<float>(32)}).ok());
    }
}

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
constexpr bool kThreads = false;  // this wasm build has one thread
constexpr int kMostThreads = 1;
#elif defined(URSA_TEST_POOL_SIZE)
constexpr bool kThreads = true;  // the pthreads wasm build: its workers and the caller
constexpr int kMostThreads = URSA_TEST_POOL_SIZE + 1;
#else
constexpr bool kThreads = true;
constexpr int kMostThreads = 64;
#endif

TEST_CASE("the engine's threads: set_engine_threads, and the same bits on 1, 2 and 3 threads") {
    const int before = ursa::engine_threads();
    CHECK(before >= 1);
    CHECK(ursa::set_engine_threads(3) == (kThreads ? 3 : 1));
    CHECK(ursa::engine_threads() == (kThreads ? 3 : 1));
    CHECK(ursa::set_engine_threads(-5) == ursa::set_engine_threads(0));  // both: the default
    CHECK(ursa::set_engine_threads(1000) == kMostThreads);

    // A ResNet-18 at 64 px, batch 2: its GEMMs are split by columns (P = 1024 ... 64)
    // and by rows (P = 16 and 4, M = 256 and 512), its im2col by channels.
    Bytes m = ResNetBuilder().build(64, 10);
    auto e = Engine::load(m.data(), m.size());
    REQUIRE_MESSAGE(e.ok(), e.error().message);
    const Tensor x{{2, 3, 64, 64}, random_values(2 * 3 * 64 * 64, 7)};
    // A product too wide for one column block and with M % 8 != 0 (rows split unevenly).
    Tensor a{{1, 37, 700}, random_values(37 * 700, 8)}, b{{700, 1100}, random_values(700 * 1100, 9)};
    Proto g;
    g.msg(1, node("MatMul", {"a", "b"}, {"y"}))
        .msg(11, value_info("a", a.shape))
        .msg(11, value_info("b", b.shape))
        .msg(12, value_info("y", {}));
    Bytes mm = model(g);
    auto mat = Engine::load(mm.data(), mm.size());
    REQUIRE(mat.ok());

    std::vector<Tensor> want;
    for (int threads : {1, 2, 3, 2}) {
        INFO(threads << " threads");
        REQUIRE(ursa::set_engine_threads(threads) == (kThreads ? threads : 1));
        for (int repeat = 0; repeat < 3; ++repeat) {
            auto y = (*e)->run(x);
            REQUIRE_MESSAGE(y.ok(), y.error().message);
            auto z = (*mat)->run_all({a, b});
            REQUIRE_MESSAGE(z.ok(), z.error().message);
            if (want.empty()) {
                want = {*y, (*z)[0]};
                continue;
            }
            REQUIRE(y->data.size() == want[0].data.size());
            REQUIRE((*z)[0].data.size() == want[1].data.size());
            CHECK(std::memcmp(y->data.data(), want[0].data.data(), y->data.size() * sizeof(float)) == 0);
            CHECK(std::memcmp((*z)[0].data.data(), want[1].data.data(), want[1].data.size() * sizeof(float)) == 0);
        }
    }
    ursa::set_engine_threads(before);
}

#if !defined(__EMSCRIPTEN__)
TEST_CASE("engines run from several threads at once while the pool is in use") {
    // Only one caller at a time runs on the pool; the others run on their own thread.
    ursa::set_engine_threads(2);
    Bytes m = ResNetBuilder().build(32, 4);
    auto e = Engine::load(m.data(), m.size());
    REQUIRE_MESSAGE(e.ok(), e.error().message);
    const Tensor x{{1, 3, 32, 32}, random_values(3 * 32 * 32, 3)};
    auto want = (*e)->run(x);
    REQUIRE(want.ok());
    std::vector<int> same(4, 0);
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t)
        callers.emplace_back([&, t] {
            // Each thread its own Engine (an Engine's buffers are not shared between callers).
            auto mine = Engine::load(m.data(), m.size());
            if (!mine.ok()) return;
            for (int k = 0; k < 3; ++k) {
                auto y = (*mine)->run(x);
                if (y.ok() && y->data == want->data) ++same[size_t(t)];
            }
        });
    for (auto& c : callers) c.join();
    CHECK(same == std::vector<int>{3, 3, 3, 3});
    ursa::set_engine_threads(0);
}
#endif
