// Element-wise operators, broadcasting arithmetic, Softmax and BatchNormalization.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine_internal.h"

namespace ursa::engine {
namespace {

// ---- Unary: Relu, Sigmoid, Identity

template <class F>
class Unary final : public Op {
  public:
    explicit Unary(F f) : f_(f) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        Status s = alloc(*out[0], in[0]->shape, false);
        if (!s) return s;
        const float* x = in[0]->data.data();
        float* y = out[0]->data.data();
        for (size_t k = 0, n = in[0]->data.size(); k < n; ++k) y[k] = f_(x[k]);
        return ok();
    }

  private:
    F f_;
};

template <class F>
Result<std::unique_ptr<Op>> make_unary(F f) {
    return make_op<Unary<F>>(f);
}

Result<std::unique_ptr<Op>> make_relu(OpInit&) {
    return make_unary([](float x) { return x > 0.f ? x : 0.f; });
}
Result<std::unique_ptr<Op>> make_sigmoid(OpInit&) {
    return make_unary([](float x) { return 1.f / (1.f + std::exp(-x)); });
}
Result<std::unique_ptr<Op>> make_identity(OpInit&) {
    return make_unary([](float x) { return x; });
}

// ---- Cast. Every value is held as float whatever its ONNX type, so a cast to FLOAT
// or DOUBLE changes nothing and is planned away (no copy: a FLOAT16 initializer,
// widened exactly at load, followed by a Cast to FLOAT costs nothing per run). To
// FLOAT16 and BFLOAT16 it rounds to nearest even; to integer types it truncates toward
// zero, saturating (NaN gives 0; ONNX leaves out-of-range casts undefined); to BOOL it
// tests != 0.

class Passthrough final : public Op {
  public:
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        *out[0] = *in[0];
        return ok();
    }
    bool passthrough() const override { return true; }
};

Result<std::unique_ptr<Op>> make_cast(OpInit& init) {
    init.attrs.ignore("saturate");  // opset 19: only affects float8 targets
    const int64_t to = init.attrs.i("to", onnx::kUndefined);
    auto to_int = [](double lo, double hi) {
        return make_unary([lo, hi](float x) {
            if (std::isnan(x)) return 0.f;
            return float(std::min(std::max(std::trunc(double(x)), lo), hi));
        });
    };
    switch (to) {
        case onnx::kFloat:
        case onnx::kDouble:
            return make_op<Passthrough>();
        case onnx::kFloat16:
            return make_unary([](float x) { return onnx::half_to_float(onnx::float_to_half(x)); });
        case onnx::kBfloat16:
            return make_unary([](float x) { return onnx::bfloat16_to_float(onnx::float_to_bfloat16(x)); });
        case onnx::kBool:
            return make_unary([](float x) { return x != 0.f ? 1.f : 0.f; });
        case onnx::kInt8:
            return to_int(-128, 127);
        case onnx::kUint8:
            return to_int(0, 255);
        case onnx::kInt16:
            return to_int(-32768, 32767);
        case onnx::kUint16:
            return to_int(0, 65535);
        case onnx::kInt32:
            return to_int(-2147483648.0, 2147483647.0);
        case onnx::kUint32:
            return to_int(0, 4294967295.0);
        case onnx::kInt64:
            return to_int(-9223372036854775808.0, 9223372036854775807.0);
        case onnx::kUint64:
            return to_int(0, 18446744073709551615.0);
        default:
            init.attrs.reject(std::string("Cast to ") + onnx::data_type_name(int32_t(to)) + " (" +
                              std::to_string(to) + ") is not supported");
            return make_op<Passthrough>();
    }
}

// ---- Dropout: the identity at inference; the optional mask is all true (1).

class Dropout final : public Op {
  public:
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        if (in.size() > 2 && in[2] && !in[2]->data.empty() && in[2]->data[0] != 0.f)
            return make_error("training_mode=true is not supported");
        *out[0] = *in[0];
        if (out.size() > 1 && out[1]) {
            Status s = alloc(*out[1], in[0]->shape);
            if (!s) return s;
            std::fill(out[1]->data.begin(), out[1]->data.end(), 1.f);
        }
        return ok();
    }
};

Result<std::unique_ptr<Op>> make_dropout(OpInit& init) {
    init.attrs.ignore("ratio");
    init.attrs.ignore("seed");
    if (init.attrs.i("is_test", 1) == 0) init.attrs.reject("is_test=0 (training) is not supported");
    return make_op<Dropout>();
}

// ---- Clip: min/max are attributes before opset 11, optional scalar inputs after.

class Clip final : public Op {
  public:
    Clip(float lo, float hi) : lo_(lo), hi_(hi) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        float lo = lo_, hi = hi_;
        for (size_t k = 1; k < in.size(); ++k) {
            if (!in[k]) continue;
            if (in[k]->data.size() != 1) return make_error("min and max must be scalars");
            (k == 1 ? lo : hi) = in[k]->data[0];
        }
        Status s = alloc(*out[0], in[0]->shape);
        if (!s) return s;
        const float* x = in[0]->data.data();
        float* y = out[0]->data.data();
        for (size_t k = 0, n = in[0]->data.size(); k < n; ++k) y[k] = std::min(std::max(x[k], lo), hi);
        return ok();
    }

  private:
    float lo_, hi_;
};

Result<std::unique_ptr<Op>> make_clip(OpInit& init) {
    float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
    if (init.opset < 11) {
        lo = init.attrs.f("min", lo);
        hi = init.attrs.f("max", hi);
        if (init.node.inputs.size() > 1) return make_error("min/max inputs need opset 11 or later");
    }
    return make_op<Clip>(lo, hi);
}

// ---- Binary arithmetic with numpy broadcasting (onnx/docs/Broadcasting.md)

template <class F>
void broadcast_apply(const Tensor& a, const Tensor& b, Tensor& y, F f) {
    const size_t r = y.shape.size();
    const float* pa = a.data.data();
    const float* pb = b.data.data();
    float* py = y.data.data();
    const int64_t total = int64_t(y.data.size());
    if (total == 0) return;
    if (r == 0) {
        py[0] = f(pa[0], pb[0]);
        return;
    }
    auto sa = broadcast_strides(a.shape, r), sb = broadcast_strides(b.shape, r);
    const int64_t inner = y.shape[r - 1], ia = sa[r - 1], ib = sb[r - 1];
    std::vector<int64_t> idx(r, 0);
    int64_t oa = 0, ob = 0;
    for (int64_t o = 0; o < total; o += inner) {
        for (int64_t j = 0; j < inner; ++j) py[o + j] = f(pa[oa + j * ia], pb[ob + j * ib]);
        for (size_t d = r - 1; d-- > 0;) {  // odometer over the outer dims
            oa += sa[d], ob += sb[d];
            if (++idx[d] < y.shape[d]) break;
            oa -= sa[d] * y.shape[d], ob -= sb[d] * y.shape[d], idx[d] = 0;
        }
    }
}

// Before opset 7, broadcast=1 with `axis` aligns B's dims with A's from that axis on:
// B is padded with trailing 1s and then broadcast the numpy way.
template <class F>
class Binary final : public Op {
  public:
    Binary(F f, bool legacy, int64_t axis) : f_(f), legacy_(legacy), axis_(axis) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        const Tensor& a = *in[0];
        Tensor padded;
        const Tensor* pb = in[1];
        if (legacy_) {
            int64_t axis = axis_;
            const int64_t rank = int64_t(a.shape.size()), brank = int64_t(pb->shape.size());
            if (!normalize_axis(axis, rank) || axis + brank > rank)
                return make_error("axis " + std::to_string(axis_) + " does not fit " + shape_str(a.shape) +
                                  " and " + shape_str(pb->shape));
            padded = *pb;
            padded.shape.resize(size_t(rank - axis), 1);
            pb = &padded;
        }
        const Tensor& b = *pb;
        std::vector<int64_t> shape;
        if (!broadcast_shape(a.shape, b.shape, shape))
            return make_error("cannot broadcast " + shape_str(a.shape) + " with " + shape_str(b.shape));
        Status s = alloc(*out[0], shape, false);
        if (!s) return s;
        float* y = out[0]->data.data();
        if (a.shape == b.shape) {  // fast path, e.g. residual additions
            for (size_t k = 0, n = a.data.size(); k < n; ++k) y[k] = f_(a.data[k], b.data[k]);
        } else {
            broadcast_apply(a, b, *out[0], f_);
        }
        return ok();
    }

  private:
    F f_;
    bool legacy_;
    int64_t axis_;
};

template <class F>
Result<std::unique_ptr<Op>> make_binary(OpInit& init, F f) {
    Attrs& a = init.attrs;
    a.ignore("consumed_inputs");
    // Without `axis`, legacy broadcasting matches suffixes, as numpy does.
    const bool legacy = a.i("broadcast", 0) != 0 && a.has("axis");
    return make_op<Binary<F>>(f, legacy, a.i("axis", 0));
}

Result<std::unique_ptr<Op>> make_add(OpInit& i) {
    return make_binary(i, [](float a, float b) { return a + b; });
}
Result<std::unique_ptr<Op>> make_sub(OpInit& i) {
    return make_binary(i, [](float a, float b) { return a - b; });
}
Result<std::unique_ptr<Op>> make_mul(OpInit& i) {
    return make_binary(i, [](float a, float b) { return a * b; });
}
Result<std::unique_ptr<Op>> make_div(OpInit& i) {
    return make_binary(i, [](float a, float b) { return a / b; });
}

// ---- Softmax: along one axis from opset 13; before, over the input coerced to 2-D
// at `axis` (default 1).

class Softmax final : public Op {
  public:
    Softmax(int64_t axis, bool coerce_2d) : axis_(axis), coerce_2d_(coerce_2d) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        const Tensor& x = *in[0];
        int64_t axis = axis_, rank = int64_t(x.shape.size());
        if (!normalize_axis(axis, rank))
            return make_error("axis out of range for shape " + shape_str(x.shape));
        Status s = alloc(*out[0], x.shape);
        if (!s) return s;
        const size_t ax = size_t(axis);
        int64_t outer = product(x.shape, 0, ax);
        int64_t n = coerce_2d_ ? product(x.shape, ax, x.shape.size()) : x.shape[ax];
        int64_t inner = coerce_2d_ ? 1 : product(x.shape, ax + 1, x.shape.size());
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t i = 0; i < inner; ++i)
                softmax_line(x.data.data() + o * n * inner + i, out[0]->data.data() + o * n * inner + i, n,
                             inner);
        return ok();
    }

  private:
    static void softmax_line(const float* x, float* y, int64_t n, int64_t stride) {
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t k = 0; k < n; ++k) mx = std::max(mx, x[k * stride]);
        float sum = 0.f;
        for (int64_t k = 0; k < n; ++k) sum += (y[k * stride] = std::exp(x[k * stride] - mx));
        for (int64_t k = 0; k < n; ++k) y[k * stride] /= sum;
    }
    int64_t axis_;
    bool coerce_2d_;
};

Result<std::unique_ptr<Op>> make_softmax(OpInit& init) {
    bool coerce = init.opset < 13;
    return make_op<Softmax>(init.attrs.i("axis", coerce ? 1 : -1), coerce);
}

// ---- BatchNormalization (inference): y = (x - mean) / sqrt(var + eps) * scale + bias

class BatchNorm final : public Op {
  public:
    explicit BatchNorm(float eps) : eps_(eps) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        const Tensor& x = *in[0];
        if (x.shape.size() < 2) return make_error("input must have rank >= 2, got " + shape_str(x.shape));
        const int64_t n = x.shape[0], c = x.shape[1], spatial = product(x.shape, 2, x.shape.size());
        for (size_t k = 1; k <= 4; ++k)
            if (int64_t(in[k]->data.size()) != c)
                return make_error("parameter " + std::to_string(k) + " has shape " + shape_str(in[k]->shape) +
                                  ", expected [" + std::to_string(c) + "]");
        Status s = alloc(*out[0], x.shape);
        if (!s) return s;
        for (int64_t ch = 0; ch < c; ++ch) {
            const float a = in[1]->data[size_t(ch)] / std::sqrt(in[4]->data[size_t(ch)] + eps_);
            const float b = in[2]->data[size_t(ch)] - in[3]->data[size_t(ch)] * a;
            for (int64_t i = 0; i < n; ++i) {
                const float* px = x.data.data() + (i * c + ch) * spatial;
                float* py = out[0]->data.data() + (i * c + ch) * spatial;
                for (int64_t k = 0; k < spatial; ++k) py[k] = px[k] * a + b;
            }
        }
        return ok();
    }

  private:
    float eps_;
};

Result<std::unique_ptr<Op>> make_batchnorm(OpInit& init) {
    Attrs& a = init.attrs;
    if (a.i("training_mode", 0) != 0) a.reject("training_mode=1 is not supported");
    if (a.i("is_test", 1) == 0 && init.opset < 7) a.reject("is_test=0 (training) is not supported");
    if (a.i("spatial", 1) != 1) a.reject("spatial=0 is not supported");
    a.ignore("momentum");
    a.ignore("consumed_inputs");
    return make_op<BatchNorm>(a.f("epsilon", 1e-5f));
}

}  // namespace

void add_elementwise_ops(std::vector<OpDef>& defs) {
    defs.insert(defs.end(), {
                                {"Relu", 1, 1, 1, 1, make_relu},
                                {"Sigmoid", 1, 1, 1, 1, make_sigmoid},
                                {"Identity", 1, 1, 1, 1, make_identity},
                                {"Cast", 1, 1, 1, 1, make_cast},
                                {"Dropout", 1, 3, 1, 2, make_dropout},
                                {"Clip", 1, 3, 1, 1, make_clip},
                                {"Add", 2, 2, 1, 1, make_add},
                                {"Sub", 2, 2, 1, 1, make_sub},
                                {"Mul", 2, 2, 1, 1, make_mul},
                                {"Div", 2, 2, 1, 1, make_div},
                                {"Softmax", 1, 1, 1, 1, make_softmax},
                                {"BatchNormalization", 5, 5, 1, 1, make_batchnorm},
                            });
}

}  // namespace ursa::engine
