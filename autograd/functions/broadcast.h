// autograd/functions/broadcast.h -- broadcasting, done and undone in one place each.
#pragma once
#include "tensor/tensor.h"

namespace atto {

// A view of t with `shape` (NumPy rules): stride 0 along every broadcast dim. No autograd.
Tensor broadcast_view(const Tensor& t, const Shape& shape);

// The reverse: sums `grad` over the dims that broadcasting to grad.shape() created or stretched,
// giving a tensor of `shape`. The single place broadcasting is undone in backward formulas.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace atto
