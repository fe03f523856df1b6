// Gemm and MatMul on top of sgemm.
#include <algorithm>

#include "engine_internal.h"

namespace ursa::engine {
namespace {

// A row-major [rows, cols] matrix, transposed into `dst` when `trans` (else a view).
const float* as_matrix(const Tensor& t, bool trans, int64_t rows, int64_t cols, float scale,
                       std::vector<float>& dst) {
    if (!trans && scale == 1.f) return t.data.data();
    dst.resize(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            dst[size_t(r * cols + c)] =
                scale * (trans ? t.data[size_t(c * rows + r)] : t.data[size_t(r * cols + c)]);
    return dst.data();
}

// Y = alpha * A' * B' + beta * C, with A' = transA ? A^T : A (likewise B'), C broadcast to [M, N].
class Gemm final : public Op {
  public:
    Gemm(float alpha, float beta, bool ta, bool tb) : alpha_(alpha), beta_(beta), ta_(ta), tb_(tb) {}
    // A constant, transposed B (a classifier's weights) is transposed once, here.
    Status prepare(const std::vector<const Tensor*>& constants) override {
        const Tensor* b = constants.size() > 1 ? constants[1] : nullptr;
        if (!b || !tb_ || b->shape.size() != 2 || int64_t(b->data.size()) != numel(b->shape)) return ok();
        as_matrix(*b, true, b->shape[1], b->shape[0], 1.f, b_t_);
        b_t_from_ = b;
        return ok();
    }
    bool keeps_copy_of(size_t k) const override { return k == 1 && b_t_from_; }
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        const Tensor& a = *in[0];
        const Tensor& b = *in[1];
        const Tensor* c = in.size() > 2 ? in[2] : nullptr;
        if (a.shape.size() != 2 || b.shape.size() != 2)
            return make_error("A and B must be 2-D, got " + shape_str(a.shape) + " and " +
                              shape_str(b.shape));
        const int64_t M = a.shape[ta_ ? 1 : 0], K = a.shape[ta_ ? 0 : 1];
        const int64_t Kb = b.shape[tb_ ? 1 : 0], N = b.shape[tb_ ? 0 : 1];
        if (K != Kb) return make_error("cannot multiply " + shape_str(a.shape) + " by " + shape_str(b.shape));
        Status s = alloc(*out[0], {M, N});
        if (!s) return s;
        float* y = out[0]->data.data();
        const bool with_c = c && beta_ != 0.f;
        if (with_c) {
            s = fill_c(*c, M, N, y);
            if (!s) return s;
        }
        std::vector<float> ta, tb;
        const float* pa = as_matrix(a, ta_, M, K, alpha_, ta);
        const float* pb = &b == b_t_from_ ? b_t_.data() : as_matrix(b, tb_, K, N, 1.f, tb);
        sgemm(M, N, K, pa, K, pb, N, y, N, with_c);
        return ok();
    }

  private:
    // y = beta * C, C unidirectionally broadcast to [M, N].
    Status fill_c(const Tensor& c, int64_t M, int64_t N, float* y) const {
        std::vector<int64_t> cs = c.shape;
        if (cs.size() > 2) return make_error("C must have rank <= 2, got " + shape_str(cs));
        while (cs.size() < 2) cs.insert(cs.begin(), 1);
        if ((cs[0] != 1 && cs[0] != M) || (cs[1] != 1 && cs[1] != N))
            return make_error("C " + shape_str(c.shape) + " does not broadcast to [" + std::to_string(M) +
                              "," + std::to_string(N) + "]");
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j)
                y[i * N + j] = beta_ * c.data[size_t((cs[0] == 1 ? 0 : i) * cs[1] + (cs[1] == 1 ? 0 : j))];
        return ok();
    }
    float alpha_, beta_;
    bool ta_, tb_;
    std::vector<float> b_t_;            // B transposed, from prepare()
    const Tensor* b_t_from_ = nullptr;  // the constant it was made from
};

Result<std::unique_ptr<Op>> make_gemm(OpInit& init) {
    Attrs& a = init.attrs;
    a.ignore("broadcast");  // before opset 7; C broadcasting is always on here
    return make_op<Gemm>(a.f("alpha", 1.f), a.f("beta", 1.f), a.i("transA", 0) != 0, a.i("transB", 0) != 0);
}

// numpy.matmul: 1-D operands get a dimension prepended (A) or appended (B) and then
// removed; leading batch dims broadcast.
class MatMul final : public Op {
  public:
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        std::vector<int64_t> as = in[0]->shape, bs = in[1]->shape;
        if (as.empty() || bs.empty()) return make_error("operands must have rank >= 1");
        const bool a1 = as.size() == 1, b1 = bs.size() == 1;
        if (a1) as.insert(as.begin(), 1);
        if (b1) bs.push_back(1);
        const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
        if (bs[bs.size() - 2] != K)
            return make_error("cannot multiply " + shape_str(in[0]->shape) + " by " +
                              shape_str(in[1]->shape));
        std::vector<int64_t> ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2), batch;
        if (!broadcast_shape(ab, bb, batch))
            return make_error("batch dims of " + shape_str(in[0]->shape) + " and " + shape_str(in[1]->shape) +
                              " do not broadcast");
        std::vector<int64_t> shape = batch;
        if (!a1) shape.push_back(M);
        if (!b1) shape.push_back(N);
        Status s = alloc(*out[0], shape);
        if (!s) return s;
        const auto sa = broadcast_strides(ab, batch.size()), sb = broadcast_strides(bb, batch.size());
        const int64_t count = numel(batch);
        for (int64_t t = 0; t < count; ++t) {
            int64_t oa = 0, ob = 0, rest = t;  // unravel t over the batch dims
            for (size_t d = batch.size(); d-- > 0;) {
                const int64_t i = rest % batch[d];
                rest /= batch[d];
                oa += i * sa[d], ob += i * sb[d];
            }
            sgemm(M, N, K, in[0]->data.data() + oa * M * K, K, in[1]->data.data() + ob * K * N, N,
                  out[0]->data.data() + t * M * N, N, false);
        }
        return ok();
    }
};

Result<std::unique_ptr<Op>> make_matmul(OpInit&) {
    return make_op<MatMul>();
}

}  // namespace

void add_linear_ops(std::vector<OpDef>& defs) {
    defs.insert(defs.end(), {
                                {"Gemm", 2, 3, 1, 1, make_gemm},
                                {"MatMul", 2, 2, 1, 1, make_matmul},
                            });
}

}  // namespace ursa::engine
