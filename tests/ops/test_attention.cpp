// tests/ops/test_attention.cpp -- scaled dot-product, additive and cosine attention: outputs, weights
// and gradients vs explicit float64 PyTorch references (tools/gen_ref_attention.py), gradcheck, dropout
// with a fixed generator, fully masked rows, non-contiguous and broadcast inputs, errors.
#include <cmath>

#include "reference/attention.h"
#include "test_util.h"

using namespace atto;
namespace A = ref::attention;

namespace {

struct SdpaCase {
  const char* name;
  const RefTensor &q, &k, &v;
  const RefTensor* mask;   // null: none
  bool causal;
  std::optional<double> scale;
  const RefTensor &out, &weights, &gout, &gq, &gk, &gv;
};

std::vector<SdpaCase> sdpa_cases() {
#define ATTO_CASE(n, mask, causal, scale)                                                                           \
  SdpaCase {                                                                                                        \
    #n, A::n##_q, A::n##_k, A::n##_v, mask, causal, scale, A::n##_out, A::n##_weights, A::n##_gout, A::n##_gq,   \
        A::n##_gk, A::n##_gv                                                                                        \
  }
  return {
      ATTO_CASE(nomask, nullptr, false, std::nullopt),
      ATTO_CASE(boolmask, &A::boolmask_mask, false, std::nullopt),
      ATTO_CASE(floatmask, &A::floatmask_mask, false, std::nullopt),
      ATTO_CASE(causal, nullptr, true, std::nullopt),
      ATTO_CASE(causal_tall, nullptr, true, std::nullopt),
      ATTO_CASE(causal_wide, nullptr, true, std::nullopt),
      ATTO_CASE(bcast, nullptr, false, std::nullopt),
      ATTO_CASE(scale, nullptr, false, 0.3),
      ATTO_CASE(fullmask, &A::fullmask_mask, false, std::nullopt),
      ATTO_CASE(fullmask_float, &A::fullmask_float_mask, false, std::nullopt),
  };
#undef ATTO_CASE
}

// A reference mask in the dtype the functions expect: bool masks are stored as 0/1.
Tensor mask_of(const RefTensor* r, DType dt, bool is_bool) {
  if (!r) return {};
  return r->tensor(is_bool ? kBool : dt);
}
bool is_bool_case(const SdpaCase& c) {
  return c.mask == &A::boolmask_mask || c.mask == &A::fullmask_mask;
}

Tensor leaf(const RefTensor& r, DType dt) { return r.tensor(dt).requires_grad_(); }

bool all_finite(const Tensor& t) {
  for (double x : t.to_vector<double>())
    if (!std::isfinite(x)) return false;
  return true;
}

}  // namespace

TEST_CASE("scaled_dot_product_attention matches PyTorch outputs and gradients in float64 and float32") {
  for (const SdpaCase& c : sdpa_cases()) {
    for (DType dt : {kFloat64, kFloat32}) {
      const std::string name = c.name;
      CAPTURE(name);
      CAPTURE(dt);
      const double rtol = dt == kFloat64 ? 1e-10 : 1e-5, atol = dt == kFloat64 ? 1e-12 : 1e-6;
      Tensor q = leaf(c.q, dt), k = leaf(c.k, dt), v = leaf(c.v, dt);
      Tensor mask = mask_of(c.mask, dt, is_bool_case(c));
      AttentionOutput r = attention_with_weights(q, k, v, mask, 0.0, c.causal, c.scale);
      CHECK(r.output.dtype() == dt);
      CHECK_ALLCLOSE(r.output, c.out.tensor(), rtol, atol);
      CHECK_ALLCLOSE(r.weights, c.weights.tensor(), rtol, atol);
      r.output.backward(c.gout.tensor(dt));
      CHECK_ALLCLOSE(q.grad(), c.gq.tensor(), rtol, atol);
      CHECK_ALLCLOSE(k.grad(), c.gk.tensor(), rtol, atol);
      CHECK_ALLCLOSE(v.grad(), c.gv.tensor(), rtol, atol);
      // The output-only form is the same computation.
      CHECK(scaled_dot_product_attention(q, k, v, mask, 0.0, c.causal, c.scale).to_vector<double>() ==
            r.output.to_vector<double>());
    }
  }
}

TEST_CASE("scaled_dot_product_attention passes gradcheck in every configuration") {
  for (const SdpaCase& c : sdpa_cases()) {
    const std::string name = c.name;
    CAPTURE(name);
    Tensor mask = mask_of(c.mask, kFloat64, is_bool_case(c));
    CHECK_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return scaled_dot_product_attention(in[0], in[1], in[2], mask, 0.0, c.causal, c.scale);
        },
        {c.q.tensor(), c.k.tensor(), c.v.tensor()});
  }
}

TEST_CASE("scaled_dot_product_attention reads non-contiguous q k v") {
  // Same values, transposed storage: q and k as .transpose views of their transposes, v sliced.
  Tensor q = A::boolmask_q.tensor().transpose(-2, -1).contiguous().transpose(-2, -1);
  Tensor k = A::boolmask_k.tensor().transpose(0, 1).contiguous().transpose(0, 1);
  Tensor v2 = cat({A::boolmask_v.tensor(), A::boolmask_v.tensor()}, -1);
  Tensor v = v2.slice(-1, 0, v2.size(-1) / 2);
  REQUIRE_FALSE(q.is_contiguous());
  REQUIRE_FALSE(k.is_contiguous());
  REQUIRE_FALSE(v.is_contiguous());
  Tensor mask = A::boolmask_mask.tensor(kBool).t().contiguous().t();   // a non-contiguous mask too
  CHECK_ALLCLOSE(scaled_dot_product_attention(q, k, v, mask), A::boolmask_out.tensor(), 1e-10, 1e-12);
  CHECK_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0].transpose(-2, -1), in[1], in[2].slice(-1, 0, 6), mask);
      },
      {A::boolmask_q.tensor().transpose(-2, -1).contiguous(), A::boolmask_k.tensor(), v2});
}

TEST_CASE("scaled_dot_product_attention with dropout is reproducible and equals weights times mask over keep") {
  Tensor q = A::nomask_q.tensor(), k = A::nomask_k.tensor(), v = A::nomask_v.tensor();
  const double p = 0.4;
  Generator g(1234);
  const GeneratorState start = g.get_state();
  AttentionOutput a = attention_with_weights(q, k, v, {}, p, false, std::nullopt, &g);
  g.set_state(start);
  Tensor b = scaled_dot_product_attention(q, k, v, {}, p, false, std::nullopt, &g);
  CHECK(a.output.to_vector<double>() == b.to_vector<double>());

  // By hand: the same draw as a 0/1 bernoulli(1 - p) mask of the weights' shape.
  g.set_state(start);
  Tensor keep = bernoulli(1.0 - p, a.weights.shape(), {.dtype = kFloat64}, &g);
  Tensor w = attention_with_weights(q, k, v).weights;
  CHECK(a.weights.to_vector<double>() == w.to_vector<double>());   // weights are taken before dropout
  CHECK_ALLCLOSE(a.output, matmul(w * keep / (1.0 - p), v), 1e-12, 1e-14);
  // The draw dropped something and kept something, so the test tells dropout from no dropout.
  const double kept = sum(keep).item<double>();
  CHECK(kept > 0);
  CHECK(kept < double(keep.numel()));

  // Gradients go through the same mask: a fresh generator with one seed per call keeps it fixed.
  CHECK_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        Generator gen(99);
        return scaled_dot_product_attention(in[0], in[1], in[2], {}, p, false, std::nullopt, &gen);
      },
      {q, k, v});
}

TEST_CASE("fully masked rows give zero weights and output and no NaN gradients by default") {
  for (bool float_mask : {false, true}) {
    CAPTURE(float_mask);
    const RefTensor& mref = float_mask ? A::fullmask_float_mask : A::fullmask_mask;
    Tensor q = leaf(A::fullmask_q, kFloat64), k = leaf(A::fullmask_k, kFloat64), v = leaf(A::fullmask_v, kFloat64);
    Tensor mask = mref.tensor(float_mask ? kFloat64 : kBool);
    AttentionOutput r = attention_with_weights(q, k, v, mask);
    // Row 1 of batch 0 sees no key: exactly 0, as PyTorch >= 2.5.
    CHECK(r.weights.select(0, 0).select(0, 1).to_vector<double>() == std::vector<double>(5, 0.0));
    CHECK(r.output.select(0, 0).select(0, 1).to_vector<double>() == std::vector<double>(6, 0.0));
    r.output.backward(A::fullmask_gout.tensor());
    CHECK(all_finite(q.grad()));
    CHECK(all_finite(k.grad()));
    CHECK(all_finite(v.grad()));
    CHECK(q.grad().select(0, 0).select(0, 1).to_vector<double>() == std::vector<double>(4, 0.0));

    // FullyMaskedRows::NaN reproduces the plain softmax of PyTorch 1.13: NaN in that row only.
    Tensor nan_out = scaled_dot_product_attention(q.detach(), k.detach(), v.detach(), mask, 0.0, false, std::nullopt,
                                                  nullptr, FullyMaskedRows::NaN);
    CHECK_ALLCLOSE(nan_out, A::fullmask_out_nan.tensor(), 1e-10, 1e-12);
    CHECK(std::isnan(nan_out.at({0, 1, 0})));
  }
}

TEST_CASE("a large finite negative mask is an ordinary softmax not a masked row") {
  // -1e9 everywhere in a row shifts all its scores equally: the weights are the unmasked row's.
  Tensor q = A::nomask_q.tensor(), k = A::nomask_k.tensor(), v = A::nomask_v.tensor();
  Tensor mask = zeros({2, 3, 5}, {.dtype = kFloat64});
  mask.select(0, 1).select(0, 2).fill_(-1e9);
  AttentionOutput r = attention_with_weights(q, k, v, mask);
  CHECK_ALLCLOSE(r.weights, A::nomask_weights.tensor(), 1e-6, 1e-9);
  CHECK(all_finite(r.output));
}

TEST_CASE("scaled_dot_product_attention rejects bad input with messages naming the op and the shapes") {
  Tensor q = zeros({2, 3, 4}), k = zeros({2, 5, 4}), v = zeros({2, 5, 6});
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, zeros({2, 5, 3}), v),
                       doctest::Contains("[scaled_dot_product_attention] q's last dim 4 must equal k's last dim 3: "
                                         "q [2, 3, 4] k [2, 5, 3]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, zeros({2, 4, 6})),
                       doctest::Contains("k [2, 5, 4] v [2, 4, 6]"), atto::Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, v, ones({3, 4}, {.dtype = kBool})),
                       doctest::Contains("attn_mask of shape [3, 4] is not broadcastable to the attention scores' "
                                         "shape [2, 3, 5]"),
                       atto::Error);
  // A mask that would enlarge the result is refused too (PyTorch adds it in place).
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, v, ones({4, 2, 3, 5}, {.dtype = kBool})),
                       doctest::Contains("[scaled_dot_product_attention] attn_mask of shape [4, 2, 3, 5]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, v, zeros({3, 5}, {.dtype = kInt64})),
                       doctest::Contains("must be bool or float32"), atto::Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, v, ones({3, 5}, {.dtype = kBool}), 0.0, true),
                       doctest::Contains("[scaled_dot_product_attention] pass either attn_mask"), atto::Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(zeros({3, 3, 4}), k, v),
                       doctest::Contains("[scaled_dot_product_attention] batch dims do not broadcast: shapes [3, 3, 4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k.to(kFloat64), v),
                       doctest::Contains("[scaled_dot_product_attention] q and k must share"), atto::Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(zeros({4}), k, v),
                       doctest::Contains("[scaled_dot_product_attention] q, k, v need at least 2 dims"), atto::Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, v, {}, 1.5),
                       doctest::Contains("[scaled_dot_product_attention] dropout_p must be in [0, 1]"), atto::Error);
}

// ---- additive (Bahdanau) attention ---------------------------------------------------------------------

namespace {

struct AdditiveCase {
  const char* name;
  const RefTensor *in[6], *mask, *ctx, *weights, *gout, *grads[6];
};

std::vector<AdditiveCase> additive_cases() {
  return {
      {"add",
       {&A::add_query, &A::add_keys, &A::add_values, &A::add_wq, &A::add_wk, &A::add_va},
       nullptr, &A::add_ctx, &A::add_weights, &A::add_gout,
       {&A::add_gquery, &A::add_gkeys, &A::add_gvalues, &A::add_gwq, &A::add_gwk, &A::add_gva}},
      {"add_masked",
       {&A::add_masked_query, &A::add_masked_keys, &A::add_masked_values, &A::add_masked_wq, &A::add_masked_wk,
        &A::add_masked_va},
       &A::add_masked_mask, &A::add_masked_ctx, &A::add_masked_weights, &A::add_masked_gout,
       {&A::add_masked_gquery, &A::add_masked_gkeys, &A::add_masked_gvalues, &A::add_masked_gwq, &A::add_masked_gwk,
        &A::add_masked_gva}},
  };
}

}  // namespace

TEST_CASE("additive_attention matches PyTorch outputs and gradients in float64 and float32") {
  for (const AdditiveCase& c : additive_cases()) {
    for (DType dt : {kFloat64, kFloat32}) {
      const std::string name = c.name;
      CAPTURE(name);
      CAPTURE(dt);
      const double rtol = dt == kFloat64 ? 1e-10 : 1e-5, atol = dt == kFloat64 ? 1e-12 : 1e-6;
      std::vector<Tensor> x;
      for (const RefTensor* r : c.in) x.push_back(leaf(*r, dt));
      Tensor mask = c.mask ? c.mask->tensor(kBool) : Tensor();
      AttentionOutput r = additive_attention(x[0], x[1], x[2], x[3], x[4], x[5], mask);
      CHECK_ALLCLOSE(r.output, c.ctx->tensor(), rtol, atol);
      CHECK_ALLCLOSE(r.weights, c.weights->tensor(), rtol, atol);
      r.output.backward(c.gout->tensor(dt));
      for (int i = 0; i < 6; ++i) {
        CAPTURE(i);
        CHECK_ALLCLOSE(x[i].grad(), c.grads[i]->tensor(), rtol, atol);
      }
      // The projected form is the same computation.
      AttentionOutput p = additive_attention_projected(linear(x[0], x[3]), linear(x[1], x[4]), x[2], x[5], mask);
      CHECK(p.output.to_vector<double>() == r.output.to_vector<double>());
    }
  }
  // Batch entry 2 of the masked case sees no key: context and weights 0.
  AttentionOutput m = additive_attention(A::add_masked_query.tensor(), A::add_masked_keys.tensor(),
                                         A::add_masked_values.tensor(), A::add_masked_wq.tensor(),
                                         A::add_masked_wk.tensor(), A::add_masked_va.tensor(),
                                         A::add_masked_mask.tensor(kBool));
  CHECK(m.output[2].to_vector<double>() == std::vector<double>(2, 0.0));
  CHECK(m.weights[2].to_vector<double>() == std::vector<double>(5, 0.0));
}

TEST_CASE("additive_attention passes gradcheck with and without a mask") {
  for (const AdditiveCase& c : additive_cases()) {
    const std::string name = c.name;
    CAPTURE(name);
    Tensor mask = c.mask ? c.mask->tensor(kBool) : Tensor();
    std::vector<Tensor> x;
    for (const RefTensor* r : c.in) x.push_back(r->tensor());
    CHECK_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return additive_attention(in[0], in[1], in[2], in[3], in[4], in[5], mask).output;
        },
        x);
    CHECK_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return additive_attention(in[0], in[1], in[2], in[3], in[4], in[5], mask).weights;
        },
        x);
  }
}

TEST_CASE("additive_attention broadcasts several queries over shared keys and reads non-contiguous keys") {
  Tensor query = A::add_query.tensor(), keys = A::add_keys.tensor(), values = A::add_values.tensor();
  Tensor wq = A::add_wq.tensor(), wk = A::add_wk.tensor(), va = A::add_va.tensor();
  // Two identical "queries per batch entry": query (2, B, Dq) against keys (1, B, S, Dk).
  AttentionOutput r = additive_attention(stack({query, query}), keys.unsqueeze(0), values.unsqueeze(0), wq, wk, va);
  CHECK(r.output.shape() == Shape({2, 3, 2}));
  CHECK_ALLCLOSE(r.output[0], A::add_ctx.tensor(), 1e-10, 1e-12);
  CHECK_ALLCLOSE(r.output[1], A::add_ctx.tensor(), 1e-10, 1e-12);
  Tensor keys_nc = keys.transpose(0, 1).contiguous().transpose(0, 1);
  REQUIRE_FALSE(keys_nc.is_contiguous());
  CHECK_ALLCLOSE(additive_attention(query, keys_nc, values, wq, wk, va).output, A::add_ctx.tensor(), 1e-10, 1e-12);
}

TEST_CASE("additive_attention rejects bad input with messages naming the op and the shapes") {
  Tensor query = zeros({3, 4}), keys = zeros({3, 5, 6}), values = zeros({3, 5, 2});
  Tensor wq = zeros({7, 4}), wk = zeros({7, 6}), va = zeros({7});
  CHECK_THROWS_WITH_AS(additive_attention(query, keys, values, zeros({7, 5}), wk, va),
                       doctest::Contains("[additive_attention] w_q [7, 5] must be (H, Dq) for query [3, 4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(additive_attention(query, keys, values, wq, wk, zeros({6})),
                       doctest::Contains("[additive_attention] the projected query [3, 7] and keys [3, 5, 7] must"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(additive_attention(query, keys, zeros({3, 4, 2}), wq, wk, va),
                       doctest::Contains("[additive_attention] keys [3, 5, 6] and values [3, 4, 2]"), atto::Error);
  CHECK_THROWS_WITH_AS(additive_attention(query, keys, values, wq, wk, va, ones({3, 4}, {.dtype = kBool})),
                       doctest::Contains("[additive_attention] mask of shape [3, 4] is not broadcastable"),
                       atto::Error);
}

// ---- cosine-similarity attention ----------------------------------------------------------------------------

TEST_CASE("cosine_attention matches PyTorch outputs and gradients in float64 and float32") {
  struct Case {
    const char* name;
    double temperature;
    const RefTensor *mask, *out, *weights, *gout, *gq, *gk, *gv;
  };
  const std::vector<Case> cases = {
      {"cos", 0.5, nullptr, &A::cos_out, &A::cos_weights, &A::cos_gout, &A::cos_gquery, &A::cos_gkeys,
       &A::cos_gvalues},
      {"cos_masked", 0.2, &A::cos_masked_mask, &A::cos_masked_out, &A::cos_masked_weights, &A::cos_masked_gout,
       &A::cos_masked_gquery, &A::cos_masked_gkeys, &A::cos_masked_gvalues},
  };
  for (const Case& c : cases) {
    for (DType dt : {kFloat64, kFloat32}) {
      const std::string name = c.name;
      CAPTURE(name);
      CAPTURE(dt);
      const double rtol = dt == kFloat64 ? 1e-10 : 1e-5, atol = dt == kFloat64 ? 1e-12 : 1e-6;
      Tensor q = leaf(A::cos_query, dt), k = leaf(A::cos_keys, dt), v = leaf(A::cos_values, dt);
      Tensor mask = c.mask ? c.mask->tensor(kBool) : Tensor();
      AttentionOutput r = cosine_attention(q, k, v, c.temperature, mask);
      CHECK_ALLCLOSE(r.output, c.out->tensor(), rtol, atol);
      CHECK_ALLCLOSE(r.weights, c.weights->tensor(), rtol, atol);
      r.output.backward(c.gout->tensor(dt));
      CHECK_ALLCLOSE(q.grad(), c.gq->tensor(), rtol, atol);
      CHECK_ALLCLOSE(k.grad(), c.gk->tensor(), rtol, atol);
      CHECK_ALLCLOSE(v.grad(), c.gv->tensor(), rtol, atol);
      if (c.mask) {   // query 1 sees no key: output 0 in both batch entries
        CHECK(r.output.select(1, 1).to_vector<double>() == std::vector<double>(12, 0.0));
        CHECK(all_finite(q.grad()));
      }
    }
    Tensor mask = c.mask ? c.mask->tensor(kBool) : Tensor();
    CHECK_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return cosine_attention(in[0], in[1], in[2], c.temperature, mask).output; },
        {A::cos_query.tensor(), A::cos_keys.tensor(), A::cos_values.tensor()});
  }
}

TEST_CASE("cosine_attention broadcasts batch dims and reads a transposed query") {
  Tensor q = A::cos_query.tensor(), k = A::cos_keys.tensor(), v = A::cos_values.tensor();
  // values (1, 2, 5, 6) broadcast against query/keys (2, ...): output (1, 2, 3, 6).
  AttentionOutput r = cosine_attention(q.transpose(-2, -1).contiguous().transpose(-2, -1), k, v.unsqueeze(0), 0.5);
  CHECK(r.output.shape() == Shape({1, 2, 3, 6}));
  CHECK_ALLCLOSE(r.output[0], A::cos_out.tensor(), 1e-10, 1e-12);
}

TEST_CASE("cosine_attention rejects bad input with messages naming the op and the shapes") {
  Tensor q = zeros({2, 3, 4}), k = zeros({2, 5, 4}), v = zeros({2, 5, 6});
  CHECK_THROWS_WITH_AS(cosine_attention(q, zeros({2, 5, 3}), v),
                       doctest::Contains("[cosine_attention] query's last dim 4 must equal keys' last dim 3: query "
                                         "[2, 3, 4] keys [2, 5, 3]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(cosine_attention(q, k, v, 0.0), doctest::Contains("[cosine_attention] temperature must be > 0"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(cosine_attention(q, k, v, 1.0, ones({2, 3}, {.dtype = kBool})),
                       doctest::Contains("[cosine_attention] mask of shape [2, 3] is not broadcastable to the "
                                         "attention scores' shape [2, 3, 5]"),
                       atto::Error);
}
