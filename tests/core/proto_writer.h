// A tiny protobuf writer for hand-built ONNX models in tests (tests/core's engine
// tests and tests/predict's driver).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace ursa_test {

struct Proto {
    std::string b;
    void key(uint32_t field, int wire) { raw_varint((uint64_t(field) << 3) | uint64_t(wire)); }
    void raw_varint(uint64_t v) {
        while (v >= 0x80) b += char(uint8_t(v | 0x80)), v >>= 7;
        b += char(uint8_t(v));
    }
    Proto& varint(uint32_t field, int64_t v) { return key(field, 0), raw_varint(uint64_t(v)), *this; }
    Proto& f32(uint32_t field, float v) {
        key(field, 5);
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        for (int k = 0; k < 4; ++k) b += char(uint8_t(bits >> (8 * k)));
        return *this;
    }
    Proto& bytes(uint32_t field, const std::string& s) {
        key(field, 2), raw_varint(s.size()), b += s;
        return *this;
    }
    Proto& msg(uint32_t field, const Proto& p) { return bytes(field, p.b); }
    Proto& packed(uint32_t field, const std::vector<int64_t>& v) {
        Proto p;
        for (int64_t x : v) p.raw_varint(uint64_t(x));
        return bytes(field, p.b);
    }
    std::vector<uint8_t> data() const { return std::vector<uint8_t>(b.begin(), b.end()); }
};

}  // namespace ursa_test
