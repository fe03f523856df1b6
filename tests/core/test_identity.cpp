#include <doctest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fixtures.h"
#include "ursa/preprocess.h"

using namespace ursa;

namespace {

// FNV-1a over the tensor's bytes: equal hashes = bit-identical tensors.
std::string fnv1a(const std::vector<float>& values) {
    uint64_t h = 1469598103934665603ull;
    const auto* p = reinterpret_cast<const uint8_t*>(values.data());
    for (size_t i = 0; i < values.size() * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

}  // namespace

// The same committed hashes are checked by the native build and by the wasm build
// under Node, so both produce bit-identical model inputs for these images.
TEST_CASE("preprocessed tensors are bit-identical to the committed hashes (native and wasm)") {
    int checked = 0;
    for (const std::string& line : fixture_lines("tensor_hashes.txt")) {
        std::istringstream in(line);
        std::string name, method, expected;
        int size = 0;
        in >> name >> method >> size >> expected;
        CAPTURE(line);
        const auto bytes = load_fixture(name);
        InputSpec spec;
        spec.height = spec.width = size;
        spec.resize = parse_resize_method(method).value();
        auto tensor = preprocess(bytes.data(), bytes.size(), spec);
        REQUIRE(tensor.ok());
        const std::string actual = fnv1a(*tensor);
        CHECK_MESSAGE(actual == expected, "actual: " << name << " " << method << " " << size << " " << actual);
        ++checked;
    }
    CHECK(checked == 8);
}
