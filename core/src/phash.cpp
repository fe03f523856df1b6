#include "ursa/phash.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <cmath>

#include "ursa/preprocess.h"

namespace ursa {

namespace {

constexpr int kSide = 32;  // the grey thumbnail the DCT is taken of
constexpr int kLow = 8;    // the lowest kLow x kLow frequencies make the hash

// DCT-II basis (unnormalised, as scipy.fftpack.dct's default): cos(pi*(2n+1)k / 2N).
const std::array<double, kLow * kSide>& dct_basis() {
    static const std::array<double, kLow * kSide> basis = [] {
        std::array<double, kLow * kSide> b{};
        const double pi = std::acos(-1.0);
        for (int k = 0; k < kLow; ++k)
            for (int n = 0; n < kSide; ++n) b[k * kSide + n] = std::cos(pi * (2 * n + 1) * k / (2.0 * kSide));
        return b;
    }();
    return basis;
}

}  // namespace

uint64_t perceptual_hash(const Image& image) {
    if (image.width <= 0 || image.height <= 0) return 0;
    // Grey first, as imagehash does (Pillow's RGB -> L, its L24 rounding), kept in all
    // three channels so that core's Pillow-exact resize can shrink it.
    Image grey_image = image;
    for (size_t i = 0; i < grey_image.pixels.size(); i += 3) {
        uint8_t* p = &grey_image.pixels[i];
        const auto l = static_cast<uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
        p[0] = p[1] = p[2] = l;
    }
    const Image small = resize(grey_image, kSide, kSide, Filter::Bilinear);
    std::array<double, kSide * kSide> grey{};
    for (int i = 0; i < kSide * kSide; ++i) grey[i] = small.pixels[static_cast<size_t>(i) * 3];
    const auto& basis = dct_basis();
    // Rows first (k over x), then columns (l over y): only the low frequencies are needed.
    std::array<double, kSide * kLow> rows{};  // [y][k]
    for (int y = 0; y < kSide; ++y)
        for (int k = 0; k < kLow; ++k) {
            double s = 0;
            for (int x = 0; x < kSide; ++x) s += grey[y * kSide + x] * basis[k * kSide + x];
            rows[y * kLow + k] = s;
        }
    std::array<double, kLow * kLow> coef{};  // [l][k]: l vertical, k horizontal frequency
    for (int l = 0; l < kLow; ++l)
        for (int k = 0; k < kLow; ++k) {
            double s = 0;
            for (int y = 0; y < kSide; ++y) s += rows[y * kLow + k] * basis[l * kSide + y];
            coef[l * kLow + k] = 4 * s;  // scipy's factor 2 per axis
        }
    std::array<double, kLow * kLow> sorted = coef;
    std::nth_element(sorted.begin(), sorted.begin() + 31, sorted.end());
    const double lower = sorted[31];
    const double upper = *std::min_element(sorted.begin() + 32, sorted.end());
    const double median = (lower + upper) / 2;  // numpy.median of an even count
    uint64_t hash = 0;
    for (int i = 0; i < kLow * kLow; ++i)
        if (coef[i] > median) hash |= uint64_t{1} << (63 - i);
    return hash;
}

int hash_distance(uint64_t a, uint64_t b) {
    return static_cast<int>(std::bitset<64>(a ^ b).count());
}

}  // namespace ursa
