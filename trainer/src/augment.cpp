#include "ursa/augment.h"

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

// ref: fastai logit (clamped) for the lighting transforms.
torch::Tensor clamped_logit(const torch::Tensor& x) {
    const torch::Tensor c = x.clamp(1e-7, 1 - 1e-7);
    return -(1.0 / c - 1.0).log();
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

torch::Tensor augment_batch(const torch::Tensor& images, const std::vector<AugParams>& params) {
    namespace F = torch::nn::functional;
    const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
    TORCH_CHECK(static_cast<int64_t>(params.size()) == n, "one AugParams per image");
    torch::Tensor theta = torch::empty({n, 2, 3}, torch::kFloat64);
    auto th = theta.accessor<double, 3>();
    bool any_warp = false;
    for (int64_t i = 0; i < n; ++i) {
        const Mat3 m = affine_matrix(params[i]);
        for (int r = 0; r < 2; ++r)
            for (int c = 0; c < 3; ++c) th[i][r][c] = m[r][c];
        any_warp = any_warp || params[i].warp_x != 0 || params[i].warp_y != 0;
    }
    // ref: fastai AffineCoordTfm: affine_grid, then the warp on the coordinates, then
    // one grid_sample (bilinear, reflection padding, align_corners=True).
    torch::Tensor grid = F::affine_grid(theta, {n, 3, h, w}, /*align_corners=*/true);  // [N,H,W,2], double
    if (any_warp) {
        torch::Tensor coeffs = torch::empty({n, 9}, torch::kFloat64);
        auto co = coeffs.accessor<double, 2>();
        for (int64_t i = 0; i < n; ++i) {
            const auto k = warp_coefficients(params[i].warp_x, params[i].warp_y);
            for (int j = 0; j < 8; ++j) co[i][j] = k[j];
            co[i][8] = 1.0;
        }
        const torch::Tensor m = coeffs.view({n, 1, 3, 3});       // rows: x', y', w'
        const torch::Tensor xy = grid.view({n, h * w, 1, 2});
        const torch::Tensor proj = (xy * m.index({torch::indexing::Slice(), torch::indexing::Slice(),
                                                  torch::indexing::Slice(), torch::indexing::Slice(0, 2)}))
                                       .sum(-1) +
                                   m.index({torch::indexing::Slice(), torch::indexing::Slice(),
                                            torch::indexing::Slice(), 2});  // [N,HW,3]
        const torch::Tensor denom = proj.index({"...", 2}).unsqueeze(-1);
        grid = (proj.index({"...", torch::indexing::Slice(0, 2)}) / denom).view({n, h, w, 2});
    }
    torch::Tensor out = F::grid_sample(images, grid.to(images.scalar_type()),
                                       F::GridSampleFuncOptions()
                                           .mode(torch::kBilinear)
                                           .padding_mode(torch::kReflection)
                                           .align_corners(true));
    // ref: fastai LightingTfm with _BrightnessLogit then _ContrastLogit:
    // sigmoid(contrast * (logit(x) + logit(brightness))).
    bool any_light = false;
    torch::Tensor bright = torch::empty({n, 1, 1, 1}), contrast = torch::empty({n, 1, 1, 1});
    for (int64_t i = 0; i < n; ++i) {
        bright[i].fill_(params[i].brightness);
        contrast[i].fill_(params[i].contrast);
        any_light = any_light || params[i].brightness != 0.5 || params[i].contrast != 1.0;
    }
    if (any_light) out = torch::sigmoid((clamped_logit(out) + clamped_logit(bright)) * contrast);
    return out;
}

}  // namespace ursa
