// tests/ops/test_matmul.cpp -- matmul / bmm / linear against PyTorch (tools/gen_ref_matmul.py),
// gradcheck, strided and broadcast operands, the built-in gemm against the naive reference, thread
// determinism, errors.
#include <algorithm>
#include <numeric>

#include "reference/matmul.h"
#include "tensor/cpu/gemm.h"
#include "test_util.h"

using namespace atto;
using atto::testing::uniform;

namespace {

struct Case {
  const char* name;
  const RefTensor &a, &b, &out, &out32, &w, &ga, &gb;
};

#define ATTO_REF_CASE(n)                                                                                          \
  Case {                                                                                                          \
    #n, ref::matmul::n##_a, ref::matmul::n##_b, ref::matmul::n##_out, ref::matmul::n##_out32, ref::matmul::n##_w, \
        ref::matmul::n##_grad0, ref::matmul::n##_grad1                                                            \
  }

const std::vector<Case>& matmul_cases() {
  static const std::vector<Case> cases = {
      ATTO_REF_CASE(dot),       ATTO_REF_CASE(vec_mat),   ATTO_REF_CASE(mat_vec),   ATTO_REF_CASE(mm),
      ATTO_REF_CASE(vec_batch), ATTO_REF_CASE(batch_vec), ATTO_REF_CASE(mat_batch), ATTO_REF_CASE(batch_mat),
      ATTO_REF_CASE(batch),     ATTO_REF_CASE(bcast4x3),  ATTO_REF_CASE(bcast_ones),
  };
  return cases;
}

// Restores the thread count a test changed.
struct ThreadGuard {
  int saved = get_num_threads();
  ~ThreadGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("matmul forward matches PyTorch for every rank combination in float32 and float64") {
  for (const Case& c : matmul_cases()) {
    CAPTURE(c.name);
    Tensor y64 = matmul(c.a.tensor(), c.b.tensor());
    CHECK(y64.shape() == Shape(c.out.shape));
    CHECK(y64.dtype() == kFloat64);
    CHECK_ALLCLOSE(y64, c.out.values, 1e-12, 1e-12);
    Tensor y32 = c.a.tensor(kFloat32).matmul(c.b.tensor(kFloat32));
    CHECK(y32.dtype() == kFloat32);
    CHECK(y32.shape() == Shape(c.out.shape));
    CHECK_ALLCLOSE(y32, c.out32.values);
  }
}

TEST_CASE("matmul gradients match PyTorch for every rank combination") {
  for (const Case& c : matmul_cases()) {
    CAPTURE(c.name);
    Tensor a = c.a.tensor().requires_grad_(), b = c.b.tensor().requires_grad_();
    (matmul(a, b) * c.w.tensor()).sum().backward();
    CHECK(a.grad().shape() == a.shape());
    CHECK(b.grad().shape() == b.shape());
    CHECK_ALLCLOSE(a.grad(), c.ga.values, 1e-12, 1e-12);
    CHECK_ALLCLOSE(b.grad(), c.gb.values, 1e-12, 1e-12);
  }
}

TEST_CASE("matmul gradcheck in float64 for every rank combination") {
  for (const Case& c : matmul_cases()) {
    CAPTURE(c.name);
    Tensor a = uniform(Shape(c.a.shape), -1, 1, 1), b = uniform(Shape(c.b.shape), -1, 1, 2);
    CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
  }
}

TEST_CASE("bmm and linear match PyTorch and pass gradcheck") {
  using namespace ref::matmul;
  {
    Tensor a = bmm_a.tensor().requires_grad_(), b = bmm_b.tensor().requires_grad_();
    Tensor y = bmm(a, b);
    CHECK_ALLCLOSE(y, bmm_out.values, 1e-12, 1e-12);
    CHECK_ALLCLOSE(bmm(bmm_a.tensor(kFloat32), bmm_b.tensor(kFloat32)), bmm_out32.values);
    (y * bmm_w.tensor()).sum().backward();
    CHECK_ALLCLOSE(a.grad(), bmm_grad0.values, 1e-12, 1e-12);
    CHECK_ALLCLOSE(b.grad(), bmm_grad1.values, 1e-12, 1e-12);
    CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return bmm(in[0], in[1]); },
                    {uniform({3, 2, 4}, -1, 1, 3), uniform({3, 4, 5}, -1, 1, 4)});
  }
  {
    Tensor x = linear_a.tensor().requires_grad_(), w = linear_b.tensor().requires_grad_();
    Tensor bias = linear_bias.tensor().requires_grad_();
    Tensor y = linear(x, w, bias);
    CHECK_ALLCLOSE(y, linear_out.values, 1e-12, 1e-12);
    CHECK_ALLCLOSE(linear(linear_a.tensor(kFloat32), linear_b.tensor(kFloat32), linear_bias.tensor(kFloat32)),
                   linear_out32.values);
    (y * linear_w.tensor()).sum().backward();
    CHECK_ALLCLOSE(x.grad(), linear_grad0.values, 1e-12, 1e-12);
    CHECK_ALLCLOSE(w.grad(), linear_grad1.values, 1e-12, 1e-12);
    CHECK_ALLCLOSE(bias.grad(), linear_grad2.values, 1e-12, 1e-12);
    CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                    {uniform({2, 3, 4}, -1, 1, 5), uniform({5, 4}, -1, 1, 6), uniform({5}, -1, 1, 7)});
    CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); },
                    {uniform({4}, -1, 1, 8), uniform({3, 4}, -1, 1, 9)});
    // With a bias, one node (the bias is gemm's starting C): a 1-d input, a transposed 3-d one.
    CHECK(std::string(y.grad_fn()->name()) == "AddmmBackward");
    CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                    {uniform({4}, -1, 1, 10), uniform({3, 4}, -1, 1, 11), uniform({3}, -1, 1, 12)});
    CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0].transpose(0, 1), in[1], in[2]); },
                    {uniform({3, 2, 4}, -1, 1, 13), uniform({5, 4}, -1, 1, 14), uniform({5}, -1, 1, 15)});
    Tensor xt = uniform({3, 2, 4}, -1, 1, 16).transpose(0, 1), wt = uniform({5, 4}, -1, 1, 17);
    Tensor bt = uniform({5}, -1, 1, 18);
    CHECK_ALLCLOSE(linear(xt, wt, bt), add(matmul(xt, wt.t()), bt), 1e-14, 1e-14);
  }
}

TEST_CASE("transposed and strided operands give the contiguous result") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(dt);
    Tensor a = uniform({6, 5}, -1, 1, 10, dt), b = uniform({5, 7}, -1, 1, 11, dt);
    Tensor want = matmul(a, b);
    Tensor at = a.t().contiguous().t(), bt = b.t().contiguous().t();   // column-major: the transpose flag
    CHECK_FALSE(at.is_contiguous());
    CHECK_ALLCLOSE(matmul(at, b), want);
    CHECK_ALLCLOSE(matmul(a, bt), want);
    CHECK_ALLCLOSE(matmul(at, bt), want);
    // Every other row and column: both strides > 1, the one layout that is copied.
    Tensor big = uniform({12, 10}, -1, 1, 12, dt);
    Tensor s = big.slice(0, 0, 12, 2).slice(1, 0, 10, 2);
    CHECK_ALLCLOSE(matmul(s, b), matmul(s.contiguous(), b));
    // A row-sliced matrix keeps unit column stride with ld > K.
    Tensor rows = big.slice(1, 2, 7);
    CHECK_ALLCLOSE(matmul(rows, b), matmul(rows.contiguous(), b));
    // An expanded (stride-0) matrix.
    Tensor e = uniform({1, 5}, -1, 1, 13, dt).expand({6, 5});
    CHECK_ALLCLOSE(matmul(e, b), matmul(e.contiguous(), b));
    // Batched: transposed inner matrices, a permuted batch, a sliced batch.
    Tensor A = uniform({3, 5, 4}, -1, 1, 14, dt), B = uniform({3, 5, 6}, -1, 1, 15, dt);
    CHECK_ALLCLOSE(matmul(A.transpose(1, 2), B), matmul(A.transpose(1, 2).contiguous(), B));
    Tensor P = uniform({4, 3, 5}, -1, 1, 16, dt).permute({1, 0, 2});   // [3, 4, 5], batch stride 5
    CHECK_ALLCLOSE(matmul(P, B), matmul(P.contiguous(), B));
    CHECK_ALLCLOSE(matmul(P, b), matmul(P.contiguous(), b));   // batch and rows do not merge: b is broadcast
    Tensor Q = uniform({6, 4, 5}, -1, 1, 17, dt).slice(0, 0, 6, 2);     // batch stride 40
    CHECK_ALLCLOSE(matmul(Q, b), matmul(Q.contiguous(), b));
    CHECK_ALLCLOSE(bmm(Q, B), bmm(Q.contiguous(), B));
  }
}

TEST_CASE("broadcast batch dims read the same matrix without copying it and match the expanded result") {
  Tensor a = uniform({2, 1, 3, 4}, -1, 1, 20), b = uniform({5, 4, 2}, -1, 1, 21);
  Tensor y = matmul(a, b);
  CHECK(y.shape() == Shape{2, 5, 3, 2});
  CHECK_ALLCLOSE(y, matmul(a.expand({2, 5, 3, 4}).contiguous(), b.expand({2, 5, 4, 2}).contiguous()));
  // A user's expand (stride-0 batch) with a transposed matrix inside.
  Tensor m = uniform({4, 3}, -1, 1, 22);
  Tensor e = m.t().expand({5, 3, 4});
  CHECK_ALLCLOSE(matmul(e, b), matmul(e.contiguous(), b));
  // Gradients of broadcast operands are summed back to their shapes.
  Tensor ag = a.detach().requires_grad_(), bg = b.detach().requires_grad_();
  matmul(ag, bg).sum().backward();
  Tensor ae = a.expand({2, 5, 3, 4}).contiguous().requires_grad_();
  Tensor be = b.expand({2, 5, 4, 2}).contiguous().requires_grad_();
  matmul(ae, be).sum().backward();
  CHECK_ALLCLOSE(ag.grad(), ae.grad().sum({1}, true), 1e-12, 1e-12);
  CHECK_ALLCLOSE(bg.grad(), be.grad().sum({0}), 1e-12, 1e-12);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return matmul(in[0].t().expand({5, 3, 4}), in[1]); },
                  {m, b});
}

TEST_CASE("matmul writes each gradient in its input's memory layout, with the contiguous operands' values") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(dt);
    // Head-split views as MultiheadAttention makes them: (N, L, H * hd) -> q (N, H, L, hd), and k
    // (N, S, H * hd) -> k^T (N, H, hd, S); plus a linear layer on a transposed (L, N, E) activation.
    Tensor qs = uniform({2, 5, 12}, -1, 1, 40, dt), ks = uniform({2, 6, 12}, -1, 1, 41, dt);
    Tensor xs = uniform({3, 4, 6}, -1, 1, 42, dt), w = uniform({5, 6}, -1, 1, 43, dt);
    auto run = [&](bool contiguous_operands) {
      Tensor qg = qs.detach().requires_grad_(), kg = ks.detach().requires_grad_();
      Tensor xg = xs.detach().requires_grad_(), wg = w.detach().requires_grad_();
      Tensor q = qg.reshape({2, 5, 3, 4}).permute({0, 2, 1, 3});    // (2, 3, 5, 4)
      Tensor kt = kg.reshape({2, 6, 3, 4}).permute({0, 2, 3, 1});   // (2, 3, 4, 6)
      Tensor x = xg.transpose(0, 1);                                 // (4, 3, 6), memory (3, 4, 6)
      Tensor wt = wg.t();                                            // (6, 5), column-major
      if (contiguous_operands) {
        q = q.contiguous();
        kt = kt.contiguous();
        x = x.contiguous();
        wt = wt.contiguous();
      }
      std::vector<Strides> seen;   // the layouts of dq, dk^T, dx and dw^T as matmul's backward made them
      for (Tensor t : {q, kt, x, wt}) t.register_hook([&seen](const Tensor& g) {
        seen.push_back(g.strides());
        return Tensor();
      });
      Tensor y1 = matmul(q, kt), y2 = matmul(x, wt);
      (mul(y1, uniform(y1.shape(), -1, 1, 44, dt)).sum() + mul(y2, uniform(y2.shape(), -1, 1, 45, dt)).sum())
          .backward();
      if (!contiguous_operands) {
        REQUIRE(seen.size() == 4);
        for (Tensor t : {q, kt, x, wt})
          CHECK(std::find(seen.begin(), seen.end(), t.strides()) != seen.end());
      }
      return std::vector<Tensor>{qg.grad(), kg.grad(), xg.grad(), wg.grad()};
    };
    std::vector<Tensor> views = run(false), copies = run(true);
    for (int i = 0; i < 4; ++i) CHECK_ALLCLOSE(views[i], copies[i], 1e-12, 1e-12);
  }
  // The layout of a fresh buffer: a permutation of dense memory is kept, anything else is contiguous.
  Tensor p = empty({4, 3, 5}).permute({2, 0, 1});
  CHECK(empty_with_layout(p.shape(), p.strides(), {}).strides() == p.strides());
  Tensor sliced = empty({4, 6}).slice(1, 0, 6, 2), expanded = empty({1, 5}).expand({3, 5});
  CHECK(empty_with_layout(sliced.shape(), sliced.strides(), {}).is_contiguous());
  CHECK(empty_with_layout(expanded.shape(), expanded.strides(), {}).is_contiguous());
}

TEST_CASE("a gradient that is not needed is not computed") {
  Tensor a = uniform({3, 4}, -1, 1, 30).requires_grad_(), b = uniform({4, 2}, -1, 1, 31);
  matmul(a, b).sum().backward();
  CHECK(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
  Tensor c = uniform({2, 3, 4}, -1, 1, 32), d = uniform({4, 2}, -1, 1, 33).requires_grad_();
  Tensor y = matmul(c, d);
  CHECK(std::string(y.grad_fn()->name()) == "MatmulBackward");
  y.sum().backward();
  CHECK_FALSE(c.grad().defined());
  CHECK_ALLCLOSE(d.grad(), matmul(c.reshape({6, 4}).t(), ones({6, 2}, {.dtype = kFloat64})), 1e-12, 1e-12);
}

TEST_CASE("empty operands give empty or zero results") {
  Tensor y = matmul(zeros({2, 0}), zeros({0, 3}));
  CHECK(y.shape() == Shape{2, 3});
  CHECK(y.to_vector<float>() == std::vector<float>(6, 0.0f));
  CHECK(matmul(zeros({0, 4}), zeros({4, 3})).shape() == Shape{0, 3});
  CHECK(matmul(zeros({2, 0, 4}), zeros({4, 3})).shape() == Shape{2, 0, 3});
  Tensor a = zeros({2, 3, 0}, {.requires_grad = true}), b = zeros({0, 5}, {.requires_grad = true});
  matmul(a, b).sum().backward();
  CHECK(a.grad().shape() == a.shape());
  CHECK(b.grad().shape() == b.shape());
}

// ---- the kernels ------------------------------------------------------------------------------------

namespace {

// op(A) M x K and op(B) K x N from a random buffer with row padding (ld > row length).
template <class T> void check_blocked_vs_naive(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, T beta) {
  int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
  auto buf = [](int64_t n, uint64_t seed) {
    return uniform({n}, -1, 1, seed, dtype_of<T>()).template to_vector<T>();
  };
  std::vector<T> A = buf((ta ? K : M) * lda, 40), B = buf((tb ? N : K) * ldb, 41), C0 = buf(M * ldc, 42);
  std::vector<T> C1 = C0, C2 = C0;
  cpu::gemm_blocked<T>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C1.data(), ldc);
  cpu::gemm_naive<T>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C2.data(), ldc);
  // Float sums over K in a different grouping: the bound scales with sqrt(K) * eps * sum |a||b|.
  double tol = (std::is_same_v<T, float> ? 1e-5 : 1e-13) * std::sqrt(double(K + 1));
  int bad = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      size_t at = size_t(i * ldc + j);
      if (j >= N) {   // the padding column must be left alone
        bad += C1[at] != C0[at];
        continue;
      }
      bad += !(std::abs(double(C1[at]) - double(C2[at])) <= tol * (1 + std::abs(double(C2[at]))) * 4);
    }
  CHECK_MESSAGE(bad == 0, fmt::format("ta={} tb={} M={} N={} K={}: {} bad elements", ta, tb, M, N, K, bad));
}

}  // namespace

TEST_CASE("the built-in blocked gemm matches the naive reference on awkward sizes") {
  const int64_t sizes[] = {1, 7, 37, 129};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t M : sizes)
        for (int64_t N : sizes)
          for (int64_t K : sizes) {
            check_blocked_vs_naive<float>(ta, tb, M, N, K, 1.0f, 0.0f);
            if (M == N || N == K) check_blocked_vs_naive<double>(ta, tb, M, N, K, 0.5, -1.5);
          }
  // Past every blocking size (KC = 256, MC = 64, NC = 512) and with C kept (beta = 1).
  check_blocked_vs_naive<float>(false, true, 70, 530, 300, 2.0f, 1.0f);
  check_blocked_vs_naive<double>(true, false, 130, 520, 260, 1.0, 0.0);
  check_blocked_vs_naive<float>(false, false, 3, 600, 20, 1.0f, 0.0f);   // short and wide: column split
}

TEST_CASE("beta = 0 overwrites NaNs in C in both gemms") {
  std::vector<float> A(6, 1.0f), B(6, 2.0f);
  for (auto* fn : {&cpu::gemm<float>, &cpu::gemm_blocked<float>}) {
    std::vector<float> C(4, NAN);
    fn(false, false, 2, 2, 3, 1.0f, A.data(), 3, B.data(), 2, 0.0f, C.data(), 2);
    CHECK(C == std::vector<float>(4, 6.0f));
  }
}

TEST_CASE("results are bitwise identical with 1 and 2 threads") {
  ThreadGuard guard;
  auto run = [](int threads) {
    set_num_threads(threads);
    std::vector<std::vector<float>> outs;
    Tensor a = uniform({300, 200}, -1, 1, 50, kFloat32), b = uniform({200, 250}, -1, 1, 51, kFloat32);
    outs.push_back(matmul(a, b).to_vector<float>());
    outs.push_back(matmul(a.t().contiguous().t(), b).to_vector<float>());
    Tensor A = uniform({16, 40, 30}, -1, 1, 52, kFloat32), B = uniform({16, 30, 20}, -1, 1, 53, kFloat32);
    outs.push_back(matmul(A, B).to_vector<float>());
    Tensor a2 = uniform({2, 130, 150}, -1, 1, 54, kFloat32), b2 = uniform({2, 150, 140}, -1, 1, 55, kFloat32);
    outs.push_back(bmm(a2, b2).to_vector<float>());
    // Backward too: dB sums over the folded batch inside one gemm.
    Tensor x = uniform({8, 64, 100}, -1, 1, 56, kFloat32), w = uniform({100, 90}, -1, 1, 57, kFloat32);
    w.requires_grad_();
    matmul(x, w).sum().backward();
    outs.push_back(w.grad().to_vector<float>());
    // The built-in kernel directly, large enough to be threaded both ways (rows and columns).
    for (auto [M, N, K] : {std::array<int64_t, 3>{257, 130, 300}, std::array<int64_t, 3>{5, 900, 200}}) {
      std::vector<float> Av = uniform({M * K}, -1, 1, 58, kFloat32).to_vector<float>();
      std::vector<float> Bv = uniform({K * N}, -1, 1, 59, kFloat32).to_vector<float>();
      std::vector<float> C(size_t(M * N));
      cpu::gemm_blocked<float>(false, false, M, N, K, 1.0f, Av.data(), K, Bv.data(), N, 0.0f, C.data(), N);
      outs.push_back(C);
    }
    return outs;
  };
  auto one = run(1), two = run(2);
  REQUIRE(one.size() == two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(one[i] == two[i]);
  }
}

TEST_CASE("matmul errors name the op and show the shapes") {
  Tensor a = zeros({2, 3}), b = zeros({4, 5});
  CHECK_THROWS_WITH_AS(matmul(a, b), "[matmul] inner dims differ: a is [2, 3], b is [4, 5] (a's last dim 3 != b's dim -2 4)",
                       atto::Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({3}), zeros({4})), doctest::Contains("[matmul] inner dims differ: a is [3], b is [4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(matmul(scalar_tensor(2.0), zeros({3})), doctest::Contains("[matmul] both arguments need at least 1 dim"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({3}), scalar_tensor(2.0)), doctest::Contains("got a [3] and b []"), atto::Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3, 4}), zeros({5, 4, 2})),
                       doctest::Contains("[matmul] batch dims do not broadcast: a is [2, 3, 4], b is [5, 4, 2]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}), zeros({3, 2}, {.dtype = kFloat64})),
                       doctest::Contains("[matmul] dtypes differ: a is [2, 3] float32, b is [3, 2] float64"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}, {.dtype = kInt64}), zeros({3, 2}, {.dtype = kInt64})),
                       doctest::Contains("[matmul] expects float32 or float64"), atto::Error);
  CHECK_THROWS_WITH_AS(bmm(zeros({2, 3}), zeros({3, 2})), doctest::Contains("[bmm] expects two 3-D tensors"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(bmm(zeros({2, 2, 3}), zeros({1, 3, 2})),
                       doctest::Contains("[bmm] batch sizes differ: a is [2, 2, 3], b is [1, 3, 2]"), atto::Error);
  CHECK_THROWS_WITH_AS(bmm(zeros({2, 2, 3}), zeros({2, 4, 2})), doctest::Contains("[bmm] inner dims differ"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(linear(zeros({2, 3}), zeros({4, 5})),
                       doctest::Contains("[linear] input's last dim must equal in_features: input is [2, 3], weight is [4, 5]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(linear(zeros({2, 3}), zeros({3})), doctest::Contains("[linear] weight must be 2-D"), atto::Error);
  CHECK_THROWS_WITH_AS(linear(zeros({2, 3}), zeros({4, 3}), zeros({3})),
                       doctest::Contains("[linear] bias must be [out_features] = [4], got [3]"), atto::Error);
}
