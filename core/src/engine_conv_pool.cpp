// Conv (im2col + GEMM), MaxPool, AveragePool and the global pools. 1-D inputs are
// run as 2-D ones with height 1. Output sizes and auto_pad follow onnx/docs/Operators.md
// (MaxPool: "output_spatial_shape" formulas).
#include <algorithm>
#include <cstring>
#include <limits>

#include "engine_internal.h"
#include "engine_parallel.h"

namespace ursa::engine {
namespace {

constexpr int64_t kMaxWindowValue = int64_t(1) << 24;  // bound for kernel, stride, pad values

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// The sliding-window attributes shared by Conv and the pools, for up to 2 spatial dims.
struct Window {
    std::vector<int64_t> kernel;  // empty for Conv without kernel_shape: taken from W
    std::vector<int64_t> strides, dilations, pads;
    AutoPad auto_pad = AutoPad::kNotSet;
    bool ceil_mode = false;
};

// One run's geometry, always 2-D: [0] is height (1 for 1-D inputs), [1] width.
struct Geometry {
    int64_t in[2], out[2], k[2], s[2], d[2], pb[2], pe[2];
};

bool in_range(const std::vector<int64_t>& v, int64_t lo) {
    for (int64_t x : v)
        if (x < lo || x > kMaxWindowValue) return false;
    return true;
}

void read_window(Attrs& a, Window& w, bool need_kernel) {
    w.kernel = a.ints("kernel_shape");
    size_t r = w.kernel.size();
    if (need_kernel && r == 0) a.reject("kernel_shape is required");
    if (r > 2) a.reject(std::to_string(r) + "-D windows are not supported (1-D and 2-D only)");
    w.strides = a.ints("strides");
    w.dilations = a.ints("dilations");
    w.pads = a.ints("pads");
    if (!in_range(w.kernel, 1) || !in_range(w.strides, 1) || !in_range(w.dilations, 1) ||
        !in_range(w.pads, 0))
        a.reject("kernel_shape, strides, dilations or pads out of range");
    std::string ap = a.s("auto_pad", "NOTSET");
    if (ap == "SAME_UPPER")
        w.auto_pad = AutoPad::kSameUpper;
    else if (ap == "SAME_LOWER")
        w.auto_pad = AutoPad::kSameLower;
    else if (ap == "VALID")
        w.auto_pad = AutoPad::kValid;
    else if (ap != "NOTSET")
        a.reject("auto_pad '" + ap + "' is not supported");
}

// Rounds toward +infinity, also for negative a (b > 0).
int64_t ceil_div(int64_t a, int64_t b) {
    return a >= 0 ? (a + b - 1) / b : -(-a / b);
}

// Geometry for input x ([N, C, spatial...]) and the kernel's spatial sizes.
Status resolve(const Window& w, const std::vector<int64_t>& x, const std::vector<int64_t>& kernel,
               Geometry& g) {
    const size_t r = kernel.size();
    if (r < 1 || r > 2 || x.size() != r + 2)
        return make_error("input of shape " + shape_str(x) + " does not fit a " +
                          std::to_string(kernel.size()) + "-D window (1-D and 2-D only)");
    if ((!w.strides.empty() && w.strides.size() != r) || (!w.dilations.empty() && w.dilations.size() != r) ||
        (!w.pads.empty() && w.pads.size() != 2 * r))
        return make_error("strides, dilations or pads do not match the " + std::to_string(r) + "-D kernel");
    for (size_t i = 0; i < 2; ++i) {
        const bool real = i + r >= 2;  // dimension present in the input
        const size_t a = i + r - 2;    // its index among the spatial dims
        g.in[i] = real ? x[2 + a] : 1;
        g.k[i] = real ? kernel[a] : 1;
        g.s[i] = real && !w.strides.empty() ? w.strides[a] : 1;
        g.d[i] = real && !w.dilations.empty() ? w.dilations[a] : 1;
        g.pb[i] = real && !w.pads.empty() ? w.pads[a] : 0;
        g.pe[i] = real && !w.pads.empty() ? w.pads[a + r] : 0;
        const int64_t eff = (g.k[i] - 1) * g.d[i] + 1;
        if (w.auto_pad == AutoPad::kSameUpper || w.auto_pad == AutoPad::kSameLower) {
            g.out[i] = ceil_div(g.in[i], g.s[i]);
            int64_t total = std::max<int64_t>(0, (g.out[i] - 1) * g.s[i] + eff - g.in[i]);
            g.pb[i] = w.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
            g.pe[i] = total - g.pb[i];
            continue;
        }
        if (w.auto_pad == AutoPad::kValid) g.pb[i] = g.pe[i] = 0;
        int64_t span = g.in[i] + g.pb[i] + g.pe[i] - eff;
        if (span < 0) return make_error("kernel larger than the padded input " + shape_str(x));
        g.out[i] = (w.ceil_mode ? ceil_div(span, g.s[i]) : span / g.s[i]) + 1;
        // With ceil_mode, a window starting in the end padding is dropped (as PyTorch does).
        if (w.ceil_mode && (g.out[i] - 1) * g.s[i] >= g.in[i] + g.pb[i]) --g.out[i];
    }
    return ok();
}

std::vector<int64_t> out_shape(const std::vector<int64_t>& x, int64_t channels, const Geometry& g) {
    std::vector<int64_t> s = {x[0], channels};
    if (x.size() == 4) s.push_back(g.out[0]);
    s.push_back(g.out[1]);
    return s;
}

// ---- Conv

// col[(c*kh + ki)*kw + kj][oy*ow + ox] = x[c][oy*sh - pbh + ki*dh][ox*sw - pbw + kj*dw], 0 outside,
// for channels [c0, c1).
void im2col_channels(const float* x, int64_t c0, int64_t c1, const Geometry& g, float* col) {
    const int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1], P = OH * OW;
    for (int64_t c = c0; c < c1; ++c)
        for (int64_t ki = 0; ki < g.k[0]; ++ki)
            for (int64_t kj = 0; kj < g.k[1]; ++kj) {
                float* dst = col + ((c * g.k[0] + ki) * g.k[1] + kj) * P;
                const int64_t off = kj * g.d[1] - g.pb[1];
                // ox with 0 <= ox*sw + off < W
                const int64_t lo = std::min(OW, std::max<int64_t>(0, ceil_div(-off, g.s[1]))),
                              hi = std::max(lo, std::min(OW, ceil_div(W - off, g.s[1])));
                for (int64_t oy = 0; oy < OH; ++oy, dst += OW) {
                    const int64_t iy = oy * g.s[0] - g.pb[0] + ki * g.d[0];
                    if (iy < 0 || iy >= H) {
                        std::fill(dst, dst + OW, 0.f);
                        continue;
                    }
                    const float* row = x + (c * H + iy) * W;
                    std::fill(dst, dst + lo, 0.f);
                    if (g.s[1] == 1 && hi > lo)
                        std::memcpy(dst + lo, row + lo + off, size_t(hi - lo) * sizeof(float));
                    else
                        for (int64_t ox = lo; ox < hi; ++ox) dst[ox] = row[ox * g.s[1] + off];
                    std::fill(dst + hi, dst + OW, 0.f);
                }
            }
}

// All channels, split over the engine's threads when the buffer is large.
void im2col(const float* x, int64_t channels, const Geometry& g, float* col) {
    if (channels <= 0) return;
    const int64_t size = channels * g.k[0] * g.k[1] * g.out[0] * g.out[1];
    const int64_t tasks = size >= (int64_t(1) << 16) ? std::min<int64_t>(channels, 2 * pool_threads()) : 1;
    const int64_t chunk = (channels + tasks - 1) / tasks;
    parallel_for((channels + chunk - 1) / chunk, [&](int64_t t) {
        im2col_channels(x, t * chunk, std::min(channels, (t + 1) * chunk), g, col);
    });
}

// im2col's buffer, shared by every Conv of the thread (sized by the largest).
thread_local std::vector<float> t_col;

class Conv final : public Op {
  public:
    Conv(Window w, int64_t group) : w_(std::move(w)), group_(group) {}
    // Constant weights are packed for the GEMM once, per group.
    Status prepare(const std::vector<const Tensor*>& constants) override {
        const Tensor* wt = constants.size() > 1 ? constants[1] : nullptr;
        if (!wt || wt->shape.size() < 3 || wt->shape[0] % group_ || int64_t(wt->data.size()) != numel(wt->shape))
            return ok();  // packed at run time (or rejected there)
        pack_weights(*wt, packed_);
        packed_from_ = wt;
        return ok();
    }
    bool keeps_copy_of(size_t k) const override { return k == 1 && packed_from_; }
    bool fuse_relu() override { return relu_ = true; }
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        const Tensor& x = *in[0];
        const Tensor& wt = *in[1];
        const Tensor* bias = in.size() > 2 ? in[2] : nullptr;
        Geometry g;
        Status s = check(x, wt, bias, g);
        if (!s) return s;
        const int64_t N = x.shape[0], C = x.shape[1], M = wt.shape[0];
        const int64_t Cg = C / group_, Mg = M / group_, P = g.out[0] * g.out[1], HW = g.in[0] * g.in[1];
        const int64_t Kc = Cg * g.k[0] * g.k[1];
        s = alloc(*out[0], out_shape(x.shape, M, g), false);
        if (!s) return s;
        const bool direct =
            g.k[0] * g.k[1] == 1 && g.s[0] * g.s[1] == 1 && g.pb[0] + g.pb[1] + g.pe[0] + g.pe[1] == 0;
        std::vector<float>& col = t_col;
        if (!direct) {
            if (Kc * P > kMaxElements) return make_error("convolution too large");
            if (col.size() < size_t(Kc * P)) col.resize(size_t(Kc * P));
        }
        std::vector<PackedA> local;
        if (&wt != packed_from_) pack_weights(wt, local);
        const std::vector<PackedA>& packed = &wt == packed_from_ ? packed_ : local;
        for (int64_t n = 0; n < N; ++n)
            for (int64_t gr = 0; gr < group_; ++gr) {
                const float* xg = x.data.data() + (n * C + gr * Cg) * HW;
                float* y = out[0]->data.data() + (n * M + gr * Mg) * P;
                if (!direct) im2col(xg, Cg, g, col.data());
                GemmOptions opt;
                opt.bias = bias ? bias->data.data() + gr * Mg : nullptr;
                opt.relu = relu_;
                sgemm_packed(packed[size_t(gr)], P, direct ? xg : col.data(), P, y, P, opt);
            }
        return ok();
    }

  private:
    Status check(const Tensor& x, const Tensor& wt, const Tensor* bias, Geometry& g) const {
        if (x.shape.size() < 3 || wt.shape.size() != x.shape.size())
            return make_error("input " + shape_str(x.shape) + " and weight " + shape_str(wt.shape) +
                              " must be [N,C,...] and [M,C/group,...] of equal rank");
        const int64_t C = x.shape[1], M = wt.shape[0];
        if (C % group_ || M % group_ || wt.shape[1] != C / group_)
            return make_error("weight " + shape_str(wt.shape) + " does not match input " +
                              shape_str(x.shape) + " with group " + std::to_string(group_));
        std::vector<int64_t> kernel(wt.shape.begin() + 2, wt.shape.end());
        if (!w_.kernel.empty() && w_.kernel != kernel)
            return make_error("kernel_shape does not match weight " + shape_str(wt.shape));
        if (bias && int64_t(bias->data.size()) != M)
            return make_error("bias " + shape_str(bias->shape) + " does not match " + std::to_string(M) +
                              " outputs");
        return resolve(w_, x.shape, kernel, g);
    }
    // W [M, C/group, k...] as `group` matrices [M/group, C/group * k...], packed.
    void pack_weights(const Tensor& wt, std::vector<PackedA>& packed) const {
        const int64_t Mg = wt.shape[0] / group_, Kc = numel(wt.shape) / std::max<int64_t>(1, wt.shape[0]);
        packed.resize(size_t(group_));
        for (int64_t gr = 0; gr < group_; ++gr) pack_a(Mg, Kc, wt.data.data() + gr * Mg * Kc, Kc, packed[size_t(gr)]);
    }
    Window w_;
    int64_t group_;
    bool relu_ = false;
    std::vector<PackedA> packed_;      // per group, from prepare()
    const Tensor* packed_from_ = nullptr;  // the constant weight they were packed from
};

Result<std::unique_ptr<Op>> make_conv(OpInit& init) {
    Window w;
    read_window(init.attrs, w, false);
    int64_t group = init.attrs.i("group", 1);
    if (group < 1 || group > kMaxWindowValue) init.attrs.reject("group must be >= 1");
    return make_op<Conv>(std::move(w), group);
}

// ---- MaxPool and AveragePool

class Pool final : public Op {
  public:
    Pool(Window w, bool is_max, bool count_pad) : w_(std::move(w)), max_(is_max), count_pad_(count_pad) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        const Tensor& x = *in[0];
        Geometry g;
        Status s = resolve(w_, x.shape, w_.kernel, g);
        if (!s) return s;
        s = alloc(*out[0], out_shape(x.shape, x.shape[1], g), false);
        if (!s) return s;
        const int64_t planes = x.shape[0] * x.shape[1], HW = g.in[0] * g.in[1], P = g.out[0] * g.out[1];
        for (int64_t p = 0; p < planes; ++p)
            for (int64_t oy = 0; oy < g.out[0]; ++oy)
                for (int64_t ox = 0; ox < g.out[1]; ++ox)
                    out[0]->data[size_t(p * P + oy * g.out[1] + ox)] =
                        window(x.data.data() + p * HW, g, oy, ox);
        return ok();
    }

  private:
    // Kernel taps [lo, hi) of dim `i` that land in [0, limit) for output index o.
    static void taps(const Geometry& g, int i, int64_t o, int64_t limit, int64_t& lo, int64_t& hi) {
        const int64_t base = o * g.s[i] - g.pb[i];
        lo = std::min(g.k[i], std::max<int64_t>(0, ceil_div(-base, g.d[i])));
        hi = std::max(lo, std::min(g.k[i], ceil_div(limit - base, g.d[i])));
    }
    float window(const float* x, const Geometry& g, int64_t oy, int64_t ox) const {
        int64_t y0, y1, x0, x1;
        taps(g, 0, oy, g.in[0], y0, y1);
        taps(g, 1, ox, g.in[1], x0, x1);
        float acc = max_ ? std::numeric_limits<float>::lowest() : 0.f;
        for (int64_t ki = y0; ki < y1; ++ki) {
            const float* row = x + (oy * g.s[0] - g.pb[0] + ki * g.d[0]) * g.in[1];
            for (int64_t kj = x0; kj < x1; ++kj) {
                const float v = row[ox * g.s[1] - g.pb[1] + kj * g.d[1]];
                acc = max_ ? std::max(acc, v) : acc + v;
            }
        }
        if (max_) return acc;
        int64_t count = (y1 - y0) * (x1 - x0);
        if (count_pad_) {  // padding counts, but not the extra cells of ceil_mode
            int64_t p0, p1, q0, q1;
            taps(g, 0, oy, g.in[0] + g.pe[0], p0, p1);
            taps(g, 1, ox, g.in[1] + g.pe[1], q0, q1);
            count = p1 * q1;  // taps start at 0: windows never begin before the padding
        }
        return count ? acc / float(count) : 0.f;
    }
    Window w_;
    bool max_, count_pad_;
};

Result<std::unique_ptr<Op>> make_pool(OpInit& init, bool is_max) {
    Window w;
    read_window(init.attrs, w, true);
    w.ceil_mode = init.attrs.i("ceil_mode", 0) != 0;
    bool count_pad = false;
    if (is_max) {
        if (init.attrs.i("storage_order", 0) != 0) init.attrs.reject("storage_order=1 is not supported");
    } else {
        count_pad = init.attrs.i("count_include_pad", 0) != 0;
    }
    return make_op<Pool>(std::move(w), is_max, count_pad);
}

Result<std::unique_ptr<Op>> make_maxpool(OpInit& init) {
    return make_pool(init, true);
}
Result<std::unique_ptr<Op>> make_avgpool(OpInit& init) {
    return make_pool(init, false);
}

// ---- GlobalAveragePool, GlobalMaxPool: reduce every dim after [N, C].

class GlobalPool final : public Op {
  public:
    explicit GlobalPool(bool is_max) : max_(is_max) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        const Tensor& x = *in[0];
        if (x.shape.size() < 2) return make_error("input must be [N,C,...], got " + shape_str(x.shape));
        std::vector<int64_t> shape(x.shape.size(), 1);
        shape[0] = x.shape[0], shape[1] = x.shape[1];
        Status s = alloc(*out[0], shape, false);
        if (!s) return s;
        const int64_t planes = x.shape[0] * x.shape[1], n = product(x.shape, 2, x.shape.size());
        for (int64_t p = 0; p < planes; ++p) {
            const float* v = x.data.data() + p * n;
            float acc = max_ ? std::numeric_limits<float>::lowest() : 0.f;
            for (int64_t k = 0; k < n; ++k) acc = max_ ? std::max(acc, v[k]) : acc + v[k];
            out[0]->data[size_t(p)] = max_ ? acc : (n ? acc / float(n) : 0.f);
        }
        return ok();
    }

  private:
    bool max_;
};

Result<std::unique_ptr<Op>> make_global_avg(OpInit&) {
    return make_op<GlobalPool>(false);
}
Result<std::unique_ptr<Op>> make_global_max(OpInit&) {
    return make_op<GlobalPool>(true);
}

}  // namespace

void add_conv_pool_ops(std::vector<OpDef>& defs) {
    defs.insert(defs.end(), {
                                {"Conv", 2, 3, 1, 1, make_conv},
                                {"MaxPool", 1, 1, 1, 1, make_maxpool},
                                {"AveragePool", 1, 1, 1, 1, make_avgpool},
                                {"GlobalAveragePool", 1, 1, 1, 1, make_global_avg},
                                {"GlobalMaxPool", 1, 1, 1, 1, make_global_max},
                            });
}

}  // namespace ursa::engine
