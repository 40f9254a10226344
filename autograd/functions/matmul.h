// autograd/functions/matmul.h -- matrix products with PyTorch's rules: matmul, bmm, linear.
#pragma once
#include "tensor/tensor.h"

namespace atto {

// torch.matmul:
//   1-D @ 1-D     dot product, a 0-d result
//   2-D @ 2-D     the matrix product
//   1-D @ N-D     a is treated as a row [1, K]; that dim is removed from the result
//   N-D @ 1-D     b is treated as a column [K, 1]; that dim is removed from the result
//   N-D @ N-D     a batch of matrix products over the leading dims, which broadcast (NumPy rules):
//                 [j, 1, n, m] @ [k, m, p] -> [j, k, n, p]
// Both operands must share a floating dtype (float32 or float64). Transposed views are read in
// place (passed to BLAS as transposes), and broadcast batch dims are never copied.
Tensor matmul(const Tensor& a, const Tensor& b);

// torch.bmm: [B, n, m] @ [B, m, p] -> [B, n, p]; 3-D only, no broadcasting.
Tensor bmm(const Tensor& a, const Tensor& b);

// torch.nn.functional.linear: y = x @ weight^T + bias, x [..., in], weight [out, in], bias [out]
// (optional: pass an undefined Tensor). y is [..., out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

}  // namespace atto
