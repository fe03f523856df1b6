#include <doctest.h>

#include <cstdio>
#include <sstream>

#include "fixtures.h"
#include "ursa/phash.h"
#include "ursa/preprocess.h"

using namespace ursa;

namespace {

std::string hex(uint64_t h) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

Image crop(const Image& src, int x0, int y0, int w, int h) {
    Image out;
    out.width = w, out.height = h;
    out.pixels.resize(static_cast<size_t>(w) * h * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) out.at(x, y)[c] = src.at(x0 + x, y0 + y)[c];
    return out;
}

}  // namespace

TEST_CASE("perceptual_hash equals the numpy/Pillow reference bit for bit (make_phash.py)") {
    const auto lines = fixture_lines("phash.txt");
    REQUIRE(lines.size() == 7);
    for (const auto& line : lines) {
        std::istringstream in(line);
        std::string name, want;
        in >> name >> want;
        CAPTURE(name);
        CHECK(hex(perceptual_hash(decode_fixture(name))) == want);
    }
}

TEST_CASE("perceptual_hash: near copies are close, different images are far") {
    const Image photo = decode_fixture("src_160x120.png");
    const uint64_t h = perceptual_hash(photo);
    // A smaller copy, and a copy with a 4-pixel border cropped off.
    CHECK(hash_distance(h, perceptual_hash(resize(photo, 80, 60))) <= 4);
    CHECK(hash_distance(h, perceptual_hash(crop(photo, 4, 3, 152, 114))) <= 8);
    // Brightened by 20 levels.
    Image brighter = photo;
    for (auto& v : brighter.pixels) v = static_cast<uint8_t>(std::min(255, v + 20));
    CHECK(hash_distance(h, perceptual_hash(brighter)) <= 4);
    // A mirror image is a different picture for a classifier's dataset.
    Image mirrored = photo;
    for (int y = 0; y < photo.height; ++y)
        for (int x = 0; x < photo.width; ++x)
            for (int c = 0; c < 3; ++c) mirrored.at(x, y)[c] = photo.at(photo.width - 1 - x, y)[c];
    CHECK(hash_distance(h, perceptual_hash(mirrored)) > 10);
    CHECK(hash_distance(h, perceptual_hash(decode_fixture("src_37x23.png"))) > 10);
    CHECK(hash_distance(0, ~uint64_t{0}) == 64);
    CHECK(hash_distance(h, h) == 0);
}
