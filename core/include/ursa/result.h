// Errors as values: a Result<T> holds either a T or an Error with a human message.
// Core never throws on bad input and never aborts (ref: stb's failure_reason style).
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace ursa {

struct Error {
    std::string message;
};

template <class T>
class Result {
  public:
    Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit on purpose
    Result(Error error) : v_(std::move(error)) {}    // NOLINT
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    T& operator*() & { return std::get<0>(v_); }
    const T& operator*() const& { return std::get<0>(v_); }
    const Error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

inline Error make_error(std::string message) { return Error{std::move(message)}; }

}  // namespace ursa
