// nn/layers.h -- the everyday layers: Linear, Embedding, LayerNorm, Dropout, Flatten, and the
// activations as modules. Parameter names, shapes, defaults and initialisation follow PyTorch, so
// state dicts move between the two unchanged.
#pragma once
#include <optional>

#include "nn/module.h"
#include "tensor/random.h"

namespace atto::nn {

// y = x W^T + b.  weight (out_features, in_features), bias (out_features).
// Init (PyTorch): kaiming_uniform_(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)) for both.
struct LinearOptions {
  int64_t in_features = 0, out_features = 0;
  bool bias = true;
};
class Linear : public Module {
 public:
  explicit Linear(const LinearOptions& o);
  Linear(int64_t in_features, int64_t out_features, bool bias = true) : Linear(LinearOptions{in_features, out_features, bias}) {}
  void reset_parameters();
  Tensor forward(const Tensor& x) override;   // (*, in) -> (*, out)
  std::string extra_repr() const override;
  LinearOptions options;
  Tensor weight, bias;
};

// A lookup table: row i of weight (num_embeddings, embedding_dim) is the vector of index i.
// Init N(0, 1); the padding_idx row is zero and receives no gradient.
struct EmbeddingOptions {
  int64_t num_embeddings = 0, embedding_dim = 0;
  std::optional<int64_t> padding_idx;
};
class Embedding : public Module {
 public:
  explicit Embedding(const EmbeddingOptions& o);
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt)
      : Embedding(EmbeddingOptions{num_embeddings, embedding_dim, padding_idx}) {}
  // Wraps given vectors (num_embeddings, embedding_dim); freeze=true keeps them fixed.
  static std::shared_ptr<Embedding> from_pretrained(const Tensor& embeddings, bool freeze = true,
                                                    std::optional<int64_t> padding_idx = std::nullopt);
  Tensor forward(const Tensor& indices) override;   // int64 (*) -> (*, embedding_dim)
  std::string extra_repr() const override;
  EmbeddingOptions options;
  Tensor weight;
};

// Normalises over the trailing dims given by normalized_shape; weight ones, bias zeros.
// bias = false keeps the weight only (PyTorch >= 2.1's LayerNorm(..., bias=False), as GPT models use).
struct LayerNormOptions {
  Shape normalized_shape;
  double eps = 1e-5;
  bool elementwise_affine = true;
  bool bias = true;
};
class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& o);
  explicit LayerNorm(int64_t normalized_size, double eps = 1e-5) : LayerNorm(LayerNormOptions{{normalized_size}, eps}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  LayerNormOptions options;
  Tensor weight, bias;
};

// Zeroes elements with probability p while training (scaling the rest by 1/(1-p)); identity in eval.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double p;
  Generator* generator;   // null: the default generator
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1)
      : Module("Flatten"), start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string extra_repr() const override;
  int64_t start_dim, end_dim;
};

// ---- activations ---------------------------------------------------------------------------------

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override;
};
class GELU : public Module {
 public:
  explicit GELU(bool tanh_approximation = false) : Module("GELU"), tanh_approximation(tanh_approximation) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  bool tanh_approximation;
};
class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override;
};
class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override;
};
class SiLU : public Module {
 public:
  SiLU() : Module("SiLU") {}
  Tensor forward(const Tensor& x) override;
};
class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : Module("Softmax"), dim(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t dim;
};
class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim) : Module("LogSoftmax"), dim(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t dim;
};

}  // namespace atto::nn
