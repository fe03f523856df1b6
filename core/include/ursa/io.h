// Files: whole-file reads and atomic writes (temp file in the same folder + rename).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ursa/image.h"
#include "ursa/result.h"

namespace ursa {

// Writes `bytes` to `path` atomically: a reader sees the old file or the new one,
// never a partial one. `durable` also flushes the data to disk before the rename
// (skip it for bulk writes that can simply be redone). Errors name the path and
// the reason (strerror).
Result<bool> write_file_atomic(const std::string& path, const void* bytes, size_t size, bool durable = true);
inline Result<bool> write_file_atomic(const std::string& path, const std::string& text) {
    return write_file_atomic(path, text.data(), text.size());
}

// PNG bytes of 8-bit pixels with 1 (gray), 3 (RGB) or 4 (RGBA) channels.
std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels);
inline std::vector<uint8_t> encode_png(const Image& image) {
    return encode_png(image.pixels.data(), image.width, image.height, 3);
}

// Baseline JPEG bytes (4:2:0 chroma, stb_image_write) at quality 1..100.
std::vector<uint8_t> encode_jpeg(const Image& image, int quality = 90);

}  // namespace ursa
