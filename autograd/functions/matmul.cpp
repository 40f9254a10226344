// autograd/functions/matmul.cpp -- matmul, bmm and linear. One differentiable op, MatMul, multiplies
// [..., M, K] @ [..., K, N] with broadcast batch dims; the 1-D cases of matmul add and remove a dim
// around it with views, and linear is matmul plus a bias.
#include "autograd/functions/matmul.h"

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

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

// x with its leading (batch and row) dims reordered by `order`; the last dim stays last.
Tensor permute_leading(const Tensor& x, std::vector<int64_t> order) {
  order.push_back(x.ndim() - 1);
  return x.permute(order);
}

// C = A @ B for A [..., M, K], B [..., K, N] into c [batch..., M, N], whose columns are adjacent
// (c.stride(-1) == 1 or N == 1) and whose rows and batch dims may have any strides: a fresh
// contiguous output, or a gradient laid out as its input (product_in_layout below).
// beta = 1 adds the product to what c holds (linear's bias).
template <class T> void run_matmul(const Tensor& a, const Tensor& b, Tensor& c, const Shape& batch, int64_t M,
                                   int64_t N, int64_t K, T beta = T(0)) {
  const int nd = c.ndim();
  // B is one matrix and A's batch dims fold into its rows: a single [batch * M, K] @ [K, N] gemm.
  // The rows are taken in C's memory order (A's leading dims permuted alike), so C's rows merge;
  // when A's memory does not allow that (a transposed (L, N, E) activation into a contiguous C, say),
  // A is copied first: the copy costs 1/N of the gemm, and one big gemm runs far faster than
  // batch.numel() small ones of M rows each.
  if (b.ndim() == 2 && a.ndim() > 2) {
    const std::vector<int64_t> order = memory_order(c.strides(), nd - 1);
    const bool in_order = std::is_sorted(order.begin(), order.end());   // always, for a fresh output
    const Tensor c_rows = in_order ? c : permute_leading(c, order), a_perm = in_order ? a : permute_leading(a, order);
    const Tensor a_rows = merged_row_stride(a_perm) ? a_perm : a_perm.contiguous();
    auto ra = merged_row_stride(a_rows), rc = merged_row_stride(c_rows);
    if (ra && rc) {
      int64_t rows = batch.numel() * M;
      if (auto la = blas_layout(rows, K, *ra, a_rows.strides()[nd - 1])) {
        Operand ob = prepare(b, {});
        ATTO_ON_DEVICE(c.device(), gemm<T>, la->trans, ob.layout.trans, rows, N, K, T(1), a_rows.data_ptr<T>(),
                       la->ld, ob.t.data_ptr<T>(), ob.layout.ld, beta, c.data_ptr<T>(), std::max(*rc, N));
        return;
      }
    }
  }
  Operand oa = prepare(a, batch), ob = prepare(b, batch);
  Strides stride_c = Shape::filled(batch.size(), 0);
  for (int d = 0; d < batch.size(); ++d) stride_c[d] = c.strides()[d];
  const int64_t ldc = M <= 1 ? std::max<int64_t>(1, N) : c.strides()[nd - 2];
  cpu::GemmBatch gb{batch, oa.batch_strides, ob.batch_strides, stride_c};
  ATTO_ON_DEVICE(c.device(), gemm_batched<T>, gb, oa.layout.trans, ob.layout.trans, M, N, K, T(1),
                 oa.t.data_ptr<T>(), oa.layout.ld, ob.t.data_ptr<T>(), ob.layout.ld, beta, c.data_ptr<T>(), ldc);
}

Shape batch_of(const Tensor& x) { return Shape(std::span<const int64_t>(x.shape().begin(), x.ndim() - 2)); }
Shape batch_of(const Shape& s) { return Shape(std::span<const int64_t>(s.begin(), s.size() - 2)); }

// c = a @ b for a c of the full [batch..., M, N] shape: a row-major c directly, a column-major
// one (a transposed view) as c^T = b^T @ a^T.
void write_product(const Tensor& a, const Tensor& b, Tensor c) {
  Tensor x = a, y = b;
  if (c.size(-1) > 1 && c.stride(-1) != 1) {
    x = b.transpose(-1, -2);
    y = a.transpose(-1, -2);
    c = c.transpose(-1, -2);
  }
  const int64_t M = x.shape()[x.ndim() - 2], K = x.shape()[x.ndim() - 1], N = y.shape()[y.ndim() - 1];
  if (c.numel() > 0)
    visit_floating(x.dtype(), "matmul", [&](auto tag) {
      run_matmul<decltype(tag)>(x, y, c, batch_of(c), M, N, K);
    });
}

// An input's shape and strides: what a backward needs to lay out the input's gradient.
struct Geometry {
  Shape shape;
  Strides strides;
  Geometry() = default;
  explicit Geometry(const Tensor& t) : shape(t.shape()), strides(t.strides()) {}
  // The product of all dims but the last: the rows of the input seen as one matrix (0 if any is 0,
  // even when the last dim is 0 too).
  int64_t rows() const {
    int64_t n = 1;
    for (int d = 0; d + 1 < shape.size(); ++d) n *= shape[d];
    return n;
  }
};

// The gradient of an input of geometry `like`: x @ y, summed over the batch dims broadcasting
// stretched (sum_to); when none was stretched, written in the input's own memory layout, so a
// transposed or head-split view gets its gradient without a copy on the way back.
Tensor product_in_layout(const Tensor& x, const Tensor& y, const Geometry& like) {
  const Shape& shape = like.shape;
  const Strides& strides = like.strides;
  if (broadcast_shapes(batch_of(x), batch_of(y), "matmul") != batch_of(shape)) return sum_to(matmul(x, y), shape);
  const TensorOptions opts{.dtype = x.dtype(), .device = x.device()};
  Tensor out = empty_with_layout(shape, strides, opts);
  auto adjacent = [&](int64_t d) { return out.size(d) <= 1 || out.stride(d) == 1; };
  if (!adjacent(-1) && !adjacent(-2)) out = empty(shape, opts);   // gemm writes a row- or column-major matrix
  write_product(x, y, out);
  return out;
}

// C = A @ B over broadcast batch dims; A and B have >= 2 dims, checked by the callers.
struct MatMul {
  static constexpr const char* name = "MatmulBackward";
  struct Saved : SavedBase {
    Tensor a, b;   // a is kept only for dB, b only for dA
    Geometry a_geom, b_geom;
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
    s.a_geom = Geometry(a);
    s.b_geom = Geometry(b);
    if (s.needs_input_grad(1)) s.a = a;
    if (s.needs_input_grad(0)) s.b = b;
    return c;
  }
  // forward: C = A @ B  =>  dA = dC @ B^T,  dB = A^T @ dC, each summed over the batch dims that
  // broadcasting stretched. The transposes are views: gemm reads them in place, and writes each
  // gradient in its input's layout (product_in_layout).
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dc) {
    std::array<Tensor, 2> g;
    const Shape &a_shape = s.a_geom.shape, &b_shape = s.b_geom.shape;
    if (s.needs_input_grad(0)) g[0] = product_in_layout(dc, s.b.transpose(-1, -2), s.a_geom);
    if (s.needs_input_grad(1)) {
      if (b_shape.size() == 2 && a_shape.size() > 2) {   // sum over the batch inside one gemm
        const int64_t rows = s.a_geom.rows();            // batch * M
        g[1] = product_in_layout(s.a.reshape({rows, a_shape.back()}).t(), dc.reshape({rows, b_shape.back()}),
                                 s.b_geom);
      } else {
        g[1] = product_in_layout(s.a.transpose(-1, -2), dc, s.b_geom);
      }
    }
    return g;
  }
};

// y = x @ W^T + b, x [..., in], W [out, in], b [out], as one node: y starts as b in every row and
// gemm adds the product to it (beta = 1), PyTorch's addmm -- one pass over y fewer than matmul
// followed by add, and no zeroing of y by BLAS.
struct Addmm {
  static constexpr const char* name = "AddmmBackward";
  struct Saved : SavedBase {
    Tensor x, w;   // x is kept only for dW, w only for dx
    Geometry x_geom, w_geom;
  };
  static Tensor forward(Saved& s, const Tensor& x, const Tensor& w, const Tensor& b) {
    Shape out_shape = x.shape();
    out_shape[out_shape.size() - 1] = w.size(0);
    Tensor y = empty(out_shape, {.dtype = x.dtype(), .device = x.device()});
    y.copy_(b);   // broadcast over the rows
    const int64_t K = x.size(-1), N = w.size(0);
    if (y.numel() > 0) {
      Tensor x2 = x.ndim() >= 2 ? x : x.unsqueeze(0), y2 = x.ndim() >= 2 ? y : y.unsqueeze(0);
      visit_floating(x.dtype(), "linear", [&](auto tag) {
        using T = decltype(tag);
        run_matmul<T>(x2, w.t(), y2, batch_of(y2), x2.size(-2), N, K, T(1));
      });
    }
    s.x_geom = Geometry(x);
    s.w_geom = Geometry(w);
    if (s.needs_input_grad(1)) s.x = x;
    if (s.needs_input_grad(0)) s.w = w;
    return y;
  }
  // dx = dy @ W,  dW = dy^T @ x over all rows,  db = dy summed over all rows.
  static std::array<Tensor, 3> backward(Saved& s, const Tensor& dy) {
    std::array<Tensor, 3> g;
    const int64_t in = s.w_geom.shape[1], out = s.w_geom.shape[0], rows = s.x_geom.rows();
    if (s.needs_input_grad(0)) {
      if (s.x_geom.shape.size() >= 2) g[0] = product_in_layout(dy, s.w, s.x_geom);
      else g[0] = matmul(dy, s.w);   // [out] @ [out, in]
    }
    if (s.needs_input_grad(1))
      g[1] = product_in_layout(dy.reshape({rows, out}).t(), s.x.reshape({rows, in}), s.w_geom);
    if (s.needs_input_grad(2)) g[2] = sum_to(dy, {out});
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
  if (!bias.defined()) return matmul(x, weight.t());
  ATTO_CHECK(bias.ndim() == 1 && bias.shape()[0] == weight.shape()[0],
             "[linear] bias must be [out_features] = [{}], got {} (weight is {})", weight.shape()[0], bias.shape(),
             weight.shape());
  check_operands(x, weight.t(), "linear");
  check_same_device(x, bias, "linear");
  if (bias.dtype() != x.dtype()) return add(matmul(x, weight.t()), bias);   // add promotes the dtypes
  return apply<Addmm>(x, weight, bias);
}

Tensor Tensor::matmul(const Tensor& other) const { return atto::matmul(*this, other); }

}  // namespace atto
