// Single-precision GEMM in the Goto/BLIS style: A is packed into panels of kMR rows
// (once, at load, for constant weights), B into panels of kNR columns per cache block,
// and a register-blocked kMR x kNR micro-kernel runs the K loop innermost over the
// packed data with its outputs held in registers. The kernel uses the compiler's
// generic 128-bit vectors (GCC/clang vector extensions), which become SSE natively and
// SIMD128 in the wasm build (-msimd128), no FMA. 4 x 8 tiles (8 accumulators): wider
// tiles measured slower under V8, which has 16 vector registers and spills the rest.
// Large products are split over the engine's threads (engine_parallel.h) by columns or
// rows of C.
#include <algorithm>
#include <cstring>

#include "engine_internal.h"
#include "engine_parallel.h"

// Natively on x86-64, kernels for CPUs with AVX2 + FMA, chosen at run time (the default
// build targets every x86-64): 4 x 24, 4 x 16 and 8 x 8 tiles over the same packed layouts.
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
// The AVX2 + FMA kernels. Every output is the same chain of fused multiply-adds in K
// order from the same start, whichever kernel computes it, so the results do not
// depend on how the matrix was tiled or split over threads.
//
// One A panel (4 rows) times NB adjacent B micro-panels (8 columns each, `bstride`
// floats apart): 4 x NB accumulators of 8 floats. NB = 3 uses 12 of the 16 registers
// for accumulators, 3 for B and 1 for the broadcast, and loads 7 vectors per 12 FMAs.
// The accumulators are named variables, not an array: GCC keeps an array of vectors
// in memory and stores every accumulator on every step (it ran at a third of the speed).
#define URSA_ACC_INIT(i)                                                           \
    if (mode.load_c) {                                                             \
        r##i##a = _mm256_loadu_ps(c + i * ldc);                                    \
        if (NB > 1) r##i##b = _mm256_loadu_ps(c + i * ldc + 8);                    \
        if (NB > 2) r##i##c = _mm256_loadu_ps(c + i * ldc + 16);                   \
    } else {                                                                       \
        r##i##a = r##i##b = r##i##c = _mm256_set1_ps(mode.bias ? mode.bias[i] : 0.f); \
    }
#define URSA_ACC_STEP(i)                                     \
    t = _mm256_broadcast_ss(a + i);                          \
    r##i##a = _mm256_fmadd_ps(t, ba, r##i##a);               \
    if (NB > 1) r##i##b = _mm256_fmadd_ps(t, bb, r##i##b);   \
    if (NB > 2) r##i##c = _mm256_fmadd_ps(t, bc, r##i##c);
// x > 0 ? x : 0, as Relu (NaN gives 0)
#define URSA_RELU(x) (mode.relu ? _mm256_and_ps(x, _mm256_cmp_ps(x, zero, _CMP_GT_OQ)) : x)
#define URSA_ACC_STORE(i)                                                \
    _mm256_storeu_ps(c + i * ldc, URSA_RELU(r##i##a));                   \
    if (NB > 1) _mm256_storeu_ps(c + i * ldc + 8, URSA_RELU(r##i##b));   \
    if (NB > 2) _mm256_storeu_ps(c + i * ldc + 16, URSA_RELU(r##i##c));

template <int NB>
__attribute__((target("avx2,fma"))) void kernel_avx2_4(int64_t kc, const float* __restrict a,
                                                        const float* __restrict b, int64_t bstride,
                                                        float* __restrict c, int64_t ldc, const TileMode& mode) {
    static_assert(NB >= 1 && NB <= 3, "1 to 3 column panels");
    const __m256 zero = _mm256_setzero_ps();
    __m256 r0a, r0b = zero, r0c = zero, r1a, r1b = zero, r1c = zero, r2a, r2b = zero, r2c = zero, r3a,
        r3b = zero, r3c = zero;
    URSA_ACC_INIT(0) URSA_ACC_INIT(1) URSA_ACC_INIT(2) URSA_ACC_INIT(3)
    for (int64_t k = 0; k < kc; ++k, a += 4, b += 8) {
        const __m256 ba = _mm256_loadu_ps(b);
        const __m256 bb = NB > 1 ? _mm256_loadu_ps(b + bstride) : zero;
        const __m256 bc = NB > 2 ? _mm256_loadu_ps(b + 2 * bstride) : zero;
        __m256 t;
        URSA_ACC_STEP(0) URSA_ACC_STEP(1) URSA_ACC_STEP(2) URSA_ACC_STEP(3)
    }
    URSA_ACC_STORE(0) URSA_ACC_STORE(1) URSA_ACC_STORE(2) URSA_ACC_STORE(3)
}
#undef URSA_ACC_INIT
#undef URSA_ACC_STEP
#undef URSA_ACC_STORE

// Two adjacent A panels (8 rows) times one B micro-panel (8 columns): one accumulator
// per row, for the last column panel of a block.
__attribute__((target("avx2,fma"))) void kernel_avx2_8x8(int64_t kc, const float* __restrict a0,
                                                          const float* __restrict a1,
                                                          const float* __restrict b, float* __restrict c,
                                                          int64_t ldc, const TileMode& mode) {
#define URSA_ROW_INIT(i) \
    mode.load_c ? _mm256_loadu_ps(c + i * ldc) : _mm256_set1_ps(mode.bias ? mode.bias[i] : 0.f)
    __m256 r0 = URSA_ROW_INIT(0), r1 = URSA_ROW_INIT(1), r2 = URSA_ROW_INIT(2), r3 = URSA_ROW_INIT(3),
           r4 = URSA_ROW_INIT(4), r5 = URSA_ROW_INIT(5), r6 = URSA_ROW_INIT(6), r7 = URSA_ROW_INIT(7);
#undef URSA_ROW_INIT
    for (int64_t k = 0; k < kc; ++k, a0 += 4, a1 += 4, b += 8) {
        const __m256 bv = _mm256_loadu_ps(b);
        r0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a0), bv, r0);
        r1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + 1), bv, r1);
        r2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + 2), bv, r2);
        r3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + 3), bv, r3);
        r4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1), bv, r4);
        r5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + 1), bv, r5);
        r6 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + 2), bv, r6);
        r7 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + 3), bv, r7);
    }
    const __m256 zero = _mm256_setzero_ps();
    _mm256_storeu_ps(c, URSA_RELU(r0));
    _mm256_storeu_ps(c + ldc, URSA_RELU(r1));
    _mm256_storeu_ps(c + 2 * ldc, URSA_RELU(r2));
    _mm256_storeu_ps(c + 3 * ldc, URSA_RELU(r3));
    _mm256_storeu_ps(c + 4 * ldc, URSA_RELU(r4));
    _mm256_storeu_ps(c + 5 * ldc, URSA_RELU(r5));
    _mm256_storeu_ps(c + 6 * ldc, URSA_RELU(r6));
    _mm256_storeu_ps(c + 7 * ldc, URSA_RELU(r7));
}
#undef URSA_RELU

bool have_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
}
#endif

// A full kMR x kNR tile: the FMA kernel where the CPU has one, else the generic one.
inline void full_tile(bool avx2, int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                      const TileMode& mode) {
#if URSA_GEMM_AVX2
    if (avx2) return kernel_avx2_4<1>(kc, a, b, 0, c, ldc, mode);
#endif
    (void)avx2;
    micro_kernel(kc, a, b, c, ldc, mode);
}

// A partial tile (m < kMR rows or n < kNR columns) through a full-size scratch tile.
void edge_tile(bool avx2, int64_t m, int64_t n, int64_t kc, const float* a, const float* b, float* c,
               int64_t ldc, const TileMode& mode) {
    float tile[kMR * kNR] = {};
    float bias[kMR] = {};
    TileMode t = mode;
    if (mode.load_c) {
        for (int64_t i = 0; i < m; ++i) std::memcpy(tile + i * kNR, c + i * ldc, size_t(n) * sizeof(float));
    } else if (mode.bias) {
        std::memcpy(bias, mode.bias, size_t(m) * sizeof(float));
        t.bias = bias;
    }
    full_tile(avx2, kc, a, b, tile, kNR, t);
    for (int64_t i = 0; i < m; ++i) std::memcpy(c + i * ldc, tile + i * kNR, size_t(n) * sizeof(float));
}

thread_local std::vector<float> t_packed_b;
thread_local PackedA t_packed_a;

// Rows [r0, r1) (r0 a multiple of kMR) and columns [c0, c1) of C = A * B.
void gemm_block(const PackedA& A, int64_t r0, int64_t r1, int64_t c0, int64_t c1, const float* B, int64_t ldb,
                float* C, int64_t ldc, const GemmOptions& opt) {
    const int64_t K = A.K;
#if URSA_GEMM_AVX2
    const bool avx2 = have_avx2();
#else
    const bool avx2 = false;
#endif
    std::vector<float>& bp = t_packed_b;
    const int64_t ncmax = std::min(kNC, (c1 - c0 + kNR - 1) / kNR * kNR);
    if (bp.size() < size_t(std::min(kKC, K) * ncmax)) bp.resize(size_t(std::min(kKC, K) * ncmax));
    for (int64_t j0 = c0; j0 < c1; j0 += kNC) {
        const int64_t nc = std::min(kNC, c1 - j0);
        for (int64_t k0 = 0; k0 < K; k0 += kKC) {
            const int64_t kc = std::min(kKC, K - k0);
            pack_b(kc, nc, B + k0 * ldb + j0, ldb, bp.data());
            const bool first = k0 == 0, last = k0 + kc >= K;
            for (int64_t i0 = r0; i0 < r1; i0 += kMC) {
                const int64_t i1 = std::min(i0 + kMC, r1);
                auto mode_at = [&](int64_t i) {
                    return TileMode{opt.bias && first ? opt.bias + i : nullptr, !first || opt.accumulate,
                                    last && opt.relu};
                };
                for (int64_t j = 0; j < nc;) {
                    const int64_t n = std::min(kNR, nc - j);
                    const float* b = bp.data() + j * kc;
                    float* cj = C + j0 + j;
#if URSA_GEMM_AVX2
                    // Three or two column panels per A panel while they last (the last
                    // A panel, if partial, goes through edge tiles one column panel at a time).
                    const int64_t panels = (nc - j) / kNR;
                    if (avx2 && panels >= 2) {
                        const int nb = panels >= 3 ? 3 : 2;
                        for (int64_t i = i0; i < i1; i += kMR) {
                            const float* a = A.data.data() + i * K + k0 * kMR;
                            const TileMode mode = mode_at(i);
                            if (i + kMR <= i1) {
                                if (nb == 3)
                                    kernel_avx2_4<3>(kc, a, b, kc * kNR, cj + i * ldc, ldc, mode);
                                else
                                    kernel_avx2_4<2>(kc, a, b, kc * kNR, cj + i * ldc, ldc, mode);
                            } else {
                                for (int v = 0; v < nb; ++v)
                                    edge_tile(avx2, i1 - i, kNR, kc, a, b + v * kc * kNR, cj + i * ldc + v * kNR,
                                              ldc, mode);
                            }
                        }
                        j += nb * kNR;
                        continue;
                    }
#endif
                    for (int64_t i = i0; i < i1; i += kMR) {
                        const int64_t m = std::min(kMR, i1 - i);
                        const float* a = A.data.data() + i * K + k0 * kMR;
                        float* c = cj + i * ldc;
                        const TileMode mode = mode_at(i);
#if URSA_GEMM_AVX2
                        if (avx2 && n == kNR && i + 2 * kMR <= i1) {
                            kernel_avx2_8x8(kc, a, a + kMR * K, b, c, ldc, mode);
                            i += kMR;
                            continue;
                        }
#endif
                        if (m == kMR && n == kNR)
                            full_tile(avx2, kc, a, b, c, ldc, mode);
                        else
                            edge_tile(avx2, m, n, kc, a, b, c, ldc, mode);
                    }
                    j += kNR;
                }
            }
        }
    }
}

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
    // Over threads: by columns when there are enough of them (each task packs only its
    // own columns of B), else by rows (each task packs all of B). Each output is
    // computed by the same kernel code either way, so the result does not depend on
    // the thread count.
    const int64_t T = pool_threads();
    const double work = double(M) * double(N) * double(K);
    if (T > 1 && work >= double(1 << 18)) {
        if (N >= 64 * T) {
            const int64_t tasks = std::max(T, std::min<int64_t>(4 * T, N / (16 * kNR)));
            const int64_t panels = (N + kNR - 1) / kNR;
            const int64_t chunk = (panels + tasks - 1) / tasks * kNR;  // whole panels per task
            parallel_for((N + chunk - 1) / chunk, [&](int64_t t) {
                gemm_block(A, 0, M, t * chunk, std::min(N, (t + 1) * chunk), B, ldb, C, ldc, opt);
            });
            return;
        }
        if (M >= 16 * T) {
            // whole pairs of A panels per task (the 8-row kernel's unit)
            const int64_t chunk = ((M + 2 * kMR - 1) / (2 * kMR) + T - 1) / T * (2 * kMR);
            parallel_for((M + chunk - 1) / chunk, [&](int64_t t) {
                gemm_block(A, t * chunk, std::min(M, (t + 1) * chunk), 0, N, B, ldb, C, ldc, opt);
            });
            return;
        }
    }
    gemm_block(A, 0, M, 0, N, B, ldb, C, ldc, opt);
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
