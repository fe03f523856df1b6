#include "ursa/augment.h"

#include <algorithm>
#include <array>
#include <cmath>

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
    return p;
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
// [0, size-1] (twice_low 0, twice_high 2(size-1)), clip_coordinates.
inline float source_index(float coord, int size) {
    coord = (coord + 1) / 2 * static_cast<float>(size - 1);
    if (size <= 1) return 0;
    const float span = static_cast<float>(size - 1);
    if (coord >= 0 && coord <= span) return coord;  // inside: what the reflection gives, sooner
    const float in = std::fabs(coord);
    const float extra = std::fmod(in, span);
    const int flips = static_cast<int>(std::floor(in / span));
    const float r = flips % 2 == 0 ? extra : span - extra;
    return std::min(span, std::max(r, 0.0f));
}

// ref: fastai LightingTfm (_BrightnessLogit, then _ContrastLogit):
// sigmoid(contrast * (logit(x) + logit(brightness))), logit clamped to [1e-7, 1-1e-7].
// With e = exp(-contrast * logit(b)): 1 / (1 + e * ((1 - x) / x)^contrast).
struct Lighting {
    bool on = false;
    float e = 1, contrast = 1;
    explicit Lighting(const AugParams& p) : on(p.brightness != 0.5 || p.contrast != 1.0) {
        const double b = std::clamp(p.brightness, 1e-7, 1 - 1e-7);
        e = static_cast<float>(std::exp(-p.contrast * std::log(b / (1 - b))));
        contrast = static_cast<float>(p.contrast);
    }
    float operator()(float x) const {
        x = std::clamp(x, 1e-7f, 1 - 1e-7f);
        const float odds = (1 - x) / x;
        return 1 / (1 + e * (contrast == 1 ? odds : std::exp2(contrast * std::log2(odds))));
    }
};

// One image through the fused transforms: for every output pixel its source
// coordinate (fastai's affine matrix, then the perspective warp, as affine_grid and
// _WarpCoord compute them, in double), one bilinear sample with reflection padding
// (grid_sample, align_corners=True), lighting, then (v - mean) / std. `at(x, y, c)`
// reads the source in [0, 1]; `out(c, y, x)` is where each value goes.
template <typename Source>
void augment_one(int h, int w, const AugParams& p, const Source& at, float* chw, const std::array<float, 3>& mean,
                 const std::array<float, 3>& std_dev) {
    const int64_t plane = static_cast<int64_t>(h) * w;
    const bool moves = p.flip || p.rotate_deg != 0 || p.zoom != 1 || p.warp_x != 0 || p.warp_y != 0;
    if (!moves) {  // the identity grid samples every pixel where it is
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                for (int c = 0; c < 3; ++c) chw[c * plane + static_cast<int64_t>(y) * w + x] = at(x, y, c);
    } else {
        const Mat3 m = affine_matrix(p);
        const bool warp = p.warp_x != 0 || p.warp_y != 0;
        const std::array<double, 8> k = warp ? warp_coefficients(p.warp_x, p.warp_y) : std::array<double, 8>{};
        // In double until the grid is made, as fastai's: near a strong warp's horizon
        // float coordinates would land elsewhere.
        for (int y = 0; y < h; ++y) {
            const double yn = h > 1 ? -1 + 2.0 * y / (h - 1) : -1;  // linspace(-1, 1, h)
            const double row_x = m[0][1] * yn + m[0][2], row_y = m[1][1] * yn + m[1][2];
            float* row = chw + static_cast<int64_t>(y) * w;
            for (int x = 0; x < w; ++x) {
                const double xn = w > 1 ? -1 + 2.0 * x / (w - 1) : -1;
                double gx = m[0][0] * xn + row_x, gy = m[1][0] * xn + row_y;
                if (warp) {
                    const double d = k[6] * gx + k[7] * gy + 1;
                    const double wx = (k[0] * gx + k[1] * gy + k[2]) / d, wy = (k[3] * gx + k[4] * gy + k[5]) / d;
                    gx = wx, gy = wy;
                }
                const float ix = source_index(static_cast<float>(gx), w), iy = source_index(static_cast<float>(gy), h);
                const int x0 = static_cast<int>(std::floor(ix)), y0 = static_cast<int>(std::floor(iy));
                const int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);  // weight 0 past the edge
                const float fx = ix - x0, fy = iy - y0;
                const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
                for (int c = 0; c < 3; ++c)
                    row[c * plane + x] =
                        at(x0, y0, c) * w00 + at(x1, y0, c) * w01 + at(x0, y1, c) * w10 + at(x1, y1, c) * w11;
            }
        }
    }
    // Then, plane by plane, lighting and (v - mean) / std.
    const Lighting light(p);
    for (int c = 0; c < 3; ++c) {
        float* v = chw + c * plane;
        const float scale = 1 / std_dev[c], shift = mean[c] / std_dev[c];
        if (light.on)
            for (int64_t i = 0; i < plane; ++i) v[i] = light(v[i]) * scale - shift;
        else
            for (int64_t i = 0; i < plane; ++i) v[i] = v[i] * scale - shift;
    }
}

}  // namespace

void augment_image(const uint8_t* rgb, int64_t row_bytes, int h, int w, const AugParams& p,
                   const std::array<float, 3>& mean, const std::array<float, 3>& std_dev, float* chw) {
    const auto at = [&](int x, int y, int c) { return rgb[y * row_bytes + x * 3 + c] * (1.0f / 255.0f); };
    augment_one(h, w, p, at, chw, mean, std_dev);
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
        const auto at = [&](int x, int y, int c) { return in[c * plane + y * w + x]; };
        augment_one(static_cast<int>(h), static_cast<int>(w), params[static_cast<size_t>(i)], at, o, {0, 0, 0},
                    {1, 1, 1});
    }
    return result;
}

}  // namespace ursa
