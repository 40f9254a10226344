// tests/tensor/test_views.cpp -- the view ops of autograd/functions/view.cpp: values vs PyTorch
// (tools/gen_ref_shape_index.py), storage sharing, gradcheck of each op, errors; also contiguous,
// clone, detach and to(dtype).
#include "reference/shape_index.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::shape_index;

namespace {
bool shares(const Tensor& a, const Tensor& b) { return a.storage() == b.storage(); }
}  // namespace

TEST_CASE("views match PyTorch values and share storage") {
  Tensor x = R::view_x.tensor();
  struct Case { const char* name; Tensor y; const RefTensor* ref; bool view; };
  Case cases[] = {
      {"reshape", x.reshape({4, 6}), &R::view_reshape_4_6, true},
      {"view", x.view({4, -1}), &R::view_reshape_4_6, true},
      {"permute", x.permute({2, 0, 1}), &R::view_permute_201, true},
      {"transpose", x.transpose(0, 2), &R::view_transpose_02, true},
      {"transpose+reshape", x.transpose(0, 2).reshape({-1, 6}), &R::view_transpose_reshape, false},
      {"flatten", x.flatten(1), &R::view_flatten_1, true},
      {"flatten of a transpose (copy)", x.transpose(1, 2).flatten(0, 1), &R::view_flatten_01_of_t, false},
      {"narrow", x.narrow(2, -3, 2), &R::view_narrow, true},
      {"slice step", x.slice(1, {}, {}, 2).slice(2, 1, 4, 2), &R::view_slice_step, true},
      {"slice negative", x.slice(1, -2).slice(2, {}, -1), &R::view_slice_neg, true},
      {"select negative", x.select(1, -1), &R::view_select_neg, true},
      {"expand", x.slice(1, 0, 1).expand({3, -1, 5, 4}), &R::view_expand, true},
      {"unsqueeze squeeze", x.unsqueeze(1).unsqueeze(-1).squeeze(1), &R::view_unsqueeze_squeeze, true},
  };
  for (const Case& c : cases) {
    std::string name = c.name;
    CAPTURE(name);
    CHECK(c.y.shape() == Shape(c.ref->shape));
    CHECK_ALLCLOSE(c.y, c.ref->values, 0, 0);
    CHECK(shares(c.y, x) == c.view);
  }
  // Writing through a view changes the base.
  Tensor v = x.clone();
  v.select(1, -1).narrow(1, 1, 2).fill_(42.0);
  CHECK(v.at({0, 2, 1}) == 42.0);
  CHECK(v.at({1, 2, 2}) == 42.0);
  CHECK(v.at({1, 2, 3}) == x.at({1, 2, 3}));
  CHECK(v.at({1, 1, 1}) == x.at({1, 1, 1}));
}

TEST_CASE("view strides offsets and contiguity") {
  Tensor x = zeros({24}).reshape({2, 3, 4});
  Tensor t = x.transpose(0, 2);
  CHECK(t.strides() == Strides{1, 4, 12});
  CHECK_FALSE(t.is_contiguous());
  Tensor n = x.narrow(1, 1, 2);
  CHECK(n.storage_offset() == 4);
  CHECK(x.select(0, -1).storage_offset() == 12);
  CHECK(x.slice(2, 1, {}, 2).strides() == Strides{12, 4, 2});
  Tensor e = x.slice(1, 0, 1).expand({2, 5, 4});
  CHECK(e.strides()[1] == 0);
  // contiguous: itself when already contiguous, a copy otherwise.
  CHECK(x.contiguous().is_same(x));
  Tensor tc = t.contiguous();
  CHECK(tc.is_contiguous());
  CHECK_FALSE(shares(tc, t));
  CHECK_ALLCLOSE(tc, t);
  // reshape copies only when it must; view never copies.
  CHECK(shares(x.reshape({6, 4}), x));
  CHECK_FALSE(shares(t.reshape({24}), x));
  CHECK(shares(t.unsqueeze(1), x));
  CHECK(shares(x.transpose(0, 1).view({3, 2, 2, 2}), x));   // splitting one dim of a transpose is a view
  CHECK(shares(x.flatten(), x));
  // 0-d and size-1 corner cases.
  Tensor s = scalar_tensor(3.0);
  CHECK(s.flatten().shape() == Shape{1});
  CHECK(s.unsqueeze(0).shape() == Shape{1});
  CHECK(s.squeeze().shape() == Shape{});
  CHECK(s.squeeze(0).shape() == Shape{});
  CHECK(s.t().shape() == Shape{});
  CHECK(zeros({1, 3, 1}).squeeze().shape() == Shape{3});
  CHECK(zeros({1, 3, 1}).squeeze(-1).shape() == Shape{1, 3});
  CHECK(zeros({2, 3}).squeeze(0).shape() == Shape{2, 3});
  CHECK(x.slice(1, 5, 9).shape() == Shape{2, 0, 4});   // out-of-range slice bounds clamp, as in Python
  CHECK(x.slice(1, 2, 1).shape() == Shape{2, 0, 4});
  CHECK(zeros({0, 3}).reshape({3, 0}).shape() == Shape{3, 0});
  CHECK_THROWS_WITH_AS(zeros({0, 3}).reshape({-1, 0}), doctest::Contains("[reshape]"), atto::Error);   // ambiguous
}

TEST_CASE("clone detach and to(dtype)") {
  Tensor x = testing::uniform({2, 3}, -1, 1, 31);
  x.requires_grad_(true);
  Tensor c = x.t().clone();
  CHECK(c.is_contiguous());
  CHECK_FALSE(shares(c, x));
  CHECK(std::string(c.grad_fn()->name()) == "CloneBackward");
  Tensor d = x.detach();
  CHECK(shares(d, x));
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  Tensor f = x.to(kFloat32);
  CHECK(f.dtype() == kFloat32);
  CHECK_ALLCLOSE(f, x, 1e-6, 1e-7);
  CHECK(x.to(kFloat64).is_same(x));
  Tensor i = from_vector<double>({1.7, -2.2, 3.5}).to(kInt64);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{1, -2, 3});   // truncation toward zero, like PyTorch
  (f * 2.0).sum().backward();
  CHECK(x.grad().dtype() == kFloat64);
  CHECK_ALLCLOSE(x.grad(), std::vector<double>(6, 2.0));
}

TEST_CASE("gradcheck of every view op") {
  Tensor x = testing::uniform({2, 3, 4}, -1, 1, 32);
  using Fn = std::function<Tensor(const Tensor&)>;
  struct Case { const char* name; Fn f; };
  Case cases[] = {
      {"reshape", [](const Tensor& t) { return t.reshape({4, -1}); }},
      {"reshape of a transpose (copy)", [](const Tensor& t) { return t.transpose(0, 2).reshape({24}); }},
      {"view", [](const Tensor& t) { return t.view({6, 4}); }},
      {"flatten", [](const Tensor& t) { return t.flatten(0, 1); }},
      {"squeeze unsqueeze", [](const Tensor& t) { return t.unsqueeze(2).unsqueeze(0).squeeze(); }},
      {"squeeze dim", [](const Tensor& t) { return t.unsqueeze(-1).squeeze(-1); }},
      {"transpose", [](const Tensor& t) { return t.transpose(-1, 0); }},
      {"permute", [](const Tensor& t) { return t.permute({1, 2, 0}); }},
      {"t", [](const Tensor& t) { return t.select(0, 1).t(); }},
      {"expand", [](const Tensor& t) { return t.slice(2, 1, 2).expand({3, 2, 3, 5}); }},
      {"expand_as", [](const Tensor& t) { return t.narrow(0, 0, 1).expand_as(t); }},
      {"narrow", [](const Tensor& t) { return t.narrow(-1, -3, 2); }},
      {"slice", [](const Tensor& t) { return t.slice(2, {}, {}, 3).slice(1, -2); }},
      {"select", [](const Tensor& t) { return t.select(-1, -2); }},
      {"operator[]", [](const Tensor& t) { return t[1]; }},
      {"contiguous", [](const Tensor& t) { return t.transpose(0, 1).contiguous(); }},
      {"clone", [](const Tensor& t) { return t.permute({2, 1, 0}).clone(); }},
      {"to float32 and back", [](const Tensor& t) { return t.to(kFloat32).to(kFloat64) * 1.0; }},
      {"chain", [](const Tensor& t) { return t.transpose(0, 1).slice(0, 1).reshape({-1}).narrow(0, 2, 5); }},
  };
  for (const Case& c : cases) {
    std::string name = c.name;
    CAPTURE(name);
    GradcheckOptions o;
    if (std::string(c.name) == "to float32 and back") {   // float32 rounding in the finite differences
      o.eps = 1e-3;
      o.atol = 1e-4;
    }
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return c.f(in[0]); }, {x}, o);
  }
}

TEST_CASE("view op errors name the op and the shapes") {
  Tensor x = zeros({2, 3, 4});
  CHECK_THROWS_WITH_AS(x.reshape({5, -1}), doctest::Contains("[reshape] shape [5, -1] is invalid for a tensor of shape [2, 3, 4]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.reshape({-1, -1}), doctest::Contains("[reshape] only one dimension can be -1"), atto::Error);
  CHECK_THROWS_WITH_AS(x.view({7, 2}), doctest::Contains("[view]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.transpose(0, 1).view({24}), doctest::Contains("[view] a tensor of shape [3, 2, 4]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.permute({0, 1}), doctest::Contains("[permute]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.permute({0, 1, 1}), doctest::Contains("[permute] dim 1 repeats"), atto::Error);
  CHECK_THROWS_WITH_AS(x.transpose(0, 3), doctest::Contains("[transpose] dim 3 is out of range"), atto::Error);
  CHECK_THROWS_WITH_AS(x.t(), doctest::Contains("[t]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.expand({2, 5, 4}), doctest::Contains("[expand] cannot expand shape [2, 3, 4] to [2, 5, 4]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.expand({3, 4}), doctest::Contains("[expand]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.expand({-1, 2, 3, 4}), doctest::Contains("[expand] -1 is not allowed"), atto::Error);
  CHECK_THROWS_WITH_AS(x.expand({-2, 2, 3, 4}), doctest::Contains("[expand]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.expand({2, -2, 4}), doctest::Contains("[expand]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.narrow(1, 2, 2), doctest::Contains("[narrow] start 2 + length 2 exceeds size 3 of dim 1"), atto::Error);
  CHECK_THROWS_WITH_AS(x.narrow(1, -4, 1), doctest::Contains("[narrow]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.narrow(1, 0, -1), doctest::Contains("[narrow]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.slice(1, 0, 2, 0), doctest::Contains("[slice] step must be positive"), atto::Error);
  CHECK_THROWS_WITH_AS(x.select(2, 4), doctest::Contains("[select] index 4 is out of range for dim 2 of size 4"), atto::Error);
  CHECK_THROWS_WITH_AS(x.select(2, -5), doctest::Contains("[select]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.squeeze(3), doctest::Contains("[squeeze]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.unsqueeze(4), doctest::Contains("[unsqueeze]"), atto::Error);
  CHECK_THROWS_WITH_AS(x.flatten(2, 1), doctest::Contains("[flatten] start_dim 2 comes after end_dim 1"), atto::Error);
  CHECK_THROWS_WITH_AS(x[2], doctest::Contains("[select]"), atto::Error);
  Tensor s = scalar_tensor(1.0);
  CHECK_THROWS_WITH_AS(s.select(0, 0), doctest::Contains("[select] cannot be applied to a 0-d tensor"), atto::Error);
  CHECK_THROWS_WITH_AS(s.narrow(0, 0, 1), doctest::Contains("[narrow] cannot be applied to a 0-d tensor"), atto::Error);
  CHECK_THROWS_WITH_AS(s.slice(0), doctest::Contains("[slice] cannot be applied to a 0-d tensor"), atto::Error);
  CHECK_THROWS_WITH_AS(s.squeeze(1), doctest::Contains("[squeeze] dim 1 is out of range"), atto::Error);
  CHECK_THROWS_WITH_AS(s.transpose(0, 2), doctest::Contains("[transpose] dim 2 is out of range"), atto::Error);
  CHECK_THROWS_WITH_AS(s.flatten(0, 3), doctest::Contains("[flatten] dim 3 is out of range"), atto::Error);
  CHECK_THROWS_WITH_AS(ones({1}).expand({-2}), doctest::Contains("[expand] invalid size -2"), atto::Error);
}
