// tests/nn/test_module.cpp -- the Module base (names, state dicts, modes, dtype, printing, hooks)
// and the everyday layers at parity with PyTorch (tools/gen_ref_nn_layers.py).
#include "reference/nn_layers.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::nn_layers;

namespace {

// Loads PyTorch's parameters, runs forward in float32 and float64, backpropagates sum(y * R) and
// compares the output, dx and every parameter gradient with PyTorch's.
void check_parity(nn::Module& m, const std::vector<std::pair<std::string, const RefTensor*>>& params, const RefTensor& x,
                  const RefTensor& y, const RefTensor& R, const RefTensor* dx,
                  const std::vector<std::pair<std::string, const RefTensor*>>& grads, DType input_dtype = kFloat64) {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(dtype_name(dt));
    m.to(dt);
    StateDict sd;
    for (auto& [name, r] : params) sd.insert(name, r->tensor(dt));
    m.load_state_dict(sd);
    m.zero_grad();
    Tensor in = x.tensor(input_dtype == kInt64 ? kInt64 : dt);
    if (dx) in.requires_grad_(true);
    Tensor out = m(in);
    double rtol = dt == kFloat32 ? 1e-5 : 1e-10;
    CHECK_ALLCLOSE(out, y.values, rtol, 1e-6);
    sum(out * R.tensor(dt)).backward();
    if (dx) CHECK_ALLCLOSE(in.grad(), dx->values, rtol, 1e-5);
    auto named = m.named_parameters();
    for (auto& [name, r] : grads) {
      CAPTURE(name);
      CHECK_ALLCLOSE(named.at(name).grad(), r->values, rtol, 1e-5);
    }
  }
}

struct Mlp : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::Sequential> head;
  Mlp() : nn::Module("Mlp") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(4, 8));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(8, 3, /*bias=*/false));
    head = register_module("head", std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
                                        std::make_shared<nn::LayerNorm>(3), std::make_shared<nn::Dropout>(0.1)}));
    register_buffer("steps", zeros({1}, {.dtype = kInt64}));
  }
  Tensor forward(const Tensor& x) override { return (*head)((*fc2)(relu((*fc1)(x)))); }
};

}  // namespace

TEST_CASE("Linear matches PyTorch forward and backward") {
  nn::Linear lin(5, 3);
  check_parity(lin, {{"weight", &R::linear_weight}, {"bias", &R::linear_bias}}, R::linear_x, R::linear_y, R::linear_R,
               &R::linear_dx, {{"weight", &R::linear_dweight}, {"bias", &R::linear_dbias}});
  nn::Linear nobias(4, 2, false);
  CHECK(nobias.named_parameters().size() == 1);
  check_parity(nobias, {{"weight", &R::linear_nobias_weight}}, R::linear_nobias_x, R::linear_nobias_y,
               R::linear_nobias_R, &R::linear_nobias_dx, {{"weight", &R::linear_nobias_dweight}});
}

TEST_CASE("Embedding matches PyTorch and its padding row gets no gradient") {
  nn::Embedding emb(10, 4, 1);
  CHECK(emb.weight.select(0, 1).abs().sum().item() == 0.0);   // padding row starts at zero
  check_parity(emb, {{"weight", &R::embedding_weight}}, R::embedding_idx, R::embedding_y, R::embedding_R, nullptr,
               {{"weight", &R::embedding_dweight}}, kInt64);
  auto frozen = nn::Embedding::from_pretrained(R::embedding_weight.tensor(kFloat32));
  CHECK_FALSE(frozen->weight.requires_grad());
  CHECK_ALLCLOSE((*frozen)(R::embedding_idx.tensor(kInt64)), R::embedding_y.values);
}

TEST_CASE("LayerNorm matches PyTorch forward and backward") {
  nn::LayerNorm ln(nn::LayerNormOptions{.normalized_shape = {3, 4}});
  check_parity(ln, {{"weight", &R::layernorm_weight}, {"bias", &R::layernorm_bias}}, R::layernorm_x, R::layernorm_y,
               R::layernorm_R, &R::layernorm_dx, {{"weight", &R::layernorm_dweight}, {"bias", &R::layernorm_dbias}});
}

TEST_CASE("LayerNorm with bias false has a weight only and no shift") {
  nn::LayerNorm affine(nn::LayerNormOptions{.normalized_shape = {3, 4}});
  nn::LayerNorm no_bias(nn::LayerNormOptions{.normalized_shape = {3, 4}, .bias = false});
  affine.to(kFloat64);
  no_bias.to(kFloat64);
  CHECK(no_bias.named_parameters().keys() == std::vector<std::string>{"weight"});
  StateDict weight_only;
  weight_only.insert("weight", R::layernorm_weight.tensor(kFloat64));
  no_bias.load_state_dict(weight_only);
  StateDict zero_bias = weight_only;
  zero_bias.insert("bias", zeros({3, 4}, {.dtype = kFloat64}));
  affine.load_state_dict(zero_bias);
  Tensor x = R::layernorm_x.tensor(kFloat64);
  CHECK_ALLCLOSE(no_bias(x), affine(x).to_vector<double>(), 0.0, 0.0);
}

TEST_CASE("default initialisation follows PyTorch's bounds") {
  manual_seed(1);
  nn::Linear lin(400, 30);
  double bound = 1.0 / std::sqrt(400.0);
  CHECK(max(lin.weight.abs()).item() <= bound);
  CHECK(max(lin.weight.abs()).item() > 0.9 * bound);   // 12,000 draws reach the edge
  CHECK(max(lin.bias.abs()).item() <= bound);
  nn::LayerNorm ln(6);
  CHECK_ALLCLOSE(ln.weight, ones({6}).to_vector<double>());
  CHECK_ALLCLOSE(ln.bias, zeros({6}).to_vector<double>());
}

TEST_CASE("named_parameters uses PyTorch's dotted names in registration order") {
  Mlp m;
  CHECK(m.named_parameters().keys() ==
        std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "head.0.weight", "head.0.bias"});
  CHECK(m.state_dict().keys() == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "head.0.weight",
                                                          "head.0.bias", "steps"});
  CHECK(m.num_parameters() == 4 * 8 + 8 + 8 * 3 + 3 + 3);
  CHECK(m.parameters().size() == 5);
  CHECK(m.named_modules().size() == 5);   // fc1, fc2, head, head.0, head.1
}

TEST_CASE("train and eval switch every submodule and dropout follows") {
  Mlp m;
  m.eval();
  CHECK_FALSE(m.head->is_training());
  CHECK_FALSE((*m.head)[1]->is_training());
  Tensor x = ones({2, 4});
  CHECK_ALLCLOSE(m(x), m(x).to_vector<double>());   // deterministic in eval
  m.train();
  CHECK((*m.head)[1]->is_training());
}

TEST_CASE("state_dict round trip and load_state_dict errors list every problem") {
  Mlp a, b;
  b.load_state_dict(a.state_dict());
  Tensor x = testing::uniform({3, 4}, -1, 1, 7, kFloat32);
  a.eval();
  b.eval();
  CHECK_ALLCLOSE(b(x), a(x).to_vector<double>(), 0.0, 0.0);
  StateDict bad = a.state_dict();
  bad.insert("fc1.weight", zeros({8, 5}));
  bad.insert("extra.weight", zeros({1}));
  StateDict missing;
  for (auto& [k, v] : bad)
    if (k != "fc2.weight") missing.insert(k, v);
  std::string msg;
  try {
    b.load_state_dict(missing);
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK(msg.find("missing keys: fc2.weight") != std::string::npos);
  CHECK(msg.find("unexpected keys: extra.weight") != std::string::npos);
  CHECK(msg.find("fc1.weight: expected shape [8, 4], got [8, 5]") != std::string::npos);
  CHECK_ALLCLOSE(b(x), a(x).to_vector<double>(), 0.0, 0.0);   // nothing was changed
  // strict=false tolerates missing/unexpected keys, never a shape mismatch
  StateDict partial;
  partial.insert("fc1.bias", zeros({8}));
  partial.insert("unknown", zeros({2}));
  b.load_state_dict(partial, /*strict=*/false);
  CHECK(b.fc1->bias.abs().sum().item() == 0.0);
}

TEST_CASE("to(dtype) converts parameters in place so existing handles follow") {
  nn::Linear lin(3, 2);
  Tensor w = lin.weight;   // e.g. held by an optimizer
  lin.to(kFloat64);
  CHECK(w.dtype() == kFloat64);
  CHECK(w.requires_grad());
  CHECK(lin(ones({1, 3}, {.dtype = kFloat64})).dtype() == kFloat64);
}

TEST_CASE("repr prints the tree like PyTorch") {
  Mlp m;
  CHECK(m.repr() ==
        "Mlp(\n"
        "  (fc1): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (fc2): Linear(in_features=8, out_features=3, bias=False)\n"
        "  (head): Sequential(\n"
        "    (0): LayerNorm((3,), eps=1e-05, elementwise_affine=True)\n"
        "    (1): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        ")");
}

TEST_CASE("forward hooks replace outputs and backward hooks replace gradients") {
  nn::Linear lin(3, 2);
  Tensor x = ones({1, 3}, {.requires_grad = true});
  int id = lin.register_forward_hook([](nn::Module&, const Tensor& y) { return y * 0.0; });
  CHECK(lin(x).abs().sum().item() == 0.0);
  lin.remove_hook(id);
  Tensor seen;
  lin.register_backward_hook([&](nn::Module& m, const Tensor& g) {
    CHECK(m.type_name() == "Linear");
    seen = g;
    return g * 2.0;   // doubles the gradient entering the layer
  });
  lin(x).sum().backward();
  CHECK_ALLCLOSE(seen, std::vector<double>{1, 1});
  // dL/dx = 2 * sum over outputs of W
  CHECK_ALLCLOSE(x.grad(), (lin.weight.sum({0}) * 2.0).unsqueeze(0).to_vector<double>());
  CHECK_THROWS_WITH_AS(lin.remove_hook(99), doctest::Contains("no hook"), atto::Error);
}

TEST_CASE("bad input names the module and shows the shape") {
  nn::Linear lin(3, 2);
  CHECK_THROWS_WITH_AS(lin(ones({2, 4})), doctest::Contains("[Linear] expected input with last dim 3"), atto::Error);
  nn::Sequential seq;
  CHECK_THROWS_WITH_AS(seq[0], doctest::Contains("[Sequential] index 0 is out of range"), atto::Error);
  CHECK_THROWS_WITH_AS(nn::Dropout(1.5), doctest::Contains("[Dropout]"), atto::Error);
}

TEST_CASE("init functions follow their formulas") {
  manual_seed(3);
  Tensor w = empty({64, 32});
  nn::init::xavier_uniform_(w);
  double a = std::sqrt(6.0 / (64 + 32));
  CHECK(max(w.abs()).item() <= a);
  CHECK(max(w.abs()).item() > 0.9 * a);
  nn::init::kaiming_normal_(w, 0.0, nn::init::FanMode::FanIn, nn::init::Nonlinearity::ReLU);
  CHECK(atto::std(w).item() == doctest::Approx(std::sqrt(2.0 / 32)).epsilon(0.05));
  Tensor q = empty({5, 8});
  nn::init::orthogonal_(q);
  CHECK_ALLCLOSE(matmul(q, q.t()), eye(5).to_vector<double>(), 1e-5, 1e-5);   // orthonormal rows
  Tensor tall = empty({8, 3}, {.dtype = kFloat64});
  nn::init::orthogonal_(tall, 2.0);
  CHECK_ALLCLOSE(matmul(tall.t(), tall), (eye(3) * 4.0).to_vector<double>(), 1e-10, 1e-10);
  CHECK(nn::init::calculate_gain(nn::init::Nonlinearity::Tanh) == doctest::Approx(5.0 / 3.0));
}
