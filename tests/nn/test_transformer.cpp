// tests/nn/test_transformer.cpp -- nn::TransformerEncoderLayer / TransformerEncoder at parity with
// PyTorch 1.13 (tools/gen_ref_transformer.py), post-norm and pre-norm, dropout 0.
#include "reference/transformer.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::transformer;

namespace {

// The parameters' values, or gradients, are stored concatenated in named_parameters() order.
void load_flat(nn::Module& m, const RefTensor& flat, const RefTensor& numels, DType dt) {
  auto named = m.named_parameters();
  REQUIRE(named.size() == numels.values.size());
  StateDict sd;
  size_t at = 0, i = 0;
  for (auto& [name, p] : named) {
    REQUIRE(p.numel() == int64_t(numels.values[i++]));
    std::vector<double> v(flat.values.begin() + at, flat.values.begin() + at + p.numel());
    sd.insert(name, from_vector<double>(v, p.shape()).to(dt));
    at += size_t(p.numel());
  }
  m.load_state_dict(sd);
}

void check_encoder(nn::TransformerEncoder& enc, const RefTensor& x, const RefTensor& mask, const RefTensor& kpm,
                   const RefTensor& y, const RefTensor& Rr, const RefTensor& dx, const RefTensor& params,
                   const RefTensor& dparams, const RefTensor& numels) {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(dtype_name(dt));
    double rtol = dt == kFloat32 ? 1e-5 : 1e-10;
    enc.to(dt);
    load_flat(enc, params, numels, dt);
    enc.zero_grad();
    Tensor in = x.tensor(dt).requires_grad_(true);
    Tensor out = enc(in, mask.tensor(dt), kpm.tensor(kBool));
    CHECK_ALLCLOSE(out, y.values, rtol, 1e-6);
    sum(out * Rr.tensor(dt)).backward();
    CHECK_ALLCLOSE(in.grad(), dx.values, rtol, 1e-5);
    size_t at = 0;
    for (auto& [name, p] : enc.named_parameters()) {
      CAPTURE(name);
      std::vector<double> g(dparams.values.begin() + at, dparams.values.begin() + at + p.numel());
      CHECK_ALLCLOSE(p.grad(), g, rtol, 1e-5);
      at += size_t(p.numel());
    }
  }
}

}  // namespace

TEST_CASE("TransformerEncoder post-norm with relu matches PyTorch") {
  nn::TransformerEncoderLayerOptions o{.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 0.0};
  nn::TransformerEncoder enc(o, 2, std::make_shared<nn::LayerNorm>(8));
  auto names = enc.named_parameters().keys();
  REQUIRE(names.size() == 26);
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 12) ==
        std::vector<std::string>{"layers.0.self_attn.in_proj_weight", "layers.0.self_attn.in_proj_bias",
                                 "layers.0.self_attn.out_proj.weight", "layers.0.self_attn.out_proj.bias",
                                 "layers.0.linear1.weight", "layers.0.linear1.bias", "layers.0.linear2.weight",
                                 "layers.0.linear2.bias", "layers.0.norm1.weight", "layers.0.norm1.bias",
                                 "layers.0.norm2.weight", "layers.0.norm2.bias"});
  CHECK(names.back() == "norm.bias");
  // like PyTorch's deep copies, every layer starts with the same weights
  CHECK_ALLCLOSE(enc.layer(1)->linear1->weight, enc.layer(0)->linear1->weight.to_vector<double>(), 0.0, 0.0);
  check_encoder(enc, R::post_x, R::post_mask, R::post_kpm, R::post_y, R::post_R, R::post_dx, R::post_params,
                R::post_dparams, R::post_numels);
}

TEST_CASE("TransformerEncoder pre-norm with gelu and batch_first matches PyTorch") {
  nn::TransformerEncoderLayerOptions o{.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 0.0,
                                       .activation = nn::Activation::GELU, .batch_first = true, .norm_first = true};
  nn::TransformerEncoder enc([&] { return std::make_shared<nn::TransformerEncoderLayer>(o); }, 2,
                             std::make_shared<nn::LayerNorm>(8));
  check_encoder(enc, R::pre_x, R::pre_mask, R::pre_kpm, R::pre_y, R::pre_R, R::pre_dx, R::pre_params, R::pre_dparams,
                R::pre_numels);
}

TEST_CASE("TransformerEncoder detects a causal mask and runs the causal softmax with the masked result's bits") {
  const int64_t L = 6;
  Tensor hidden = gt(arange(double(L), {.dtype = kInt64}), arange(double(L), {.dtype = kInt64}).unsqueeze(1));
  Tensor bool_mask = hidden;                                                      // true above the diagonal
  Tensor float_mask = masked_fill(zeros({L, L}, {.dtype = kFloat32}), hidden, -INFINITY);
  CHECK(nn::is_causal_mask(bool_mask));
  CHECK(nn::is_causal_mask(float_mask));
  CHECK(nn::is_causal_mask(float_mask.to(kFloat64)));
  Tensor flipped = bool_mask.clone();
  flipped.copy_(logical_or(bool_mask, eq(arange(double(L * L), {.dtype = kInt64}).reshape({L, L}), 7)));   // (1, 1)
  CHECK_FALSE(nn::is_causal_mask(flipped));
  CHECK_FALSE(nn::is_causal_mask(logical_not(bool_mask)));
  CHECK_FALSE(nn::is_causal_mask(bool_mask.narrow(1, 0, L - 1)));
  CHECK_FALSE(nn::is_causal_mask(float_mask.clone().requires_grad_()));
  CHECK_FALSE(nn::is_causal_mask(Tensor()));

  nn::TransformerEncoderLayerOptions o{.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 0.0,
                                       .activation = nn::Activation::GELU, .batch_first = true, .norm_first = true};
  nn::TransformerEncoder enc(o, 2);
  for (const Tensor& mask : {bool_mask, float_mask}) {
    CAPTURE(mask.dtype());
    auto run = [&](std::optional<bool> is_causal) {
      enc.zero_grad();
      Tensor x = testing::uniform({3, L, 8}, -1, 1, 11, kFloat32).requires_grad_();
      Tensor y = enc(x, mask, {}, is_causal);
      const bool causal_softmax_ran = print_graph(y).find("CausalSoftmaxBackward") != std::string::npos;
      CHECK(causal_softmax_ran == is_causal.value_or(true));
      sum(y * testing::uniform({3, L, 8}, -1, 1, 12, kFloat32)).backward();
      std::vector<Tensor> r{y.detach(), x.grad()};
      for (auto& [name, p] : enc.named_parameters()) r.push_back(p.grad().clone());
      return r;
    };
    std::vector<Tensor> detected = run(std::nullopt), masked = run(false);
    REQUIRE(detected.size() == masked.size());
    for (size_t i = 0; i < detected.size(); ++i) CHECK_ALLCLOSE(detected[i], masked[i].to_vector<double>(), 0.0, 0.0);
  }
}

TEST_CASE("TransformerEncoderLayer children dropout and errors") {
  nn::TransformerEncoderLayer layer({.d_model = 8, .nhead = 2, .dim_feedforward = 16});
  std::vector<std::string> children;
  for (auto& [name, m] : layer.named_children()) children.push_back(name);
  CHECK(children == std::vector<std::string>{"self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1",
                                             "dropout2"});
  Tensor x = testing::uniform({5, 3, 8}, -1, 1, 3, kFloat32);
  layer.eval();   // dropout off: deterministic
  CHECK_ALLCLOSE(layer(x), layer(x).to_vector<double>(), 0.0, 0.0);
  layer.train();   // dropout 0.1 on: differs from eval
  manual_seed(5);
  Tensor a = layer(x);
  layer.eval();
  CHECK_FALSE(testing::allclose(a, layer(x).to_vector<double>(), 1e-3, 1e-3));
  CHECK_THROWS_WITH_AS(layer(zeros({5, 3, 7})), doctest::Contains("[MultiheadAttention]"), atto::Error);
  CHECK_THROWS_WITH_AS(nn::TransformerEncoder(nn::TransformerEncoderLayerOptions{.d_model = 8, .nhead = 2}, 0),
                       doctest::Contains("[TransformerEncoder] num_layers"), atto::Error);
}
