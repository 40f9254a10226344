// tests/cuda/test_fused_attention.cpp -- the fused CUDA attention (cuda/attention.cu, FusedAttention in
// autograd/functions/attention.cpp, NOTE [ Fused attention on CUDA ]) against the composite it
// replaces, run on the GPU (attention_with_weights, which always takes the composite) and on the CPU.
//
// Tolerances: the fused kernels sum the scores, the softmax and the products in another order than
// the composite's matmul/softmax kernels (tile by tile, with an online rescaled softmax), so float32
// results agree to rounding, not bitwise: rtol 1e-4, atol 1e-5 on outputs and gradients of O(1)
// (inputs in [-1, 1], scale 1/sqrt(E)); float64 to 1e-10 / 1e-12.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cuda_test_util.h"

using namespace atto;
using namespace atto::testing;

namespace {

struct Run {
  Tensor out, dq, dk, dv;
  std::string grad_fn;   // the output's backward node: which path ran
};

enum class Path { Fused, Composite };

// out = attention(q, k, v) on `device`, then backward of sum(out * dout): the outputs and the
// gradients of q, k and v (leaves shaped like q0, k0, v0), all back on the CPU. Path::Fused calls
// scaled_dot_product_attention (fused on CUDA where supported), Path::Composite
// attention_with_weights. q_view, if given, turns the q leaf into the q passed (on the device, so a
// non-contiguous view stays one there).
Run run_attention(Path path, Device device, const Tensor& q0, const Tensor& k0, const Tensor& v0, const Tensor& mask0,
                  bool causal, const Tensor& dout0, FullyMaskedRows policy = FullyMaskedRows::Zero,
                  Tensor (*q_view)(const Tensor&) = nullptr) {
  // detach: a fresh leaf, also on the CPU where to() returns the tensor itself.
  Tensor q = q0.detach().to(device).requires_grad_(), k = k0.detach().to(device).requires_grad_();
  Tensor v = v0.detach().to(device).requires_grad_();
  Tensor mask = mask0.defined() ? mask0.to(device) : Tensor();
  Tensor qv = q_view ? q_view(q) : q;
  Tensor out = path == Path::Fused
                   ? scaled_dot_product_attention(qv, k, v, mask, 0.0, causal, std::nullopt, nullptr, policy)
                   : attention_with_weights(qv, k, v, mask, 0.0, causal, std::nullopt, nullptr, policy).output;
  Run r;
  r.grad_fn = out.grad_fn() ? out.grad_fn()->name() : "";
  out.backward(dout0.to(device));
  r.out = out.detach().cpu();
  r.dq = q.grad().cpu();
  r.dk = k.grad().cpu();
  r.dv = v.grad().cpu();
  return r;
}

Tensor abs_max(const Tensor& t) { return max(t.abs()); }

void check_close(const Run& got, const Run& ref, double rtol, double atol) {
  CHECK_ALLCLOSE(got.out, ref.out, rtol, atol);
  CHECK_ALLCLOSE(got.dq, ref.dq, rtol, atol);
  CHECK_ALLCLOSE(got.dk, ref.dk, rtol, atol);
  CHECK_ALLCLOSE(got.dv, ref.dv, rtol, atol);
}

bool all_finite(const Tensor& t) {
  for (double x : t.to_vector<double>())
    if (!std::isfinite(x)) return false;
  return true;
}

// Bool key-padding mask (B, 1, 1, S): batch element b has its last b * 3 keys padded (false), but
// always keeps key 0.
Tensor key_padding_mask(int64_t B, int64_t S) {
  std::vector<double> m(size_t(B * S), 1.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = std::max<int64_t>(1, S - b * 3); j < S; ++j) m[size_t(b * S + j)] = 0.0;
  return from_vector<double>(m, Shape{B, 1, 1, S}).to(kBool);
}

// Additive float mask (B, 1, L, S): biases in [-2, 2], -inf on about a quarter of the entries, and
// query row L / 2 of batch element 0 fully masked (every entry -inf).
Tensor float_mask_with_dead_row(int64_t B, int64_t L, int64_t S, DType dtype, uint64_t seed) {
  std::vector<double> m = uniform({B, 1, L, S}, -2.0, 2.0, seed).to_vector<double>();
  std::vector<double> u = uniform({B, 1, L, S}, 0.0, 1.0, seed + 1).to_vector<double>();
  for (size_t e = 0; e < m.size(); ++e)
    if (u[e] < 0.25 && e % size_t(S) != 0) m[e] = -INFINITY;   // key 0 stays, so only the chosen row is dead
  for (int64_t j = 0; j < S; ++j) m[size_t((L / 2) * S + j)] = -INFINITY;
  return from_vector<double>(m, Shape{B, 1, L, S}).to(dtype);
}

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda: fused attention matches the composite on CUDA and on the CPU with grads of q k v") {
  ATTO_REQUIRE_CUDA();
  const int64_t B = 2, H = 3;
  enum class Mask { None, Causal, KeyPadding, FloatDeadRow };
  uint64_t seed = 100;
  for (DType dtype : {kFloat32, kFloat64}) {
    const double rtol = dtype == kFloat32 ? 1e-4 : 1e-10, atol = dtype == kFloat32 ? 1e-5 : 1e-12;
    for (int64_t T : {1, 37, 130}) {
      for (int64_t D : {16, 64, 80}) {
        for (Mask kind : {Mask::None, Mask::Causal, Mask::KeyPadding, Mask::FloatDeadRow}) {
          const std::string dtype_name = fmt::format("{}", dtype);
          CAPTURE(dtype_name);
          CAPTURE(T);
          CAPTURE(D);
          CAPTURE(int(kind));
          seed += 10;
          Tensor q = uniform({B, H, T, D}, -1, 1, seed, dtype), k = uniform({B, H, T, D}, -1, 1, seed + 1, dtype);
          Tensor v = uniform({B, H, T, D}, -1, 1, seed + 2, dtype), dout = uniform({B, H, T, D}, -1, 1, seed + 3, dtype);
          Tensor mask = kind == Mask::KeyPadding     ? key_padding_mask(B, T)
                        : kind == Mask::FloatDeadRow ? float_mask_with_dead_row(B, T, T, dtype, seed + 4)
                                                     : Tensor();
          const bool causal = kind == Mask::Causal;
          Run fused = run_attention(Path::Fused, kCUDA, q, k, v, mask, causal, dout);
          CHECK(fused.grad_fn == std::string("FusedAttentionBackward"));
          Run gpu = run_attention(Path::Composite, kCUDA, q, k, v, mask, causal, dout);
          Run cpu = run_attention(Path::Composite, kCPU, q, k, v, mask, causal, dout);
          check_close(fused, gpu, rtol, atol);
          check_close(fused, cpu, rtol, atol);
          for (const Tensor* t : {&fused.out, &fused.dq, &fused.dk, &fused.dv}) CHECK(all_finite(*t));
          if (kind == Mask::FloatDeadRow) {   // NOTE [ Fully masked rows ]: that row's output is 0
            Tensor dead = fused.out.select(0, 0).select(1, T / 2);   // (H, D)
            CHECK(abs_max(dead).item<double>() == 0.0);
            CHECK(abs_max(fused.dq.select(0, 0).select(1, T / 2)).item<double>() == 0.0);
          }
        }
      }
    }
  }
}

TEST_CASE("cuda: fused attention with L != S, Ev != E, broadcast k v and non-contiguous q") {
  ATTO_REQUIRE_CUDA();
  const int64_t B = 2, H = 3, L = 45, S = 70, E = 24, Ev = 40;
  // The q leaf is (B, L, H, E), passed as its transposed view (B, H, L, E); k and v are shared by the
  // heads (B, 1, S, .), so their gradients sum over the heads.
  Tensor q = uniform({B, L, H, E}, -1, 1, 1, kFloat32);
  Tensor k = uniform({B, 1, S, E}, -1, 1, 2, kFloat32), v = uniform({B, 1, S, Ev}, -1, 1, 3, kFloat32);
  Tensor dout = uniform({B, H, L, Ev}, -1, 1, 4, kFloat32);
  auto heads_second = [](const Tensor& t) { return t.transpose(1, 2); };
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    Run fused = run_attention(Path::Fused, kCUDA, q, k, v, {}, causal, dout, FullyMaskedRows::Zero, heads_second);
    CHECK(fused.grad_fn == std::string("FusedAttentionBackward"));
    Run cpu = run_attention(Path::Composite, kCPU, q, k, v, {}, causal, dout, FullyMaskedRows::Zero, heads_second);
    CHECK(fused.dk.shape() == Shape{B, 1, S, E});
    check_close(fused, cpu, 1e-4, 1e-5);
  }
  // A mask (L, S) broadcast over batch and heads, and a custom scale.
  Tensor mask = gt(uniform({L, S}, 0, 1, 5), 0.3);
  Tensor qc = q.to(kCUDA).transpose(1, 2), kc = k.to(kCUDA), vc = v.to(kCUDA);
  Tensor fused = scaled_dot_product_attention(qc, kc, vc, mask.to(kCUDA), 0.0, false, 0.3);
  Tensor ref = attention_with_weights(q.transpose(1, 2), k, v, mask, 0.0, false, 0.3).output;
  CHECK_ALLCLOSE(fused, ref, 1e-4, 1e-5);
}

TEST_CASE("cuda: fused attention backward is deterministic") {
  ATTO_REQUIRE_CUDA();
  Tensor q = uniform({2, 3, 130, 64}, -1, 1, 7, kFloat32), k = uniform({2, 3, 130, 64}, -1, 1, 8, kFloat32);
  Tensor v = uniform({2, 3, 130, 64}, -1, 1, 9, kFloat32), dout = uniform({2, 3, 130, 64}, -1, 1, 10, kFloat32);
  Run a = run_attention(Path::Fused, kCUDA, q, k, v, {}, true, dout);
  Run b = run_attention(Path::Fused, kCUDA, q, k, v, {}, true, dout);
  CHECK(a.out.to_vector<float>() == b.out.to_vector<float>());
  CHECK(a.dq.to_vector<float>() == b.dq.to_vector<float>());
  CHECK(a.dk.to_vector<float>() == b.dk.to_vector<float>());
  CHECK(a.dv.to_vector<float>() == b.dv.to_vector<float>());
}

TEST_CASE("cuda: attention falls back to the composite where the fused kernels do not apply") {
  ATTO_REQUIRE_CUDA();
  Tensor q = uniform({2, 5, 8}, -1, 1, 11, kFloat32), k = uniform({2, 6, 8}, -1, 1, 12, kFloat32);
  Tensor v = uniform({2, 6, 8}, -1, 1, 13, kFloat32), dout = uniform({2, 5, 8}, -1, 1, 14, kFloat32);
  // The NaN policy with a mask: a fully masked row is NaN, as the plain softmax gives.
  Tensor mask = ones({2, 5, 6}, {.dtype = kBool});
  mask.select(0, 1).select(0, 2).fill_(0.0);
  Run nan_policy = run_attention(Path::Fused, kCUDA, q, k, v, mask, false, dout, FullyMaskedRows::NaN);
  CHECK(nan_policy.grad_fn != std::string("FusedAttentionBackward"));
  CHECK(std::isnan(nan_policy.out.select(0, 1).select(0, 2).select(0, 0).item<double>()));
  // Head dim above 128.
  Tensor qw = uniform({1, 4, 130}, -1, 1, 15, kFloat32), kw = uniform({1, 4, 130}, -1, 1, 16, kFloat32);
  Run wide = run_attention(Path::Fused, kCUDA, qw, kw, kw, {}, false, uniform({1, 4, 130}, -1, 1, 17, kFloat32));
  CHECK(wide.grad_fn != std::string("FusedAttentionBackward"));
  // Dropout.
  Tensor qd = q.to(kCUDA).requires_grad_();
  Tensor out = scaled_dot_product_attention(qd, k.to(kCUDA), v.to(kCUDA), {}, 0.5);
  CHECK(std::string(out.grad_fn()->name()) != "FusedAttentionBackward");
  // A float mask that requires grad gets its gradient from the composite.
  Tensor bias = zeros({5, 6}).to(kCUDA).requires_grad_();
  Tensor ob = scaled_dot_product_attention(q.to(kCUDA), k.to(kCUDA), v.to(kCUDA), bias);
  ob.backward(dout.to(kCUDA));
  CHECK(bias.grad().defined());
}

}  // TEST_SUITE("cuda")
