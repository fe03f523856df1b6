// EXIF orientation: phone photos are stored sideways with a tag saying how to turn
// them. Core applies it once, at decode time, so training, `ursa predict` and the
// page all see the photo upright.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ursa/image.h"

namespace ursa {

// The orientation tag (1..8) of a JPEG's Exif segment; 1 when absent or unreadable.
int jpeg_orientation(const uint8_t* data, size_t size);

// `src` turned upright for the given orientation (1 or out of range: unchanged).
Image apply_orientation(const Image& src, int orientation);

}  // namespace ursa
