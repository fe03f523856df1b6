// The `ursa predict` code path (trainer/src/predict.cpp, compiled in unchanged: core's
// Predictor, decoder, preprocessing and engine) without libtorch, so that it can be
// built with AddressSanitizer + LeakSanitizer in the core-only sanitizer presets.
//   predict_driver make MODEL      writes a small residual CNN with Ursa metadata
//                                  (the images come from make_images.py)
//   predict_driver predict [--json] [--top K] MODEL FILE...
//                                  what `ursa predict` does (same exit status and output)
//   predict_driver leak            leaks on purpose: proves LeakSanitizer is active
// Used by tests/predict/predict_asan.sh.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "ursa/commands.h"
#include "../core/proto_writer.h"

namespace {

using namespace ursa_test;

// A float initializer of random values in [-scale, scale) (a new seed each call).
Proto weights(const std::string& name, const std::vector<int64_t>& dims, float scale) {
    static uint32_t seed = 12345;
    size_t n = 1;
    for (int64_t d : dims) n *= size_t(d);
    return tensor(name, dims, random_values(n, seed++, scale));
}

// image [N,3,40,40] -> Conv 3x3/2 (8) -> Relu -> MaxPool 2x2/2 -> Conv 3x3 (8, group 2) -> Relu
// -> Conv 1x1 (8) -> Add (residual) -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> logits [N,3]
std::string make_model() {
    Proto g;
    g.msg(1, node("Conv", {"image", "w1", "b1"}, {"c1"},
                  {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}), attr_ints("pads", {1, 1, 1, 1})}))
        .msg(1, node("Relu", {"c1"}, {"r1"}))
        .msg(1, node("MaxPool", {"r1"}, {"p1"}, {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {2, 2})}))
        .msg(1, node("Conv", {"p1", "w2", "b2"}, {"c2"},
                     {attr_ints("kernel_shape", {3, 3}), attr_ints("pads", {1, 1, 1, 1}), attr_int("group", 2)}))
        .msg(1, node("Relu", {"c2"}, {"r2"}))
        .msg(1, node("Conv", {"r2", "w3"}, {"c3"}, {attr_ints("kernel_shape", {1, 1})}))
        .msg(1, node("Add", {"c3", "p1"}, {"s"}))
        .msg(1, node("Relu", {"s"}, {"r3"}))
        .msg(1, node("GlobalAveragePool", {"r3"}, {"gap"}))
        .msg(1, node("Flatten", {"gap"}, {"flat"}))
        .msg(1, node("Gemm", {"flat", "fc_w", "fc_b"}, {"logits"}, {attr_int("transB", 1)}))
        .msg(5, weights("w1", {8, 3, 3, 3}, 0.5f))
        .msg(5, weights("b1", {8}, 0.1f))
        .msg(5, weights("w2", {8, 4, 3, 3}, 0.3f))
        .msg(5, weights("b2", {8}, 0.1f))
        .msg(5, weights("w3", {8, 8, 1, 1}, 0.3f))
        .msg(5, weights("fc_w", {3, 8}, 1.f))
        .msg(5, weights("fc_b", {3}, 0.1f))
        .bytes(2, "predict_asan")
        .msg(11, value_info("image", {-1, 3, 40, 40}))
        .msg(12, value_info("logits", {-1, 3}));
    return model_proto(g, {{"ursa.labels", "[\"circle\",\"square\",\"triangle\"]"},
                           {"ursa.input", "{\"size\":[40,40],\"resize\":\"squish\",\"mean\":[0.485,0.456,0.406],"
                                          "\"std\":[0.229,0.224,0.225]}"},
                           {"ursa.arch", "\"predict_asan\""},
                           {"ursa.version", "\"0.1.0\""}})
        .b;
}

int make(const std::string& path) {
    const std::string bytes = make_model();
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    return f ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "make" && argc == 3) return make(argv[2]);
    if (mode == "leak") {
        volatile char* p = static_cast<char*>(std::malloc(1234));
        p[0] = 1;
        p = nullptr;
        return 0;
    }
    if (mode == "predict") {
        ursa::PredictOptions o;
        int i = 2;
        for (; i < argc && argv[i][0] == '-'; ++i) {
            const std::string flag = argv[i];
            if (flag == "--json") o.json = true;
            else if (flag == "--top" && i + 1 < argc) o.top = std::atoi(argv[++i]);
            else break;
        }
        if (i < argc) o.model = argv[i++];
        for (; i < argc; ++i) o.files.push_back(argv[i]);
        if (!o.model.empty()) return ursa::predict(o);
    }
    std::fprintf(stderr,
                 "usage: predict_driver make MODEL.onnx | predict [--json] [--top K] MODEL FILE... | leak\n");
    return 2;
}
