// Test helpers: fixture paths and file loading (works natively and under Node).
#pragma once
#include <doctest.h>

#include <string>
#include <vector>

#include "ursa/image.h"

inline std::string fixture(const std::string& name) { return std::string(URSA_FIXTURES_DIR) + "/" + name; }

inline std::vector<uint8_t> load_fixture(const std::string& name) {
    auto bytes = ursa::read_file(fixture(name));
    REQUIRE_MESSAGE(bytes.ok(), (bytes.ok() ? "" : bytes.error().message));
    return bytes.value();
}

inline ursa::Image decode_fixture(const std::string& name) {
    const auto bytes = load_fixture(name);
    auto image = ursa::decode_image(bytes.data(), bytes.size());
    REQUIRE_MESSAGE(image.ok(), name << ": " << (image.ok() ? "" : image.error().message));
    return image.value();
}
