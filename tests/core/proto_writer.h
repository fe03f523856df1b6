// A tiny protobuf writer and ONNX builders (tensors, attributes, nodes, value infos,
// the model) for hand-built models in tests: tests/core's engine tests and
// tests/predict's driver.
#pragma once
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
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

inline std::string float_bytes(const std::vector<float>& v) {
    std::string s(v.size() * 4, '\0');
    if (!v.empty()) std::memcpy(&s[0], v.data(), s.size());  // the test hosts are little-endian
    return s;
}

inline Proto tensor(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& values) {
    Proto t;
    t.packed(1, dims).varint(2, 1).bytes(8, name).bytes(9, float_bytes(values));
    return t;
}
inline Proto int64_tensor(const std::string& name, const std::vector<int64_t>& values) {
    Proto t;
    t.packed(1, {int64_t(values.size())}).varint(2, 7).packed(7, values).bytes(8, name);
    return t;
}

inline Proto attr_int(const std::string& name, int64_t v) {
    return Proto().bytes(1, name).varint(3, v).varint(20, 2);
}
inline Proto attr_float(const std::string& name, float v) {
    return Proto().bytes(1, name).f32(2, v).varint(20, 1);
}
inline Proto attr_str(const std::string& name, const std::string& v) {
    return Proto().bytes(1, name).bytes(4, v).varint(20, 3);
}
inline Proto attr_ints(const std::string& name, const std::vector<int64_t>& v) {
    return Proto().bytes(1, name).packed(8, v).varint(20, 7);
}

inline Proto node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
                  const std::vector<Proto>& attrs = {}) {
    Proto n;
    for (const auto& s : in) n.bytes(1, s);
    for (const auto& s : out) n.bytes(2, s);
    n.bytes(3, out[0] + "_node").bytes(4, op);
    for (const auto& a : attrs) n.msg(5, a);
    return n;
}

// A float tensor ValueInfoProto; -1 dims become the symbolic dim "N".
inline Proto value_info(const std::string& name, const std::vector<int64_t>& dims) {
    Proto shape;
    for (int64_t d : dims) shape.msg(1, d < 0 ? Proto().bytes(2, "N") : Proto().varint(1, d));
    Proto tensor_type;
    tensor_type.varint(1, 1).msg(2, shape);
    Proto type;
    type.msg(1, tensor_type);
    return Proto().bytes(1, name).msg(2, type);
}

// A ModelProto (IR 8, opset 13) around `graph`, with metadata_props.
inline Proto model_proto(const Proto& graph, const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
    Proto m;
    m.varint(1, 8).msg(8, Proto().bytes(1, "").varint(2, 13)).msg(7, graph);
    for (const auto& [k, v] : metadata) m.msg(14, Proto().bytes(1, k).bytes(2, v));
    return m;
}

inline std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

}  // namespace ursa_test
