#include "ursa/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

namespace ursa {

namespace {

constexpr double kPi = 3.14159265358979323846;

double uniform(std::mt19937_64& rng, double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
}

bool draw(std::mt19937_64& rng, double p) { return uniform(rng, 0.0, 1.0) < p; }

using Mat3 = std::array<std::array<double, 3>, 3>;

Mat3 multiply(const Mat3& a, const Mat3& b) {
    Mat3 c{};
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 3; ++k) c[i][j] += a[i][k] * b[k][j];
    return c;
}

// ref: fastai flip_mat, rotate_mat, zoom_mat, composed as AffineCoordTfm does
// (identity @ flip @ rotate @ zoom), in the [-1, 1] coordinates of affine_grid.
Mat3 affine_matrix(const AugParams& p) {
    Mat3 m{{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
    if (p.flip) m = multiply(m, Mat3{{{-1, 0, 0}, {0, 1, 0}, {0, 0, 1}}});
    const double t = p.rotate_deg * kPi / 180.0;
    m = multiply(m, Mat3{{{std::cos(t), std::sin(t), 0}, {-std::sin(t), std::cos(t), 0}, {0, 0, 1}}});
    const double s = 1.0 / p.zoom;
    m = multiply(m, Mat3{{{s, 0, (1 - s) * (2 * p.col_pct - 1)}, {0, s, (1 - s) * (2 * p.row_pct - 1)}, {0, 0, 1}}});
    return m;
}

// ref: fastai find_coeffs / _WarpCoord: the perspective that maps the warped corners
// back to the square's, solved as 8 linear equations (Gaussian elimination with
// partial pivoting, in double).
std::array<double, 8> warp_coefficients(double wx, double wy) {
    const double orig[4][2] = {{-1, -1}, {-1, 1}, {1, -1}, {1, 1}};
    const double targ[4][2] = {{-1 - wy, -1 - wx}, {-1 + wy, 1 + wx}, {1 + wy, -1 + wx}, {1 - wy, 1 - wx}};
    double a[8][9] = {};
    for (int i = 0; i < 4; ++i) {
        const double* p1 = orig[i];
        const double* p2 = targ[i];
        const double r0[9] = {p2[0], p2[1], 1, 0, 0, 0, -p1[0] * p2[0], -p1[0] * p2[1], p1[0]};
        const double r1[9] = {0, 0, 0, p2[0], p2[1], 1, -p1[1] * p2[0], -p1[1] * p2[1], p1[1]};
        std::copy(r0, r0 + 9, a[2 * i]);
        std::copy(r1, r1 + 9, a[2 * i + 1]);
    }
    for (int c = 0; c < 8; ++c) {
        int pivot = c;
        for (int r = c + 1; r < 8; ++r)
            if (std::fabs(a[r][c]) > std::fabs(a[pivot][c])) pivot = r;
        std::swap(a[c], a[pivot]);
        for (int r = 0; r < 8; ++r) {
            if (r == c || a[c][c] == 0) continue;
            const double f = a[r][c] / a[c][c];
            for (int k = c; k < 9; ++k) a[r][k] -= f * a[c][k];
        }
    }
    std::array<double, 8> x{};
    for (int i = 0; i < 8; ++i) x[i] = a[i][i] != 0 ? a[i][8] / a[i][i] : 0.0;
    return x;
}


}  // namespace

AugParams draw_aug_params(std::mt19937_64& rng, const AugOptions& o) {
    // Every value is drawn whether or not its transform fires, so one image's
    // draws never shift another's.
    AugParams p;
    const double max_rotate = o.max_rotate * o.mult, max_warp = o.max_warp * o.mult;
    const double max_lighting = std::min(o.max_lighting * o.mult, 0.99);
    const bool flip = draw(rng, 0.5);
    p.flip = o.flip && flip;
    const double wx = uniform(rng, -1, 1) * max_warp, wy = uniform(rng, -1, 1) * max_warp;
    if (draw(rng, o.p_affine)) p.warp_x = wx, p.warp_y = wy;
    const double deg = uniform(rng, -1, 1) * max_rotate;
    if (draw(rng, o.p_affine)) p.rotate_deg = deg;
    const double zoom = uniform(rng, o.min_zoom, o.max_zoom), col = uniform(rng, 0, 1), row = uniform(rng, 0, 1);
    if (draw(rng, o.p_affine)) p.zoom = zoom, p.col_pct = col, p.row_pct = row;
    const double b = uniform(rng, 0.5 * (1 - max_lighting), 0.5 * (1 + max_lighting));
    if (draw(rng, o.p_lighting)) p.brightness = b;
    const double c = std::exp(uniform(rng, std::log(1 - max_lighting), -std::log(1 - max_lighting)));
    if (draw(rng, o.p_lighting)) p.contrast = c;
    p.crop_pct = uniform(rng, 0, 1);  // ref: fastai Resize.before_call, random pcts on training
    if (o.random_resized_crop) {  // drawn only then, so other runs keep their streams
        p.rrc_seed = rng();
        p.rrc_min_scale = o.min_scale;
    }
    if (o.erase_p > 0) {  // ref: fastai RandomErasing._bounds (sl 0, min_aspect 0.3); drawn only then
        const double log_ratio = std::log(0.3);
        const double area = uniform(rng, 0, o.erase_max_area), aspect = std::exp(uniform(rng, log_ratio, -log_ratio));
        const double at_row = uniform(rng, 0, 1), at_col = uniform(rng, 0, 1);
        const uint64_t seed = rng();
        if (draw(rng, o.erase_p))
            p.erase_area = area, p.erase_aspect = aspect, p.erase_row_pct = at_row, p.erase_col_pct = at_col,
            p.erase_seed = seed;
    }
    return p;
}

CropBox erase_box(int h, int w, const AugParams& p) {
    if (!(p.erase_area > 0) || h <= 0 || w <= 0) return {};
    // ref: fastai _slice: bound = round(sqrt(area)) (Python rounds halves to even, as
    // nearbyint does), loc = randint(0, max(size - bound, 0)), the slice clipped.
    const double area = p.erase_area * h * w;
    auto side = [](double a, int size) {
        return static_cast<int>(std::min<double>(std::nearbyint(std::sqrt(a)), size));
    };
    const int bh = side(area * p.erase_aspect, h), bw = side(area / p.erase_aspect, w);
    auto place = [](double pct, int size, int bound) {
        return std::min(static_cast<int>(pct * (size - bound + 1)), size - bound);
    };
    return {place(p.erase_col_pct, w, bw), place(p.erase_row_pct, h, bh), bw, bh};
}

AugOptions no_batch_aug(const AugOptions& o) {
    AugOptions none = o;
    none.flip = false;
    none.max_rotate = none.max_warp = none.max_lighting = 0;
    none.min_zoom = none.max_zoom = 1;
    none.p_affine = none.p_lighting = 0;
    return none;
}

CropBox random_resized_crop_box(int w, int h, double min_scale, std::mt19937_64& rng) {
    // ref: fastai vision/augment.py RandomResizedCrop.before_call (ratio (3/4, 4/3),
    // max_scale 1).
    const double r0 = 3.0 / 4.0, r1 = 4.0 / 3.0;
    auto randint = [&](int lo, int hi) {  // inclusive, as random.randint
        return std::uniform_int_distribution<int>(lo, hi)(rng);
    };
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double area = uniform(rng, min_scale, 1.0) * w * h;
        const double ratio = std::exp(uniform(rng, std::log(r0), std::log(r1)));
        // Python's round() rounds halves to even, as std::nearbyint does by default.
        const int nw = static_cast<int>(std::nearbyint(std::sqrt(area * ratio)));
        const int nh = static_cast<int>(std::nearbyint(std::sqrt(area / ratio)));
        if (nw <= w && nh <= h && nw > 0 && nh > 0) {
            const int x0 = randint(0, w - nw), y0 = randint(0, h - nh);
            return {x0, y0, nw, nh};
        }
    }
    int cw = w, ch = h;
    if (static_cast<double>(w) / h < r0)
        ch = std::max(1, static_cast<int>(w / r0));
    else if (static_cast<double>(w) / h > r1)
        cw = std::max(1, static_cast<int>(h * r1));
    return {(w - cw) / 2, (h - ch) / 2, cw, ch};
}

namespace {

// ref: ATen GridSampler.h, align_corners=True: unnormalise, reflect_coordinates over
// [0, size-1] (twice_low 0, twice_high 2(size-1)), clip_coordinates. `unnormalise` is
// the first step; `reflect` the rest, for a coordinate outside [0, span].
inline float unnormalise(double g, float span) { return (static_cast<float>(g) + 1) / 2 * span; }

float reflect(float coord, float span) {
    if (span <= 0) return 0;
    const float in = std::fabs(coord);
    const float extra = std::fmod(in, span);
    const int flips = static_cast<int>(std::floor(in / span));
    const float r = flips % 2 == 0 ? extra : span - extra;
    return std::min(span, std::max(r, 0.0f));
}

// Eight floats at a time (GCC/Clang vector extensions: two SSE registers, one AVX one).
// These helpers are inlined, so GCC's remarks that such vectors are passed and returned
// differently with and without AVX (-Wpsabi) do not apply; arguments go by reference,
// which silences the parameter note.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
using v8f = float __attribute__((vector_size(32)));
using v8i = int32_t __attribute__((vector_size(32)));

inline v8f load8(const float* p) {
    v8f v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline v8f splat(float c) { return v8f{c, c, c, c, c, c, c, c}; }
inline void store8(float* p, const v8f& v) { std::memcpy(p, &v, sizeof v); }
inline v8f select(const v8i& mask, const v8f& a, const v8f& b) {
    return reinterpret_cast<v8f>((reinterpret_cast<v8i>(a) & mask) | (reinterpret_cast<v8i>(b) & ~mask));
}

// Natural logarithm of positive normal floats (ref: Cephes logf, as sse_mathfun
// vectorises it; within 2 ulp of the correctly rounded value).
inline v8f log8(const v8f& q) {
    const v8i bits = reinterpret_cast<v8i>(q);
    v8i e = ((bits >> 23) & 0xff) - 126;
    const v8f m = reinterpret_cast<v8f>((bits & 0x007fffff) | 0x3f000000);  // in [0.5, 1)
    const v8i small = m < 0.707106781186547524f;
    e += small;  // -1 where m < sqrt(1/2): then m is doubled
    const v8f x = (m - 1.0f) + reinterpret_cast<v8f>(reinterpret_cast<v8i>(m) & small);
    const v8f z = x * x;
    v8f y = splat(7.0376836292E-2f);
    y = y * x - 1.1514610310E-1f;
    y = y * x + 1.1676998740E-1f;
    y = y * x - 1.2420140846E-1f;
    y = y * x + 1.4249322787E-1f;
    y = y * x - 1.6668057665E-1f;
    y = y * x + 2.0000714765E-1f;
    y = y * x - 2.4999993993E-1f;
    y = y * x + 3.3333331174E-1f;
    y = y * x * z;
    const v8f ef = __builtin_convertvector(e, v8f);
    y += ef * -2.12194440e-4f;
    y += z * -0.5f;
    return (x + y) + ef * 0.693359375f;
}

// e^x (ref: Cephes expf; within 2 ulp), x clamped to [-87.3, 88.3] so that 2^n stays a
// normal float: beyond, the sigmoid below is 0 or 1 in float anyway.
inline v8f exp8(const v8f& arg) {
    v8f x = select(arg < -87.3f, splat(-87.3f), arg);
    x = select(x > 88.3f, splat(88.3f), x);
    const v8f n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // nearest integer
    const v8f r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    v8f y = splat(1.9875691500E-4f);
    y = y * r + 1.3981999507E-3f;
    y = y * r + 8.3334519073E-3f;
    y = y * r + 4.1665795894E-2f;
    y = y * r + 1.6666665459E-1f;
    y = y * r + 5.0000001201E-1f;
    y = y * (r * r) + r + 1.0f;
    const v8i two_n = (__builtin_convertvector(n, v8i) + 127) << 23;
    return y * reinterpret_cast<v8f>(two_n);
}

// ref: fastai LightingTfm (_BrightnessLogit, then _ContrastLogit), as torch computes
// it: sigmoid((logit(x) + logit(brightness)) * contrast), logit(x) = -log(1/x - 1) with
// x clamped to [1e-7, 1-1e-7]; then (v - mean) / std. `n` is a multiple of 8; v is
// read and written in place.
struct Lighting {
    bool on = false;
    float logit_b = 0, contrast = 1;
    explicit Lighting(const AugParams& p) : on(p.brightness != 0.5 || p.contrast != 1.0) {
        const double b = std::clamp(p.brightness, 1e-7, 1 - 1e-7);
        logit_b = static_cast<float>(std::log(b / (1 - b)));
        contrast = static_cast<float>(p.contrast);
    }
};

// Compiled for AVX2 too where the compiler can (the same operations on wider
// registers, no FMA: the same results bit for bit), chosen when the program starts.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define URSA_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define URSA_AVX2_CLONE
#endif

URSA_AVX2_CLONE
void light_normalize(float* v, int n, const Lighting& light, float scale, float shift) {
    if (!light.on) {
        for (int i = 0; i < n; i += 8) store8(v + i, load8(v + i) * scale - shift);
        return;
    }
    const float lo = 1e-7f, hi = 1 - 1e-7f;
    for (int i = 0; i < n; i += 8) {
        v8f x = load8(v + i);
        x = select(x < lo, splat(lo), x);
        x = select(x > hi, splat(hi), x);
        const v8f logit = -log8(1.0f / x - 1.0f);
        const v8f s = (logit + light.logit_b) * light.contrast;
        const v8f y = 1.0f / (1.0f + exp8(-s));
        store8(v + i, y * scale - shift);
    }
}

// The source pixel (x, y) as floats in [0, 1], channel c; and, with SSE2, all three
// in one register (lanes R, G, B, unused).
struct Rgb8 {
    const uint8_t* rgb;
    int64_t row_bytes;
    const uint8_t* last;  // the window's last pixel: a 4-byte read there could pass the buffer's end
    float at(int x, int y, int c) const { return rgb[y * row_bytes + x * 3 + c] * (1.0f / 255.0f); }
#if defined(__SSE2__)
    __m128 pixel(int x, int y) const {
        const uint8_t* p = rgb + y * row_bytes + x * 3;
        uint32_t v;
        if (p < last)
            std::memcpy(&v, p, 4);
        else
            v = p[0] | (p[1] << 8) | (p[2] << 16);
        const __m128i zero = _mm_setzero_si128();
        const __m128i i32 = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(static_cast<int>(v)), zero), zero);
        return _mm_mul_ps(_mm_cvtepi32_ps(i32), _mm_set1_ps(1.0f / 255.0f));
    }
#endif
};

struct Planar {
    const float* in;
    int64_t plane;
    int w;
    float at(int x, int y, int c) const { return in[c * plane + static_cast<int64_t>(y) * w + x]; }
#if defined(__SSE2__)
    __m128 pixel(int x, int y) const {
        const float* p = in + static_cast<int64_t>(y) * w + x;
        return _mm_setr_ps(p[0], p[plane], p[2 * plane], 0.0f);
    }
#endif
};

// Bilinear samples at (ix[i], iy[i]), coordinates in [0, w-1] x [0, h-1], into the
// rows r, g, b; n is a multiple of 4 (the arrays are padded). Each value is
// at(x0, y0)*w00 + at(x1, y0)*w01 + at(x0, y1)*w10 + at(x1, y1)*w11 in float, as
// grid_sample sums them; x1 = x0 + 1 but at the last column (whose weight is then 0).
template <typename Source>
void sample_row(const Source& src, int w, int h, const float* ix, const float* iy, int n, float* r, float* g,
                float* b) {
#if defined(__SSE2__)
    const __m128 one = _mm_set1_ps(1.0f);
    for (int i = 0; i < n; i += 4) {
        const __m128 vx = _mm_loadu_ps(ix + i), vy = _mm_loadu_ps(iy + i);
        const __m128i x0 = _mm_cvttps_epi32(vx), y0 = _mm_cvttps_epi32(vy);  // = floor: coordinates are >= 0
        const __m128 fx = _mm_sub_ps(vx, _mm_cvtepi32_ps(x0)), fy = _mm_sub_ps(vy, _mm_cvtepi32_ps(y0));
        const __m128 gx = _mm_sub_ps(one, fx), gy = _mm_sub_ps(one, fy);
        const __m128 w00 = _mm_mul_ps(gx, gy), w01 = _mm_mul_ps(fx, gy), w10 = _mm_mul_ps(gx, fy),
                     w11 = _mm_mul_ps(fx, fy);
        alignas(16) int32_t xs[4], ys[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(xs), x0);
        _mm_store_si128(reinterpret_cast<__m128i*>(ys), y0);
        __m128 px[4];
        auto one_pixel = [&](auto lane) {
            constexpr int j = decltype(lane)::value;
            const int xa = xs[j], ya = ys[j];
            const int xb = xa < w - 1 ? xa + 1 : xa, yb = ya < h - 1 ? ya + 1 : ya;
            constexpr int sel = _MM_SHUFFLE(j, j, j, j);
            const __m128 s00 = _mm_mul_ps(src.pixel(xa, ya), _mm_shuffle_ps(w00, w00, sel));
            const __m128 s01 = _mm_mul_ps(src.pixel(xb, ya), _mm_shuffle_ps(w01, w01, sel));
            const __m128 s10 = _mm_mul_ps(src.pixel(xa, yb), _mm_shuffle_ps(w10, w10, sel));
            const __m128 s11 = _mm_mul_ps(src.pixel(xb, yb), _mm_shuffle_ps(w11, w11, sel));
            px[j] = _mm_add_ps(_mm_add_ps(_mm_add_ps(s00, s01), s10), s11);
        };
        one_pixel(std::integral_constant<int, 0>{});
        one_pixel(std::integral_constant<int, 1>{});
        one_pixel(std::integral_constant<int, 2>{});
        one_pixel(std::integral_constant<int, 3>{});
        _MM_TRANSPOSE4_PS(px[0], px[1], px[2], px[3]);
        _mm_storeu_ps(r + i, px[0]);
        _mm_storeu_ps(g + i, px[1]);
        _mm_storeu_ps(b + i, px[2]);
    }
#else
    for (int i = 0; i < n; ++i) {
        const int x0 = static_cast<int>(ix[i]), y0 = static_cast<int>(iy[i]);
        const int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
        const float fx = ix[i] - x0, fy = iy[i] - y0;
        const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
        float* out[3] = {r, g, b};
        for (int c = 0; c < 3; ++c)
            out[c][i] = src.at(x0, y0, c) * w00 + src.at(x1, y0, c) * w01 + src.at(x0, y1, c) * w10 +
                        src.at(x1, y1, c) * w11;
    }
#endif
}

// One image through the fused transforms, row by row: for every output pixel its
// source coordinate (fastai's affine matrix, then the perspective warp, as
// affine_grid and _WarpCoord compute them, in double), one bilinear sample with
// reflection padding (grid_sample, align_corners=True), lighting, then
// (v - mean) / std into planar `chw` [3,h,w].
template <typename Source>
void augment_one(int h, int w, const AugParams& p, const Source& src, float* chw, const std::array<float, 3>& mean,
                 const std::array<float, 3>& std_dev) {
    const int64_t plane = static_cast<int64_t>(h) * w;
    const int padded = (w + 7) / 8 * 8;
    // Scratch: x and y coordinates, then the three channels of one row.
    std::vector<float> scratch(static_cast<size_t>(padded) * 5, 0.0f);
    float *ix = scratch.data(), *iy = ix + padded, *rgb = iy + padded;
    const bool moves = p.flip || p.rotate_deg != 0 || p.zoom != 1 || p.warp_x != 0 || p.warp_y != 0;
    const Mat3 m = moves ? affine_matrix(p) : Mat3{};
    const bool warp = p.warp_x != 0 || p.warp_y != 0;
    const std::array<double, 8> k = warp ? warp_coefficients(p.warp_x, p.warp_y) : std::array<double, 8>{};
    std::vector<double> xn(static_cast<size_t>(w));  // linspace(-1, 1, w)
    for (int x = 0; x < w; ++x) xn[x] = w > 1 ? -1 + 2.0 * x / (w - 1) : -1;
    const float span_x = static_cast<float>(w - 1), span_y = static_cast<float>(h - 1);
    const Lighting light(p);
    std::array<float, 3> scale{}, shift{};
    for (int c = 0; c < 3; ++c) scale[c] = 1 / std_dev[c], shift[c] = mean[c] / std_dev[c];
    for (int y = 0; y < h; ++y) {
        if (!moves) {  // the identity grid samples every pixel where it is
            for (int c = 0; c < 3; ++c)
                for (int x = 0; x < padded; ++x) rgb[c * padded + x] = x < w ? src.at(x, y, c) : 0.0f;
        } else {
            // In double until the grid is made, as fastai's: near a strong warp's horizon
            // float coordinates would land elsewhere.
            const double yn = h > 1 ? -1 + 2.0 * y / (h - 1) : -1;  // linspace(-1, 1, h)
            const double row_x = m[0][1] * yn + m[0][2], row_y = m[1][1] * yn + m[1][2];
            const double m00 = m[0][0], m10 = m[1][0];
            if (warp) {
                for (int x = 0; x < w; ++x) {
                    const double gx = m00 * xn[x] + row_x, gy = m10 * xn[x] + row_y;
                    const double d = k[6] * gx + k[7] * gy + 1;
                    ix[x] = unnormalise((k[0] * gx + k[1] * gy + k[2]) / d, span_x);
                    iy[x] = unnormalise((k[3] * gx + k[4] * gy + k[5]) / d, span_y);
                }
            } else {
                for (int x = 0; x < w; ++x) {
                    ix[x] = unnormalise(m00 * xn[x] + row_x, span_x);
                    iy[x] = unnormalise(m10 * xn[x] + row_y, span_y);
                }
            }
            for (int x = 0; x < w; ++x) {  // reflection padding, for the few outside
                if (!(ix[x] >= 0 && ix[x] <= span_x)) ix[x] = reflect(ix[x], span_x);
                if (!(iy[x] >= 0 && iy[x] <= span_y)) iy[x] = reflect(iy[x], span_y);
            }
            sample_row(src, w, h, ix, iy, padded, rgb, rgb + padded, rgb + 2 * padded);
        }
        for (int c = 0; c < 3; ++c) {
            float* v = rgb + c * padded;
            light_normalize(v, padded, light, scale[c], shift[c]);
            std::memcpy(chw + c * plane + static_cast<int64_t>(y) * w, v, sizeof(float) * w);
        }
    }
    const CropBox e = erase_box(h, w, p);  // ref: fastai cutout_gaussian, after Normalize
    if (e.width > 0 && e.height > 0) {
        std::mt19937_64 rng(p.erase_seed);
        std::normal_distribution<float> noise(0.0f, 1.0f);
        for (int c = 0; c < 3; ++c)
            for (int y = e.y0; y < e.y0 + e.height; ++y)
                for (int x = e.x0; x < e.x0 + e.width; ++x) chw[c * plane + static_cast<int64_t>(y) * w + x] = noise(rng);
    }
}

}  // namespace

void augment_image(const uint8_t* rgb, int64_t row_bytes, int h, int w, const AugParams& p,
                   const std::array<float, 3>& mean, const std::array<float, 3>& std_dev, float* chw) {
    const Rgb8 src{rgb, row_bytes, rgb + (h - 1) * row_bytes + (w - 1) * 3};
    augment_one(h, w, p, src, chw, mean, std_dev);
}

torch::Tensor augment_batch(const torch::Tensor& images, const std::vector<AugParams>& params) {
    const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
    TORCH_CHECK(static_cast<int64_t>(params.size()) == n, "one AugParams per image");
    TORCH_CHECK(images.size(1) == 3 && images.scalar_type() == torch::kFloat32, "[N,3,H,W] float images");
    const torch::Tensor src = images.contiguous();
    torch::Tensor result = torch::empty_like(src);
    const int64_t plane = h * w;
    for (int64_t i = 0; i < n; ++i) {
        const float* in = src.data_ptr<float>() + i * 3 * plane;
        float* o = result.data_ptr<float>() + i * 3 * plane;
        const Planar at{in, plane, static_cast<int>(w)};
        augment_one(static_cast<int>(h), static_cast<int>(w), params[static_cast<size_t>(i)], at, o, {0, 0, 0},
                    {1, 1, 1});
    }
    return result;
}

}  // namespace ursa
