// examples/seq2seq_attention/model.h -- the translation model of the PyTorch tutorial "NLP From
// Scratch: Translation with a Sequence to Sequence Network and Attention": a GRU encoder, and a GRU
// decoder that looks back at the encoder's states through Bahdanau (additive) attention at every
// step; then greedy and beam-search decoding. Twin: model.cpp.
//
// Shapes: B sentences, S source positions, T target positions, H hidden units, V target words.
//   encoder   source (B, S) -> states (B, S, H), last hidden (B, H)
//   decoder   one step: previous word (B), hidden (B, H) -> logits (B, V), new hidden (B, H),
//             attention weights (B, S) (how much each source word fed this output word)
#pragma once
#include <memory>
#include <vector>

#include "attograd.h"
#include "data.h"

namespace atto::examples {

// Embedding -> dropout -> GRU over the padded batch (lengths given, so padding never reaches the state).
class Encoder : public nn::Module {
 public:
  Encoder(int64_t vocab_size, int64_t hidden, double dropout);
  struct Output {
    Tensor states;   // (B, S, H), zero at padded positions
    Tensor hidden;   // (B, H), each sentence's state after its last word
  };
  Output forward(const Tensor& source, const std::vector<int64_t>& lengths);

  std::shared_ptr<nn::Embedding> embedding;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::GRU> gru;
};

// score_j = v . tanh(W_query h + W_keys s_j); weights = softmax over the real source words;
// context = sum_j weights_j s_j. The keys' projection is computed once per sentence (keys()).
class BahdanauAttention : public nn::Module {
 public:
  explicit BahdanauAttention(int64_t hidden);
  Tensor keys(const Tensor& states) { return (*w_keys)(states); }   // (B, S, H) -> (B, S, H)
  // query (B, H); returns context (B, H) and weights (B, S).
  AttentionOutput forward(const Tensor& query, const Tensor& projected_keys, const Tensor& states, const Tensor& mask);

  std::shared_ptr<nn::Linear> w_query, w_keys;
  Tensor v;   // (H)
};

// What the decoder attends to: the encoder's states, their projection and the source mask.
struct Memory {
  Tensor states, projected_keys, mask;   // (B, S, H), (B, S, H), (B, S) bool
};

class AttnDecoder : public nn::Module {
 public:
  AttnDecoder(int64_t vocab_size, int64_t hidden, double dropout);
  struct Step {
    Tensor logits, hidden, weights;   // (B, V), (B, H), (B, S)
  };
  // One output word: attend with the previous hidden state, then GRU on [embedding(previous); context].
  Step step(const Tensor& previous_words, const Tensor& hidden, const Memory& memory);

  std::shared_ptr<nn::Embedding> embedding;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<BahdanauAttention> attention;
  std::shared_ptr<nn::GRUCell> gru;
  std::shared_ptr<nn::Linear> out;
};

class Seq2Seq : public nn::Module {
 public:
  Seq2Seq(int64_t source_vocab, int64_t target_vocab, int64_t hidden, double dropout);
  Device device() const { return parameters()[0].device(); }   // where the model (and its batches) live

  // Encodes a batch; returns the decoder's memory and its first hidden state (the encoder's last).
  std::pair<Memory, Tensor> encode(const Tensor& source, const std::vector<int64_t>& lengths, const Tensor& mask);

  // Mean cross-entropy per target token. teacher_forcing: the decoder reads the reference's previous
  // word at every step; otherwise its own most likely previous word (as when translating).
  Tensor loss(const Batch& batch, bool teacher_forcing);

  struct Translation {
    std::vector<int64_t> words;    // without <eos>
    std::vector<float> weights;    // (words + 1) x source length: a row per output word and the <eos>
    double log_prob = 0;
  };
  // The most likely word at each step, for a whole batch at once; stops at <eos> or max_length words.
  std::vector<Translation> greedy(const Batch& batch, int64_t max_length);
  // Keeps the beam_size best partial translations of one sentence (a batch of 1); a finished one
  // (ending in <eos>) scores log p / length^length_penalty, so short ones are not favoured unfairly.
  Translation beam_search(const Batch& one_sentence, int64_t beam_size, int64_t max_length, double length_penalty);

  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<AttnDecoder> decoder;
};

}  // namespace atto::examples
