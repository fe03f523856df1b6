#include "ursa/exif.h"

#include "jpeg_segments.h"

namespace ursa {

namespace {

// Bounds-checked reads of the TIFF structure inside the Exif segment.
struct Tiff {
    const uint8_t* p;
    size_t n;
    bool little;
    bool u16(size_t at, uint32_t& v) const {
        if (at + 2 > n) return false;
        v = little ? (p[at] | (p[at + 1] << 8)) : ((p[at] << 8) | p[at + 1]);
        return true;
    }
    bool u32(size_t at, uint32_t& v) const {
        if (at + 4 > n) return false;
        v = little ? (p[at] | (p[at + 1] << 8) | (p[at + 2] << 16) | (uint32_t(p[at + 3]) << 24))
                   : ((uint32_t(p[at]) << 24) | (p[at + 1] << 16) | (p[at + 2] << 8) | p[at + 3]);
        return true;
    }
};

// ref: Exif 2.32 §4.6.2 — "Exif\0\0", then a TIFF header and IFD0; tag 0x0112 SHORT.
int orientation_from_exif(const uint8_t* seg, size_t len) {
    if (len < 14 || seg[0] != 'E' || seg[1] != 'x' || seg[2] != 'i' || seg[3] != 'f' || seg[4] || seg[5]) return 1;
    Tiff t{seg + 6, len - 6, seg[6] == 'I'};
    if (!((seg[6] == 'I' && seg[7] == 'I') || (seg[6] == 'M' && seg[7] == 'M'))) return 1;
    uint32_t magic = 0, ifd = 0, count = 0;
    if (!t.u16(2, magic) || magic != 42 || !t.u32(4, ifd) || !t.u16(ifd, count)) return 1;
    for (uint32_t i = 0; i < count; ++i) {
        const size_t entry = ifd + 2 + size_t(i) * 12;
        uint32_t tag = 0, type = 0, value = 0;
        if (!t.u16(entry, tag) || !t.u16(entry + 2, type)) return 1;
        if (tag != 0x0112) continue;
        if (type != 3 || !t.u16(entry + 8, value)) return 1;
        return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
    }
    return 1;
}

}  // namespace

int jpeg_orientation(const uint8_t* data, size_t size) {
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
    int orientation = 1;
    detail::for_each_jpeg_segment(data, size, [&](uint8_t m, size_t at, size_t len) {
        if (m == 0xDA) return false;  // Exif comes before the image data
        if (m == 0xE1 && at + len <= size) orientation = orientation_from_exif(data + at, len);
        return orientation == 1;
    });
    return orientation;
}

// ref: Pillow ImageOps.exif_transpose — 2 mirror, 3 rotate 180, 4 flip, 5 transpose,
// 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° counter-clockwise.
Image apply_orientation(const Image& src, int orientation) {
    if (orientation < 2 || orientation > 8) return src;
    const int w = src.width, h = src.height;
    const bool swap = orientation >= 5;
    Image out;
    out.width = swap ? h : w;
    out.height = swap ? w : h;
    out.pixels.resize(src.pixels.size());
    for (int y = 0; y < out.height; ++y) {
        for (int x = 0; x < out.width; ++x) {
            int sx = x, sy = y;
            switch (orientation) {
                case 2: sx = w - 1 - x; break;
                case 3: sx = w - 1 - x, sy = h - 1 - y; break;
                case 4: sy = h - 1 - y; break;
                case 5: sx = y, sy = x; break;
                case 6: sx = y, sy = h - 1 - x; break;
                case 7: sx = w - 1 - y, sy = h - 1 - x; break;
                case 8: sx = w - 1 - y, sy = x; break;
            }
            const uint8_t* s = src.at(sx, sy);
            uint8_t* d = &out.pixels[(static_cast<size_t>(y) * out.width + x) * 3];
            d[0] = s[0], d[1] = s[1], d[2] = s[2];
        }
    }
    return out;
}

}  // namespace ursa
