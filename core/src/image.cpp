#include "ursa/image.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

#include <stb_image.h>

#include "jpeg_segments.h"
#include "ursa/exif.h"

namespace ursa {

namespace {

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t n, size_t offset = 0) {
    return size >= offset + n && std::memcmp(data + offset, magic, n) == 0;
}

// ref: alpha compositing over white, rounded: out = (c*a + 255*(255-a) + 127) / 255
inline uint8_t over_white(uint8_t c, uint8_t a) {
    return static_cast<uint8_t>((c * a + 255 * (255 - a) + 127) / 255);
}

// Whether every one of the n RGBA pixels has alpha 255.
bool all_opaque(const uint8_t* rgba, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (rgba[i * 4 + 3] != 255) return false;
    return true;
}

// width * height > limit, without overflowing for 32-bit header dimensions.
bool over_limit(int64_t width, int64_t height, int64_t limit) { return height > 0 && width > limit / height; }

Result<bool> check_dimensions(int64_t width, int64_t height, const DecodeOptions& options) {
    if (width <= 0 || height <= 0)
        return make_error("image has invalid dimensions " + std::to_string(width) + "x" + std::to_string(height));
    if (over_limit(width, height, options.max_pixels)) {
        char mp[64];
        std::snprintf(mp, sizeof mp, "%.1f megapixels, over the limit of %.1f",
                      static_cast<double>(width) * static_cast<double>(height) / 1e6, options.max_pixels / 1e6);
        return make_error("image is " + std::to_string(width) + "x" + std::to_string(height) + " = " + mp +
                          " (decompression-bomb guard; raise it with --max-pixels)");
    }
    return true;
}

uint32_t be16(const uint8_t* p) { return (p[0] << 8) | p[1]; }
uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }
uint32_t le16(const uint8_t* p) { return p[0] | (p[1] << 8); }
int64_t le32s(const uint8_t* p) { return static_cast<int32_t>(p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24)); }

// Width and height from the header alone, so huge images are refused before any
// decoding (ref: Pillow's decompression-bomb check runs on the header size).
bool peek_dimensions(const std::string& format, const uint8_t* d, size_t n, int64_t& w, int64_t& h) {
    if (format == "png" && n >= 24) {
        w = be32(d + 16), h = be32(d + 20);
        return true;
    }
    if (format == "gif" && n >= 10) {
        w = le16(d + 6), h = le16(d + 8);
        return true;
    }
    if (format == "bmp" && n >= 26) {
        w = le32s(d + 18), h = le32s(d + 22);
        h = h < 0 ? -h : h;  // negative height = top-down rows
        return true;
    }
    if (format == "jpeg") {  // the first start-of-frame segment holds the size
        bool found = false;
        detail::for_each_jpeg_segment(d, n, [&](uint8_t m, size_t at, size_t len) {
            const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
            if (m == 0xDA) return false;
            if (!sof) return true;
            if (len >= 5 && at + 5 <= n) h = be16(d + at + 1), w = be16(d + at + 3), found = true;
            return false;
        });
        return found;
    }
    return false;
}

// Whether a JPEG's bytes reach its end-of-image marker. stb_image decodes a truncated
// JPEG without complaint (the missing scan data reads as zeros: a grey band), while
// Pillow refuses it ("image file is truncated"); a download cut short must not pass.
bool jpeg_has_end(const uint8_t* d, size_t size) {
    size_t i = 2;
    while (i + 2 <= size) {
        if (d[i] != 0xFF) {
            ++i;
            continue;
        }
        const uint8_t m = d[i + 1];
        if (m == 0xD9) return true;
        if (m == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) {  // standalone markers, junk
            i += 2;
            continue;
        }
        if (i + 4 > size) return false;
        const size_t len = (size_t(d[i + 2]) << 8) | d[i + 3];
        if (len < 2) return true;  // corrupt rather than truncated: the decoder says why
        i += 2 + len;
        if (m == 0xDA)  // entropy-coded data runs to the next marker that is not a restart
            while (i + 1 < size && !(d[i] == 0xFF && d[i + 1] != 0 && !(d[i + 1] >= 0xD0 && d[i + 1] <= 0xD7))) ++i;
    }
    return false;
}

}  // namespace

std::string sniff_format(const uint8_t* data, size_t size) {
    if (starts_with(data, size, "\xFF\xD8\xFF", 3)) return "jpeg";
    if (starts_with(data, size, "\x89PNG\r\n\x1A\n", 8)) return "png";
    if (starts_with(data, size, "GIF87a", 6) || starts_with(data, size, "GIF89a", 6)) return "gif";
    if (starts_with(data, size, "BM", 2) && size >= 26) return "bmp";
    if (starts_with(data, size, "RIFF", 4) && starts_with(data, size, "WEBP", 4, 8)) return "webp";
    if (starts_with(data, size, "ftyp", 4, 4)) {
        if (starts_with(data, size, "avif", 4, 8) || starts_with(data, size, "avis", 4, 8)) return "avif";
        if (starts_with(data, size, "heic", 4, 8) || starts_with(data, size, "heix", 4, 8) ||
            starts_with(data, size, "mif1", 4, 8))
            return "heic";
    }
    if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4)) return "tiff";
    return "";
}

void DecoderFree::operator()(uint8_t* pixels) const { stbi_image_free(pixels); }

Result<DecodedRgba> decode_rgba(const uint8_t* data, size_t size, const DecodeOptions& options) {
    if (size == 0) return make_error("file is empty");
    if (size > static_cast<size_t>(std::numeric_limits<int>::max())) return make_error("file is too large");
    const std::string format = sniff_format(data, size);
    if (format.empty()) return make_error("not an image (unrecognised file signature)");
    if (format != "jpeg" && format != "png" && format != "gif" && format != "bmp")
        return make_error("unsupported image format: " + format);

    int64_t header_w = 0, header_h = 0;
    if (peek_dimensions(format, data, size, header_w, header_h) && over_limit(header_w, header_h, options.max_pixels))
        return check_dimensions(header_w, header_h, options).error();
    int width = 0, height = 0, channels = 0;
    const int len = static_cast<int>(size);
    // When stbi_info fails its reason is only "unknown image type" (each loader was
    // tried in turn); the load below then fails with the format's own reason.
    if (stbi_info_from_memory(data, len, &width, &height, &channels))
        if (auto ok = check_dimensions(width, height, options); !ok) return ok.error();

    // Decoded as RGBA so every source (gray, palette, alpha) takes one path; stb's
    // colour conversion is also only vectorised for 4 channels.
    DecodedRgba out;
    out.pixels.reset(stbi_load_from_memory(data, len, &width, &height, &channels, 4));
    if (!out.pixels) {
        // stb puts a bad PNG chunk's type bytes into its message; keep it printable.
        std::string reason = stbi_failure_reason();
        for (char& c : reason)
            if (c < 0x20 || c > 0x7E) c = '?';
        if (format == "jpeg" && !jpeg_has_end(data, size)) reason += " (the file is truncated)";
        return make_error("corrupt " + format + ": " + reason);
    }
    if (auto ok = check_dimensions(width, height, options); !ok) return ok.error();
    // Checked after stb, whose reason for a corrupt file comes first.
    if (format == "jpeg" && !jpeg_has_end(data, size))
        return make_error("corrupt jpeg: truncated (the data ends before the end-of-image marker)");
    out.width = width, out.height = height;
    out.opaque = format == "jpeg" || all_opaque(out.pixels.get(), static_cast<size_t>(width) * height);
    if (format == "jpeg" && options.exif_orientation) out.orientation = jpeg_orientation(data, size);
    return out;
}

Result<Image> to_image(const DecodedRgba& decoded, const DecodeOptions& options) {
    Result<Image> image = image_from_rgba(decoded.pixels.get(), decoded.width, decoded.height, options);
    if (image && decoded.orientation != 1) return apply_orientation(*image, decoded.orientation);
    return image;
}

Result<Image> decode_image(const uint8_t* data, size_t size, const DecodeOptions& options) {
    auto decoded = decode_rgba(data, size, options);
    if (!decoded) return decoded.error();
    return to_image(*decoded, options);
}

Result<Image> image_from_rgba(const uint8_t* rgba, int width, int height, const DecodeOptions& options) {
    if (auto ok = check_dimensions(width, height, options); !ok) return ok.error();
    Image image;
    image.width = width;
    image.height = height;
    const size_t n = static_cast<size_t>(width) * height;
    image.pixels.resize(n * 3);
    uint8_t* q = image.pixels.data();
    if (all_opaque(rgba, n)) {  // the common case (every JPEG): a branch-free repack the compiler vectorises
        for (size_t i = 0; i < n; ++i) q[i * 3] = rgba[i * 4], q[i * 3 + 1] = rgba[i * 4 + 1], q[i * 3 + 2] = rgba[i * 4 + 2];
        return image;
    }
    for (size_t i = 0; i < n; ++i) {
        const uint8_t* p = rgba + i * 4;
        const uint8_t a = p[3];
        q[i * 3] = over_white(p[0], a), q[i * 3 + 1] = over_white(p[1], a), q[i * 3 + 2] = over_white(p[2], a);
    }
    return image;
}

}  // namespace ursa
