// autograd/gradcheck.h -- checks a backward formula against finite differences, in float64.
//
//   auto report = atto::gradcheck([](const std::vector<Tensor>& in) { return atto::tanh(in[0]); }, {x});
//   fmt::print("{}\n", report.str());     // worst element, analytic vs numeric, tolerances
//   CHECK(report.ok);
//
// How: the inputs are copied to float64; the output y = fn(inputs) is projected to a scalar with a
// fixed random tensor R, L = sum(y * R) (an asymmetric weighting, so a backward that mixes up
// elements cannot hide behind symmetry). dL/dx from backward is compared, element by element, with
// the central difference (L(x + eps) - L(x - eps)) / (2 eps). Keep inputs away from kinks
// (relu at 0, abs at 0, clamp at its bounds): there the derivative is not defined.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace atto {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  int64_t max_elements = 0;   // per input; 0 checks every element
  uint64_t seed = 0;          // for the projection R
};

struct GradcheckReport {
  bool ok = true;
  std::string op;            // grad_fn name of the output
  int input = -1;            // the input holding the worst element
  int64_t index = -1;        // flat index of the worst element in that input
  double analytic = 0, numeric = 0;
  double abs_err = 0;        // |analytic - numeric| at the worst element
  double atol = 0, rtol = 0;
  int64_t checked = 0;       // elements compared
  std::string str() const;   // a readable summary
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Inputs that are floating and require grad are checked (all floating ones if none requires grad);
// others (indices, masks) are passed through unchanged.
GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace atto
