// examples/tiny_gpt/gpt.cpp -- the GPT of gpt.h: nanoGPT's model.py in attograd. Twin: gpt.h.
#include "tiny_gpt/gpt.h"

#include <cmath>

#include "common/chars.h"

namespace atto::gpt {

CausalSelfAttention::CausalSelfAttention(const GPTConfig& config)
    : nn::Module("CausalSelfAttention"), n_head(config.n_head), dropout(config.dropout) {
  ATTO_CHECK(config.n_embd % config.n_head == 0, "[GPT] n_embd {} is not a multiple of n_head {}", config.n_embd,
             config.n_head);
  c_attn = register_module("c_attn", std::make_shared<nn::Linear>(config.n_embd, 3 * config.n_embd, config.bias));
  c_proj = register_module("c_proj", std::make_shared<nn::Linear>(config.n_embd, config.n_embd, config.bias));
  resid_dropout = register_module("resid_dropout", std::make_shared<nn::Dropout>(config.dropout));
}

Tensor CausalSelfAttention::forward(const Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), head_size = C / n_head;
  // One matmul gives q, k and v side by side; each is then split into heads: (B, n_head, T, head_size).
  std::vector<Tensor> qkv = split((*c_attn)(x), C, /*dim=*/2);
  auto heads = [&](const Tensor& t) { return t.reshape({B, T, n_head, head_size}).transpose(1, 2); };
  Tensor q = heads(qkv[0]), k = heads(qkv[1]), v = heads(qkv[2]);
  const double p = is_training() ? dropout : 0.0;
  Tensor y;
  if (keep_weights) {
    AttentionOutput out = attention_with_weights(q, k, v, {}, p, /*is_causal=*/true);
    last_weights = out.weights.detach();
    y = out.output;
  } else {
    y = scaled_dot_product_attention(q, k, v, {}, p, /*is_causal=*/true);   // token t sees tokens 0..t
  }
  y = y.transpose(1, 2).reshape({B, T, C});   // the heads side by side again
  return (*resid_dropout)((*c_proj)(y));
}

MLP::MLP(const GPTConfig& config) : nn::Module("MLP") {
  c_fc = register_module("c_fc", std::make_shared<nn::Linear>(config.n_embd, 4 * config.n_embd, config.bias));
  gelu = register_module("gelu", std::make_shared<nn::GELU>());
  c_proj = register_module("c_proj", std::make_shared<nn::Linear>(4 * config.n_embd, config.n_embd, config.bias));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(config.dropout));
}

Tensor MLP::forward(const Tensor& x) { return (*dropout)((*c_proj)((*gelu)((*c_fc)(x)))); }

static std::shared_ptr<nn::LayerNorm> layer_norm_of(const GPTConfig& config) {
  return std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.normalized_shape = {config.n_embd}, .bias = config.bias});
}

Block::Block(const GPTConfig& config) : nn::Module("Block") {
  ln_1 = register_module("ln_1", layer_norm_of(config));
  attn = register_module("attn", std::make_shared<CausalSelfAttention>(config));
  ln_2 = register_module("ln_2", layer_norm_of(config));
  mlp = register_module("mlp", std::make_shared<MLP>(config));
}

Tensor Block::forward(const Tensor& x) {
  Tensor h = x + (*attn)((*ln_1)(x));
  return h + (*mlp)((*ln_2)(h));
}

Transformer::Transformer(const GPTConfig& config) : nn::Module("Transformer") {
  wte = register_module("wte", std::make_shared<nn::Embedding>(config.vocab_size, config.n_embd));
  wpe = register_module("wpe", std::make_shared<nn::Embedding>(config.block_size, config.n_embd));
  drop = register_module("drop", std::make_shared<nn::Dropout>(config.dropout));
  h = register_module("h", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < config.n_layer; ++i) h->push_back(std::make_shared<Block>(config));
  ln_f = register_module("ln_f", layer_norm_of(config));
}

GPT::GPT(const GPTConfig& c) : nn::Module("GPT"), config(c) {
  transformer = register_module("transformer", std::make_shared<Transformer>(config));
  // nanoGPT's _init_weights: every Linear and Embedding weight N(0, 0.02), biases zero; then the
  // projections that write into the residual stream (c_proj) N(0, 0.02 / sqrt(2 n_layer)), so the
  // residual's variance does not grow with depth (GPT-2 paper).
  for (auto& [name, module] : named_modules()) {
    if (auto linear = std::dynamic_pointer_cast<nn::Linear>(module)) {
      nn::init::normal_(linear->weight, 0.0, 0.02);
      if (linear->bias.defined()) nn::init::zeros_(linear->bias);
    } else if (auto embedding = std::dynamic_pointer_cast<nn::Embedding>(module)) {
      nn::init::normal_(embedding->weight, 0.0, 0.02);
    }
  }
  for (auto& [name, p] : named_parameters())
    if (name.ends_with("c_proj.weight")) nn::init::normal_(p, 0.0, 0.02 / std::sqrt(2.0 * double(config.n_layer)));
}

Tensor GPT::forward(const Tensor& idx) {
  const int64_t T = idx.size(1);
  ATTO_CHECK(T <= config.block_size, "[GPT] a sequence of {} tokens is longer than block_size {}", T,
             config.block_size);
  Tensor positions = arange(double(T), {.dtype = kInt64, .device = idx.device()});
  Tensor x = (*transformer->drop)((*transformer->wte)(idx) + (*transformer->wpe)(positions));   // (B, T, C)
  for (size_t i = 0; i < transformer->h->size(); ++i) x = (*block(i))(x);
  x = (*transformer->ln_f)(x);
  return linear(x, transformer->wte->weight);   // lm_head: the embedding matrix, transposed
}

int64_t GPT::num_parameters_without_positions() const {
  return num_parameters() - transformer->wpe->weight.numel();
}

std::vector<int64_t> generate(GPT& model, std::vector<int64_t> context, int64_t new_tokens, double temperature,
                              Generator* gen) {
  NoGradGuard no_grad;
  for (int64_t i = 0; i < new_tokens; ++i) {
    const auto n = int64_t(context.size());
    const int64_t start = std::max<int64_t>(0, n - model.config.block_size);
    std::vector<int64_t> window(context.begin() + start, context.end());
    Tensor idx = from_vector<int64_t>(window, Shape{1, n - start}).to(model.transformer->wte->weight.device());
    Tensor logits = model(idx).select(0, 0).select(0, -1);   // the prediction after the last token
    context.push_back(examples::sample_token(logits, temperature, gen));
  }
  return context;
}

}  // namespace atto::gpt
