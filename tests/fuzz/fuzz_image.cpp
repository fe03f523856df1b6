// libFuzzer target: bytes → decode (sniff, stb, EXIF) → every resize method → normalise,
// and the same bytes as an RGBA buffer. Any crash, leak or UB is a finding.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ursa/exif.h"
#include "ursa/image.h"
#include "ursa/preprocess.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ursa::DecodeOptions options;
    options.max_pixels = 262'144;  // 512 x 512: keeps each run fast under ASan; the limit itself is under test too
    auto image = ursa::decode_image(data, size, options);
    if (image.ok()) {
        for (auto method : {ursa::ResizeMethod::Crop, ursa::ResizeMethod::Squish, ursa::ResizeMethod::Pad}) {
            ursa::InputSpec spec;
            spec.height = 13;
            spec.width = 17;
            spec.resize = method;
            std::vector<float> tensor = ursa::image_to_tensor(*image, spec);
            (void)ursa::fit(*image, 5, 3, method, ursa::Filter::Nearest);
            if (tensor.size() != 3u * 13 * 17) __builtin_trap();
        }
        if (ursa::fit(*image, 7, 11, ursa::ResizeMethod::Pad, ursa::Filter::Bilinear, ursa::PadMode::Reflection)
                    .pixels.size() != 3u * 7 * 11 ||
            ursa::fit(*image, 11, 7, ursa::ResizeMethod::Pad, ursa::Filter::Nearest, ursa::PadMode::Border)
                    .pixels.size() != 3u * 11 * 7)
            __builtin_trap();
    }
    (void)ursa::jpeg_orientation(data, size);
    // Treat the input as RGBA pixels of some width.
    if (size >= 8) {
        const int width = 1 + data[0] % 16;
        const int height = static_cast<int>((size / 4) / width);
        if (height > 0) (void)ursa::image_from_rgba(data, width, height, options);
    }
    return 0;
}
