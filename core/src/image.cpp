#include "ursa/image.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
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

// Whether every one of the n RGBA pixels has alpha 255: the pixels ANDed together
// 64 at a time (a loop the compiler vectorises; a byte loop that returns at the first
// transparent pixel does not), the alpha byte of the result checked per block.
bool all_opaque(const uint8_t* rgba, size_t n) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint32_t all = 0xFFFFFFFFu;
        for (size_t j = 0; j < 64; ++j) {
            uint32_t px;
            std::memcpy(&px, rgba + (i + j) * 4, 4);
            all &= px;
        }
        uint8_t bytes[4];
        std::memcpy(bytes, &all, 4);
        if (bytes[3] != 255) return false;
    }
    for (; i < n; ++i)
        if (rgba[i * 4 + 3] != 255) return false;
    return true;
}

// RGBA to RGB, alpha dropped. Four pixels at a time as 32-bit words (three stores of
// four bytes for four loads) on little-endian machines; the byte loop is ~4x slower.
void drop_alpha(const uint8_t* rgba, size_t n, uint8_t* rgb) {
    size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; i + 4 <= n; i += 4) {
        uint32_t a, b, c, d;
        std::memcpy(&a, rgba + i * 4, 4);
        std::memcpy(&b, rgba + i * 4 + 4, 4);
        std::memcpy(&c, rgba + i * 4 + 8, 4);
        std::memcpy(&d, rgba + i * 4 + 12, 4);
        const uint32_t w0 = (a & 0xFFFFFFu) | (b << 24), w1 = ((b >> 8) & 0xFFFFu) | (c << 16),
                       w2 = ((c >> 16) & 0xFFu) | (d << 8);
        std::memcpy(rgb + i * 3, &w0, 4);
        std::memcpy(rgb + i * 3 + 4, &w1, 4);
        std::memcpy(rgb + i * 3 + 8, &w2, 4);
    }
#endif
    for (; i < n; ++i) rgb[i * 3] = rgba[i * 4], rgb[i * 3 + 1] = rgba[i * 4 + 1], rgb[i * 3 + 2] = rgba[i * 4 + 2];
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

// The checks below say why a PNG, GIF or BMP cannot be decoded whole; "" when it can
// (or when it is corrupt in a way stb names itself). stb_image reads past the end of
// the data as zeros, so a BMP or GIF cut short decodes with its missing rows filled
// in, and a PNG cut short fails with the empty type of the chunk it read as its
// reason; Pillow refuses all three ("image file is truncated"), and so does core.
// Each file's extent is read from its own headers, as stb reads them.

// A BMP's pixel rows: from the offset in its file header, each row padded to 4 bytes
// except (as Pillow reads it) the last. ref: Pillow BmpImagePlugin, stbi__bmp_load.
std::string bmp_incomplete(const uint8_t* d, size_t size) {
    const uint32_t hsz = static_cast<uint32_t>(le32s(d + 14));
    if (hsz != 12 && hsz != 40 && hsz != 56 && hsz != 108 && hsz != 124) return "";  // stb: "unknown BMP"
    const uint64_t offset = static_cast<uint32_t>(le32s(d + 10));
    if (size < 14 + hsz || size <= offset) return "truncated (the file ends before the pixel data)";
    const bool os2 = hsz == 12;  // 16-bit width and height
    const int64_t w = os2 ? le16(d + 18) : le32s(d + 18);
    const int64_t h = std::abs(os2 ? le16(d + 20) : le32s(d + 22));  // negative: rows top-down
    const uint32_t bpp = le16(d + (os2 ? 24 : 28));
    const uint32_t compression = os2 ? 0 : static_cast<uint32_t>(le32s(d + 30));
    // Layouts stb refuses with its own reason (RLE, bit depths, sizes past its limit).
    if (compression != 0 && compression != 3) return "";
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) return "";
    if (w <= 0 || h == 0 || w > (1 << 24) || h > (1 << 24) || offset < 14 + hsz) return "";
    const uint64_t stride = (static_cast<uint64_t>(w) * bpp + 31) / 32 * 4;
    const uint64_t need = stride * static_cast<uint64_t>(h - 1) + (static_cast<uint64_t>(w) * bpp + 7) / 8;
    const uint64_t have = size - offset;
    if (have >= need) return "";
    return "truncated (the pixel data ends after " + std::to_string(have) + " of " + std::to_string(need) +
           " bytes)";
}

// A GIF's first frame: its LZW codes are followed as stbi__process_gif_raster follows
// them, counting the pixels they give. stb keeps what it has when the data or the
// sub-blocks end, or at an early end code; Pillow refuses the file unless every pixel
// of the frame was decoded. Later frames are not read (stb and Pillow decode only the
// first).
std::string gif_incomplete(const uint8_t* d, size_t size) {
    const std::string before = "truncated (the file ends before the first frame's pixel data)";
    uint64_t i = 13;
    if (size < i) return before;
    const uint32_t canvas_w = le16(d + 6), canvas_h = le16(d + 8);
    if (d[10] & 0x80) i += 3 * (uint64_t(2) << (d[10] & 7));  // global colour table
    for (;;) {  // blocks up to the first image descriptor, skipped as stb skips them
        if (i >= size) return before;
        const uint8_t tag = d[i++];
        if (tag == 0x2C) break;
        if (tag == 0x3B) return "no image (the trailer comes before any frame)";
        if (tag != 0x21) return "";  // stb: "unknown code"
        if (i >= size) return before;
        if (d[i++] == 0xF9) {  // graphic control extension
            if (i >= size) return before;
            const uint8_t len = d[i++];
            i += len;
            if (len != 4) continue;  // stb skips it without its sub-blocks
        }
        for (;;) {
            if (i >= size) return before;
            const uint8_t len = d[i++];
            if (len == 0) break;
            i += len;
        }
    }
    if (i + 9 > size) return before;
    const uint32_t x = le16(d + i), y = le16(d + i + 2), w = le16(d + i + 4), h = le16(d + i + 6);
    const uint8_t flags = d[i + 8];
    i += 9;
    if (x + w > canvas_w || y + h > canvas_h) return "";      // stb: "bad Image Descriptor"
    if (flags & 0x80) i += 3 * (uint64_t(2) << (flags & 7));  // local colour table
    if (i >= size) return before;
    const uint32_t lzw = d[i++];
    if (lzw > 12) return "bad LZW code size " + std::to_string(lzw) + " (at most 12)";
    const uint64_t need = uint64_t(w) * h;
    if (need == 0) return "";
    auto ends = [&](uint64_t have) {
        return "the first frame's pixel data ends after " + std::to_string(have) + " of " +
               std::to_string(need) + " pixels";
    };
    std::vector<uint16_t> length(8192);  // pixels per code; a chain is at most 8192 long
    const uint32_t clear = 1u << lzw;
    for (uint32_t c = 0; c < clear; ++c) length[c] = 1;
    uint32_t codesize = lzw + 1, codemask = (1u << codesize) - 1, avail = clear + 2;
    uint32_t bits = 0, valid = 0, block = 0;  // bits read but not used; bytes left in the sub-block
    int32_t oldcode = -1;
    bool first = true;  // stb wants a clear code first
    uint64_t have = 0;
    for (;;) {
        if (valid < codesize) {
            if (block == 0) {
                if (i >= size) return "truncated (" + ends(have) + ")";
                block = d[i++];
                if (block == 0) return ends(have);  // the sub-blocks end early
            }
            if (i >= size) return "truncated (" + ends(have) + ")";
            --block;
            bits |= uint32_t(d[i++]) << valid;
            valid += 8;
            continue;
        }
        const uint32_t code = bits & codemask;
        bits >>= codesize;
        valid -= codesize;
        if (code == clear) {
            codesize = lzw + 1;
            codemask = (1u << codesize) - 1;
            avail = clear + 2;
            oldcode = -1;
            first = false;
            continue;
        }
        if (code == clear + 1) return ends(have);  // an early end code
        if (code > avail || first) return "";      // stb: "illegal code in raster", "no clear code"
        if (oldcode >= 0) {
            if (++avail > 8192) return "";  // stb: "too many codes"
            length[avail - 1] = static_cast<uint16_t>(length[oldcode] + 1);
        } else if (code == avail) {
            return "";  // stb: "illegal code in raster"
        }
        have += length[code];
        if (have >= need)  // Pillow also needs the rest of the sub-block that holds the last pixel
            return block <= size - i ? "" : "truncated (the first frame's last data block is cut short)";
        if ((avail & codemask) == 0 && avail <= 0x0FFF) codemask = (1u << ++codesize) - 1;
        oldcode = static_cast<int32_t>(code);
    }
}

// A PNG's chunks, each 12 bytes + its length, up to IEND. stb decodes nothing without
// IEND; Pillow also decodes a PNG cut after its image data (stb cannot: core refuses).
std::string png_incomplete(const uint8_t* d, size_t size) {
    uint64_t i = 8;
    for (;;) {
        if (size - i < 8) return "no IEND chunk (the file is truncated)";
        if (std::memcmp(d + i + 4, "IEND", 4) == 0) return "";
        const uint64_t len = be32(d + i), have = size - i - 8;
        if (len > have) {
            std::string type(reinterpret_cast<const char*>(d + i + 4), 4);
            for (char& c : type)
                if (c < 0x20 || c > 0x7E) c = '?';
            return "truncated (the " + type + " chunk ends after " + std::to_string(have) + " of its " +
                   std::to_string(len) + " bytes)";
        }
        if (len + 4 > have) return "no IEND chunk (the file is truncated)";  // cut inside the CRC
        i += 12 + len;
    }
}

std::string incomplete(const std::string& format, const uint8_t* d, size_t size) {
    if (format == "bmp") return bmp_incomplete(d, size);
    if (format == "gif") return gif_incomplete(d, size);
    if (format == "png") return png_incomplete(d, size);
    return "";
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
    if (const std::string why = incomplete(format, data, size); !why.empty())
        return make_error("corrupt " + format + ": " + why);
    int width = 0, height = 0, channels = 0;
    const int len = static_cast<int>(size);
    // When stbi_info fails its reason is only "unknown image type" (each loader was
    // tried in turn); the load below then fails with the format's own reason. For a
    // top-down BMP stb 2.27 gives the height as its header has it, negative.
    if (stbi_info_from_memory(data, len, &width, &height, &channels)) {
        const int64_t rows = format == "bmp" ? std::abs(int64_t{height}) : height;
        if (auto ok = check_dimensions(width, rows, options); !ok) return ok.error();
    }

    // Decoded as RGBA so every source (gray, palette, alpha) takes one path; stb's
    // colour conversion is also only vectorised for 4 channels.
    DecodedRgba out;
    out.pixels.reset(stbi_load_from_memory(data, len, &width, &height, &channels, 4));
    if (!out.pixels) {
        // stb puts a bad PNG chunk's type bytes into its message; keep it printable.
        std::string reason = stbi_failure_reason();
        for (char& c : reason)
            if (c < 0x20 || c > 0x7E) c = '?';
        if (reason.empty()) reason = "undecodable (the decoder gives no reason)";
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
    Result<Image> image = [&]() -> Result<Image> {
        if (!decoded.opaque) return image_from_rgba(decoded.pixels.get(), decoded.width, decoded.height, options);
        // Known opaque (every JPEG): no second look at the alpha bytes.
        if (auto ok = check_dimensions(decoded.width, decoded.height, options); !ok) return ok.error();
        Image rgb;
        rgb.width = decoded.width, rgb.height = decoded.height;
        const size_t n = static_cast<size_t>(decoded.width) * decoded.height;
        rgb.pixels.resize(n * 3);
        drop_alpha(decoded.pixels.get(), n, rgb.pixels.data());
        return rgb;
    }();
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
    if (all_opaque(rgba, n)) {  // the common case
        drop_alpha(rgba, n, q);
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
