// tests/optim/test_clip_grad.cpp -- clip_grad_norm_ (2, 1, 3 and inf norms; no clipping when under
// the bound) and clip_grad_value_ against PyTorch, on the MLP's gradients; edge cases.
#include "optim_test_util.h"

using namespace atto;
using namespace atto::optim;
using namespace atto::testing::optim_util;
namespace R = ref::optim;

namespace {

std::vector<Tensor> params_with_grads() {
  std::vector<Tensor> ps = fresh_params();
  mlp_loss(ps).backward();
  return ps;
}

Tensor flat_grads(const std::vector<Tensor>& ps) {
  std::vector<Tensor> g;
  for (const Tensor& p : ps) g.push_back(p.grad().reshape({-1}));
  return cat(g, 0);
}

}  // namespace

TEST_CASE("optim clip_grad_norm_ matches PyTorch") {
  struct Case {
    double max_norm, norm_type;
    const RefTensor &total, &grads;
  };
  const Case cases[] = {
      {0.05, 2.0, R::clip_l2_total, R::clip_l2_grads},
      {0.1, 1.0, R::clip_l1_total, R::clip_l1_grads},
      {0.02, INFINITY, R::clip_inf_total, R::clip_inf_grads},
      {0.05, 3.0, R::clip_l3_total, R::clip_l3_grads},
      {100.0, 2.0, R::clip_noclip_total, R::clip_noclip_grads},
  };
  for (const Case& c : cases) {
    std::vector<Tensor> ps = params_with_grads();
    Tensor total = clip_grad_norm_(ps, c.max_norm, c.norm_type);
    CHECK(total.dim() == 0);
    CHECK_ALLCLOSE(total, c.total.values, 1e-12, 0.0);
    CHECK_ALLCLOSE(flat_grads(ps), c.grads.values, 1e-12, 1e-15);
  }
}

TEST_CASE("optim clip_grad_value_ matches PyTorch") {
  std::vector<Tensor> ps = params_with_grads();
  clip_grad_value_(ps, 0.05);
  // The grads themselves may differ from PyTorch's in the last bit.
  CHECK_ALLCLOSE(flat_grads(ps), R::clip_value_grads.values, 1e-12, 1e-15);
}

TEST_CASE("optim clip_grad_norm_ skips params without grads and handles none") {
  std::vector<Tensor> ps = params_with_grads();
  Tensor no_grad = zeros({3}, {.dtype = kFloat64, .requires_grad = true});
  std::vector<Tensor> all = ps;
  all.push_back(no_grad);
  Tensor total = clip_grad_norm_(all, 0.05);
  CHECK_ALLCLOSE(total, R::clip_l2_total.values, 1e-12, 0.0);
  CHECK_FALSE(no_grad.grad().defined());
  CHECK(clip_grad_norm_({no_grad}, 1.0).item_double() == 0.0);
  // A non-finite total: scaled by default (PyTorch's default), an error when asked.
  Tensor w = zeros({2}, {.dtype = kFloat64, .requires_grad = true});
  w.set_grad(from_vector<double>({INFINITY, 1.0}));
  CHECK_THROWS_WITH_AS(clip_grad_norm_({w}, 1.0, 2.0, true), doctest::Contains("[clip_grad_norm_]"), atto::Error);
  CHECK_THROWS_WITH_AS(clip_grad_norm_({w}, 1.0, -1.0), doctest::Contains("[clip_grad_norm_]"), atto::Error);
}
