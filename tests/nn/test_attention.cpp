// tests/nn/test_attention.cpp -- nn::MultiheadAttention at parity with PyTorch 1.13
// (tools/gen_ref_mha.py): outputs, attention weights and the gradients of inputs and parameters.
#include "reference/mha.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::mha;

namespace {

using Refs = std::vector<std::pair<std::string, const RefTensor*>>;

// Loads PyTorch's parameters into m, runs it in dtype dt on the given inputs (made leaves), and
// backpropagates sum(out * Rout) + sum(weights * Rw) (Rw when need_weights).
struct Run {
  std::vector<Tensor> inputs;
  AttentionOutput result;
};
Run run_mha(nn::MultiheadAttention& m, DType dt, const Refs& params, const std::vector<const RefTensor*>& inputs,
            const Tensor& kpm, const Tensor& mask, bool need_weights, bool average, const RefTensor& Rout,
            const RefTensor* Rw) {
  m.to(dt);
  StateDict sd;
  for (auto& [name, r] : params) sd.insert(name, r->tensor(dt));
  m.load_state_dict(sd);
  m.zero_grad();
  Run run;
  for (auto* r : inputs) run.inputs.push_back(r->tensor(dt).requires_grad_(true));
  const Tensor& q = run.inputs[0];
  const Tensor& k = run.inputs.size() > 1 ? run.inputs[1] : q;
  const Tensor& v = run.inputs.size() > 2 ? run.inputs[2] : q;
  run.result = m(q, k, v, kpm, need_weights, mask.defined() && mask.is_floating_point() ? mask.to(dt) : mask, average);
  Tensor loss = sum(run.result.output * Rout.tensor(dt));
  if (Rw) loss = loss + sum(run.result.weights * Rw->tensor(dt));
  loss.backward();
  return run;
}

void check_grads(nn::Module& m, const Run& run, const std::vector<const RefTensor*>& dinputs, const Refs& dparams,
                 double rtol) {
  for (size_t i = 0; i < dinputs.size(); ++i) {
    CAPTURE(i);
    CHECK_ALLCLOSE(run.inputs[i].grad(), dinputs[i]->values, rtol, 1e-5);
  }
  auto named = m.named_parameters();
  REQUIRE(named.size() == dparams.size());
  for (auto& [name, r] : dparams) {
    CAPTURE(name);
    CHECK_ALLCLOSE(named.at(name).grad(), r->values, rtol, 1e-5);
  }
}

double rtol_of(DType dt) { return dt == kFloat32 ? 1e-5 : 1e-10; }

}  // namespace

TEST_CASE("MultiheadAttention self-attention with padding and causal bool masks matches PyTorch") {
  nn::MultiheadAttention m(8, 2);
  CHECK(m.named_parameters().keys() ==
        std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  Refs params{{"in_proj_weight", &R::self_in_proj_weight}, {"in_proj_bias", &R::self_in_proj_bias},
              {"out_proj.weight", &R::self_out_proj_weight}, {"out_proj.bias", &R::self_out_proj_bias}};
  Refs dparams{{"in_proj_weight", &R::self_din_proj_weight}, {"in_proj_bias", &R::self_din_proj_bias},
               {"out_proj.weight", &R::self_dout_proj_weight}, {"out_proj.bias", &R::self_dout_proj_bias}};
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(dtype_name(dt));
    Run run = run_mha(m, dt, params, {&R::self_x}, R::self_kpm.tensor(kBool), R::self_mask.tensor(kBool), true, true,
                      R::self_R, &R::self_Rw);
    CHECK(run.result.weights.shape() == Shape{3, 5, 5});
    CHECK_ALLCLOSE(run.result.output, R::self_out.values, rtol_of(dt), 1e-6);
    CHECK_ALLCLOSE(run.result.weights, R::self_weights.values, rtol_of(dt), 1e-6);
    check_grads(m, run, {&R::self_dx}, dparams, rtol_of(dt));
  }
  // is_causal builds the same causal mask
  m.to(kFloat64);
  Tensor x = R::self_x.tensor();
  auto r = m(x, x, x, R::self_kpm.tensor(kBool), true, {}, true, /*is_causal=*/true);
  CHECK_ALLCLOSE(r.output, R::self_out.values, 1e-10, 1e-10);
}

TEST_CASE("MultiheadAttention with kdim and vdim uses separate projections and matches PyTorch") {
  nn::MultiheadAttentionOptions o{.embed_dim = 8, .num_heads = 2, .kdim = 6, .vdim = 7};
  nn::MultiheadAttention m(o);
  CHECK(m.named_parameters().keys() == std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                                "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  CHECK(m.k_proj_weight.shape() == Shape{8, 6});
  Refs params{{"q_proj_weight", &R::cross_q_proj_weight},   {"k_proj_weight", &R::cross_k_proj_weight},
              {"v_proj_weight", &R::cross_v_proj_weight},   {"in_proj_bias", &R::cross_in_proj_bias},
              {"out_proj.weight", &R::cross_out_proj_weight}, {"out_proj.bias", &R::cross_out_proj_bias}};
  Refs dparams{{"q_proj_weight", &R::cross_dq_proj_weight},   {"k_proj_weight", &R::cross_dk_proj_weight},
               {"v_proj_weight", &R::cross_dv_proj_weight},   {"in_proj_bias", &R::cross_din_proj_bias},
               {"out_proj.weight", &R::cross_dout_proj_weight}, {"out_proj.bias", &R::cross_dout_proj_bias}};
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(dtype_name(dt));
    Run run = run_mha(m, dt, params, {&R::cross_query, &R::cross_key, &R::cross_value}, {}, R::cross_mask.tensor(),
                      true, /*average=*/false, R::cross_R, &R::cross_Rw);
    CHECK(run.result.weights.shape() == Shape{3, 2, 4, 5});
    CHECK_ALLCLOSE(run.result.output, R::cross_out.values, rtol_of(dt), 1e-6);
    CHECK_ALLCLOSE(run.result.weights, R::cross_weights.values, rtol_of(dt), 1e-6);
    check_grads(m, run, {&R::cross_dquery, &R::cross_dkey, &R::cross_dvalue}, dparams, rtol_of(dt));
  }
}

TEST_CASE("MultiheadAttention batch_first without bias and need_weights false matches PyTorch") {
  nn::MultiheadAttentionOptions o{.embed_dim = 8, .num_heads = 2, .bias = false, .batch_first = true};
  nn::MultiheadAttention m(o);
  CHECK(m.named_parameters().keys() == std::vector<std::string>{"in_proj_weight", "out_proj.weight"});
  Refs params{{"in_proj_weight", &R::bf_in_proj_weight}, {"out_proj.weight", &R::bf_out_proj_weight}};
  Refs dparams{{"in_proj_weight", &R::bf_din_proj_weight}, {"out_proj.weight", &R::bf_dout_proj_weight}};
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(dtype_name(dt));
    Run run = run_mha(m, dt, params, {&R::bf_query, &R::bf_key, &R::bf_value}, R::bf_kpm.tensor(kBool),
                      R::bf_mask.tensor(), /*need_weights=*/false, true, R::bf_R, nullptr);
    CHECK_FALSE(run.result.weights.defined());
    CHECK(run.result.output.shape() == Shape{3, 4, 8});
    CHECK_ALLCLOSE(run.result.output, R::bf_out.values, rtol_of(dt), 1e-6);
    check_grads(m, run, {&R::bf_dquery, &R::bf_dkey, &R::bf_dvalue}, dparams, rtol_of(dt));
  }
}

TEST_CASE("MultiheadAttention fully masked rows give NaN as PyTorch 1.13 or zero weights on request") {
  nn::MultiheadAttention m(8, 2);
  m.to(kFloat64);
  StateDict sd;
  sd.insert("in_proj_weight", R::dead_in_proj_weight.tensor());
  sd.insert("in_proj_bias", R::dead_in_proj_bias.tensor());
  sd.insert("out_proj.weight", R::dead_out_proj_weight.tensor());
  sd.insert("out_proj.bias", R::dead_out_proj_bias.tensor());
  m.load_state_dict(sd);
  Tensor x = R::dead_x.tensor(), kpm = R::dead_kpm.tensor(kBool);
  auto r = m(x, x, x, kpm);
  CHECK_ALLCLOSE(r.output, R::dead_out.values, 1e-10, 1e-10);   // NaN exactly where PyTorch has NaN
  CHECK_ALLCLOSE(r.weights, R::dead_weights.values, 1e-10, 1e-10);
  // Zero policy: batch element 1's weights are 0 and its output rows are out_proj.bias; the others
  // are PyTorch's.
  m.options.fully_masked_rows = FullyMaskedRows::Zero;
  auto z = m(x, x, x, kpm);
  CHECK(z.weights.select(0, 1).abs().sum().item() == 0.0);
  Tensor bias_rows = m.out_proj->bias.unsqueeze(0).expand({5, 8});
  CHECK_ALLCLOSE(z.output.select(1, 1), bias_rows.to_vector<double>(), 0.0, 0.0);
  CHECK_ALLCLOSE(z.output.select(1, 0), r.output.select(1, 0).to_vector<double>(), 1e-12, 1e-12);
  Tensor xg = x.detach().requires_grad_(true);
  sum(m(xg, xg, xg, kpm).output).backward();
  CHECK(std::isfinite(xg.grad().abs().sum().item()));
}

TEST_CASE("MultiheadAttention unbatched input and default init follow PyTorch") {
  manual_seed(2);
  nn::MultiheadAttention m(8, 2);
  CHECK(m.in_proj_bias.abs().sum().item() == 0.0);
  CHECK(m.out_proj->bias.abs().sum().item() == 0.0);
  double a = std::sqrt(6.0 / (8 + 24));   // xavier_uniform_ on (3E, E)
  CHECK(max(m.in_proj_weight.abs()).item() <= a);
  CHECK(max(m.in_proj_weight.abs()).item() > 0.8 * a);
  // an unbatched (L, E) input is the batch of one, squeezed
  Tensor x = testing::uniform({5, 8}, -1, 1, 4, kFloat32);
  auto u = m(x, x, x, {}, true, {}, /*average=*/false);
  auto b = m(x.unsqueeze(1), x.unsqueeze(1), x.unsqueeze(1), {}, true, {}, false);
  CHECK(u.output.shape() == Shape{5, 8});
  CHECK(u.weights.shape() == Shape{2, 5, 5});
  CHECK_ALLCLOSE(u.output, b.output.squeeze(1).to_vector<double>(), 0.0, 0.0);
  CHECK_ALLCLOSE(u.weights, b.weights.squeeze(0).to_vector<double>(), 0.0, 0.0);
}

TEST_CASE("MultiheadAttention dropout drops the returned weights as PyTorch") {
  nn::MultiheadAttentionOptions o{.embed_dim = 8, .num_heads = 2, .dropout = 0.5};
  nn::MultiheadAttention m(o);
  m.to(kFloat64);
  Tensor x = testing::uniform({6, 2, 8}, -1, 1, 9, kFloat64);
  m.eval();
  Tensor w0 = m(x, x, x, {}, true, {}, false).weights;
  m.train();
  manual_seed(7);
  Tensor w1 = m(x, x, x, {}, true, {}, false).weights;
  // every weight is dropped (0) or kept and scaled by 1 / (1 - p) = 2
  Tensor kept = ne(w1, 0.0);
  CHECK_ALLCLOSE(where(kept, w1, 0.0), where(kept, w0 * 2.0, 0.0).to_vector<double>(), 1e-12, 1e-12);
  double frac = kept.to(kFloat64).mean().item();
  CHECK(frac > 0.3);
  CHECK(frac < 0.7);
  // and the output is computed from these dropped weights: with p = 1 only out_proj.bias is left
  m.options.dropout = 1.0;
  auto r = m(x, x, x);
  CHECK(r.weights.abs().sum().item() == 0.0);
  CHECK_ALLCLOSE(r.output, m.out_proj->bias.expand({6, 2, 8}).to_vector<double>(), 0.0, 0.0);
}

TEST_CASE("MultiheadAttention gradcheck in float64 on a non-contiguous query") {
  nn::MultiheadAttentionOptions o{.embed_dim = 4, .num_heads = 2, .kdim = 3, .vdim = 5};
  nn::MultiheadAttention m(o);
  m.to(kFloat64);
  Tensor q = testing::uniform({4, 2, 3}, -1, 1, 11, kFloat64).transpose(0, 2).requires_grad_(true);   // (3, 2, 4)
  Tensor k = testing::uniform({5, 2, 3}, -1, 1, 12, kFloat64).requires_grad_(true);
  Tensor v = testing::uniform({5, 2, 5}, -1, 1, 13, kFloat64).requires_grad_(true);
  Tensor mask = testing::uniform({3, 5}, -1, 1, 14, kFloat64);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return m(in[0], in[1], in[2], {}, true, mask).weights; },
                  std::vector<Tensor>{q, k, v});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return m(in[0], in[1], in[2], {}, false, mask).output; },
                  std::vector<Tensor>{q, k, v});
}

TEST_CASE("MultiheadAttention bad input names the module and shows the shapes") {
  CHECK_THROWS_WITH_AS(nn::MultiheadAttention(6, 4), doctest::Contains("[MultiheadAttention] embed_dim 6"), atto::Error);
  nn::MultiheadAttention m(8, 2);
  Tensor x = zeros({5, 3, 8});
  CHECK_THROWS_WITH_AS(m(zeros({5, 3, 7}), x, x), doctest::Contains("[MultiheadAttention] expected last dims"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(m(x, x, x, zeros({3, 4}, {.dtype = kBool})),
                       doctest::Contains("key_padding_mask must be (N, S) = (3, 5), got [3, 4]"), atto::Error);
  CHECK_THROWS_WITH_AS(m(x, x, x, {}, true, zeros({5, 4})), doctest::Contains("attn_mask must be (L, S)"), atto::Error);
  CHECK_THROWS_WITH_AS(m(x, zeros({4, 3, 8}), x), doctest::Contains("[MultiheadAttention] key and value"), atto::Error);
}
