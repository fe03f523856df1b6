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
    CHECK(decode_fixture("rgb_7x5.bmp").pixels == load_fixture("rgb_7x5.rgb"));        // rows padded
    CHECK(decode_fixture("anim_8x6.gif").pixels == load_fixture("anim_8x6_gif.rgb"));  // the first frame
}

TEST_CASE("a top-down BMP (negative height) decodes as its bottom-up twin") {
    // stb 2.27's header read gives the height as negative; Pillow decodes it.
    const auto bmp = load_fixture("rgb_7x5.bmp");
    std::vector<uint8_t> top_down(bmp.begin(), bmp.begin() + 54);
    const uint32_t minus_5 = static_cast<uint32_t>(-5);
    for (int i = 0; i < 4; ++i) top_down[22 + i] = static_cast<uint8_t>(minus_5 >> (8 * i));
    for (int row = 4; row >= 0; --row)
        top_down.insert(top_down.end(), bmp.begin() + 54 + row * 24, bmp.begin() + 54 + (row + 1) * 24);
    auto image = decode_image(top_down.data(), top_down.size());
    REQUIRE_MESSAGE(image.ok(), (image.ok() ? "" : image.error().message));
    CHECK(image->width == 7);
    CHECK(image->height == 5);
    CHECK(image->pixels == load_fixture("rgb_7x5.rgb"));
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
    SUBCASE("every prefix of a PNG fails cleanly, up to the type of its IEND chunk") {
        const auto bytes = load_fixture("rgb_8x6.png");
        const Image whole = decode_fixture("rgb_8x6.png");
        // Cut anywhere before the IEND chunk's type: refused, saying so. Cut after it
        // (inside IEND's CRC): all the pixels are there, and stb and Pillow take it.
        const size_t iend_type_end = bytes.size() - 4;
        for (size_t n = 8; n < bytes.size(); ++n) {
            CAPTURE(n);
            auto r = decode_image(bytes.data(), n);
            if (n < iend_type_end) {
                REQUIRE_FALSE(r.ok());
                const std::string& m = r.error().message;
                CHECK((m.rfind("corrupt png: truncated (the ", 0) == 0 ||
                       m == "corrupt png: no IEND chunk (the file is truncated)"));
            } else {
                REQUIRE(r.ok());
                CHECK(r->pixels == whole.pixels);
            }
        }
        // Inside the IHDR chunk, between chunks, inside a chunk's CRC, inside IEND's length.
        auto message = [&](size_t n) { return decode_image(bytes.data(), n).error().message; };
        CHECK(message(20) == "corrupt png: truncated (the IHDR chunk ends after 4 of its 13 bytes)");
        CHECK(message(33) == "corrupt png: no IEND chunk (the file is truncated)");
        CHECK(message(35) == "corrupt png: no IEND chunk (the file is truncated)");
        CHECK(message(bytes.size() - 10) == "corrupt png: no IEND chunk (the file is truncated)");
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

// stb_image reads past the end of the data as zeros: alone, it decodes a BMP or GIF
// cut short with the missing rows filled in, and fails on a PNG cut short with an
// empty reason. Pillow 9.4 refuses each of these files (Image.open(f).load() raises
// unless ImageFile.LOAD_TRUNCATED_IMAGES; checked by running it on every prefix),
// except where noted.
TEST_CASE("a BMP, GIF or PNG that is cut short is refused with the reason, as Pillow refuses it") {
    SUBCASE("the fixtures") {
        const std::pair<const char*, const char*> cases[] = {
            // Pillow: "image file is truncated (4 bytes not processed)"
            {"truncated.bmp", "corrupt bmp: truncated (the pixel data ends after 100 of 144 bytes)"},
            // Pillow: "image file is truncated (20 bytes not processed)"
            {"truncated.gif",
             "corrupt gif: truncated (the first frame's pixel data ends after 15 of 48 pixels)"},
            // A whole file whose LZW data has its end code after 10 pixels; stb alone
            // fills the rest. Pillow: "image file is truncated (2 bytes not processed)"
            {"early_end.gif", "corrupt gif: the first frame's pixel data ends after 10 of 48 pixels"},
            // Pillow: "image file is truncated"; stb alone said "outofdata"
            {"truncated.png", "corrupt png: truncated (the IDAT chunk ends after 68 of its 161 bytes)"},
            // Every chunk but IEND; stb alone said "corrupt png: ". Pillow decodes this
            // one (its image data is complete), stb cannot without IEND: core is stricter.
            {"no_iend.png", "corrupt png: no IEND chunk (the file is truncated)"},
        };
        for (const auto& c : cases) {
            const std::string name = c.first;
            CAPTURE(name);
            const auto bytes = load_fixture(name);
            auto r = decode_image(bytes.data(), bytes.size());
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().message == c.second);
        }
    }
    SUBCASE("every prefix fails until the one Pillow first decodes, and from there decodes whole") {
        struct Case {
            const char* name;
            size_t pillow_first;  // the shortest prefix Pillow 9.4 loads
            const char* error;    // how every shorter prefix (with the format's signature) fails
        };
        const Case cases[] = {
            {"rgb_8x6.bmp", 198, "corrupt bmp: truncated (the "},
            // The last row without its padding (rows of 21 bytes padded to 24).
            {"rgb_7x5.bmp", 171, "corrupt bmp: truncated (the "},
            // The block terminator and trailer may be missing, not the last data sub-block.
            {"rgb_8x6.gif", 274, "corrupt gif: truncated (the "},
            // Cut anywhere in the second frame: the first is whole.
            {"anim_8x6.gif", 301, "corrupt gif: truncated (the "},
        };
        for (const Case& c : cases) {
            const auto bytes = load_fixture(c.name);
            const Image whole = decode_fixture(c.name);
            const std::string name = c.name;
            const size_t first = sniff_format(bytes.data(), bytes.size()) == "bmp" ? 26 : 6;
            for (size_t n = first; n < bytes.size(); ++n) {
                CAPTURE(name);
                CAPTURE(n);
                auto r = decode_image(bytes.data(), n);
                if (n < c.pillow_first) {
                    REQUIRE_FALSE(r.ok());
                    CHECK(r.error().message.rfind(c.error, 0) == 0);
                } else {
                    REQUIRE(r.ok());
                    CHECK(r->pixels == whole.pixels);
                }
            }
        }
        const auto gif = load_fixture("rgb_8x6.gif");
        CHECK(decode_image(gif.data(), 12).error().message ==
              "corrupt gif: truncated (the file ends before the first frame's pixel data)");
        CHECK(decode_image(gif.data(), 273).error().message ==
              "corrupt gif: truncated (the first frame's last data block is cut short)");
        const auto bmp = load_fixture("rgb_8x6.bmp");
        CHECK(decode_image(bmp.data(), 40).error().message ==
              "corrupt bmp: truncated (the file ends before the pixel data)");
        CHECK(decode_image(bmp.data(), 197).error().message ==
              "corrupt bmp: truncated (the pixel data ends after 143 of 144 bytes)");
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
