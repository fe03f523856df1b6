// Decoding image bytes into 8-bit RGB, the first step of every path (training,
// `ursa predict`, the web page).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ursa/result.h"

namespace ursa {

// Default pixel limit, as Pillow's decompression-bomb guard (50 megapixels).
constexpr int64_t kDefaultMaxPixels = 50'000'000;

// An 8-bit RGB image, rows top to bottom, interleaved (HWC).
struct Image {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> pixels;  // width * height * 3

    const uint8_t* at(int x, int y) const { return &pixels[(static_cast<size_t>(y) * width + x) * 3]; }
    uint8_t* at(int x, int y) { return &pixels[(static_cast<size_t>(y) * width + x) * 3]; }
};

struct DecodeOptions {
    int64_t max_pixels = kDefaultMaxPixels;
    bool exif_orientation = true;  // turn JPEGs upright by their EXIF orientation tag
};

// Container detected from the leading bytes: "jpeg", "png", "bmp", "gif", "webp", ...
// or "" when the bytes match no known image format.
std::string sniff_format(const uint8_t* data, size_t size);

// Decodes JPEG/PNG/BMP/GIF (first frame) from memory into RGB. Alpha is composited
// over white; gray is expanded to RGB; JPEGs are turned upright by their EXIF
// orientation. Refuses images over max_pixels before decoding.
Result<Image> decode_image(const uint8_t* data, size_t size, const DecodeOptions& options = {});

// Pixels as the decoder returns them: RGBA, un-premultiplied, not yet turned
// upright. decode_image is decode_rgba + to_image; preprocessing resizes straight
// from an opaque, upright buffer instead of repacking it to RGB first.
struct DecoderFree {
    void operator()(uint8_t* pixels) const;
};
struct DecodedRgba {
    std::unique_ptr<uint8_t[], DecoderFree> pixels;
    int width = 0, height = 0;
    bool opaque = false;  // every alpha is 255 (always so for JPEG)
    int orientation = 1;  // EXIF orientation still to apply; 1 = upright
    // The size once turned upright (EXIF 5..8 swap width and height).
    int upright_width() const { return orientation >= 5 ? height : width; }
    int upright_height() const { return orientation >= 5 ? width : height; }
};
Result<DecodedRgba> decode_rgba(const uint8_t* data, size_t size, const DecodeOptions& options = {});

// Alpha composited over white, then turned upright.
Result<Image> to_image(const DecodedRgba& decoded, const DecodeOptions& options = {});

// Builds an RGB image from un-premultiplied RGBA (what a browser decoder hands over),
// compositing alpha over white exactly as decode_image does.
Result<Image> image_from_rgba(const uint8_t* rgba, int width, int height,
                              const DecodeOptions& options = {});

// Reads a whole file into memory; errors name the path and the reason.
Result<std::vector<uint8_t>> read_file(const std::string& path);

}  // namespace ursa
