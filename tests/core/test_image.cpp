#include <doctest.h>

#include <cstdlib>

#include "fixtures.h"
#include "ursa/image.h"
#include "ursa/io.h"

using namespace ursa;

TEST_CASE("the format is sniffed from the bytes, not the file name") {
    const auto png = load_fixture("rgb_8x6.png");
    CHECK(sniff_format(png.data(), png.size()) == "png");
    const auto jpg = load_fixture("photo_64x48.jpg");
    CHECK(sniff_format(jpg.data(), jpg.size()) == "jpeg");
    const auto gif = load_fixture("rgb_8x6.gif");
    CHECK(sniff_format(gif.data(), gif.size()) == "gif");
    const auto bmp = load_fixture("rgb_8x6.bmp");
    CHECK(sniff_format(bmp.data(), bmp.size()) == "bmp");
    const auto text = load_fixture("not_an_image.jpg");
    CHECK(sniff_format(text.data(), text.size()).empty());
    const uint8_t webp[] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'};
    CHECK(sniff_format(webp, sizeof webp) == "webp");
}

TEST_CASE("lossless formats decode to exactly Pillow's RGB pixels") {
    for (const char* name : {"rgb_8x6.png", "rgb_8x6.bmp"}) {
        CAPTURE(name);
        const Image image = decode_fixture(name);
        CHECK(image.width == 8);
        CHECK(image.height == 6);
        CHECK(image.pixels == load_fixture("rgb_8x6.rgb"));
    }
    CHECK(decode_fixture("rgb_8x6.gif").pixels == load_fixture("rgb_8x6_gif.rgb"));
    CHECK(decode_fixture("gray_8x6.png").pixels == load_fixture("gray_8x6.rgb"));
}

TEST_CASE("JPEG (baseline and progressive) decodes close to Pillow's libjpeg") {
    for (const char* name : {"photo_64x48.jpg", "progressive_64x48.jpg"}) {
        CAPTURE(name);
        const Image image = decode_fixture(name);
        const auto ref = load_fixture(std::string(name).replace(std::string(name).find('.'), 1, "_") + ".rgb");
        REQUIRE(image.pixels.size() == ref.size());
        double sum = 0;
        int worst = 0;
        for (size_t i = 0; i < ref.size(); ++i) {
            const int d = std::abs(int(image.pixels[i]) - int(ref[i]));
            sum += d;
            worst = std::max(worst, d);
        }
        // stb and libjpeg use different IDCT and chroma upsampling: stated tolerance
        // mean |diff| <= 1.5 levels, max <= 24 levels of 255.
        CHECK(sum / ref.size() <= 1.5);
        CHECK(worst <= 24);
    }
}

TEST_CASE("alpha is composited over white") {
    const Image image = decode_fixture("alpha_2x1.png");
    REQUIRE(image.pixels.size() == 6);
    CHECK(image.pixels[0] == 255);
    CHECK(image.pixels[1] == 0);
    CHECK(image.pixels[2] == 0);
    // (255*128 + 255*127) / 255 = 255 for red; (0*128 + 255*127 + 127) / 255 = 127 for green, blue
    CHECK(image.pixels[3] == 255);
    CHECK(image.pixels[4] == 127);
    CHECK(image.pixels[5] == 127);

    const uint8_t rgba[] = {10, 20, 30, 255, 0, 0, 0, 0};
    auto from_rgba = image_from_rgba(rgba, 2, 1);
    REQUIRE(from_rgba.ok());
    CHECK(from_rgba->pixels == std::vector<uint8_t>{10, 20, 30, 255, 255, 255});
}

TEST_CASE("bad input gives an error with a reason, never a crash") {
    SUBCASE("empty") {
        auto r = decode_image(nullptr, 0);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == "file is empty");
    }
    SUBCASE("not an image") {
        const auto text = load_fixture("not_an_image.jpg");
        auto r = decode_image(text.data(), text.size());
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("not an image") != std::string::npos);
    }
    SUBCASE("truncated JPEG") {
        const auto bytes = load_fixture("truncated.jpg");
        auto r = decode_image(bytes.data(), bytes.size());
        // stb alone would fill the missing scan data with grey and succeed; Pillow
        // refuses ("image file is truncated"), and so does core.
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.rfind("corrupt jpeg: ", 0) == 0);
    }
    SUBCASE("every prefix of a JPEG fails cleanly, and the whole file decodes") {
        for (const char* name : {"photo_64x48.jpg", "progressive_64x48.jpg"}) {
            const auto bytes = load_fixture(name);
            REQUIRE(decode_image(bytes.data(), bytes.size()).ok());
            const std::string file = name;
            // Every cut after the 3-byte signature and before the last byte of the end marker.
            for (size_t n = 3; n + 1 < bytes.size(); ++n) {
                CAPTURE(file);
                CAPTURE(n);
                auto r = decode_image(bytes.data(), n);
                REQUIRE_FALSE(r.ok());
                CHECK(r.error().message.rfind("corrupt jpeg: ", 0) == 0);
            }
            // Bytes after the end-of-image marker (some cameras append data) are fine.
            std::vector<uint8_t> padded = bytes;
            padded.insert(padded.end(), {0x00, 0x12, 0xFF, 0xD8});
            CHECK(decode_image(padded.data(), padded.size()).ok());
        }
    }
    SUBCASE("every prefix of a PNG fails cleanly") {
        const auto bytes = load_fixture("rgb_8x6.png");
        const Image whole = decode_fixture("rgb_8x6.png");
        // Cut before the end of the pixel data: an error. Cut inside the final IEND
        // chunk (12 bytes): stb may accept it, and then the pixels are all there.
        for (size_t n = 1; n < bytes.size(); ++n) {
            CAPTURE(n);
            auto r = decode_image(bytes.data(), n);
            if (n < bytes.size() - 12) CHECK_FALSE(r.ok());
            else if (r.ok()) CHECK(r->pixels == whole.pixels);
        }
    }
    SUBCASE("a JPEG Huffman table with more than 256 symbols (found by fuzzing; overflows unpatched stb 2.27)") {
        // One before the frame, one cut off inside the table (stb reads the missing
        // counts as 0), one between the scans of a progressive JPEG.
        for (const char* name : {"fuzz/jpeg_huffman_overflow.jpg", "fuzz/jpeg_huffman_overflow_truncated.jpg",
                                 "fuzz/jpeg_huffman_overflow_progressive_scan.jpg"}) {
            CAPTURE(name);
            const auto bytes = load_fixture(name);
            auto r = decode_image(bytes.data(), bytes.size());
            REQUIRE_FALSE(r.ok());
            // (the one cut off also says so: "... (the file is truncated)")
            CHECK(r.error().message.rfind("corrupt jpeg: bad Huffman table", 0) == 0);
        }
    }
    SUBCASE("more inputs found by fuzzing fail cleanly") {
        // Bits read past the entropy data, Huffman codes past the table's symbols.
        for (const char* name : {"fuzz/jpeg_huffman_overflow_after_junk.jpg", "fuzz/png_huge_dimensions.png",
                                 "fuzz/jpeg_bits_past_end.jpg", "fuzz/jpeg_symbol_out_of_range_1.jpg",
                                 "fuzz/jpeg_symbol_out_of_range_2.jpg", "fuzz/png_empty_idat.png"}) {
            CAPTURE(name);
            const auto bytes = load_fixture(name);
            auto r = decode_image(bytes.data(), bytes.size());
            REQUIRE_FALSE(r.ok());
            CHECK_FALSE(r.error().message.empty());
            for (char c : r.error().message) CHECK((c >= 0x20 && c <= 0x7E));  // printable, whatever stb says
        }
    }
    SUBCASE("unsupported formats are named") {
        const uint8_t webp[] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', ' '};
        auto r = decode_image(webp, sizeof webp);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == "unsupported image format: webp");
    }
}

TEST_CASE("images over the pixel limit are refused before decoding") {
    const auto bomb = load_fixture("bomb_100000x100000.png");
    auto r = decode_image(bomb.data(), bomb.size());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("100000x100000") != std::string::npos);
    CHECK(r.error().message.find("limit") != std::string::npos);

    const auto png = load_fixture("rgb_8x6.png");
    DecodeOptions tight;
    tight.max_pixels = 47;
    CHECK_FALSE(decode_image(png.data(), png.size(), tight).ok());
    tight.max_pixels = 48;
    CHECK(decode_image(png.data(), png.size(), tight).ok());
}

TEST_CASE("files are written atomically and read back; errors name the path") {
    const std::string path = std::string(URSA_TEST_TMP) + "/atomic.bin";
    REQUIRE(write_file_atomic(path, std::string("first")).ok());
    REQUIRE(write_file_atomic(path, std::string("second")).ok());
    auto back = read_file(path);
    REQUIRE(back.ok());
    CHECK(std::string(back->begin(), back->end()) == "second");

    auto missing = read_file("/nonexistent/dir/x.png");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("/nonexistent/dir/x.png") != std::string::npos);
    auto unwritable = write_file_atomic("/nonexistent/dir/y.bin", std::string("z"));
    REQUIRE_FALSE(unwritable.ok());
    CHECK(unwritable.error().message.find("/nonexistent/dir/y.bin") != std::string::npos);
}

TEST_CASE("PNG encoding round-trips through the decoder") {
    const Image image = decode_fixture("rgb_8x6.png");
    const auto png = encode_png(image);
    auto back = decode_image(png.data(), png.size());
    REQUIRE(back.ok());
    CHECK(back->pixels == image.pixels);
}
