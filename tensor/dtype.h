// tensor/dtype.h -- element types, and the switch that turns a runtime DType into a C++ type.
#pragma once
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

#include "tensor/check.h"

namespace atto {

// float32 is the default; float64 runs on the CPU (gradcheck, optimizer studies in double);
// int64 holds indices and class targets; bool holds masks (one byte per element, like NumPy).
// The enum leaves room for half types later.
enum class DType : uint8_t { Float32, Float64, Int64, Bool, Count };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;

inline constexpr std::string_view kDTypeNames[] = {"float32", "float64", "int64", "bool"};
inline constexpr size_t kDTypeSizes[] = {4, 8, 8, 1};
static_assert(std::size(kDTypeNames) == size_t(DType::Count), "add the new dtype's name to kDTypeNames");
static_assert(std::size(kDTypeSizes) == size_t(DType::Count), "add the new dtype's size to kDTypeSizes");

constexpr std::string_view dtype_name(DType t) { return kDTypeNames[size_t(t)]; }
constexpr size_t dtype_size(DType t) { return kDTypeSizes[size_t(t)]; }
constexpr bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

// visit_dtype(t, op, fn): calls fn(T{}) with T the C++ type of t, so a kernel is written once as
// a generic lambda:  visit_floating(x.dtype(), "exp", [&](auto tag) { using T = decltype(tag); ... });
template <class F> decltype(auto) visit_dtype(DType t, const char* op, F&& fn) {
  switch (t) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::Int64: return fn(int64_t{});
    case DType::Bool: return fn(bool{});
    default: break;
  }
  throw Error(fmt::format("[{}] unknown dtype {}", op, int(t)));
}

// Float32 / Float64 only: the differentiable math ops.
template <class F> decltype(auto) visit_floating(DType t, const char* op, F&& fn) {
  if (t == DType::Float32) return fn(float{});
  if (t == DType::Float64) return fn(double{});
  throw Error(fmt::format("[{}] expects a floating tensor (float32 or float64), got {}", op, dtype_name(t)));
}

// Float32 / Float64 / Int64: arithmetic that also makes sense on integers.
template <class F> decltype(auto) visit_numeric(DType t, const char* op, F&& fn) {
  if (t == DType::Float32) return fn(float{});
  if (t == DType::Float64) return fn(double{});
  if (t == DType::Int64) return fn(int64_t{});
  throw Error(fmt::format("[{}] expects a numeric tensor (float32, float64 or int64), got {}", op, dtype_name(t)));
}

// The dtype of a binary op's result, as PyTorch's type promotion for tensor-tensor ops:
// bool < int64 < float32 < float64.
constexpr DType promote_types(DType a, DType b) {
  auto rank = [](DType t) { return t == DType::Bool ? 0 : t == DType::Int64 ? 1 : t == DType::Float32 ? 2 : 3; };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace atto

template <> struct fmt::formatter<atto::DType> : fmt::formatter<std::string_view> {
  auto format(atto::DType t, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(atto::dtype_name(t), ctx);
  }
};
