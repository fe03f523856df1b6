// Walking a JPEG's marker segments, shared by the header peek and the EXIF reader
// (internal to core).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ursa::detail {

// Calls visit(marker, payload_offset, payload_length) for each marker segment, in
// file order. Like stb_image it skips junk bytes between segments and, after a
// start-of-scan, the entropy-coded data up to the next real marker. The declared
// payload_length may run past the end of the data: callers bound their reads by
// `size`. Stops at end-of-image, at a segment length below 2, or when visit returns
// false.
template <class Visit>
void for_each_jpeg_segment(const uint8_t* d, size_t size, Visit visit) {
    size_t i = 2;  // after the start-of-image marker
    while (i + 4 <= size) {
        if (d[i] != 0xFF) {
            ++i;
            continue;
        }
        const uint8_t m = d[i + 1];
        if (m == 0xFF || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) {  // fill byte, standalone markers
            i += m == 0xFF ? 1 : 2;
            continue;
        }
        if (m == 0xD9) return;
        const size_t len = (size_t(d[i + 2]) << 8) | d[i + 3];
        if (len < 2 || !visit(m, i + 4, len - 2)) return;
        i += 2 + len;
        if (m == 0xDA)
            while (i + 1 < size && !(d[i] == 0xFF && d[i + 1] != 0 && !(d[i + 1] >= 0xD0 && d[i + 1] <= 0xD7))) ++i;
    }
}

}  // namespace ursa::detail
