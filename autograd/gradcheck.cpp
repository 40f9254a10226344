// autograd/gradcheck.cpp -- see gradcheck.h.
#include "autograd/gradcheck.h"

#include <cmath>
#include <random>

#include "autograd/functions/elementwise.h"
#include "autograd/functions/reduce.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace atto {

std::string GradcheckReport::str() const {
  if (checked == 0) return fmt::format("gradcheck {}: nothing to check", op);
  return fmt::format(
      "gradcheck {}: {} ({} elements checked)\n  worst: input {} element {}: analytic {:.10g} numeric {:.10g} "
      "|diff| {:.3g} (allowed {:.3g} = atol {:.1g} + rtol {:.1g} * |numeric|)",
      op, ok ? "PASSED" : "FAILED", checked, input, index, analytic, numeric, abs_err, atol + rtol * std::abs(numeric),
      atol, rtol);
}

GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs_in, GradcheckOptions opt) {
  bool any_rg = false;
  for (auto& t : inputs_in) any_rg = any_rg || (t.defined() && t.requires_grad());
  std::vector<Tensor> inputs;
  std::vector<bool> checked;
  for (auto& t : inputs_in) {
    bool check = t.defined() && t.is_floating_point() && (!any_rg || t.requires_grad());
    if (check) {
      // A contiguous float64 copy on the input's own device: fn runs where the caller's tensors
      // live, so a CUDA function is checked on the GPU (and may create tensors on it).
      NoGradGuard g;
      Tensor c = t.detach().to(kFloat64).clone();   // clone: contiguous
      c.requires_grad_(true);
      inputs.push_back(c);
    } else {
      inputs.push_back(t);
    }
    checked.push_back(check);
  }

  Tensor y = fn(inputs);
  ATTO_CHECK(y.is_floating_point(), "[gradcheck] fn must return a floating tensor, got {}", y.dtype());
  GradcheckReport rep;
  rep.op = y.grad_fn() ? y.grad_fn()->name() : "(no grad_fn)";
  rep.atol = opt.atol;
  rep.rtol = opt.rtol;

  // The projection R: uniform in [0.5, 1.5) with random signs -- never zero, never symmetric.
  std::mt19937_64 rng(opt.seed);
  std::uniform_real_distribution<double> u(0.5, 1.5);
  std::vector<double> r(size_t(y.numel()));
  for (auto& v : r) v = (rng() & 1 ? 1.0 : -1.0) * u(rng);
  Tensor R = from_vector<double>(r, y.shape());
  if (y.dtype() != kFloat64) R = R.to(y.dtype());
  R = R.to(y.device());
  auto project = [&](const Tensor& out) { return sum(mul(out.to(kFloat64), R.to(kFloat64))).item_double(); };

  if (y.requires_grad()) sum(mul(y, R)).backward();

  double worst_excess = -INFINITY;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!checked[k]) continue;
    Tensor x = inputs[k];
    if (x.numel() == 0) continue;
    // Element i (C order) is perturbed through a one-element view and fill_, which works on any
    // device; the unperturbed values come from one host copy.
    const Tensor flat = x.detach().reshape({-1});
    const std::vector<double> values = x.to_vector<double>();
    auto set = [&](int64_t i, double v) { flat.narrow(0, i, 1).fill_(v); };
    Tensor g = x.grad();
    std::vector<double> analytic = g.defined() ? g.to_vector<double>() : std::vector<double>(size_t(x.numel()), 0.0);
    int64_t n = x.numel();
    int64_t stride = (opt.max_elements > 0 && n > opt.max_elements) ? (n + opt.max_elements - 1) / opt.max_elements : 1;
    for (int64_t i = 0; i < n; i += stride) {
      const double saved = values[size_t(i)];
      double fp, fm;
      {
        NoGradGuard no_grad;
        set(i, saved + opt.eps);
        fp = project(fn(inputs));
        set(i, saved - opt.eps);
        fm = project(fn(inputs));
        set(i, saved);
      }
      double numeric = (fp - fm) / (2 * opt.eps);
      double err = std::abs(analytic[size_t(i)] - numeric);
      double excess = err - (opt.atol + opt.rtol * std::abs(numeric));
      ++rep.checked;
      if (!(excess <= 0)) rep.ok = false;   // NaN fails too
      if (excess > worst_excess || std::isnan(excess)) {
        worst_excess = std::isnan(excess) ? INFINITY : excess;
        rep.input = int(k);
        rep.index = i;
        rep.analytic = analytic[size_t(i)];
        rep.numeric = numeric;
        rep.abs_err = err;
      }
    }
  }
  return rep;
}

}  // namespace atto
