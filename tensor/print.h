// tensor/print.h -- printing tensors the way PyTorch does:
//
//   tensor([[ 0.1234, -1.0000],
//           [ 2.5000,  3.0000]], dtype=float64, requires_grad=True)
//
// Same rules as torch/_tensor_str.py with the default print options (precision 4, threshold 1000,
// edgeitems 3, linewidth 80): one width for all elements; floats with 4 decimals, or "1." style
// when every value is an integer, or scientific notation when the magnitudes span more than 1e3,
// exceed 1e8 or go below 1e-4; tensors of more than 1000 elements keep 3 items at each edge of
// every dim with "..." between. The suffixes name our dtype (float64, not torch.float64) when it is
// not float32/int64/bool, a non-CPU device, and grad_fn=<MulBackward> or requires_grad=True.
//
//   fmt::print("{}\n", t);   std::cout << t;   std::string s = to_string(t);   describe(t)
#pragma once
#include <iosfwd>
#include <string>

#include "tensor/tensor.h"

namespace atto {

std::string to_string(const Tensor& t);
// One line of metadata, no values: "Tensor(shape=[2, 3], dtype=float32, device=cpu, strides=[3, 1],
// offset=0, requires_grad=false)" (plus grad_fn=<Name> for non-leaves).
std::string describe(const Tensor& t);
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace atto

template <> struct fmt::formatter<atto::Tensor> : fmt::formatter<std::string> {
  auto format(const atto::Tensor& t, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(atto::to_string(t), ctx);
  }
};
