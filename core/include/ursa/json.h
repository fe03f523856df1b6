// A minimal JSON reader and string escaper: enough for model metadata and plans,
// without a dependency (core must build for WebAssembly with stb only).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ursa/result.h"

namespace ursa::json {

struct Value {
    enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
    bool boolean = false;
    double number = 0;
    std::string string;
    std::vector<Value> array;
    std::map<std::string, Value> object;

    bool is_number() const { return kind == Kind::Number; }
    bool is_string() const { return kind == Kind::String; }
    bool is_array() const { return kind == Kind::Array; }
    bool is_object() const { return kind == Kind::Object; }
    // nullptr when absent or not an object.
    const Value* find(const std::string& key) const;
};

Result<Value> parse(const std::string& text);

// "text" with JSON escapes, quotes included.
std::string quote(const std::string& text);
// Shortest round-tripping decimal form of a number ("0.485", "1e-05").
std::string number(double value);

}  // namespace ursa::json
