// tests/tensor/test_print.cpp -- printing, compared with the strings PyTorch prints
// (tools/gen_ref_print.py; our dtype and grad_fn suffix names).
#include <sstream>

#include "reference/print.h"
#include "test_util.h"

using namespace atto;
namespace rp = ref::print;

#define CHECK_PRINTS(NAME)                                                       \
  do {                                                                           \
    Tensor t_ = rp::NAME.tensor(rp::NAME##_dtype);                               \
    CHECK_MESSAGE(to_string(t_) == std::string(rp::NAME##_str), #NAME ":\n"      \
                  << to_string(t_) << "\nexpected:\n" << rp::NAME##_str);        \
  } while (0)

TEST_CASE("printing floats matches PyTorch") {
  CHECK_PRINTS(f32_matrix);
  CHECK_PRINTS(f32_ints);
  CHECK_PRINTS(f32_zeros);
  CHECK_PRINTS(f32_negzero);
  CHECK_PRINTS(f32_ties);
  CHECK_PRINTS(f32_randn);
  CHECK_PRINTS(f32_3d);
  CHECK_PRINTS(f32_wrap);
  CHECK_PRINTS(f64_vector);
  CHECK_PRINTS(f64_wrap);
}

TEST_CASE("printing switches to scientific notation as PyTorch does") {
  CHECK_PRINTS(f32_sci_small);
  CHECK_PRINTS(f32_sci_range);
  CHECK_PRINTS(f32_sci_ints);
  CHECK_PRINTS(f32_int_range);
}

TEST_CASE("printing nan and inf and scalars matches PyTorch") {
  CHECK_PRINTS(f32_nonfinite_ints);
  CHECK_PRINTS(f32_nonfinite);
  CHECK_PRINTS(f32_scalar);
  CHECK_PRINTS(f32_scalar_int);
  CHECK_PRINTS(i64_scalar);
}

TEST_CASE("printing ints bools and empty tensors matches PyTorch") {
  CHECK_PRINTS(i64_matrix);
  CHECK_PRINTS(bool_vector);
  CHECK_PRINTS(empty_f32);
  CHECK_PRINTS(empty_2d);
  CHECK_PRINTS(empty_i64);
}

TEST_CASE("large tensors are summarised as PyTorch does") {
  CHECK_PRINTS(f32_summarised_2d);
  CHECK_PRINTS(f32_summarised_3d);
  CHECK_PRINTS(f32_summarised_edge_rows);
  CHECK_PRINTS(i64_summarised);
}

TEST_CASE("printing shows requires_grad and grad_fn") {
  Tensor leaf = rp::leaf_requires_grad.tensor(kFloat32).requires_grad_(true);
  CHECK(to_string(leaf) == rp::leaf_requires_grad_str);
  Tensor x = rp::mul_grad_fn.tensor(kFloat32).requires_grad_(true);
  CHECK(to_string(x * 2.0) == rp::mul_grad_fn_str);
  // The suffixes wrap onto their own line past 80 columns (PyTorch's rule).
  Tensor w = rp::f64_grad_fn_wrap.tensor(kFloat64).requires_grad_(true);
  CHECK(to_string(w * 2.0) == rp::f64_grad_fn_wrap_str);
}

TEST_CASE("fmt and ostream print the same as to_string and views print their elements") {
  Tensor t = rp::f32_matrix.tensor(kFloat32);
  std::ostringstream os;
  os << t;
  CHECK(os.str() == rp::f32_matrix_str);
  CHECK(fmt::format("{}", t) == rp::f32_matrix_str);
  // A transposed view prints as its contiguous copy.
  Tensor r = rp::f32_randn.tensor(kFloat32);
  CHECK(to_string(r.t()) == to_string(r.t().contiguous()));
  Tensor big = rp::f32_summarised_3d.tensor(kFloat32).permute({2, 0, 1});   // summarised and strided
  CHECK(to_string(big).find("...") != std::string::npos);
  CHECK(to_string(big) == to_string(big.contiguous()));
  CHECK(to_string(Tensor()) == "tensor(undefined)");
}

TEST_CASE("describe shows the metadata") {
  Tensor t = zeros({2, 3}, {.dtype = kFloat64}).t();
  std::string d = describe(t);
  CHECK(d == "Tensor(shape=[3, 2], dtype=float64, device=cpu, strides=[1, 3], offset=0, requires_grad=false)");
}
