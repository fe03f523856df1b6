// Internals of the inference engine: operator interface, attribute access and
// the kernels' shared helpers. Operator semantics follow onnx/docs/Operators.md.
#pragma once
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "onnx_internal.h"
#include "ursa/engine.h"

namespace ursa::engine {

using onnx::Status;
inline Status ok() {
    return std::monostate{};
}

// Largest tensor a run may create (elements); larger shapes are an Error, not an abort.
constexpr int64_t kMaxElements = int64_t(1) << 28;

int64_t numel(const std::vector<int64_t>& shape);
int64_t product(const std::vector<int64_t>& shape, size_t from, size_t to);
std::string shape_str(const std::vector<int64_t>& shape);
// Gives `t` this shape and zeroed data; Error if a dim is negative or it is too large.
// With zero = false the values are unspecified (for kernels that write every one): the
// engine hands outputs buffers kept from earlier runs, so that nothing is allocated or
// cleared per run once their sizes are known.
Status alloc(Tensor& t, std::vector<int64_t> shape, bool zero = true);
// Numpy broadcasting (onnx/docs/Broadcasting.md): false if the shapes are incompatible.
bool broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b, std::vector<int64_t>& out);
// Element strides of `shape` seen as rank `rank`, 0 along broadcast dims.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& shape, size_t rank);
// Normalizes a possibly negative axis for rank `rank` (valid range [-rank, rank + extra)).
bool normalize_axis(int64_t& axis, int64_t rank, int64_t extra = 0);

// Read access to a node's attributes that remembers which ones were asked for, so
// that load() can reject attributes an operator does not implement.
class Attrs {
  public:
    explicit Attrs(const onnx::Node& node) : node_(node) {}
    bool has(const char* name);
    int64_t i(const char* name, int64_t def);
    float f(const char* name, float def);
    std::string s(const char* name, const std::string& def);
    std::vector<int64_t> ints(const char* name, std::vector<int64_t> def = {});
    std::vector<float> floats(const char* name);
    const onnx::TensorData* tensor(const char* name);
    // Accepts an attribute that has no effect at inference (e.g. Dropout's seed).
    void ignore(const char* name) { used_.insert(name); }
    // Records an unsupported value; the first one becomes the load error.
    void reject(const std::string& message);
    Status status() const;

  private:
    const onnx::Attribute* find(const char* name, int32_t type);
    const onnx::Node& node_;
    std::set<std::string> used_;
    std::string error_;
};

// One planned node. Absent optional inputs are nullptr; absent optional outputs too.
class Op {
  public:
    virtual ~Op() = default;
    virtual Status run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) = 0;
    // True if the output is always the first input unchanged (e.g. a Cast to FLOAT):
    // the plan then gives the output the input's slot and never runs the op.
    virtual bool passthrough() const { return false; }
    // Called once after planning with, per input, its value if it is a constant
    // (initializer or Constant) and nullptr otherwise; e.g. Conv packs its weights here.
    // The tensors stay alive and unchanged as long as the op.
    virtual Status prepare(const std::vector<const Tensor*>& constants) { return ok(); }
    // True if, after prepare(), the op keeps its own copy of constant input `k` (e.g.
    // packed weights) and reads only that input's shape: the plan then frees the
    // original values when nothing else reads them.
    virtual bool keeps_copy_of(size_t k) const { return false; }
    // Asks the op to apply Relu (x > 0 ? x : 0) to its first output itself; true if it
    // will, and the plan then drops the Relu node that reads it.
    virtual bool fuse_relu() { return false; }
};

struct OpInit {
    const onnx::Node& node;
    int64_t opset;  // version of the default domain
    Attrs& attrs;
};

using OpFactory = Result<std::unique_ptr<Op>> (*)(OpInit& init);

struct OpDef {
    const char* op_type;
    int min_inputs, max_inputs, min_outputs, max_outputs;
    OpFactory make;
};

// Each kernel file adds its operators.
void add_elementwise_ops(std::vector<OpDef>& defs);
void add_conv_pool_ops(std::vector<OpDef>& defs);
void add_linear_ops(std::vector<OpDef>& defs);
void add_shape_ops(std::vector<OpDef>& defs);

template <class T, class... Args>
Result<std::unique_ptr<Op>> make_op(Args&&... args) {
    return std::unique_ptr<Op>(new T(std::forward<Args>(args)...));
}

// C[M,N] = A[M,K] * B[K,N] (+ C when accumulate), row-major with leading dimensions.
// Packs A on every call; constant A (weights) should be packed once with pack_a.
void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
           float* C, int64_t ldc, bool accumulate);

// The GEMM's micro-tile height: A is packed in panels of this many rows.
#ifndef URSA_GEMM_MR
#define URSA_GEMM_MR 4
#endif
#ifndef URSA_GEMM_NR
#define URSA_GEMM_NR 8
#endif
constexpr int64_t kGemmMR = URSA_GEMM_MR;

// A[M,K] packed for sgemm_packed: panels of kGemmMR rows (the last zero-padded), each
// panel K x kGemmMR, column by column.
struct PackedA {
    int64_t M = 0, K = 0;
    std::vector<float> data;
};
void pack_a(int64_t M, int64_t K, const float* A, int64_t lda, PackedA& out);

struct GemmOptions {
    const float* bias = nullptr;  // M values: C = bias[i] + A * B (when !accumulate)
    bool accumulate = false;      // C += A * B
    bool relu = false;            // then C = max(C, 0) (x > 0 ? x : 0, as Relu)
};
// C[M,N] = A * B[K,N] (+ bias or C), optionally followed by Relu; A packed by pack_a.
void sgemm_packed(const PackedA& A, int64_t N, const float* B, int64_t ldb, float* C, int64_t ldc,
                  const GemmOptions& options);

}  // namespace ursa::engine
