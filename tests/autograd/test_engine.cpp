// tests/autograd/test_engine.cpp -- the backward engine: accumulation, fan-out, hooks, retain_grad,
// retain_graph, deep chains, in-place rejection.
#include "test_util.h"

using namespace atto;

TEST_CASE("fan-out: a tensor used twice receives the sum of both gradients") {
  Tensor x = tensor({1.0, 2.0, 3.0}, {.requires_grad = true});
  Tensor y = (x * x + x).sum();   // dy/dx = 2x + 1
  y.backward();
  CHECK_ALLCLOSE(x.grad(), std::vector<double>{3, 5, 7});
  CHECK(std::string(y.grad_fn()->name()) == "SumBackward");
}

TEST_CASE("gradients accumulate across backward calls into leaves") {
  Tensor x = tensor({1.0, -2.0}, {.requires_grad = true});
  (x * 3.0).sum().backward();
  (x * 3.0).sum().backward();
  CHECK_ALLCLOSE(x.grad(), std::vector<double>{6, 6});
}

TEST_CASE("a second backward without retain_graph is a clear error") {
  Tensor x = tensor({1.0, 2.0}, {.requires_grad = true});
  Tensor y = (x * x).sum();
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  CHECK_ALLCLOSE(x.grad(), std::vector<double>{4, 8});
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("second time"), atto::Error);
}

TEST_CASE("a 5,000-op chain backpropagates without overflowing the stack") {
  Tensor x = tensor({0.5}, {.requires_grad = true});
  Tensor y = x;
  for (int i = 0; i < 5000; ++i) y = y * 1.0001;
  y.sum().backward();
  CHECK(x.grad().item<double>() == doctest::Approx(std::pow(1.0001, 5000)).epsilon(1e-4));
}

TEST_CASE("hooks inspect and replace gradients and retain_grad keeps a non-leaf grad") {
  Tensor x = tensor({1.0, 2.0}, {.requires_grad = true});
  Tensor h = x * 2.0;
  h.retain_grad();
  int calls = 0;
  h.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 10.0;   // replaces dL/dh
  });
  h.sum().backward();
  CHECK(calls == 1);
  CHECK_ALLCLOSE(h.grad(), std::vector<double>{10, 10});   // what flowed on, after the hook
  CHECK_ALLCLOSE(x.grad(), std::vector<double>{20, 20});
}

TEST_CASE("a hook on a leaf registered before its first use runs in every later backward") {
  Tensor w = tensor({1.0, 2.0}, {.requires_grad = true});
  int calls = 0;
  w.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 3.0;   // replaces what is accumulated into w.grad()
  });
  (w * w).sum().backward();   // d/dw sum(w^2) = 2w = [2, 4]
  CHECK(calls == 1);
  CHECK_ALLCLOSE(w.grad(), std::vector<double>{6, 12});
  w.set_grad({});
  (w * 5.0).sum().backward();   // a new graph, so a new AccumulateGrad node: the hook must still run
  CHECK(calls == 2);
  CHECK_ALLCLOSE(w.grad(), std::vector<double>{15, 15});
}

TEST_CASE("in-place writes on a tensor that requires grad are rejected while grad mode is on") {
  Tensor w = ones({3}, {.requires_grad = true});
  CHECK_THROWS_WITH_AS(w.fill_(2.0), doctest::Contains("fill_"), atto::Error);
  {
    NoGradGuard no_grad;
    w.fill_(2.0);
  }
  CHECK(w.at({1}) == 2.0);
}

TEST_CASE("NoGradGuard records nothing and detach cuts the graph") {
  Tensor x = ones({2}, {.requires_grad = true});
  {
    NoGradGuard g;
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
  }
  Tensor d = (x * 2.0).detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
}
