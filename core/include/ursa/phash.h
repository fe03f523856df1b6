// Perceptual hashes of images, for finding near-duplicates (`ursa dedupe`): two
// photos that differ only by resizing, recompression, small crops or colour tweaks
// have hashes a few bits apart; unrelated photos differ in about half of the 64 bits.
#pragma once
#include <cstdint>

#include "ursa/image.h"

namespace ursa {

// pHash as the imagehash library defines it, with Pillow's bilinear filter in place
// of its Lanczos: the image in grey (Pillow's "L"), resized (antialiased) to 32x32,
// a 2-D DCT-II, and the 8x8
// lowest frequencies, each bit set when its coefficient is above their median.
// Bit 63 - (8*row + col) holds coefficient [row][col].
uint64_t perceptual_hash(const Image& image);

// Number of differing bits (0..64).
int hash_distance(uint64_t a, uint64_t b);

}  // namespace ursa
