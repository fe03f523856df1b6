#include <doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fixtures.h"
#include "ursa/exif.h"

using namespace ursa;

TEST_CASE("JPEGs are turned upright by all 8 EXIF orientations, as Pillow's exif_transpose") {
    int checked = 0;
    for (const std::string& line : fixture_lines("exif/cases.txt")) {
        std::istringstream in(line);
        std::string name, ref;
        int w = 0, h = 0;
        in >> name >> w >> h >> ref;
        CAPTURE(line);
        const Image image = decode_fixture("exif/" + name);
        REQUIRE(image.width == w);
        REQUIRE(image.height == h);
        const auto expected = load_fixture("exif/" + ref);
        REQUIRE(expected.size() == image.pixels.size());
        // stb vs libjpeg decode differences only (a wrong turn would differ by ~100 levels).
        double sum = 0;
        for (size_t i = 0; i < expected.size(); ++i) sum += std::abs(int(image.pixels[i]) - int(expected[i]));
        CHECK(sum / expected.size() <= 3.0);
        ++checked;
    }
    CHECK(checked == 9);
}

TEST_CASE("the orientation tag is read from little- and big-endian Exif, and can be ignored") {
    for (int o = 1; o <= 8; ++o) {
        const auto bytes = load_fixture("exif/exif_" + std::to_string(o) + ".jpg");
        CHECK(jpeg_orientation(bytes.data(), bytes.size()) == o);
    }
    const auto motorola = load_fixture("exif/exif_6_motorola.jpg");
    CHECK(jpeg_orientation(motorola.data(), motorola.size()) == 6);
    DecodeOptions raw;
    raw.exif_orientation = false;
    auto stored = decode_image(motorola.data(), motorola.size(), raw);
    REQUIRE(stored.ok());
    CHECK(stored->width == 24);
    CHECK(stored->height == 16);
    const auto plain = load_fixture("photo_64x48.jpg");
    CHECK(jpeg_orientation(plain.data(), plain.size()) == 1);
}

TEST_CASE("broken Exif segments fall back to orientation 1 without reading out of bounds") {
    const auto bytes = load_fixture("exif/exif_6.jpg");
    // Every prefix of the file, and the Exif bytes with each byte replaced.
    for (size_t n = 0; n < std::min<size_t>(bytes.size(), 200); ++n) {
        const int o = jpeg_orientation(bytes.data(), n);
        CHECK((o >= 1 && o <= 8));
    }
    for (size_t i = 2; i < std::min<size_t>(bytes.size(), 120); ++i) {
        auto mutated = bytes;
        mutated[i] = static_cast<uint8_t>(mutated[i] ^ 0xA5);
        const int o = jpeg_orientation(mutated.data(), mutated.size());
        CHECK((o >= 1 && o <= 8));
    }
}

TEST_CASE("apply_orientation turns a 3x2 image as the EXIF spec says") {
    Image im;
    im.width = 3;
    im.height = 2;
    // pixel value = 10*y + x in every channel
    for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x) im.pixels.insert(im.pixels.end(), 3, static_cast<uint8_t>(10 * y + x));
    auto firsts = [](const Image& out) {
        std::vector<int> v;
        for (size_t i = 0; i < out.pixels.size(); i += 3) v.push_back(out.pixels[i]);
        return v;
    };
    CHECK(firsts(apply_orientation(im, 2)) == (std::vector<int>{2, 1, 0, 12, 11, 10}));
    CHECK(firsts(apply_orientation(im, 3)) == (std::vector<int>{12, 11, 10, 2, 1, 0}));
    CHECK(firsts(apply_orientation(im, 6)) == (std::vector<int>{10, 0, 11, 1, 12, 2}));  // 90° clockwise
    CHECK(firsts(apply_orientation(im, 8)) == (std::vector<int>{2, 12, 1, 11, 0, 10}));  // 90° counter-clockwise
    CHECK(apply_orientation(im, 6).width == 2);
    CHECK(firsts(apply_orientation(im, 1)) == firsts(im));
}
