// benchmarks/bench_models.h -- the models that both benchmarks/models.cpp (CPU, small shapes) and
// benchmarks/gpu_models.cpp (CUDA, issue 5's shapes) train: a char-LSTM and a tiny GPT, built from
// the library's own modules (what a user would write). Their PyTorch twins are the classes of the
// same names in benchmarks/models_torch.py.
#pragma once
#include <memory>

#include "attograd.h"

namespace bench {

// Embedding(vocab, embed_dim) -> LSTM(embed_dim, hidden, num_layers) -> Linear(hidden, vocab).
struct CharLSTM : atto::nn::Module {
  std::shared_ptr<atto::nn::Embedding> embed;
  std::shared_ptr<atto::nn::LSTM> lstm;
  std::shared_ptr<atto::nn::Linear> head;
  CharLSTM(int64_t vocab, int64_t embed_dim, int64_t hidden, int64_t num_layers = 1) : Module("CharLSTM") {
    embed = register_module("embed", std::make_shared<atto::nn::Embedding>(vocab, embed_dim));
    lstm = register_module("lstm", std::make_shared<atto::nn::LSTM>(atto::nn::LSTMOptions{
                                       .input_size = embed_dim, .hidden_size = hidden, .num_layers = num_layers,
                                       .batch_first = true}));
    head = register_module("head", std::make_shared<atto::nn::Linear>(hidden, vocab));
  }
  atto::Tensor forward(const atto::Tensor& tokens) override {   // (B, T) -> logits (B, T, vocab)
    auto [out, state] = (*lstm)(embed->forward(tokens));
    return head->forward(out);
  }
};

// A tiny GPT: token + position embeddings (then dropout, as nanoGPT's transformer.drop, when
// dropout > 0), n_layer pre-LN blocks, final LayerNorm, head tied to the token embedding. A pre-LN
// block is TransformerEncoderLayer with norm_first (x + attn(ln1(x)), then x + mlp(ln2(x))): causal
// self-attention with n_head heads and an MLP 4x with GELU; `dropout` is the layer's (attention
// weights, MLP, both residual branches), as nanoGPT's config.dropout.
//   tokens (B, T) -> logits (B, T, vocab), T == block
struct TinyGPT : atto::nn::Module {
  int64_t block;
  std::shared_ptr<atto::nn::Embedding> tok_emb, pos_emb;
  std::shared_ptr<atto::nn::Dropout> drop;   // null when dropout is 0
  std::shared_ptr<atto::nn::TransformerEncoder> blocks;
  std::shared_ptr<atto::nn::LayerNorm> ln_f;
  atto::Tensor causal_mask, positions;   // buffers: Module::to(device) moves them with the weights
  TinyGPT(int64_t vocab, int64_t block, int64_t n_embd, int64_t n_head, int64_t n_layer, double dropout = 0.0)
      : Module("TinyGPT"), block(block) {
    using namespace atto;
    tok_emb = register_module("tok_emb", std::make_shared<nn::Embedding>(vocab, n_embd));
    pos_emb = register_module("pos_emb", std::make_shared<nn::Embedding>(block, n_embd));
    if (dropout > 0) drop = register_module("drop", std::make_shared<nn::Dropout>(dropout));
    nn::TransformerEncoderLayerOptions layer{.d_model = n_embd, .nhead = n_head, .dim_feedforward = 4 * n_embd,
                                             .dropout = dropout, .activation = nn::Activation::GELU,
                                             .batch_first = true, .norm_first = true};
    blocks = register_module("blocks", std::make_shared<nn::TransformerEncoder>(layer, n_layer));
    ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(n_embd));
    // nn.MultiheadAttention's bool mask: true = may NOT attend, so the strict upper triangle.
    positions = register_buffer("positions", arange(double(block), {.dtype = kInt64}));
    causal_mask = register_buffer("causal_mask", positions.unsqueeze(0) > positions.unsqueeze(1));   // key j > query i
  }
  atto::Tensor forward(const atto::Tensor& tokens) override {   // (B, T) -> logits (B, T, vocab)
    atto::Tensor x = tok_emb->forward(tokens) + pos_emb->forward(positions);
    if (drop) x = drop->forward(x);
    x = ln_f->forward(blocks->forward(x, causal_mask));
    return atto::linear(x, tok_emb->weight);   // the head shares the token embedding's weights
  }
};

}  // namespace bench
