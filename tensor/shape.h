// tensor/shape.h -- Shape: up to 8 sizes stored inline (no heap), plus the small formulas every op
// uses: numel, contiguous strides, negative-dim normalisation, NumPy broadcasting.
//
// Shapes print as PyTorch does, "[2, 3, 4]", so every error message can show them.
#pragma once
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "tensor/check.h"

namespace atto {

inline constexpr int kMaxDims = 8;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> sizes) : Shape(std::span<const int64_t>(sizes.begin(), sizes.size())) {}
  explicit Shape(std::span<const int64_t> sizes) {
    ATTO_CHECK(sizes.size() <= size_t(kMaxDims), "[shape] at most {} dims are supported, got {}", kMaxDims, sizes.size());
    n_ = int(sizes.size());
    std::copy(sizes.begin(), sizes.end(), d_);
  }
  explicit Shape(const std::vector<int64_t>& sizes) : Shape(std::span<const int64_t>(sizes)) {}
  static Shape filled(int ndim, int64_t value) {
    Shape s;
    s.n_ = ndim;
    std::fill(s.d_, s.d_ + ndim, value);
    return s;
  }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t& operator[](int i) { return d_[i]; }
  int64_t operator[](int i) const { return d_[i]; }
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  int64_t* begin() { return d_; }
  int64_t* end() { return d_ + n_; }
  const int64_t* data() const { return d_; }
  int64_t back() const { return d_[n_ - 1]; }
  void push_back(int64_t v) {
    ATTO_CHECK(n_ < kMaxDims, "[shape] at most {} dims are supported", kMaxDims);
    d_[n_++] = v;
  }
  void insert(int pos, int64_t v) {
    ATTO_CHECK(n_ < kMaxDims, "[shape] at most {} dims are supported", kMaxDims);
    std::copy_backward(d_ + pos, d_ + n_, d_ + n_ + 1);
    d_[pos] = v;
    ++n_;
  }
  void erase(int pos) {
    std::copy(d_ + pos + 1, d_ + n_, d_ + pos);
    --n_;
  }
  std::vector<int64_t> vec() const { return {d_, d_ + n_}; }

  // numel = prod(sizes); 1 for a 0-d shape.
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < n_; ++i) n *= d_[i];
    return n;
  }

  bool operator==(const Shape& o) const { return n_ == o.n_ && std::equal(d_, d_ + n_, o.d_); }

 private:
  int64_t d_[kMaxDims] = {};
  int n_ = 0;
};

// Strides are counted in elements (not bytes) and share Shape's storage type.
using Strides = Shape;

// contiguous_strides(s)[i] = prod(s[i+1:]): row-major, last dim fastest.
Strides contiguous_strides(const Shape& s);

// Dims 0 .. n-1 of a tensor with these strides, outermost in memory first: largest stride first,
// ties (size-1 dims, broadcast dims) in their own order. Contiguous strides give 0, 1, ..., n-1.
std::vector<int64_t> memory_order(const Strides& strides, int n);

// normalize_dim(-1, 3) == 2. `op` names the caller in the error.
int normalize_dim(int64_t dim, int ndim, const char* op);

// NumPy broadcasting: align from the right; sizes must match or one of them must be 1.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace atto

template <> struct fmt::formatter<atto::Shape> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  auto format(const atto::Shape& s, fmt::format_context& ctx) const {
    return fmt::format_to(ctx.out(), "[{}]", fmt::join(s.begin(), s.end(), ", "));
  }
};
