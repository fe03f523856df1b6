#include <cstdio>

#include "ursa/commands.h"
#include "ursa/io.h"
#include "ursa/preprocess.h"

namespace ursa {

int preprocess_file(const std::string& file, int size, const std::string& method, const std::string& pad_mode,
                    const std::string& out) {
    auto m = parse_resize_method(method);
    auto pad = parse_pad_mode(pad_mode);
    if (!m || !pad) {
        std::fprintf(stderr, "error: %s\n", (!m ? m.error() : pad.error()).message.c_str());
        return 2;
    }
    auto bytes = read_file(file);
    if (!bytes) {
        std::fprintf(stderr, "error: %s\n", bytes.error().message.c_str());
        return 1;
    }
    auto image = decode_fit(bytes->data(), bytes->size(), size, size, *m, *pad);
    if (!image) {
        std::fprintf(stderr, "error: %s: %s\n", file.c_str(), image.error().message.c_str());
        return 1;
    }
    const auto png = encode_png(*image);
    if (auto ok = write_file_atomic(out, png.data(), png.size()); !ok) {
        std::fprintf(stderr, "error: %s\n", ok.error().message.c_str());
        return 1;
    }
    return 0;
}

}  // namespace ursa
