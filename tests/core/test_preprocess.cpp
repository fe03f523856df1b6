#include <doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "fixtures.h"
#include "ursa/classify.h"
#include "ursa/preprocess.h"

using namespace ursa;

TEST_CASE("resizing matches Pillow exactly (bilinear antialiased, nearest, fastai crop and pad with zeros, border, reflection, RandomResizedCrop validation)") {
    int checked = 0;
    for (const std::string& line : fixture_lines("resize/cases.txt")) {
        std::istringstream in(line);
        std::string src, method, filter, ref, pad = "zeros";
        int w = 0, h = 0;
        in >> src >> method >> w >> h >> filter >> ref >> pad;  // pad mode: optional last column
        CAPTURE(line);
        const Image image = decode_fixture(src);
        const Filter f = filter == "nearest" ? Filter::Nearest : Filter::Bilinear;
        const Image out = fit(image, w, h, parse_resize_method(method).value(), f, parse_pad_mode(pad).value());
        REQUIRE(out.width == w);
        REQUIRE(out.height == h);
        const auto expected = load_fixture("resize/" + ref);
        int differing = 0;
        for (size_t i = 0; i < expected.size(); ++i) differing += out.pixels[i] != expected[i];
        CHECK(differing == 0);
        ++checked;
    }
    CHECK(checked == 198);
}

TEST_CASE("pad never builds the padded canvas") {
    // A 1x4,000,000 line padded square would be a 4M x 4M canvas (48 TB); the window
    // reads zeros outside the image instead. A white line spread over 224 columns
    // of which it covers a 1/4,000,000 part leaves every pixel 0 but the middle ones.
    Image line;
    line.width = 1;
    line.height = 4'000'000;
    line.pixels.assign(static_cast<size_t>(line.height) * 3, 255);
    for (Filter f : {Filter::Bilinear, Filter::Nearest}) {
        const Image out = fit(line, 224, 224, ResizeMethod::Pad, f);
        REQUIRE(out.width == 224);
        REQUIRE(out.height == 224);
        int lit_columns = 0;
        for (int x = 0; x < 224; ++x) lit_columns += out.at(x, 112)[0] != 0;
        CHECK(lit_columns <= 1);
        CHECK(out.at(0, 0)[0] == 0);
    }
}

TEST_CASE("a 63296x48 JPEG found by fuzzing fits every method (pad once asked for 9 GB)") {
    const Image image = decode_fixture("fuzz/jpeg_panorama_pad_canvas.jpg");
    REQUIRE(image.width == 63296);
    REQUIRE(image.height == 48);
    for (auto method : {ResizeMethod::Crop, ResizeMethod::Squish, ResizeMethod::Pad}) {
        const Image out = fit(image, 17, 13, method);
        CHECK(out.width == 17);
        CHECK(out.height == 13);
        if (method == ResizeMethod::Pad)  // the photo is a thin band in the middle of the window
            CHECK(std::all_of(out.pixels.begin(), out.pixels.begin() + 17 * 3, [](uint8_t v) { return v == 0; }));
    }
}

TEST_CASE("resize to the same size is the identity") {
    const Image image = decode_fixture("src_37x23.png");
    CHECK(resize(image, 37, 23).pixels == image.pixels);
}

TEST_CASE("normalize writes planar CHW with (x/255 - mean) / std") {
    Image image;
    image.width = 2;
    image.height = 1;
    image.pixels = {0, 128, 255, 255, 0, 51};
    std::vector<float> out;
    normalize_to_chw(image, {0.5f, 0.5f, 0.5f}, {0.5f, 0.25f, 1.f}, out);
    REQUIRE(out.size() == 6);
    CHECK(out[0] == doctest::Approx(-1.f));                     // R of pixel 0
    CHECK(out[1] == doctest::Approx(1.f));                      // R of pixel 1
    CHECK(out[2] == doctest::Approx((128 / 255.f - .5f) / .25f));  // G of pixel 0
    CHECK(out[3] == doctest::Approx(-2.f));
    CHECK(out[4] == doctest::Approx(.5f));
    CHECK(out[5] == doctest::Approx(51 / 255.f - .5f));
}

TEST_CASE("preprocess = decode + fit + normalize") {
    const auto bytes = load_fixture("src_160x120.png");
    InputSpec spec;
    spec.height = spec.width = 32;
    spec.resize = ResizeMethod::Squish;
    auto tensor = preprocess(bytes.data(), bytes.size(), spec);
    REQUIRE(tensor.ok());
    REQUIRE(tensor->size() == 3u * 32 * 32);
    const auto ref = load_fixture("resize/src_160x120_squish_32x32.rgb");
    // first pixel, green channel
    CHECK((*tensor)[32 * 32] == doctest::Approx((ref[1] / 255.f - spec.mean[1]) / spec.std[1]).epsilon(1e-6));

    const auto text = load_fixture("not_an_image.jpg");
    CHECK_FALSE(preprocess(text.data(), text.size(), spec).ok());
}

TEST_CASE("resize methods parse by name and unknown names are errors") {
    CHECK(parse_resize_method("crop").value() == ResizeMethod::Crop);
    CHECK(parse_resize_method("pad").value() == ResizeMethod::Pad);
    CHECK(std::string(to_string(ResizeMethod::Squish)) == "squish");
    auto bad = parse_resize_method("stretch");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("stretch") != std::string::npos);
}

TEST_CASE("softmax is stable and top_k orders by probability") {
    const auto p = softmax({1000.f, 1001.f, 999.f});
    CHECK(p[1] == doctest::Approx(0.66524096f));
    CHECK(p[0] == doctest::Approx(0.24472847f));
    float sum = 0;
    for (float v : p) sum += v;
    CHECK(sum == doctest::Approx(1.f));
    const auto top = top_k(p, 2);
    REQUIRE(top.size() == 2);
    CHECK(top[0].index == 1);
    CHECK(top[1].index == 0);
    CHECK(top_k(p, 10).size() == 3);
    const auto ties = top_k({0.5f, 0.5f}, 2);
    CHECK(ties[0].index == 0);
}
