// ONNX protobuf reader: the wire format (developers.google.com/protocol-buffers/docs/encoding)
// and the messages of onnx/onnx.proto that inference needs. Every read is bounds-checked;
// malformed bytes give an Error, never a crash.
#include <cmath>
#include <cstddef>
#include <cstring>

#include "onnx_internal.h"

namespace ursa::onnx {
namespace {

enum Wire { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// Largest tensor accepted (elements); keeps hostile dims from exhausting memory.
constexpr int64_t kMaxElements = int64_t(1) << 31;

struct Field {
    uint32_t number = 0;
    int wire = 0;
};

// A cursor over one message. Errors are sticky: after the first one, next() returns
// false and error() holds the message; sub-readers report into their root.
class Reader {
  public:
    Reader(const uint8_t* data, size_t size, const char* what)
        : base_(data), p_(data), end_(data + size), what_(what) {}

    bool next(Field& f) {
        if (failed() || p_ == end_) return false;
        uint64_t key = varint();
        if (failed()) return false;
        f.number = uint32_t(key >> 3);
        f.wire = int(key & 7);
        if (f.number == 0 || (key >> 3) > 0x1fffffff) return fail("invalid field number");
        if (f.wire != kVarint && f.wire != kFixed64 && f.wire != kLen && f.wire != kFixed32)
            return fail("unsupported wire type " + std::to_string(f.wire) + " for field " +
                        std::to_string(f.number));
        return true;
    }

    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ == end_) {
                fail("truncated varint");
                return 0;
            }
            uint8_t b = *p_++;
            v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        fail("varint longer than 10 bytes");
        return 0;
    }
    // ref: protobuf wire types I32/I64 — little-endian, fixed width.
    template <class T>
    T little_endian(const char* what) {
        if (end_ - p_ < static_cast<ptrdiff_t>(sizeof(T))) {
            fail(std::string("truncated ") + what);
            return 0;
        }
        T v = 0;
        for (int k = sizeof(T) - 1; k >= 0; --k) v = (v << 8) | p_[k];
        p_ += sizeof(T);
        return v;
    }
    uint32_t fixed32() { return little_endian<uint32_t>("fixed32"); }
    uint64_t fixed64() { return little_endian<uint64_t>("fixed64"); }
    float float32() {
        uint32_t bits = fixed32();
        float f;
        std::memcpy(&f, &bits, 4);
        return f;
    }

    // The bytes of a length-delimited field (empty on error).
    std::pair<const uint8_t*, size_t> bytes(const Field& f) {
        if (!expect(f, kLen)) return {p_, 0};
        uint64_t n = varint();
        if (failed()) return {p_, 0};
        if (n > uint64_t(end_ - p_)) {
            fail("length " + std::to_string(n) + " runs past the end");
            return {p_, 0};
        }
        const uint8_t* start = p_;
        p_ += n;
        return {start, size_t(n)};
    }
    std::string string(const Field& f) {
        auto [ptr, n] = bytes(f);
        return std::string(reinterpret_cast<const char*>(ptr), n);
    }
    Reader message(const Field& f, const char* what) {
        auto [ptr, n] = bytes(f);
        Reader sub(ptr, n, what);
        sub.base_ = base_;
        sub.root_ = root_ ? root_ : this;
        return sub;
    }

    int64_t int64(const Field& f) { return expect(f, kVarint) ? int64_t(varint()) : 0; }
    float float_field(const Field& f) { return expect(f, kFixed32) ? float32() : 0.f; }

    // Repeated scalars, packed (one length-delimited field) or not (one field each).
    void int64s(const Field& f, std::vector<int64_t>& out) {
        if (f.wire == kVarint) return out.push_back(int64_t(varint()));
        Reader packed = message(f, what_);
        while (!packed.failed() && packed.p_ < packed.end_) out.push_back(int64_t(packed.varint()));
    }
    void uint64s(const Field& f, std::vector<uint64_t>& out) {
        if (f.wire == kVarint) return out.push_back(varint());
        Reader packed = message(f, what_);
        while (!packed.failed() && packed.p_ < packed.end_) out.push_back(packed.varint());
    }
    void floats(const Field& f, std::vector<float>& out) {
        if (f.wire == kFixed32) return out.push_back(float32());
        Reader packed = message(f, what_);
        if ((packed.end_ - packed.p_) % 4) return (void)fail("packed floats not a multiple of 4 bytes");
        out.reserve(out.size() + size_t(packed.end_ - packed.p_) / 4);
        while (!packed.failed() && packed.p_ < packed.end_) out.push_back(packed.float32());
    }
    void doubles(const Field& f, std::vector<double>& out) {
        auto read = [](Reader& r) {
            uint64_t bits = r.fixed64();
            double d;
            std::memcpy(&d, &bits, 8);
            return d;
        };
        if (f.wire == kFixed64) return out.push_back(read(*this));
        Reader packed = message(f, what_);
        if ((packed.end_ - packed.p_) % 8) return (void)fail("packed doubles not a multiple of 8 bytes");
        while (!packed.failed() && packed.p_ < packed.end_) out.push_back(read(packed));
    }

    void skip(const Field& f) {
        switch (f.wire) {
            case kVarint:
                varint();
                break;
            case kFixed64:
                fixed64();
                break;
            case kFixed32:
                fixed32();
                break;
            default:
                bytes(f);
                break;
        }
    }

    bool fail(const std::string& msg) {
        Reader* root = root_ ? root_ : this;
        if (!root->failed_) {
            root->failed_ = true;
            root->error_ = "malformed ONNX protobuf (" + std::string(what_) + "): " + msg + " at byte " +
                           std::to_string(p_ - base_);
        }
        failed_ = true;
        p_ = end_;
        return false;
    }
    bool failed() const { return failed_ || (root_ && root_->failed_); }
    const std::string& error() const { return root_ ? root_->error_ : error_; }

  private:
    bool expect(const Field& f, int wire) {
        if (f.wire == wire) return true;
        return fail("field " + std::to_string(f.number) + " has wire type " + std::to_string(f.wire) +
                    ", expected " + std::to_string(wire));
    }

    const uint8_t* base_;
    const uint8_t* p_;
    const uint8_t* end_;
    const char* what_;
    Reader* root_ = nullptr;  // the top-level reader, which holds the error
    bool failed_ = false;
    std::string error_;
};

// TensorProto: raw sources first, converted once data_type is known.
struct RawTensor {
    TensorData t;
    std::pair<const uint8_t*, size_t> raw{nullptr, 0};
    bool has_raw = false;
    std::vector<float> float_data;
    std::vector<int64_t> int_data;  // int32_data and int64_data
    std::vector<uint64_t> uint64_data;
    std::vector<double> double_data;
    int64_t data_location = 0;
    bool has_segment = false;
};

void read_tensor_fields(Reader& r, RawTensor& rt) {
    Field f;
    while (r.next(f)) {
        switch (f.number) {
            case 1:
                r.int64s(f, rt.t.dims);
                break;
            case 2:
                rt.t.data_type = int32_t(r.int64(f));
                break;
            case 3:
                rt.has_segment = true;
                r.skip(f);
                break;
            case 4:
                r.floats(f, rt.float_data);
                break;
            case 5:
                r.int64s(f, rt.int_data);
                break;
            case 7:
                r.int64s(f, rt.int_data);
                break;
            case 8:
                rt.t.name = r.string(f);
                break;
            case 9:
                rt.raw = r.bytes(f);
                rt.has_raw = true;
                break;
            case 10:
                r.doubles(f, rt.double_data);
                break;
            case 11:
                r.uint64s(f, rt.uint64_data);
                break;
            case 14:
                rt.data_location = r.int64(f);
                break;
            default:
                r.skip(f);
                break;
        }
    }
}

size_t element_size(int32_t type) {
    switch (type) {
        case kFloat:
        case kInt32:
        case kUint32:
            return 4;
        case kUint8:
        case kInt8:
        case kBool:
            return 1;
        case kUint16:
        case kInt16:
        case kFloat16:
        case kBfloat16:
            return 2;
        case kInt64:
        case kUint64:
        case kDouble:
            return 8;
        default:
            return 0;
    }
}

uint64_t load_le(const uint8_t* p, size_t n) {
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | p[k];
    return v;
}

// One little-endian raw element (or an int32_data/uint64_data bit pattern) as float.
float convert_bits(int32_t type, uint64_t v) {
    switch (type) {
        case kFloat: {
            uint32_t b = uint32_t(v);
            float f;
            std::memcpy(&f, &b, 4);
            return f;
        }
        case kDouble: {
            double d;
            std::memcpy(&d, &v, 8);
            return float(d);
        }
        case kUint8:
            return float(uint8_t(v));
        case kInt8:
            return float(int8_t(uint8_t(v)));
        case kUint16:
            return float(uint16_t(v));
        case kInt16:
            return float(int16_t(uint16_t(v)));
        case kInt32:
            return float(int32_t(uint32_t(v)));
        case kUint32:
            return float(uint32_t(v));
        case kInt64:
            return float(int64_t(v));
        case kUint64:
            return float(v);
        case kBool:
            return v ? 1.f : 0.f;
        case kFloat16:
            return half_to_float(uint16_t(v));
        case kBfloat16:
            return bfloat16_to_float(uint16_t(v));
        default:
            return 0.f;
    }
}

Status convert_tensor(RawTensor& rt);

}  // namespace

const char* data_type_name(int32_t type) {
    switch (type) {
        case kFloat:
            return "FLOAT";
        case kUint8:
            return "UINT8";
        case kInt8:
            return "INT8";
        case kUint16:
            return "UINT16";
        case kInt16:
            return "INT16";
        case kInt32:
            return "INT32";
        case kInt64:
            return "INT64";
        case kString:
            return "STRING";
        case kBool:
            return "BOOL";
        case kFloat16:
            return "FLOAT16";
        case kDouble:
            return "DOUBLE";
        case kUint32:
            return "UINT32";
        case kUint64:
            return "UINT64";
        case kBfloat16:
            return "BFLOAT16";
        default:
            return "an unsupported data type";
    }
}

float half_to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {  // subnormal: value = mant * 2^-24
        float f = std::ldexp(float(mant), -24);
        return sign ? -f : f;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bfloat16_to_float(uint16_t b) {
    uint32_t bits = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t float_to_half(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint16_t sign = uint16_t((x >> 16) & 0x8000);
    const uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return uint16_t(sign | 0x7e00 | ((a >> 13) & 0x3ff));  // NaN, quiet
    if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // >= 65520 (65504 + half an ulp): inf
    if (a >= 0x38800000u) {                                 // normal half (>= 2^-14)
        // Rebias the exponent (127 → 15) and round the 13 dropped mantissa bits to even;
        // a carry out of the mantissa correctly bumps the exponent.
        uint32_t rounded = a + 0xfffu + ((a >> 13) & 1);
        return uint16_t(sign | ((rounded - 0x38000000u) >> 13));
    }
    // Subnormal half: value / 2^-24, rounded to even. Float subnormals (< 2^-126) give 0.
    const uint32_t exp = a >> 23;
    const uint32_t shift = 126 - exp;  // 14 at 2^-15 ... ≥ 25 below 2^-25
    if (exp == 0 || shift > 24) return sign;
    const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
    uint32_t q = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (q & 1))) ++q;  // q may reach 0x400, the smallest normal
    return uint16_t(sign | q);
}

uint16_t float_to_bfloat16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x0040);  // NaN, quiet
    return uint16_t((x + 0x7fffu + ((x >> 16) & 1)) >> 16);  // overflow rounds to inf
}

namespace {

Error tensor_error(const RawTensor& rt, const std::string& msg) {
    return make_error("ONNX tensor '" + rt.t.name + "': " + msg);
}

Result<int64_t> checked_numel(const RawTensor& rt) {
    int64_t n = 1;
    for (int64_t d : rt.t.dims) {
        if (d < 0) return tensor_error(rt, "negative dimension " + std::to_string(d));
        if (d != 0 && n > kMaxElements / d) return tensor_error(rt, "too many elements");
        n *= d;
    }
    return n;
}

template <class V, class F>
Status convert_list(RawTensor& rt, const V& src, int64_t n, const char* field, F conv) {
    if (int64_t(src.size()) != n)
        return tensor_error(rt, std::string(field) + " has " + std::to_string(src.size()) +
                                    " values, dims need " + std::to_string(n));
    rt.t.values.resize(size_t(n));
    for (size_t k = 0; k < size_t(n); ++k) rt.t.values[k] = conv(src[k]);
    return std::monostate{};
}

Status convert_tensor(RawTensor& rt) {
    int32_t type = rt.t.data_type;
    if (rt.data_location == 1 || rt.has_segment)
        return tensor_error(rt, "external or segmented tensor data is not supported");
    size_t esize = element_size(type);
    if (esize == 0)
        return tensor_error(rt, std::string("data type ") + data_type_name(type) + " (" +
                                    std::to_string(type) + ") is not supported");
    auto numel = checked_numel(rt);
    if (!numel) return numel.error();
    int64_t n = *numel;
    if (rt.has_raw) {
        if (rt.raw.second != size_t(n) * esize)
            return tensor_error(rt, "raw_data has " + std::to_string(rt.raw.second) + " bytes, dims need " +
                                        std::to_string(size_t(n) * esize));
        rt.t.values.resize(size_t(n));
        for (size_t k = 0; k < size_t(n); ++k)
            rt.t.values[k] = convert_bits(type, load_le(rt.raw.first + k * esize, esize));
        return std::monostate{};
    }
    auto bits = [type](auto v) { return convert_bits(type, uint64_t(v)); };
    switch (type) {
        case kFloat:
            return convert_list(rt, rt.float_data, n, "float_data", [](float v) { return v; });
        case kDouble:
            return convert_list(rt, rt.double_data, n, "double_data", [](double v) { return float(v); });
        case kUint32:
        case kUint64:
            return convert_list(rt, rt.uint64_data, n, "uint64_data", bits);
        case kInt64:
            return convert_list(rt, rt.int_data, n, "int64_data", [](int64_t v) { return float(v); });
        default:
            return convert_list(rt, rt.int_data, n, "int32_data", bits);  // small types, FLOAT16
    }
}

Result<TensorData> read_tensor_message(Reader r) {
    RawTensor rt;
    read_tensor_fields(r, rt);
    if (r.failed()) return make_error(r.error());
    Status s = convert_tensor(rt);
    if (!s) return s.error();
    return std::move(rt.t);
}

void read_dim(Reader r, Dim& d) {
    Field f;
    while (r.next(f)) {
        if (f.number == 1)
            d.value = r.int64(f);
        else if (f.number == 2)
            d.param = r.string(f);
        else
            r.skip(f);
    }
}

void read_shape(Reader r, ValueInfo& vi) {
    Field f;
    vi.has_shape = true;
    while (r.next(f)) {
        if (f.number != 1) {
            r.skip(f);
            continue;
        }
        vi.dims.emplace_back();
        read_dim(r.message(f, "TensorShapeProto.Dimension"), vi.dims.back());
    }
}

void read_tensor_type(Reader r, ValueInfo& vi) {
    Field f;
    while (r.next(f)) {
        if (f.number == 1)
            vi.elem_type = int32_t(r.int64(f));
        else if (f.number == 2)
            read_shape(r.message(f, "TensorShapeProto"), vi);
        else
            r.skip(f);
    }
}

void read_value_info(Reader r, ValueInfo& vi) {
    Field f;
    while (r.next(f)) {
        if (f.number == 1) {
            vi.name = r.string(f);
        } else if (f.number == 2) {
            Reader type = r.message(f, "TypeProto");
            Field g;
            while (type.next(g)) {
                if (g.number == 1)
                    read_tensor_type(type.message(g, "TypeProto.Tensor"), vi);
                else
                    type.skip(g);
            }
        } else {
            r.skip(f);
        }
    }
}

Status read_attribute(Reader r, Attribute& a) {
    Field f;
    int32_t inferred = kAttrUndefined;
    while (r.next(f)) {
        switch (f.number) {
            case 1:
                a.name = r.string(f);
                break;
            case 2:
                a.f = r.float_field(f);
                inferred = kAttrFloat;
                break;
            case 3:
                a.i = r.int64(f);
                inferred = kAttrInt;
                break;
            case 4:
                a.s = r.string(f);
                inferred = kAttrString;
                break;
            case 5: {
                auto t = read_tensor_message(r.message(f, "TensorProto"));
                if (!t) return t.error();
                a.t = std::move(*t);
                a.has_t = true;
                inferred = kAttrTensor;
                break;
            }
            case 6:
                r.skip(f);
                inferred = kAttrGraph;
                break;
            case 7:
                r.floats(f, a.floats);
                inferred = kAttrFloats;
                break;
            case 8:
                r.int64s(f, a.ints);
                inferred = kAttrInts;
                break;
            case 20:
                a.type = int32_t(r.int64(f));
                break;
            default:
                r.skip(f);
                break;
        }
    }
    if (r.failed()) return make_error(r.error());
    if (a.type == kAttrUndefined) a.type = inferred;
    if (a.type == kAttrTensor && !a.has_t) return make_error("ONNX attribute '" + a.name + "' has no tensor");
    return std::monostate{};
}

Status read_node(Reader r, Node& n) {
    Field f;
    while (r.next(f)) {
        switch (f.number) {
            case 1:
                n.inputs.push_back(r.string(f));
                break;
            case 2:
                n.outputs.push_back(r.string(f));
                break;
            case 3:
                n.name = r.string(f);
                break;
            case 4:
                n.op_type = r.string(f);
                break;
            case 5: {
                n.attributes.emplace_back();
                Status s = read_attribute(r.message(f, "AttributeProto"), n.attributes.back());
                if (!s) return s;
                break;
            }
            case 7:
                n.domain = r.string(f);
                break;
            default:
                r.skip(f);
                break;
        }
    }
    if (r.failed()) return make_error(r.error());
    return std::monostate{};
}

Status read_graph(Reader r, Graph& g) {
    Field f;
    while (r.next(f)) {
        switch (f.number) {
            case 1: {
                g.nodes.emplace_back();
                Status s = read_node(r.message(f, "NodeProto"), g.nodes.back());
                if (!s) return s;
                break;
            }
            case 5: {
                auto t = read_tensor_message(r.message(f, "TensorProto"));
                if (!t) return t.error();
                g.initializers.push_back(std::move(*t));
                break;
            }
            case 11:
                g.inputs.emplace_back();
                read_value_info(r.message(f, "ValueInfoProto"), g.inputs.back());
                break;
            case 12:
                g.outputs.emplace_back();
                read_value_info(r.message(f, "ValueInfoProto"), g.outputs.back());
                break;
            case 13:
                g.value_info.emplace_back();
                read_value_info(r.message(f, "ValueInfoProto"), g.value_info.back());
                break;
            default:
                r.skip(f);
                break;
        }
    }
    if (r.failed()) return make_error(r.error());
    return std::monostate{};
}

void read_string_pair(Reader r, MetadataProps& props) {
    std::pair<std::string, std::string> kv;
    Field f;
    while (r.next(f)) {
        if (f.number == 1)
            kv.first = r.string(f);
        else if (f.number == 2)
            kv.second = r.string(f);
        else
            r.skip(f);
    }
    props.push_back(std::move(kv));
}

void read_opset(Reader r, std::vector<std::pair<std::string, int64_t>>& opsets) {
    std::pair<std::string, int64_t> op{"", 0};
    Field f;
    while (r.next(f)) {
        if (f.number == 1)
            op.first = r.string(f);
        else if (f.number == 2)
            op.second = r.int64(f);
        else
            r.skip(f);
    }
    opsets.push_back(std::move(op));
}

// Walks the top level of a ModelProto; the graph is parsed only if `graph` is set.
Status read_model(const uint8_t* data, size_t size, Model& m, bool with_graph) {
    if (size == 0 || data == nullptr) return make_error("not an ONNX model: the file is empty");
    Reader r(data, size, "ModelProto");
    Field f;
    bool has_ir = false;
    while (r.next(f)) {
        switch (f.number) {
            case 1:
                m.ir_version = r.int64(f);
                has_ir = true;
                break;
            case 7:
                m.has_graph = true;
                if (with_graph) {
                    Status s = read_graph(r.message(f, "GraphProto"), m.graph);
                    if (!s) return s;
                } else {
                    r.bytes(f);
                }
                break;
            case 8:
                read_opset(r.message(f, "OperatorSetIdProto"), m.opsets);
                break;
            case 14:
                read_string_pair(r.message(f, "StringStringEntryProto"), m.metadata);
                break;
            default:
                r.skip(f);
                break;
        }
    }
    if (r.failed()) return make_error(r.error());
    if (!has_ir && !m.has_graph) return make_error("not an ONNX model: no ir_version and no graph");
    return std::monostate{};
}

}  // namespace

Result<Model> parse_model(const uint8_t* data, size_t size) {
    Model m;
    Status s = read_model(data, size, m, true);
    if (!s) return s.error();
    return m;
}

Result<TensorData> parse_tensor(const uint8_t* data, size_t size) {
    return read_tensor_message(Reader(data, size, "TensorProto"));
}

Result<MetadataProps> read_metadata_props(const uint8_t* data, size_t size) {
    Model m;
    Status s = read_model(data, size, m, false);
    if (!s) return s.error();
    return std::move(m.metadata);
}

Result<Tensor> read_tensor(const uint8_t* data, size_t size) {
    auto t = parse_tensor(data, size);
    if (!t) return t.error();
    return Tensor{std::move(t->dims), std::move(t->values)};
}

}  // namespace ursa::onnx
