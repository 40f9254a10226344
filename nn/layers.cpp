// nn/layers.cpp -- see layers.h.
#include "nn/layers.h"

#include <cmath>

#include "autograd/functions/elementwise.h"
#include "autograd/functions/index.h"
#include "autograd/functions/matmul.h"
#include "autograd/functions/nn_functional.h"
#include "autograd/grad_mode.h"
#include "nn/init.h"

namespace atto::nn {

static const char* py_bool(bool b) { return b ? "True" : "False"; }

// ---- Linear ------------------------------------------------------------------------------------------

Linear::Linear(const LinearOptions& o) : Module("Linear"), options(o) {
  ATTO_CHECK(o.in_features > 0 && o.out_features > 0, "[Linear] in_features and out_features must be positive, got {} and {}",
             o.in_features, o.out_features);
  weight = register_parameter("weight", empty({o.out_features, o.in_features}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_features}));
  reset_parameters();
}

void Linear::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));   // = U(-1/sqrt(in), 1/sqrt(in))
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(double(options.in_features));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) {
  ATTO_CHECK(x.ndim() >= 1 && x.size(-1) == options.in_features,
             "[Linear] expected input with last dim {} (in_features), got shape {}", options.in_features, x.shape());
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", options.in_features, options.out_features,
                     py_bool(bias.defined()));
}

// ---- Embedding ------------------------------------------------------------------------------------------

Embedding::Embedding(const EmbeddingOptions& o) : Module("Embedding"), options(o) {
  ATTO_CHECK(o.num_embeddings > 0 && o.embedding_dim > 0, "[Embedding] sizes must be positive, got ({}, {})",
             o.num_embeddings, o.embedding_dim);
  if (options.padding_idx) {
    int64_t p = *options.padding_idx;
    ATTO_CHECK(p >= -o.num_embeddings && p < o.num_embeddings, "[Embedding] padding_idx {} is out of range for {} embeddings",
               p, o.num_embeddings);
    if (p < 0) options.padding_idx = p + o.num_embeddings;
  }
  weight = register_parameter("weight", empty({o.num_embeddings, o.embedding_dim}));
  init::normal_(weight);
  if (options.padding_idx) {
    NoGradGuard no_grad;
    weight.select(0, *options.padding_idx).fill_(0.0);
  }
}

std::shared_ptr<Embedding> Embedding::from_pretrained(const Tensor& embeddings, bool freeze,
                                                      std::optional<int64_t> padding_idx) {
  ATTO_CHECK(embeddings.ndim() == 2, "[Embedding.from_pretrained] expects a 2-d tensor, got shape {}", embeddings.shape());
  auto e = std::make_shared<Embedding>(embeddings.size(0), embeddings.size(1), padding_idx);
  NoGradGuard no_grad;
  e->weight.copy_(embeddings);
  if (freeze) e->weight.requires_grad_(false);
  return e;
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices, options.padding_idx); }

std::string Embedding::extra_repr() const {
  std::string s = fmt::format("{}, {}", options.num_embeddings, options.embedding_dim);
  if (options.padding_idx) s += fmt::format(", padding_idx={}", *options.padding_idx);
  return s;
}

// ---- LayerNorm -------------------------------------------------------------------------------------------

LayerNorm::LayerNorm(const LayerNormOptions& o) : Module("LayerNorm"), options(o) {
  ATTO_CHECK(!o.normalized_shape.empty(), "[LayerNorm] normalized_shape must not be empty");
  if (o.elementwise_affine) {
    weight = register_parameter("weight", ones(o.normalized_shape));
    if (o.bias) bias = register_parameter("bias", zeros(o.normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, options.normalized_shape, weight, bias, options.eps); }

std::string LayerNorm::extra_repr() const {
  std::string shape = fmt::format("({}{})", fmt::join(options.normalized_shape.begin(), options.normalized_shape.end(), ", "),
                                  options.normalized_shape.size() == 1 ? "," : "");
  return fmt::format("{}, eps={}, elementwise_affine={}", shape, options.eps, py_bool(options.elementwise_affine));
}

// ---- Dropout, Flatten, activations -------------------------------------------------------------------------

Dropout::Dropout(double p, Generator* gen) : Module("Dropout"), p(p), generator(gen) {
  ATTO_CHECK(p >= 0 && p <= 1, "[Dropout] p must be in [0, 1], got {}", p);
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), generator); }
std::string Dropout::extra_repr() const { return fmt::format("p={}, inplace=False", p); }

std::string Flatten::extra_repr() const { return fmt::format("start_dim={}, end_dim={}", start_dim, end_dim); }

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor GELU::forward(const Tensor& x) { return gelu(x, tanh_approximation ? GeluApprox::Tanh : GeluApprox::None); }
std::string GELU::extra_repr() const { return tanh_approximation ? "approximate='tanh'" : "approximate='none'"; }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor SiLU::forward(const Tensor& x) { return silu(x); }
Tensor Softmax::forward(const Tensor& x) { return softmax(x, dim); }
std::string Softmax::extra_repr() const { return fmt::format("dim={}", dim); }
Tensor LogSoftmax::forward(const Tensor& x) { return log_softmax(x, dim); }
std::string LogSoftmax::extra_repr() const { return fmt::format("dim={}", dim); }

}  // namespace atto::nn
