// examples/tiny_gpt/gpt.h -- a GPT (decoder-only transformer) written as nanoGPT's model.py writes
// it: the same blocks, the same parameter names (transformer.wte.weight,
// transformer.h.0.attn.c_attn.weight, ...), the same initialisation. Twin: gpt.cpp; the PyTorch
// version of the same model is in tiny_gpt_torch.py.
//
//   tokens (B, T) --wte + wpe--> x (B, T, C) --n_layer x Block--> ln_f --x wte^T--> logits (B, T, vocab)
//   Block:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))          (pre-norm, GPT-2 style)
//   attn:   c_attn -> q, k, v -> n_head heads of causal scaled dot-product attention -> c_proj
//   mlp:    c_fc (C -> 4C) -> GELU -> c_proj (4C -> C)
#pragma once
#include <memory>
#include <vector>

#include "attograd.h"

namespace atto::gpt {

struct GPTConfig {
  int64_t vocab_size = 65;
  int64_t block_size = 64;   // the longest context the model sees
  int64_t n_layer = 4, n_head = 4, n_embd = 128;
  double dropout = 0.0;
  bool bias = false;         // nanoGPT's train.py default: no bias in Linear and LayerNorm layers
};

class CausalSelfAttention : public nn::Module {
 public:
  explicit CausalSelfAttention(const GPTConfig& config);
  Tensor forward(const Tensor& x) override;   // (B, T, C) -> (B, T, C)

  std::shared_ptr<nn::Linear> c_attn, c_proj;   // q, k, v projections stacked (C -> 3C); output projection
  std::shared_ptr<nn::Dropout> resid_dropout;
  int64_t n_head;
  double dropout;
  // When true, forward keeps the attention weights (B, n_head, T, T) in `last_weights` (for pictures).
  bool keep_weights = false;
  Tensor last_weights;
};

class MLP : public nn::Module {
 public:
  explicit MLP(const GPTConfig& config);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Linear> c_fc, c_proj;
  std::shared_ptr<nn::GELU> gelu;
  std::shared_ptr<nn::Dropout> dropout;
};

class Block : public nn::Module {
 public:
  explicit Block(const GPTConfig& config);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<CausalSelfAttention> attn;
  std::shared_ptr<MLP> mlp;
};

// The body, a child named "transformer" as in nanoGPT (so names read transformer.h.0....).
class Transformer : public nn::Module {
 public:
  explicit Transformer(const GPTConfig& config);

  std::shared_ptr<nn::Embedding> wte, wpe;   // token and position embeddings
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::ModuleList> h;         // the blocks
  std::shared_ptr<nn::LayerNorm> ln_f;
};

class GPT : public nn::Module {
 public:
  explicit GPT(const GPTConfig& config);
  // idx (B, T) int64 token ids, T <= block_size -> logits (B, T, vocab_size). The output layer
  // (nanoGPT's lm_head) shares its weight with the token embedding wte ("weight tying").
  Tensor forward(const Tensor& idx) override;
  // The parameter count nanoGPT prints: all but the position embeddings.
  int64_t num_parameters_without_positions() const;
  std::shared_ptr<Block> block(size_t i) const { return transformer->h->at<Block>(i); }

  GPTConfig config;
  std::shared_ptr<Transformer> transformer;
};

// Draws `new_tokens` tokens after `context` (1-d int64 ids), feeding the model at most block_size
// of the latest tokens each time; logits / temperature, then a draw from `gen`. Returns context + new.
std::vector<int64_t> generate(GPT& model, std::vector<int64_t> context, int64_t new_tokens, double temperature,
                              Generator* gen);

}  // namespace atto::gpt
