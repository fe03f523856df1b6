// Single-precision GEMM: cache-blocked, i-k-j order so that the innermost loop runs
// over contiguous columns of B and C and compilers auto-vectorize it (-O3).
#include <algorithm>

#include "engine_internal.h"

namespace ursa::engine {
namespace {

constexpr int64_t kBlockN = 256;  // columns of C kept in L1 per row (1 KiB)
constexpr int64_t kBlockK = 128;  // rows of B streamed per pass (128 KiB block)

// C[r, 0:n] += sum_k A[r, k] * B[k, 0:n] for four rows r at once, so each B row
// loaded is used four times. The rows are restrict *parameters*: clang ignores restrict
// on local pointers, could not prove the five rows independent and left this loop
// scalar in the wasm build (GCC vectorized it natively behind run-time checks).
void rows4(int64_t n, int64_t kn, const float* A, int64_t lda, const float* __restrict B, int64_t ldb,
           float* __restrict c0, float* __restrict c1, float* __restrict c2, float* __restrict c3) {
    for (int64_t k = 0; k < kn; ++k) {
        const float a0 = A[k], a1 = A[lda + k], a2 = A[2 * lda + k], a3 = A[3 * lda + k];
        const float* __restrict b = B + k * ldb;
        for (int64_t j = 0; j < n; ++j) {
            const float bj = b[j];
            c0[j] += a0 * bj;
            c1[j] += a1 * bj;
            c2[j] += a2 * bj;
            c3[j] += a3 * bj;
        }
    }
}

void kernel4(int64_t n, int64_t kn, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
             int64_t ldc) {
    rows4(n, kn, A, lda, B, ldb, C, C + ldc, C + 2 * ldc, C + 3 * ldc);
}

void kernel1(int64_t n, int64_t kn, const float* A, const float* B, int64_t ldb, float* C) {
    float* __restrict c = C;
    for (int64_t k = 0; k < kn; ++k) {
        const float a = A[k];
        const float* __restrict b = B + k * ldb;
        for (int64_t j = 0; j < n; ++j) c[j] += a * b[j];
    }
}

}  // namespace

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
           float* C, int64_t ldc, bool accumulate) {
    if (!accumulate)
        for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.f);
    for (int64_t j0 = 0; j0 < N; j0 += kBlockN) {
        const int64_t n = std::min(kBlockN, N - j0);
        for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
            const int64_t kn = std::min(kBlockK, K - k0);
            const float* Bk = B + k0 * ldb + j0;
            int64_t i = 0;
            for (; i + 4 <= M; i += 4) kernel4(n, kn, A + i * lda + k0, lda, Bk, ldb, C + i * ldc + j0, ldc);
            for (; i < M; ++i) kernel1(n, kn, A + i * lda + k0, Bk, ldb, C + i * ldc + j0);
        }
    }
}

}  // namespace ursa::engine
