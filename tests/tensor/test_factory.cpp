// tests/tensor/test_factory.cpp -- arange, linspace, eye against PyTorch (tools/gen_ref_factory.py).
#include "reference/factory.h"
#include "test_util.h"

using namespace atto;
namespace rf = ref::factory;

TEST_CASE("arange matches torch.arange") {
  Tensor a = arange(5.0);
  CHECK(a.dtype() == kFloat32);   // our default; torch.arange(5) would be int64 (see tensor/factory.cpp)
  CHECK(a.shape() == Shape(rf::arange_5.shape));
  CHECK_ALLCLOSE(a, rf::arange_5.values, 0.0, 0.0);
  Tensor b = arange(1.0, 2.5, 0.3);
  CHECK(b.shape() == Shape(rf::arange_1_2p5_0p3_f32.shape));
  CHECK_ALLCLOSE(b, rf::arange_1_2p5_0p3_f32.values, 0.0, 0.0);
  Tensor c = arange(1.0, 2.5, 0.3, {.dtype = kFloat64});
  CHECK(c.dtype() == kFloat64);
  CHECK_ALLCLOSE(c, rf::arange_1_2p5_0p3_f64.values, 0.0, 0.0);
  Tensor d = arange(3.0, -2.0, -0.7);
  CHECK(d.shape() == Shape(rf::arange_neg_step.shape));
  CHECK_ALLCLOSE(d, rf::arange_neg_step.values, 0.0, 0.0);
  Tensor e = arange(-3, 10, 3, {.dtype = kInt64});
  CHECK(e.dtype() == kInt64);
  CHECK_ALLCLOSE(e, rf::arange_i64.values, 0.0, 0.0);
  Tensor f = arange(0.0, 1.0, 0.1);
  CHECK(f.shape() == Shape(rf::arange_frac_f32.shape));
  CHECK_ALLCLOSE(f, rf::arange_frac_f32.values, 0.0, 0.0);
  CHECK(arange(2.0, 2.0).numel() == 0);
  Tensor g = arange(3.0, {.dtype = kFloat64, .requires_grad = true});
  CHECK(g.requires_grad());
  CHECK(g.is_leaf());
}

TEST_CASE("arange rejects a zero step or a step of the wrong sign") {
  CHECK_THROWS_WITH_AS(arange(0.0, 5.0, 0.0), doctest::Contains("[arange]"), atto::Error);
  CHECK_THROWS_WITH_AS(arange(0.0, 5.0, -1.0), doctest::Contains("[arange]"), atto::Error);
  CHECK_THROWS_WITH_AS(arange(5.0, 0.0, 1.0), doctest::Contains("step"), atto::Error);
  CHECK_THROWS_WITH_AS(arange(-1.0), doctest::Contains("[arange]"), atto::Error);
  CHECK_THROWS_WITH_AS(arange(0.0, INFINITY), doctest::Contains("[arange]"), atto::Error);
  CHECK_THROWS_WITH_AS(arange(0.0, NAN), doctest::Contains("[arange]"), atto::Error);
}

TEST_CASE("linspace matches torch.linspace") {
  auto check = [](const Tensor& t, const RefTensor& r) {
    CHECK(t.shape() == Shape(r.shape));
    CHECK_ALLCLOSE(t, r.values, 0.0, 0.0);   // same arithmetic as PyTorch's CPU kernel: exact
  };
  check(linspace(0.0, 1.0, 5), rf::linspace_0_1_5);
  check(linspace(-3.0, 7.0, 11), rf::linspace_m3_7_11_f32);
  check(linspace(0.1, 0.9, 7), rf::linspace_0p1_0p9_7_f32);
  check(linspace(0.1, 0.9, 7, {.dtype = kFloat64}), rf::linspace_0p1_0p9_7_f64);
  check(linspace(2.5, -1.3, 6), rf::linspace_desc_6_f32);
  check(linspace(0.0, 10.0, 4, {.dtype = kInt64}), rf::linspace_i64);
  check(linspace(4.0, 9.0, 1), rf::linspace_one);
  CHECK(linspace(0.0, 1.0, 0).numel() == 0);
  CHECK_THROWS_WITH_AS(linspace(0.0, 1.0, -2), doctest::Contains("[linspace]"), atto::Error);
}

TEST_CASE("eye matches torch.eye") {
  CHECK_ALLCLOSE(eye(3), rf::eye_3.values, 0.0, 0.0);
  CHECK(eye(3).shape() == Shape{3, 3});
  Tensor a = eye(2, 4);
  CHECK(a.shape() == Shape(rf::eye_2_4.shape));
  CHECK_ALLCLOSE(a, rf::eye_2_4.values, 0.0, 0.0);
  Tensor b = eye(4, 2, {.dtype = kFloat64});
  CHECK(b.dtype() == kFloat64);
  CHECK_ALLCLOSE(b, rf::eye_4_2.values, 0.0, 0.0);
  CHECK(eye(2, std::nullopt, {.dtype = kBool}).to_vector<bool>() == std::vector<bool>{true, false, false, true});
  CHECK(eye(0).numel() == 0);
  CHECK_THROWS_WITH_AS(eye(-1), doctest::Contains("[eye]"), atto::Error);
  CHECK_THROWS_WITH_AS(eye(2, -3), doctest::Contains("[eye]"), atto::Error);
}
