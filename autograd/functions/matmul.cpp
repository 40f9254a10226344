// autograd/functions/matmul.cpp -- matmul, bmm and linear. One differentiable op, MatMul, multiplies
// [..., M, K] @ [..., K, N] with broadcast batch dims; the 1-D cases of matmul add and remove a dim
// around it with views, and linear is matmul plus a bias.
#include "autograd/functions/matmul.h"

#include <array>
#include <optional>

#include "autograd/function.h"
#include "autograd/functions/broadcast.h"
#include "autograd/functions/elementwise.h"
#include "tensor/cpu/gemm.h"
#include "tensor/dispatch.h"

namespace atto {

namespace {

// How one matrix operand is handed to gemm without a copy: element (i, k) of a rows x cols matrix
// with strides (s_row, s_col) is at i * ld + k (as is) or at k * ld + i (transposed). Strides of
// size-1 dims are meaningless and ignored; BLAS wants ld >= max(1, row length).
struct Layout {
  bool trans;
  int64_t ld;
};
std::optional<Layout> blas_layout(int64_t rows, int64_t cols, int64_t s_row, int64_t s_col) {
  if (cols <= 1 || s_col == 1) {
    int64_t ld = rows <= 1 ? std::max<int64_t>(1, cols) : s_row;
    if (ld >= std::max<int64_t>(1, cols)) return Layout{false, ld};
  }
  if (rows <= 1 || s_row == 1) {
    int64_t ld = cols <= 1 ? std::max<int64_t>(1, rows) : s_col;
    if (ld >= std::max<int64_t>(1, rows)) return Layout{true, ld};
  }
  return std::nullopt;
}

// One operand as gemm reads it: its data, layout, and strides over the output's batch dims (0 on
// dims it is broadcast along).
struct Operand {
  Tensor t;
  Layout layout;
  Strides batch_strides;
};

// Only a matrix layout BLAS cannot read (e.g. both strides > 1, or a stride 0 from expand) is
// copied, and then only x itself, never its broadcast to the full batch.
Operand prepare(const Tensor& x, const Shape& batch) {
  const int nd = x.ndim();
  Tensor t = x;
  auto layout = blas_layout(t.shape()[nd - 2], t.shape()[nd - 1], t.strides()[nd - 2], t.strides()[nd - 1]);
  if (!layout) {
    t = x.contiguous();
    layout = blas_layout(t.shape()[nd - 2], t.shape()[nd - 1], t.strides()[nd - 2], t.strides()[nd - 1]);
    ATTO_ASSERT(layout.has_value(), "matmul: contiguous {} has no BLAS layout", t.shape());
  }
  Strides bs = Shape::filled(batch.size(), 0);
  const int lead = batch.size() - (nd - 2);
  for (int d = 0; d < nd - 2; ++d) bs[lead + d] = t.shape()[d] == 1 ? 0 : t.strides()[d];
  return {t, *layout, bs};
}

// The stride of a's batch and row dims merged into one dim, if memory allows it (each dim's stride
// equals the next one's stride times its size, size-1 dims skipped): then [..., M, K] is one
// [batch * M, K] matrix.
std::optional<int64_t> merged_row_stride(const Tensor& a) {
  int64_t stride = 0, span = 0;
  bool first = true;
  for (int d = a.ndim() - 2; d >= 0; --d) {
    int64_t n = a.shape()[d];
    if (n == 1) continue;
    if (first) {
      stride = a.strides()[d];
      span = stride * n;
      first = false;
    } else {
      if (a.strides()[d] != span) return std::nullopt;
      span *= n;
    }
  }
  return first ? std::max<int64_t>(1, a.shape()[a.ndim() - 1]) : stride;
}

// C = A @ B for A [..., M, K], B [..., K, N], C contiguous [batch..., M, N].
template <class T> void run_matmul(const Tensor& a, const Tensor& b, Tensor& c, const Shape& batch, int64_t M,
                                   int64_t N, int64_t K) {
  // B is one matrix and A's batch dims fold into its rows: a single [batch * M, K] @ [K, N] gemm.
  // When A's memory does not allow that (a transposed (L, N, E) activation, say), A is copied
  // first: the copy costs 1/N of the gemm, and one big gemm runs far faster than batch.numel()
  // small ones of M rows each.
  if (b.ndim() == 2 && a.ndim() > 2) {
    const Tensor a_rows = merged_row_stride(a) ? a : a.contiguous();
    if (auto rs = merged_row_stride(a_rows)) {
      int64_t rows = batch.numel() * M;
      if (auto la = blas_layout(rows, K, *rs, a_rows.strides()[a_rows.ndim() - 1])) {
        Operand ob = prepare(b, {});
        ATTO_ON_DEVICE(c.device(), gemm<T>, la->trans, ob.layout.trans, rows, N, K, T(1), a_rows.data_ptr<T>(),
                       la->ld, ob.t.data_ptr<T>(), ob.layout.ld, T(0), c.data_ptr<T>(), N);
        return;
      }
    }
  }
  Operand oa = prepare(a, batch), ob = prepare(b, batch);
  cpu::GemmBatch gb{batch, oa.batch_strides, ob.batch_strides, contiguous_strides(batch)};
  for (int64_t& s : gb.stride_c) s *= M * N;
  ATTO_ON_DEVICE(c.device(), gemm_batched<T>, gb, oa.layout.trans, ob.layout.trans, M, N, K, T(1),
                 oa.t.data_ptr<T>(), oa.layout.ld, ob.t.data_ptr<T>(), ob.layout.ld, T(0), c.data_ptr<T>(), N);
}

Shape batch_of(const Tensor& x) { return Shape(std::span<const int64_t>(x.shape().begin(), x.ndim() - 2)); }

// C = A @ B over broadcast batch dims; A and B have >= 2 dims, checked by the callers.
struct MatMul {
  static constexpr const char* name = "MatmulBackward";
  struct Saved : SavedBase {
    Tensor a, b;   // a is kept only for dB, b only for dA
    Shape a_shape, b_shape;
  };
  static Tensor forward(Saved& s, const Tensor& a, const Tensor& b) {
    const int64_t M = a.shape()[a.ndim() - 2], K = a.shape()[a.ndim() - 1], N = b.shape()[b.ndim() - 1];
    Shape batch = broadcast_shapes(batch_of(a), batch_of(b), "matmul");
    Shape out_shape = batch;
    out_shape.push_back(M);
    out_shape.push_back(N);
    Tensor c = empty(out_shape, {.dtype = a.dtype(), .device = a.device()});
    if (c.numel() > 0)
      visit_floating(a.dtype(), "matmul", [&](auto tag) { run_matmul<decltype(tag)>(a, b, c, batch, M, N, K); });
    s.a_shape = a.shape();
    s.b_shape = b.shape();
    if (s.needs_input_grad(1)) s.a = a;
    if (s.needs_input_grad(0)) s.b = b;
    return c;
  }
  // forward: C = A @ B  =>  dA = dC @ B^T,  dB = A^T @ dC, each summed over the batch dims that
  // broadcasting stretched (sum_to). The transposes are views: gemm reads them in place.
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dc) {
    std::array<Tensor, 2> g;
    if (s.needs_input_grad(0)) g[0] = sum_to(matmul(dc, s.b.transpose(-1, -2)), s.a_shape);
    if (s.needs_input_grad(1)) {
      if (s.b_shape.size() == 2 && s.a_shape.size() > 2) {   // sum over the batch inside one gemm
        int64_t rows = 1;   // batch * M, spelled out so that K == 0 or N == 0 still works
        for (int d = 0; d + 1 < s.a_shape.size(); ++d) rows *= s.a_shape[d];
        g[1] = matmul(s.a.reshape({rows, s.a_shape.back()}).t(), dc.reshape({rows, s.b_shape.back()}));
      } else {
        g[1] = sum_to(matmul(s.a.transpose(-1, -2), dc), s.b_shape);
      }
    }
    return g;
  }
};

void check_operands(const Tensor& a, const Tensor& b, const char* op) {
  ATTO_CHECK(a.defined() && b.defined(), "[{}] got an undefined tensor", op);
  ATTO_CHECK(a.ndim() >= 1 && b.ndim() >= 1,
             "[{}] both arguments need at least 1 dim, got a {} and b {} (use mul for a 0-d operand)", op, a.shape(),
             b.shape());
  check_same_device(a, b, op);
  ATTO_CHECK(a.dtype() == b.dtype(), "[{}] dtypes differ: a is {} {}, b is {} {}", op, a.shape(), a.dtype(),
             b.shape(), b.dtype());
  ATTO_CHECK(a.is_floating_point(), "[{}] expects float32 or float64 tensors, got {} (a is {}, b is {})", op,
             a.dtype(), a.shape(), b.shape());
  int64_t ka = a.shape().back(), kb = b.ndim() == 1 ? b.shape()[0] : b.shape()[b.ndim() - 2];
  ATTO_CHECK(ka == kb, "[{}] inner dims differ: a is {}, b is {} (a's last dim {} != b's {} {})", op, a.shape(),
             b.shape(), ka, b.ndim() == 1 ? "only dim" : "dim -2", kb);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "matmul");
  if (a.ndim() == 1 && b.ndim() == 1) return apply<MatMul>(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  if (a.ndim() == 1) return apply<MatMul>(a.unsqueeze(0), b).squeeze(-2);
  if (b.ndim() == 1) return apply<MatMul>(a, b.unsqueeze(1)).squeeze(-1);
  if (a.ndim() > 2 || b.ndim() > 2) {
    Shape ba = batch_of(a), bb = batch_of(b);
    for (int i = 1; i <= std::min(ba.size(), bb.size()); ++i) {
      int64_t x = ba[ba.size() - i], y = bb[bb.size() - i];
      ATTO_CHECK(x == y || x == 1 || y == 1,
                 "[matmul] batch dims do not broadcast: a is {}, b is {} (batch {} vs {})", a.shape(), b.shape(), ba,
                 bb);
    }
  }
  return apply<MatMul>(a, b);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  ATTO_CHECK(a.defined() && b.defined() && a.ndim() == 3 && b.ndim() == 3,
             "[bmm] expects two 3-D tensors [B, n, m] and [B, m, p], got a {} and b {}",
             a.defined() ? a.shape() : Shape{}, b.defined() ? b.shape() : Shape{});
  ATTO_CHECK(a.shape()[0] == b.shape()[0], "[bmm] batch sizes differ: a is {}, b is {}", a.shape(), b.shape());
  check_operands(a, b, "bmm");
  return apply<MatMul>(a, b);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  ATTO_CHECK(weight.defined() && weight.ndim() == 2, "[linear] weight must be 2-D [out_features, in_features], got {}",
             weight.defined() ? weight.shape() : Shape{});
  ATTO_CHECK(x.defined() && x.ndim() >= 1 && x.shape().back() == weight.shape()[1],
             "[linear] input's last dim must equal in_features: input is {}, weight is {}",
             x.defined() ? x.shape() : Shape{}, weight.shape());
  Tensor y = matmul(x, weight.t());
  if (!bias.defined()) return y;
  ATTO_CHECK(bias.ndim() == 1 && bias.shape()[0] == weight.shape()[0],
             "[linear] bias must be [out_features] = [{}], got {} (weight is {})", weight.shape()[0], bias.shape(),
             weight.shape());
  return add(y, bias);
}

Tensor Tensor::matmul(const Tensor& other) const { return atto::matmul(*this, other); }

}  // namespace atto
