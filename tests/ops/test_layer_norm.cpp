// tests/ops/test_layer_norm.cpp -- layer_norm: values and gradients against PyTorch
// (tools/gen_ref_layer_norm.py), gradcheck with and without weight/bias, non-contiguous input,
// thread-count independence, shape errors.
#include "reference/layer_norm.h"
#include "test_util.h"

using namespace atto;
namespace L = ref::layer_norm;

namespace {

void check_ref(const Tensor& y, const RefTensor& r, double rtol, double atol) {
  CHECK_MESSAGE(y.shape() == Shape(r.shape), fmt::format("shape {} vs reference {}", y.shape(), Shape(r.shape)));
  CHECK_ALLCLOSE(y, r.values, rtol, atol);
}

}  // namespace

TEST_CASE("layer_norm matches PyTorch in float64 and float32") {
  for (DType dt : {kFloat64, kFloat32}) {
    CAPTURE(dt);
    const bool f64 = dt == kFloat64;
    const double rtol = f64 ? 1e-12 : 1e-5, atol = f64 ? 1e-12 : 1e-5;
    Tensor x = L::x.tensor(dt), w1 = L::w1.tensor(dt), b1 = L::b1.tensor(dt), w2 = L::w2.tensor(dt),
           b2 = L::b2.tensor(dt);
    Tensor y = layer_norm(x, {4}, w1, b1);
    CHECK(y.dtype() == dt);
    check_ref(y, f64 ? L::last_f64 : L::last_f32, rtol, atol);
    check_ref(layer_norm(x, {4}), f64 ? L::last_noaffine_f64 : L::last_noaffine_f32, rtol, atol);
    check_ref(layer_norm(x, {4}, w1, b1, 1e-1), f64 ? L::last_eps_f64 : L::last_eps_f32, rtol, atol);
    check_ref(layer_norm(x, {3, 4}, w2, b2), f64 ? L::two_f64 : L::two_f32, rtol, atol);
  }
}

TEST_CASE("layer_norm gradients match PyTorch") {
  struct G { Shape shape; const RefTensor &w, &b, &dx, &dw, &db; };
  for (const G& g : {G{{4}, L::w1, L::b1, L::last_dx, L::last_dw, L::last_db},
                     G{{3, 4}, L::w2, L::b2, L::two_dx, L::two_dw, L::two_db}}) {
    CAPTURE(g.shape);
    Tensor x = L::x.tensor().requires_grad_(), w = g.w.tensor().requires_grad_(), b = g.b.tensor().requires_grad_();
    Tensor y = layer_norm(x, g.shape, w, b);
    REQUIRE(y.grad_fn());
    CHECK(std::string(y.grad_fn()->name()) == "LayerNormBackward");
    y.backward(L::dy.tensor());
    check_ref(x.grad(), g.dx, 1e-10, 1e-12);
    check_ref(w.grad(), g.dw, 1e-10, 1e-12);
    check_ref(b.grad(), g.db, 1e-10, 1e-12);
  }
}

TEST_CASE("layer_norm of non-contiguous inputs matches PyTorch") {
  Tensor w1 = L::w1.tensor(), b1 = L::b1.tensor();
  check_ref(layer_norm(L::x.tensor().transpose(0, 1), {4}, w1, b1), L::nc_last, 1e-12, 1e-12);
  Tensor xt = L::xt.tensor().t();
  REQUIRE_FALSE(xt.is_contiguous());
  check_ref(layer_norm(xt, {4}, w1, b1), L::nc_t, 1e-12, 1e-12);
}

TEST_CASE("layer_norm passes gradcheck with and without weight and bias") {
  Tensor x = testing::uniform({2, 3, 5}, -2.0, 2.0, 41);
  Tensor w = testing::uniform({5}, 0.5, 1.5, 42), b = testing::uniform({5}, -1.0, 1.0, 43);
  Tensor w2 = testing::uniform({3, 5}, 0.5, 1.5, 44), b2 = testing::uniform({3, 5}, -1.0, 1.0, 45);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, in[1], in[2]); }, {x, w, b});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {3, 5}, in[1], in[2]); }, {x, w2, b2});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}); }, {x});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, in[1]); }, {x, w});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, {}, in[1]); }, {x, b});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {3, 5}, {}, in[1]); }, {x, b2});
  // non-contiguous input: a transposed view normalised over its last dim
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0].transpose(0, 2), {2}, in[1], in[2]); },
                  {x, testing::uniform({2}, 0.5, 1.5, 46), testing::uniform({2}, -1.0, 1.0, 47)});
}

TEST_CASE("layer_norm computes only the gradients that are needed") {
  Tensor x = testing::uniform({4, 6}, -2.0, 2.0, 48);
  Tensor w = testing::uniform({6}, 0.5, 1.5, 49).requires_grad_(), b = zeros({6}, {.dtype = kFloat64});
  layer_norm(x, {6}, w, b).sum().backward();
  CHECK(w.grad().defined());
  CHECK_FALSE(b.grad().defined());
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("layer_norm is bitwise identical for 1 and 2 threads") {
  const int saved = get_num_threads();
  Tensor x = testing::uniform({4096, 256}, -3.0, 3.0, 50, kFloat32);
  Tensor dy = testing::uniform({4096, 256}, -1.0, 1.0, 51, kFloat32);
  Tensor w0 = testing::uniform({256}, 0.5, 1.5, 52, kFloat32), b0 = testing::uniform({256}, -1.0, 1.0, 53, kFloat32);
  auto run = [&] {
    Tensor xx = x.detach().requires_grad_(), w = w0.detach().requires_grad_(), b = b0.detach().requires_grad_();
    Tensor y = layer_norm(xx, {256}, w, b);
    y.backward(dy);
    return std::vector<Tensor>{y, xx.grad(), w.grad(), b.grad()};
  };
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  set_num_threads(saved);
  for (size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(one[i].to_vector<float>() == two[i].to_vector<float>());
  }
}

TEST_CASE("layer_norm rejects mismatched shapes with messages showing them") {
  Tensor x = zeros({2, 3, 4});
  CHECK_THROWS_WITH_AS(layer_norm(x, {3}),
                       doctest::Contains("[layer_norm] normalized_shape [3] does not match the trailing dims of the "
                                         "input of shape [2, 3, 4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {1, 2, 3, 4}), doctest::Contains("[layer_norm] normalized_shape [1, 2, 3, 4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {4}, zeros({3})),
                       doctest::Contains("[layer_norm] weight has shape [3], expected normalized_shape [4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {4}, {}, zeros({2, 4})),
                       doctest::Contains("[layer_norm] bias has shape [2, 4], expected normalized_shape [4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {4}, zeros({4}, {.dtype = kFloat64})),
                       doctest::Contains("[layer_norm] weight is float64 but the input is float32"), atto::Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, Shape{}), doctest::Contains("[layer_norm] normalized_shape must have"),
                       atto::Error);
}
