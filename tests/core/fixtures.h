// Test helpers: fixture paths and file loading (works natively and under Node).
#pragma once
#include <doctest.h>

#include <fstream>
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

// The lines of a fixture cases file, without blank lines and # comments.
inline std::vector<std::string> fixture_lines(const std::string& name) {
    std::ifstream in(fixture(name));
    REQUIRE_MESSAGE(in.good(), "cannot open " << fixture(name));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#') lines.push_back(line);
    return lines;
}
