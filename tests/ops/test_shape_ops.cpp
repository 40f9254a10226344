// tests/ops/test_shape_ops.cpp -- cat, stack, split, chunk: values vs PyTorch (tools/gen_ref_shape_index.py),
// gradcheck, non-contiguous inputs, views sharing storage, errors.
#include "reference/shape_index.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::shape_index;

TEST_CASE("cat matches PyTorch along each dim") {
  Tensor a = R::cat_a.tensor(), b = R::cat_b.tensor(), c = R::cat_c.tensor();
  Tensor ab = cat({a, b}, 1);
  CHECK(ab.shape() == Shape{2, 4});
  CHECK_ALLCLOSE(ab, R::cat_ab_dim1.values);
  CHECK_ALLCLOSE(cat({a, b}, -1), R::cat_ab_dimneg1.values);
  Tensor aca = cat({a, c, a});
  CHECK(aca.shape() == Shape{5, 3});
  CHECK_ALLCLOSE(aca, R::cat_aca_dim0.values);
}

TEST_CASE("cat of non-contiguous inputs and dtype promotion") {
  Tensor a = R::cat_a.tensor();
  Tensor at = a.t().contiguous().t();   // same values, column-major
  CHECK_FALSE(at.is_contiguous());
  CHECK_ALLCLOSE(cat({at, R::cat_b.tensor()}, 1), R::cat_ab_dim1.values);
  Tensor mixed = cat({R::cat_a.tensor(kFloat32), R::cat_c.tensor(kFloat64), R::cat_a.tensor(kFloat32)});
  CHECK(mixed.dtype() == kFloat64);
  CHECK_ALLCLOSE(mixed, R::cat_aca_dim0.values, 1e-6, 1e-6);
  // A 1-d empty tensor is skipped, as in PyTorch.
  Tensor skip = cat({zeros({0}), a});
  CHECK(skip.shape() == a.shape());
  CHECK_ALLCLOSE(skip, a);
}

TEST_CASE("cat gradcheck including a transposed input and a skipped empty one") {
  Tensor a = testing::uniform({2, 3}, -1, 1, 1), b = testing::uniform({1, 2}, -1, 1, 2);
  Tensor c = testing::uniform({3, 2}, -1, 1, 3);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return cat({in[0], in[1].t(), in[2]}, 1); },
                  {a, b, c.t().contiguous()});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[0]}, 0); },
                  {a, testing::uniform({1, 3}, -1, 1, 4)});
  Tensor e = zeros({0}, {.dtype = kFloat64, .requires_grad = true});
  Tensor x = testing::uniform({3}, -1, 1, 5);
  x.requires_grad_(true);
  (cat({e, x}) * 2.0).sum().backward();
  CHECK(e.grad().shape() == Shape{0});
  CHECK_ALLCLOSE(x.grad(), std::vector<double>{2, 2, 2});
}

TEST_CASE("cat errors name the offending tensor and shapes") {
  Tensor a = zeros({2, 3}), b = zeros({2, 4}), v = zeros({3});
  CHECK_THROWS_WITH_AS(cat({a, b}, 0), doctest::Contains("[cat] sizes must match except in dim 0: tensor 1 has shape [2, 4] but tensor 0 has shape [2, 3]"), atto::Error);
  CHECK_THROWS_WITH_AS(cat({a, v}, 0), doctest::Contains("tensor 1 has shape [3]"), atto::Error);
  CHECK_THROWS_WITH_AS(cat({}, 0), doctest::Contains("[cat] expects a non-empty list"), atto::Error);
  CHECK_THROWS_WITH_AS(cat({a, a}, 2), doctest::Contains("dim"), atto::Error);
  CHECK_THROWS_WITH_AS(cat({scalar_tensor(1.0)}, 0), doctest::Contains("[cat] zero-dimensional"), atto::Error);
}

TEST_CASE("stack matches PyTorch and is differentiable") {
  Tensor a = R::cat_a.tensor(), a2 = a * 2.0;
  Tensor s0 = stack({a, a2});
  CHECK(s0.shape() == Shape{2, 2, 3});
  CHECK_ALLCLOSE(s0, R::stack_aa_dim0.values);
  CHECK(stack({a, a2}, 1).shape() == Shape{2, 2, 3});
  CHECK_ALLCLOSE(stack({a, a2}, 1), R::stack_aa_dim1.values);
  CHECK(stack({a, a2}, -1).shape() == Shape{2, 3, 2});
  CHECK_ALLCLOSE(stack({a.t().contiguous().t(), a2}, -1), R::stack_aa_dimneg1.values);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return stack({in[0], in[1].t()}, 2); },
                  {testing::uniform({2, 3}, -1, 1, 6), testing::uniform({3, 2}, -1, 1, 7)});
  CHECK_THROWS_WITH_AS(stack({a, zeros({3, 2}, {.dtype = kFloat64})}), doctest::Contains("[stack] expects tensors of equal shape, but tensor 0 has shape [2, 3] and tensor 1 has shape [3, 2]"), atto::Error);
  CHECK_THROWS_WITH_AS(stack({a, a}, 3), doctest::Contains("[stack]"), atto::Error);
  CHECK_THROWS_WITH_AS(stack({}), doctest::Contains("[stack]"), atto::Error);
}

TEST_CASE("split and chunk match PyTorch and return views") {
  Tensor x = R::split_x.tensor();
  auto p = split(x, 3);
  REQUIRE(p.size() == 3);
  const RefTensor* s3[] = {&R::split3_0, &R::split3_1, &R::split3_2};
  for (size_t i = 0; i < 3; ++i) {
    CHECK(p[i].shape() == Shape(s3[i]->shape));
    CHECK_ALLCLOSE(p[i], s3[i]->values);
    CHECK(p[i].storage() == x.storage());
  }
  auto q = split(x, {2, 0, 5});
  REQUIRE(q.size() == 3);
  const RefTensor* ss[] = {&R::split_sizes_0, &R::split_sizes_1, &R::split_sizes_2};
  for (size_t i = 0; i < 3; ++i) {
    CHECK(q[i].shape() == Shape(ss[i]->shape));
    CHECK_ALLCLOSE(q[i], ss[i]->values);
  }
  auto c = chunk(x, 3);
  REQUIRE(c.size() == 3);
  const RefTensor* c3[] = {&R::chunk3_0, &R::chunk3_1, &R::chunk3_2};
  for (size_t i = 0; i < 3; ++i) CHECK_ALLCLOSE(c[i], c3[i]->values);
  auto ct = chunk(x.t(), 2, 1);   // non-contiguous input
  REQUIRE(ct.size() == 2);
  CHECK(ct[0].shape() == Shape(R::chunk_t_0.shape));
  CHECK_ALLCLOSE(ct[0], R::chunk_t_0.values);
  CHECK_ALLCLOSE(ct[1], R::chunk_t_1.values);
  CHECK(chunk(zeros({0}), 3).size() == 3);   // PyTorch: `chunks` empty pieces of an empty dim
  CHECK(chunk(zeros({6}), 4).size() == 3);   // ... and possibly fewer pieces than asked for
}

TEST_CASE("split and chunk gradcheck") {
  Tensor x = testing::uniform({5, 4}, -1, 1, 8);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) {
    auto p = split(in[0], 2, 0);
    return cat({p[2], p[0] * 3.0, p[1]}, 0);
  }, {x});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) {
    auto p = chunk(in[0].t(), 3, 0);   // pieces of a transposed view; one piece unused
    return cat({p[1], p[0] * p[0]}, 0);
  }, {x});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return split(in[0], {1, 3}, 1)[1] * 2.0; }, {x});
}

TEST_CASE("split and chunk errors") {
  Tensor x = zeros({5, 4});
  CHECK_THROWS_WITH_AS(split(x, {2, 2}, 0), doctest::Contains("[split] split_sizes [2, 2] add up to 4, but dim 0 has size 5"), atto::Error);
  CHECK_THROWS_WITH_AS(split(x, 0, 0), doctest::Contains("[split] split_size must be positive"), atto::Error);
  CHECK_THROWS_WITH_AS(split(x, 2, 2), doctest::Contains("[split]"), atto::Error);
  CHECK_THROWS_WITH_AS(chunk(x, 0), doctest::Contains("[chunk] chunks must be positive"), atto::Error);
}
