// tensor/elementwise_fns.h -- elementwise math, written once: each functor holds the value formula
// and its derivative, for the CPU loop (tensor/cpu/elementwise.h) and the CUDA kernel alike.
// Header-only, no Tensor, so .cu files may include it.
//
// Unary functor:   fwd(x) -> y                 bwd(x, y, dy) -> dx     (use whichever of x, y is cheaper)
// Binary functor:  fwd(a, b) -> y              bwd_a(a, b, y, dy) -> da,  bwd_b(a, b, y, dy) -> db
// Functors may carry parameters (a slope, an exponent) as members.
#pragma once
#include <cmath>

#include "tensor/strided.h"   // ATTO_HD

namespace atto::fns {

// ---- unary ----------------------------------------------------------------------------------------

struct Exp {   // y = e^x;  dy/dx = e^x = y
  static constexpr const char* name = "ExpBackward";
  template <class T> ATTO_HD T fwd(T x) const { return std::exp(x); }
  template <class T> ATTO_HD T bwd(T, T y, T dy) const { return dy * y; }
};

// ---- binary -----------------------------------------------------------------------------------------

struct Add {   // y = a + b;  dy/da = 1, dy/db = 1
  static constexpr const char* name = "AddBackward";
  template <class T> ATTO_HD T fwd(T a, T b) const { return a + b; }
  template <class T> ATTO_HD T bwd_a(T, T, T, T dy) const { return dy; }
  template <class T> ATTO_HD T bwd_b(T, T, T, T dy) const { return dy; }
};

struct Mul {   // y = a * b;  dy/da = b, dy/db = a
  static constexpr const char* name = "MulBackward";
  template <class T> ATTO_HD T fwd(T a, T b) const { return a * b; }
  template <class T> ATTO_HD T bwd_a(T, T b, T, T dy) const { return dy * b; }
  template <class T> ATTO_HD T bwd_b(T a, T, T, T dy) const { return dy * a; }
};

}  // namespace atto::fns
