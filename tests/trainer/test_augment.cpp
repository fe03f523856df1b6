#include "torch_doctest.h"

#include <cmath>

#include "ursa/augment.h"
#include "ursa/dataset.h"
#include "ursa/preprocess.h"

using namespace ursa;

namespace {

// [1,3,h,w]: channel 0 rises left to right, channel 1 top to bottom, channel 2 is
// both: every pixel is different, and bilinear sampling of it is exact.
torch::Tensor gradient(int64_t h, int64_t w) {
    torch::Tensor x = torch::empty({1, 3, h, w});
    auto a = x.accessor<float, 4>();
    for (int64_t y = 0; y < h; ++y)
        for (int64_t c = 0; c < w; ++c) {
            a[0][0][y][c] = 0.1f + 0.8f * c / (w - 1);
            a[0][1][y][c] = 0.1f + 0.8f * y / (h - 1);
            a[0][2][y][c] = 0.1f + 0.4f * c / (w - 1) + 0.4f * y / (h - 1);
        }
    return x;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("augment: default parameters change nothing") {
    const torch::Tensor x = gradient(9, 12);
    CHECK(max_diff(augment_batch(x, {AugParams{}}), x) < 1e-5);
}

TEST_CASE("augment: flip mirrors left-right, rotate 180 turns the picture over") {
    const torch::Tensor x = gradient(9, 12);
    AugParams flip;
    flip.flip = true;
    CHECK(max_diff(augment_batch(x, {flip}), x.flip({3})) < 1e-5);
    AugParams half_turn;
    half_turn.rotate_deg = 180;
    CHECK(max_diff(augment_batch(x, {half_turn}), x.flip({2, 3})) < 1e-5);
}

TEST_CASE("augment: zoom 2 about the centre shows the middle half") {
    // With align_corners the output's corner samples the input at a quarter of the
    // way in: pixel (2, 2) of a 9x9 image; the centre stays where it is.
    const torch::Tensor x = gradient(9, 9);
    AugParams zoom;
    zoom.zoom = 2.0;
    const torch::Tensor y = augment_batch(x, {zoom});
    CHECK(max_diff(y.index({0, torch::indexing::Slice(), 0, 0}), x.index({0, torch::indexing::Slice(), 2, 2})) < 1e-5);
    CHECK(max_diff(y.index({0, torch::indexing::Slice(), 4, 4}), x.index({0, torch::indexing::Slice(), 4, 4})) < 1e-5);
    // zoom towards the top-left corner (col_pct = row_pct = 0): the corner stays.
    zoom.col_pct = zoom.row_pct = 0.0;
    const torch::Tensor z = augment_batch(x, {zoom});
    CHECK(max_diff(z.index({0, torch::indexing::Slice(), 0, 0}), x.index({0, torch::indexing::Slice(), 0, 0})) < 1e-5);
}

TEST_CASE("augment: rotation pads by reflection, never with black") {
    torch::Tensor x = torch::full({1, 3, 16, 16}, 0.7f);
    AugParams turn;
    turn.rotate_deg = 30;
    const torch::Tensor y = augment_batch(x, {turn});
    CHECK(max_diff(y, x) < 1e-5);  // a flat picture stays flat: the corners are mirrored in
}

TEST_CASE("augment: perspective warp moves pixels and stays in range; zero warp is identity") {
    const torch::Tensor x = gradient(16, 16);
    AugParams warp;
    warp.warp_x = 0.2;
    warp.warp_y = -0.1;
    const torch::Tensor y = augment_batch(x, {warp});
    CHECK(max_diff(y, x) > 0.01);
    CHECK(y.min().item<float>() >= 0.1f - 1e-5f);
    CHECK(y.max().item<float>() <= 0.9f + 1e-5f);
    warp.warp_x = warp.warp_y = 0;
    CHECK(max_diff(augment_batch(x, {warp}), x) < 1e-5);
}

TEST_CASE("augment: brightness and contrast act in logit space (fastai)") {
    AugParams light;
    light.brightness = 0.6;  // on mid-grey, brightness b gives exactly b
    CHECK(max_diff(augment_batch(torch::full({1, 3, 4, 4}, 0.5f), {light}), torch::full({1, 3, 4, 4}, 0.6f)) < 1e-5);
    AugParams contrast;
    contrast.contrast = 2.0;  // sigmoid(2 * logit(v)): logit(0.7310586) = 1 -> sigmoid(2)
    const torch::Tensor y = augment_batch(torch::full({1, 3, 4, 4}, 0.7310586f), {contrast});
    CHECK(y.mean().item<double>() == doctest::Approx(1.0 / (1.0 + std::exp(-2.0))).epsilon(1e-5));
}

TEST_CASE("random erasing: the box follows fastai's _slice, holds N(0,1) noise, and leaves the rest alone") {
    AugParams p;
    p.erase_area = 0.25, p.erase_aspect = 4.0, p.erase_row_pct = 0.0, p.erase_col_pct = 1.0;
    // 0.25 * 20 * 20 = 100 pixels: rows round(sqrt(400)) = 20, columns round(sqrt(25)) = 5,
    // at the top (no room left) and the far right.
    CropBox b = erase_box(20, 20, p);
    CHECK(b.height == 20);
    CHECK(b.width == 5);
    CHECK(b.y0 == 0);
    CHECK(b.x0 == 15);
    p.erase_aspect = 100.0;  // taller than the image: clipped to it
    CHECK(erase_box(20, 20, p).height == 20);
    p.erase_aspect = 1.0, p.erase_row_pct = 0.5, p.erase_col_pct = 0.0;  // 10 x 10, 11 places: the 6th row
    b = erase_box(20, 20, p);
    CHECK(b.width == 10);
    CHECK(b.height == 10);
    CHECK(b.y0 == 5);
    CHECK(b.x0 == 0);
    CHECK(erase_box(20, 20, AugParams{}).width == 0);
    CHECK_FALSE(p.identity());

    p.erase_area = 0.5, p.erase_aspect = 1.0, p.erase_row_pct = 0.5, p.erase_col_pct = 0.5, p.erase_seed = 7;
    const torch::Tensor x = gradient(32, 32);
    const torch::Tensor y = augment_batch(x, {p});
    b = erase_box(32, 32, p);
    REQUIRE(b.width == 23);  // round(sqrt(512))
    torch::Tensor mask = torch::zeros({1, 1, 32, 32}, torch::kBool);
    mask.index_put_({0, 0, torch::indexing::Slice(b.y0, b.y0 + b.height), torch::indexing::Slice(b.x0, b.x0 + b.width)},
                    true);
    mask = mask.expand({1, 3, 32, 32});
    CHECK(max_diff(y.masked_select(~mask), x.masked_select(~mask)) == 0);
    const torch::Tensor noise = y.masked_select(mask);
    CHECK(std::abs(noise.mean().item<double>()) < 0.05);  // 1587 samples of N(0,1): sd of the mean 0.025
    CHECK(std::abs(noise.std().item<double>() - 1) < 0.05);
    CHECK(noise.min().item<double>() < -1.5);  // not the picture's [0.1, 0.9]
    CHECK(max_diff(augment_batch(x, {p}), y) == 0);  // the seed decides the noise
}

TEST_CASE("random erasing: drawn with probability erase_p, area and aspect in fastai's ranges, off by default") {
    std::mt19937_64 rng(3);
    AugOptions off;
    for (int i = 0; i < 200; ++i) CHECK(draw_aug_params(rng, off).erase_area == 0);
    AugOptions o = no_batch_aug(AugOptions{});
    o.erase_p = 0.5;
    int erased = 0;
    double largest = 0, min_aspect = 10, max_aspect = 0;
    const int n = 4000;
    for (int i = 0; i < n; ++i) {
        const AugParams p = draw_aug_params(rng, o);
        CHECK_FALSE(p.flip);  // --no-aug: nothing but the box
        if (p.erase_area == 0) continue;
        ++erased;
        largest = std::max(largest, p.erase_area);
        min_aspect = std::min(min_aspect, p.erase_aspect), max_aspect = std::max(max_aspect, p.erase_aspect);
    }
    CHECK(std::abs(erased / static_cast<double>(n) - 0.5) < 0.03);
    CHECK(largest <= 0.3);
    CHECK(largest > 0.29);
    CHECK(min_aspect >= 0.3);
    CHECK(min_aspect < 0.32);
    CHECK(max_aspect <= 1 / 0.3);
    CHECK(max_aspect > 3.2);
}

TEST_CASE("augment: parameters follow aug_transforms' ranges and probabilities") {
    std::mt19937_64 rng(7);
    AugOptions o;
    int flips = 0, rotated = 0, zoomed = 0, warped = 0, lit = 0;
    const int n = 4000;
    for (int i = 0; i < n; ++i) {
        const AugParams p = draw_aug_params(rng, o);
        flips += p.flip;
        rotated += p.rotate_deg != 0;
        zoomed += p.zoom != 1;
        warped += p.warp_x != 0;
        lit += p.brightness != 0.5;
        CHECK(std::fabs(p.rotate_deg) <= 10);
        CHECK((p.zoom >= 1 && p.zoom <= 1.1));
        CHECK((std::fabs(p.warp_x) <= 0.2 && std::fabs(p.warp_y) <= 0.2));
        CHECK((p.brightness >= 0.4 && p.brightness <= 0.6));
        CHECK((p.contrast >= 0.8 - 1e-9 && p.contrast <= 1.25 + 1e-9));
    }
    // Binomial counts: 4000 draws, p = 0.5 or 0.75, four standard deviations.
    CHECK(std::abs(flips - n / 2) < 4 * std::sqrt(n * 0.25));
    for (int count : {rotated, zoomed, warped, lit}) CHECK(std::abs(count - 3 * n / 4) < 4 * std::sqrt(n * 0.1875));

    o.mult = 2;  // mult scales rotation, warp and lighting
    double max_deg = 0;
    for (int i = 0; i < 2000; ++i) max_deg = std::max(max_deg, std::fabs(draw_aug_params(rng, o).rotate_deg));
    CHECK(max_deg > 15);
    CHECK(max_deg <= 20);

    o.mult = 1;
    o.max_zoom = 1;  // --max-zoom 1: never zooms, still flips half the pictures
    int flipped = 0;
    for (int i = 0; i < 2000; ++i) {
        const AugParams p = draw_aug_params(rng, o);
        CHECK(p.zoom == 1.0);
        flipped += p.flip;
    }
    CHECK(std::abs(flipped - 1000) < 4 * std::sqrt(2000 * 0.25));
    o.max_zoom = 1.5;
    double max_zoom = 1;
    for (int i = 0; i < 2000; ++i) max_zoom = std::max(max_zoom, draw_aug_params(rng, o).zoom);
    CHECK(max_zoom > 1.45);
    CHECK(max_zoom <= 1.5);

    std::mt19937_64 a(3), b(3);  // same seed, same draws
    CHECK(draw_aug_params(a, AugOptions{}).rotate_deg == draw_aug_params(b, AugOptions{}).rotate_deg);
}

TEST_CASE("augmented batches are normalised like plain ones; validation batches are not augmented") {
    Prepared data;
    for (int k = 0; k < 2; ++k) {
        Image img;
        img.width = 5, img.height = 4;
        for (int i = 0; i < 5 * 4 * 3; ++i) img.pixels.push_back(static_cast<uint8_t>((i * 37 + k * 11) % 256));
        data.images.push_back(img);
        data.labels.push_back(k);
    }
    InputSpec spec;
    spec.width = 5, spec.height = 4;
    const std::vector<int64_t> idx = {1, 0};
    const Batch plain = make_batch(data, idx, spec);
    const std::vector<AugParams> none(2);
    const Batch same = make_batch(data, idx, spec, &none);
    CHECK(max_diff(plain.images, same.images) < 1e-4);
    CHECK(torch::equal(plain.labels, same.labels));
    std::vector<AugParams> flipped(2);
    flipped[0].flip = flipped[1].flip = true;
    CHECK(max_diff(make_batch(data, idx, spec, &flipped).images, plain.images.flip({3})) < 1e-4);
}

TEST_CASE("training strips: short side at the model size, the crop window cut where crop_pct says") {
    // 160x120 at 32: 43x32 (160 * 32 / 120 = 42.7); 300x4 at 16: capped at 32x16.
    InputSpec spec;
    spec.width = spec.height = 32;
    spec.resize = ResizeMethod::Crop;
    const std::vector<Item> items = {{std::string(URSA_FIXTURES_DIR) + "/src_160x120.png", 0},
                                     {std::string(URSA_FIXTURES_DIR) + "/src_300x4.png", 1}};
    Prepared strips = prepare_items(items, spec, DecodeOptions{}, 1, "test", Storage::crop_strips);
    REQUIRE(strips.images.size() == 2);
    CHECK(strips.images[0].width == 43);
    CHECK(strips.images[0].height == 32);
    CHECK(strips.images[1].width == 64);
    CHECK(strips.images[1].height == 32);
    Prepared centre = prepare_items(items, spec, DecodeOptions{}, 1, "test", Storage::fitted);
    CHECK(centre.images[0].width == 32);

    // Cutting: the window's first column is at crop_pct * (43 - 32).
    std::vector<AugParams> left(1), right(1);
    left[0].crop_pct = 0.0;
    right[0].crop_pct = 1.0;
    Prepared one;
    one.images = {strips.images[0]};
    one.labels = {0};
    const torch::Tensor a = make_batch(one, {0}, spec, &left).images, b = make_batch(one, {0}, spec, &right).images;
    Image cut = strips.images[0];
    Image expect_left, expect_right;
    expect_left.width = expect_right.width = 32;
    expect_left.height = expect_right.height = 32;
    for (int y = 0; y < 32; ++y) {
        expect_left.pixels.insert(expect_left.pixels.end(), cut.at(0, y), cut.at(0, y) + 32 * 3);
        expect_right.pixels.insert(expect_right.pixels.end(), cut.at(11, y), cut.at(11, y) + 32 * 3);
    }
    Prepared l, r;
    l.images = {expect_left}, r.images = {expect_right};
    l.labels = r.labels = {0};
    CHECK(max_diff(a, make_batch(l, {0}, spec).images) < 1e-4);
    CHECK(max_diff(b, make_batch(r, {0}, spec).images) < 1e-4);
    CHECK(max_diff(a, b) > 0.01);
}

TEST_CASE("random-resized-crop: fastai's window, area and ratio in range, fallback centre crop") {
    int fallbacks = 0;
    for (uint64_t seed = 0; seed < 500; ++seed) {
        std::mt19937_64 rng(seed);
        const CropBox c = random_resized_crop_box(160, 120, 0.08, rng);
        CAPTURE(seed);
        REQUIRE(c.width > 0);
        REQUIRE(c.height > 0);
        CHECK(c.x0 >= 0);
        CHECK(c.y0 >= 0);
        CHECK(c.x0 + c.width <= 160);
        CHECK(c.y0 + c.height <= 120);
        const double area = static_cast<double>(c.width) * c.height / (160.0 * 120.0);
        const double ratio = static_cast<double>(c.width) / c.height;
        CHECK(area >= 0.08 * 0.9);  // the rounding of width and height
        CHECK(ratio >= 0.75 * 0.9);
        CHECK(ratio <= 4.0 / 3.0 * 1.1);
        fallbacks += c.width == 160 && c.height == 120;
        std::mt19937_64 again(seed);  // the same draws give the same window
        const CropBox d = random_resized_crop_box(160, 120, 0.08, again);
        CHECK((d.x0 == c.x0 && d.y0 == c.y0 && d.width == c.width && d.height == c.height));
    }
    CHECK(fallbacks < 25);  // 160x120 is 4:3: the full image only when all 10 tries miss
    // min_scale 1: the window is (nearly) the whole image.
    std::mt19937_64 rng(7);
    const CropBox whole = random_resized_crop_box(160, 120, 1.0, rng);
    CHECK(whole.width * whole.height >= 150 * 110);
    // A 1000x10 line: no try fits (height >= sqrt(0.08 * 10000 * 3/4) > 10), so fastai's
    // fallback: the centre, clamped to ratio 4/3: int(10 * 4/3) = 13 wide.
    const CropBox line = random_resized_crop_box(1000, 10, 0.08, rng);
    CHECK(line.x0 == 493);
    CHECK(line.y0 == 0);
    CHECK(line.width == 13);
    CHECK(line.height == 10);
}

TEST_CASE("random-resized-crop: whole images kept, the drawn window resized into the batch") {
    InputSpec spec;
    spec.width = spec.height = 32;
    spec.resize = ResizeMethod::RandomResizedCrop;
    const std::vector<Item> items = {{std::string(URSA_FIXTURES_DIR) + "/src_160x120.png", 0}};
    // Short side 120 > 3 * 32: shrunk to a short side of 64 (85 x 64).
    Prepared whole = prepare_items(items, spec, DecodeOptions{}, 1, "test", Storage::whole);
    REQUIRE(whole.images.size() == 1);
    CHECK(whole.images[0].width == 85);
    CHECK(whole.images[0].height == 64);
    spec.width = spec.height = 64;  // 120 <= 128: kept at full size
    CHECK(prepare_items(items, spec, DecodeOptions{}, 1, "test", Storage::whole).images[0].width == 160);
    spec.width = spec.height = 40;  // 120 <= 3 * 40: over twice the size, still kept as it is
    CHECK(prepare_items(items, spec, DecodeOptions{}, 1, "test", Storage::whole).images[0].width == 160);
    spec.width = spec.height = 32;

    AugOptions options = no_batch_aug(AugOptions{});
    options.random_resized_crop = true;
    options.min_scale = 0.3;
    std::mt19937_64 draws(5);
    std::vector<AugParams> params = {draw_aug_params(draws, options)};
    CHECK(params[0].identity());
    CHECK(params[0].rrc_min_scale == 0.3);
    const torch::Tensor got = make_batch(whole, {0}, spec, &params).images;
    // The same window, cut and resized by core, normalised: the batch exactly.
    std::mt19937_64 rng(params[0].rrc_seed);
    const CropBox c = random_resized_crop_box(85, 64, 0.3, rng);
    const Image expect = resample(whole.images[0], 32, 32, Filter::Bilinear, c.x0, c.y0, c.x0 + c.width, c.y0 + c.height);
    std::vector<float> chw;
    normalize_to_chw(expect, spec.mean, spec.std, chw);
    CHECK(max_diff(got, torch::from_blob(chw.data(), {1, 3, 32, 32}).clone()) < 1e-5);
    // Validation goes through core's fit: squished to 32 + 8, the centre 32 cut out.
    Prepared valid = prepare_items(items, spec, DecodeOptions{}, 1, "test", Storage::fitted);
    CHECK(valid.images[0].width == 32);
}

namespace {

// fastai's batch transforms written with torch ops, as fastai computes them: the
// affine matrix (flip @ rotate @ zoom), affine_grid, the perspective warp solved with
// torch, grid_sample (bilinear, reflection, align_corners), lighting in logit space.
torch::Tensor torch_reference(const torch::Tensor& x, const AugParams& p) {
    namespace F = torch::nn::functional;
    const int64_t h = x.size(2), w = x.size(3);
    auto mat = [](std::vector<double> v) { return torch::tensor(v, torch::kFloat64).view({3, 3}); };
    const double t = p.rotate_deg * M_PI / 180, s = 1 / p.zoom;
    torch::Tensor m = mat({p.flip ? -1.0 : 1.0, 0, 0, 0, 1, 0, 0, 0, 1})
                          .mm(mat({std::cos(t), std::sin(t), 0, -std::sin(t), std::cos(t), 0, 0, 0, 1}))
                          .mm(mat({s, 0, (1 - s) * (2 * p.col_pct - 1), 0, s, (1 - s) * (2 * p.row_pct - 1), 0, 0, 1}));
    torch::Tensor grid = F::affine_grid(m.narrow(0, 0, 2).unsqueeze(0), {1, 3, h, w}, true);
    if (p.warp_x != 0 || p.warp_y != 0) {  // ref: fastai find_coeffs
        const double wx = p.warp_x, wy = p.warp_y;
        const double orig[4][2] = {{-1, -1}, {-1, 1}, {1, -1}, {1, 1}};
        const double targ[4][2] = {{-1 - wy, -1 - wx}, {-1 + wy, 1 + wx}, {1 + wy, -1 + wx}, {1 - wy, 1 - wx}};
        std::vector<double> a, b;
        for (int i = 0; i < 4; ++i) {
            const double *p1 = orig[i], *p2 = targ[i];
            a.insert(a.end(), {p2[0], p2[1], 1, 0, 0, 0, -p1[0] * p2[0], -p1[0] * p2[1]});
            a.insert(a.end(), {0, 0, 0, p2[0], p2[1], 1, -p1[1] * p2[0], -p1[1] * p2[1]});
            b.insert(b.end(), {p1[0], p1[1]});
        }
        const torch::Tensor k = torch::linalg_solve(torch::tensor(a, torch::kFloat64).view({8, 8}),
                                                    torch::tensor(b, torch::kFloat64).view({8, 1}));
        const torch::Tensor km = torch::cat({k.view({8}), torch::ones({1}, torch::kFloat64)}).view({3, 3});
        const torch::Tensor xy1 = torch::cat({grid.view({-1, 2}), torch::ones({h * w, 1}, torch::kFloat64)}, 1);
        const torch::Tensor proj = xy1.mm(km.t());
        grid = (proj.narrow(1, 0, 2) / proj.narrow(1, 2, 1)).view({1, h, w, 2});
    }
    torch::Tensor out = F::grid_sample(
        x, grid.to(torch::kFloat32),
        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kReflection).align_corners(true));
    if (p.brightness != 0.5 || p.contrast != 1.0) {
        auto logit = [](const torch::Tensor& v) { return -(1.0 / v.clamp(1e-7, 1 - 1e-7) - 1.0).log(); };
        out = torch::sigmoid((logit(out) + logit(torch::full({1}, p.brightness))) * p.contrast);
    }
    return out;
}

}  // namespace

TEST_CASE("augment: random aug_transforms draws equal fastai's torch formulation (grid_sample) within 1e-4") {
    std::mt19937_64 rng(3);
    AugOptions o;
    o.mult = 2;  // stronger rotations, warps and lighting than the defaults
    torch::manual_seed(2);
    const torch::Tensor x = torch::rand({1, 3, 19, 26});
    double worst = 0;
    for (int i = 0; i < 40; ++i) {
        const AugParams p = draw_aug_params(rng, o);
        worst = std::max(worst, max_diff(augment_batch(x, {p}), torch_reference(x, p)));
    }
    MESSAGE("largest difference over 40 draws: " << worst);
    CHECK(worst < 1e-4);
}

TEST_CASE("augment: 8-bit windows through augment_image equal the float path and fastai's torch formulation") {
    // A 23x37 window at the bottom-right of a 27x41 8-bit image (rows 41 * 3 bytes
    // apart; its last pixel ends the buffer); 37 is not a multiple of the 4- and
    // 8-lane blocks, so the padded lanes are exercised too.
    const int h = 23, w = 37, full_h = 27, full_w = 41;
    std::vector<uint8_t> pixels(static_cast<size_t>(full_h) * full_w * 3);
    uint32_t state = 12345;
    for (uint8_t& v : pixels) v = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
    const int64_t row_bytes = full_w * 3;
    const uint8_t* window = pixels.data() + (full_h - h) * row_bytes + (full_w - w) * 3;
    // The same window as floats v / 255 ([1,3,h,w]), as the 8-bit path reads it.
    torch::Tensor x = torch::empty({1, 3, h, w});
    auto a = x.accessor<float, 4>();
    for (int y = 0; y < h; ++y)
        for (int c = 0; c < w; ++c)
            for (int ch = 0; ch < 3; ++ch) a[0][ch][y][c] = window[y * row_bytes + c * 3 + ch] * (1.0f / 255.0f);
    std::mt19937_64 rng(11);
    AugOptions o;
    o.mult = 2;
    double worst_float = 0, worst_torch = 0;
    std::vector<float> chw(static_cast<size_t>(3) * h * w);
    for (int i = 0; i < 40; ++i) {
        AugParams p = draw_aug_params(rng, o);
        if (i == 0) p = AugParams{};  // the identity path too
        augment_image(window, row_bytes, h, w, p, {0, 0, 0}, {1, 1, 1}, chw.data());
        const torch::Tensor got = torch::from_blob(chw.data(), {1, 3, h, w}).clone();
        worst_float = std::max(worst_float, max_diff(got, augment_batch(x, {p})));
        worst_torch = std::max(worst_torch, max_diff(got, torch_reference(x, p)));
    }
    MESSAGE("8-bit path: largest difference from the float path " << worst_float << ", from torch " << worst_torch);
    CHECK(worst_float == 0);  // the same operations on the same values
    CHECK(worst_torch < 1e-4);  // 2.2e-6 measured: pixel noise (neighbours up to 1.0 apart) magnifies float rounding of the coordinates, which torch computes in another order
    // Normalisation: (v - mean) / std per channel.
    const std::array<float, 3> mean = {0.485f, 0.456f, 0.406f}, sd = {0.229f, 0.224f, 0.225f};
    std::vector<float> normed(chw.size());
    AugParams p;
    p.rotate_deg = 7, p.brightness = 0.55, p.contrast = 1.1;
    augment_image(window, row_bytes, h, w, p, {0, 0, 0}, {1, 1, 1}, chw.data());
    augment_image(window, row_bytes, h, w, p, mean, sd, normed.data());
    double worst_norm = 0;
    for (size_t i = 0; i < chw.size(); ++i) {
        const size_t c = i / (static_cast<size_t>(h) * w);
        worst_norm = std::max(worst_norm, static_cast<double>(std::fabs(normed[i] - (chw[i] - mean[c]) / sd[c])));
    }
    CHECK(worst_norm < 1e-5);
}
