// Single-precision GEMM in the Goto/BLIS style: A is packed into panels of kMR rows
// (once, at load, for constant weights), B into panels of kNR columns per cache block,
// and a register-blocked kMR x kNR micro-kernel runs the K loop innermost over the
// packed data with its outputs held in registers. The kernel uses the compiler's
// generic 128-bit vectors (GCC/clang vector extensions), which become SSE natively and
// SIMD128 in the wasm build (-msimd128), no FMA. 4 x 8 tiles (8 accumulators): wider
// tiles measured slower under V8, which has 16 vector registers and spills the rest.
#include <algorithm>
#include <cstring>

#include "engine_internal.h"

// Natively on x86-64, a second kernel for CPUs with AVX2 + FMA, chosen at run time (the
// default build targets every x86-64). It uses the same packed layouts.
#if defined(__x86_64__) && !defined(__EMSCRIPTEN__) && (defined(__GNUC__) || defined(__clang__)) && \
    URSA_GEMM_MR == 4 && URSA_GEMM_NR == 8
#define URSA_GEMM_AVX2 1
#include <immintrin.h>
#endif

namespace ursa::engine {
namespace {

typedef float v4 __attribute__((vector_size(16)));

inline v4 load4(const float* p) {
    v4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store4(float* p, v4 v) {
    std::memcpy(p, &v, sizeof v);
}
inline v4 splat4(float x) {
    return v4{x, x, x, x};
}
typedef int32_t v4i __attribute__((vector_size(16)));
// x > 0 ? x : 0 per lane, as the Relu operator computes it (NaN gives 0).
inline v4 relu4(v4 v) {
    const v4i keep = v > splat4(0.f);
    v4i bits;
    std::memcpy(&bits, &v, sizeof bits);
    bits &= keep;
    std::memcpy(&v, &bits, sizeof v);
    return v;
}

constexpr int64_t kMR = kGemmMR;  // rows of a micro-tile
constexpr int64_t kNR = URSA_GEMM_NR;  // columns of a micro-tile, a multiple of 4
constexpr int64_t kKC = 256;      // depth of a packed block: a B micro-panel is 8 KiB (L1)
constexpr int64_t kNC = 1024;     // columns of a packed B block (1 MiB)
constexpr int64_t kMC = 120;      // rows of A swept per B micro-panel (120 KiB of packed A, L2)

// How a micro-tile's accumulators start and end.
struct TileMode {
    const float* bias;  // per row (kMR values), when !load_c
    bool load_c;        // start from C's values (later K blocks, or accumulate)
    bool relu;          // max(x, 0) before storing (last K block only)
};

// C[0:kMR, 0:kNR] = (C or bias or 0) + a * b over kc steps; a is kc x kMR, b kc x kNR.
// The loops over the tile have constant bounds: the compilers unroll them and keep
// the accumulators in registers.
void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                  int64_t ldc, const TileMode& mode) {
    constexpr int NV = int(kNR / 4);
    v4 acc[kMR][NV];
    for (int i = 0; i < kMR; ++i)
        for (int v = 0; v < NV; ++v)
            acc[i][v] = mode.load_c ? load4(c + i * ldc + 4 * v) : splat4(mode.bias ? mode.bias[i] : 0.f);
    for (int64_t k = 0; k < kc; ++k, a += kMR, b += kNR) {
        v4 bv[NV];
        for (int v = 0; v < NV; ++v) bv[v] = load4(b + 4 * v);
        for (int i = 0; i < kMR; ++i) {
            const v4 t = splat4(a[i]);
            for (int v = 0; v < NV; ++v) acc[i][v] += t * bv[v];
        }
    }
    for (int i = 0; i < kMR; ++i)
        for (int v = 0; v < NV; ++v) store4(c + i * ldc + 4 * v, mode.relu ? relu4(acc[i][v]) : acc[i][v]);
}

// A partial tile (m < kMR rows or n < kNR columns) through a full-size scratch tile.
void edge_tile(int64_t m, int64_t n, int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
               const TileMode& mode) {
    float tile[kMR * kNR] = {};
    float bias[kMR] = {};
    TileMode t = mode;
    if (mode.load_c) {
        for (int64_t i = 0; i < m; ++i) std::memcpy(tile + i * kNR, c + i * ldc, size_t(n) * sizeof(float));
    } else if (mode.bias) {
        std::memcpy(bias, mode.bias, size_t(m) * sizeof(float));
        t.bias = bias;
    }
    micro_kernel(kc, a, b, tile, kNR, t);
    for (int64_t i = 0; i < m; ++i) std::memcpy(c + i * ldc, tile + i * kNR, size_t(n) * sizeof(float));
}

// B[k0:k0+kc, j0:j0+nc] into kNR-column panels, each kc x kNR, zero-padded on the right.
void pack_b(int64_t kc, int64_t nc, const float* B, int64_t ldb, float* dst) {
    for (int64_t j = 0; j < nc; j += kNR, dst += kc * kNR) {
        const int64_t n = std::min(kNR, nc - j);
        const float* src = B + j;
        if (n == kNR) {
            for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * kNR, src + k * ldb, sizeof(float) * kNR);
        } else {
            for (int64_t k = 0; k < kc; ++k) {
                float* d = dst + k * kNR;
                for (int64_t x = 0; x < kNR; ++x) d[x] = x < n ? src[k * ldb + x] : 0.f;
            }
        }
    }
}

#if URSA_GEMM_AVX2
// Two adjacent A panels (8 rows) times one B micro-panel (8 columns): one 8-float
// accumulator per row, fused multiply-adds. Same contract as micro_kernel for 2 kMR rows.
__attribute__((target("avx2,fma"))) void micro_kernel_avx2(int64_t kc, const float* __restrict a0,
                                                             const float* __restrict a1,
                                                             const float* __restrict b, float* __restrict c,
                                                             int64_t ldc, const TileMode& mode) {
    __m256 acc[8];
    for (int i = 0; i < 8; ++i)
        acc[i] = mode.load_c ? _mm256_loadu_ps(c + i * ldc) : _mm256_set1_ps(mode.bias ? mode.bias[i] : 0.f);
    for (int64_t k = 0; k < kc; ++k, a0 += 4, a1 += 4, b += 8) {
        const __m256 bv = _mm256_loadu_ps(b);
        for (int i = 0; i < 4; ++i) acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + i), bv, acc[i]);
        for (int i = 0; i < 4; ++i) acc[4 + i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + i), bv, acc[4 + i]);
    }
    const __m256 zero = _mm256_setzero_ps();
    for (int i = 0; i < 8; ++i) {
        // x > 0 ? x : 0, as Relu (NaN gives 0)
        const __m256 y = mode.relu ? _mm256_and_ps(acc[i], _mm256_cmp_ps(acc[i], zero, _CMP_GT_OQ)) : acc[i];
        _mm256_storeu_ps(c + i * ldc, y);
    }
}

bool have_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
}
#endif

thread_local std::vector<float> t_packed_b;
thread_local PackedA t_packed_a;

}  // namespace

void pack_a(int64_t M, int64_t K, const float* A, int64_t lda, PackedA& out) {
    out.M = M, out.K = K;
    const int64_t panels = (M + kMR - 1) / kMR;
    out.data.assign(size_t(panels * kMR * K), 0.f);
    for (int64_t p = 0; p < panels; ++p) {
        float* dst = out.data.data() + p * kMR * K;
        const int64_t m = std::min(kMR, M - p * kMR);
        for (int64_t i = 0; i < m; ++i) {
            const float* src = A + (p * kMR + i) * lda;
            for (int64_t k = 0; k < K; ++k) dst[k * kMR + i] = src[k];
        }
    }
}

void sgemm_packed(const PackedA& A, int64_t N, const float* B, int64_t ldb, float* C, int64_t ldc,
                  const GemmOptions& opt) {
    const int64_t M = A.M, K = A.K;
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {  // nothing to multiply: C = bias / C / 0, then relu
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
                float& y = C[i * ldc + j];
                y = opt.accumulate ? y : opt.bias ? opt.bias[i] : 0.f;
                if (opt.relu) y = std::max(y, 0.f);
            }
        return;
    }
#if URSA_GEMM_AVX2
    const bool avx2 = have_avx2();
#endif
    std::vector<float>& bp = t_packed_b;
    const int64_t ncmax = std::min(kNC, (N + kNR - 1) / kNR * kNR);
    bp.resize(size_t(std::min(kKC, K) * ncmax));
    for (int64_t j0 = 0; j0 < N; j0 += kNC) {
        const int64_t nc = std::min(kNC, N - j0);
        for (int64_t k0 = 0; k0 < K; k0 += kKC) {
            const int64_t kc = std::min(kKC, K - k0);
            pack_b(kc, nc, B + k0 * ldb + j0, ldb, bp.data());
            const bool first = k0 == 0, last = k0 + kc >= K;
            for (int64_t i0 = 0; i0 < M; i0 += kMC) {
                const int64_t mc = std::min(kMC, M - i0);
                for (int64_t j = 0; j < nc; j += kNR) {
                    const int64_t n = std::min(kNR, nc - j);
                    const float* b = bp.data() + j * kc;
                    for (int64_t i = i0; i < i0 + mc; i += kMR) {
                        const int64_t m = std::min(kMR, M - i);
                        const float* a = A.data.data() + i * K + k0 * kMR;
                        float* c = C + i * ldc + j0 + j;
                        TileMode mode{opt.bias && first ? opt.bias + i : nullptr, !first || opt.accumulate,
                                      last && opt.relu};
#if URSA_GEMM_AVX2
                        if (avx2 && n == kNR && i + 2 * kMR <= i0 + mc) {
                            micro_kernel_avx2(kc, a, a + kMR * K, b, c, ldc, mode);
                            i += kMR;
                            continue;
                        }
#endif
                        if (m == kMR && n == kNR)
                            micro_kernel(kc, a, b, c, ldc, mode);
                        else
                            edge_tile(m, n, kc, a, b, c, ldc, mode);
                    }
                }
            }
        }
    }
}

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
           float* C, int64_t ldc, bool accumulate) {
    PackedA& pa = t_packed_a;
    pack_a(M, K, A, lda, pa);
    GemmOptions opt;
    opt.accumulate = accumulate;
    sgemm_packed(pa, N, B, ldb, C, ldc, opt);
}

}  // namespace ursa::engine
