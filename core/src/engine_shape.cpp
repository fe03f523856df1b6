// Operators that move data without arithmetic: Concat, Flatten, Reshape, Transpose.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine_internal.h"

namespace ursa::engine {
namespace {

// ---- Concat

class Concat final : public Op {
  public:
    explicit Concat(int64_t axis) : axis_(axis) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        std::vector<int64_t> shape = in[0]->shape;
        int64_t axis = axis_;
        if (!normalize_axis(axis, int64_t(shape.size())))
            return make_error("axis " + std::to_string(axis_) + " out of range for " + shape_str(shape));
        const size_t ax = size_t(axis);
        int64_t total = 0;
        for (const Tensor* t : in) {
            if (!t) return make_error("inputs cannot be absent");
            bool same = t->shape.size() == shape.size();
            for (size_t d = 0; same && d < shape.size(); ++d) same = d == ax || t->shape[d] == shape[d];
            if (!same)
                return make_error("cannot concatenate " + shape_str(in[0]->shape) + " and " +
                                  shape_str(t->shape));
            total += t->shape[ax];
        }
        shape[ax] = total;
        Status s = alloc(*out[0], shape);
        if (!s) return s;
        const int64_t outer = product(shape, 0, ax), inner = product(shape, ax + 1, shape.size());
        float* y = out[0]->data.data();
        for (int64_t o = 0; o < outer; ++o)
            for (const Tensor* t : in) {
                const int64_t chunk = t->shape[ax] * inner;
                std::copy_n(t->data.data() + o * chunk, chunk, y);
                y += chunk;
            }
        return ok();
    }

  private:
    int64_t axis_;
};

Result<std::unique_ptr<Op>> make_concat(OpInit& init) {
    if (init.opset >= 4 && !init.attrs.has("axis")) init.attrs.reject("axis is required");
    return make_op<Concat>(init.attrs.i("axis", 1));
}

// ---- Flatten: [d0..d(axis-1)] x [d(axis)..] -> 2-D

class Flatten final : public Op {
  public:
    explicit Flatten(int64_t axis) : axis_(axis) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        const Tensor& x = *in[0];
        int64_t axis = axis_;
        if (!normalize_axis(axis, int64_t(x.shape.size()), 1))
            return make_error("axis " + std::to_string(axis_) + " out of range for " + shape_str(x.shape));
        *out[0] = Tensor{{product(x.shape, 0, size_t(axis)), product(x.shape, size_t(axis), x.shape.size())},
                         x.data};
        return ok();
    }

  private:
    int64_t axis_;
};

Result<std::unique_ptr<Op>> make_flatten(OpInit& init) {
    return make_op<Flatten>(init.attrs.i("axis", 1));
}

// ---- Reshape: 0 copies the input dim (unless allowzero), -1 is inferred.

class Reshape final : public Op {
  public:
    Reshape(std::vector<int64_t> attr_shape, bool allowzero)
        : attr_shape_(std::move(attr_shape)), allowzero_(allowzero) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        const Tensor& x = *in[0];
        std::vector<int64_t> spec = attr_shape_;
        if (in.size() > 1) {
            if (!in[1] || in[1]->shape.size() != 1) return make_error("shape must be a 1-D tensor");
            spec.clear();
            for (float v : in[1]->data) {
                if (v != std::floor(v) || std::fabs(v) > 1e15f)
                    return make_error("shape values must be integers");
                spec.push_back(int64_t(v));
            }
        }
        std::vector<int64_t> shape;
        Status s = resolve(x.shape, spec, numel(x.shape), shape);
        if (!s) return s;
        *out[0] = Tensor{std::move(shape), x.data};
        return ok();
    }

  private:
    Status resolve(const std::vector<int64_t>& in, const std::vector<int64_t>& spec, int64_t n,
                   std::vector<int64_t>& shape) const {
        auto bad = [&] { return make_error("cannot reshape " + shape_str(in) + " to " + shape_str(spec)); };
        int64_t known = 1;
        int infer = -1;
        for (size_t k = 0; k < spec.size(); ++k) {
            int64_t d = spec[k];
            if (d == 0 && !allowzero_) {
                if (k >= in.size()) return bad();
                d = in[k];
            } else if (d == -1) {
                if (infer >= 0) return bad();
                infer = int(k);
                shape.push_back(1);
                continue;
            } else if (d < 0 || d > kMaxElements) {
                return bad();
            }
            shape.push_back(d);
            known *= d;
            if (known > kMaxElements) return bad();
        }
        if (infer >= 0) {
            if (known == 0 || n % known) return bad();
            shape[size_t(infer)] = n / known;
        } else if (known != n) {
            return bad();
        }
        return ok();
    }
    std::vector<int64_t> attr_shape_;
    bool allowzero_;
};

Result<std::unique_ptr<Op>> make_reshape(OpInit& init) {
    std::vector<int64_t> shape;
    if (init.opset < 5) {
        shape = init.attrs.ints("shape");
        if (init.node.inputs.size() > 1) return make_error("a shape input needs opset 5 or later");
    } else if (init.node.inputs.size() < 2 || init.node.inputs[1].empty()) {
        return make_error("needs a shape input");
    }
    init.attrs.ignore("consumed_inputs");
    return make_op<Reshape>(std::move(shape), init.attrs.i("allowzero", 0) != 0);
}

// ---- Transpose: output dim k is input dim perm[k] (default: reversed).

bool is_permutation(const std::vector<int64_t>& perm) {
    std::vector<bool> seen(perm.size(), false);
    for (int64_t p : perm) {
        if (p < 0 || p >= int64_t(perm.size()) || seen[size_t(p)]) return false;
        seen[size_t(p)] = true;
    }
    return true;
}

class Transpose final : public Op {
  public:
    explicit Transpose(std::vector<int64_t> perm) : perm_(std::move(perm)) {}
    Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
        const Tensor& x = *in[0];
        const size_t r = x.shape.size();
        std::vector<int64_t> perm = perm_;
        if (perm.empty())
            for (size_t k = r; k-- > 0;) perm.push_back(int64_t(k));
        if (perm.size() != r)
            return make_error("perm " + shape_str(perm) + " does not fit " + shape_str(x.shape));
        std::vector<int64_t> shape(r), in_strides(r), strides(r);
        for (size_t k = r, s = 1; k-- > 0; s *= size_t(x.shape[k])) in_strides[k] = int64_t(s);
        for (size_t k = 0; k < r; ++k) {
            shape[k] = x.shape[size_t(perm[k])];
            strides[k] = in_strides[size_t(perm[k])];  // input stride along output dim k
        }
        Status s = alloc(*out[0], shape);
        if (!s) return s;
        std::vector<int64_t> idx(r, 0);
        int64_t off = 0;
        for (float& y : out[0]->data) {
            y = x.data[size_t(off)];
            for (size_t d = r; d-- > 0;) {  // odometer over the output index
                off += strides[d];
                if (++idx[d] < shape[d]) break;
                off -= strides[d] * shape[d], idx[d] = 0;
            }
        }
        return ok();
    }

  private:
    std::vector<int64_t> perm_;
};

Result<std::unique_ptr<Op>> make_transpose(OpInit& init) {
    auto perm = init.attrs.ints("perm");
    if (!is_permutation(perm)) init.attrs.reject("perm " + shape_str(perm) + " is not a permutation");
    return make_op<Transpose>(std::move(perm));
}

}  // namespace

void add_shape_ops(std::vector<OpDef>& defs) {
    defs.insert(defs.end(), {
                                {"Concat", 1, 1 << 16, 1, 1, make_concat},
                                {"Flatten", 1, 1, 1, 1, make_flatten},
                                {"Reshape", 1, 2, 1, 1, make_reshape},
                                {"Transpose", 1, 1, 1, 1, make_transpose},
                            });
}

}  // namespace ursa::engine
