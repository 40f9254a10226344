// examples/seq2seq_attention/model.cpp -- encoder, Bahdanau attention, decoder, training loss,
// greedy and beam-search decoding. Twin: model.h.
#include "model.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace atto::examples {

Encoder::Encoder(int64_t vocab_size, int64_t hidden, double dropout_p) : nn::Module("Encoder") {
  embedding = register_module("embedding", std::make_shared<nn::Embedding>(vocab_size, hidden, Vocab::kPad));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(dropout_p));
  gru = register_module("gru", std::make_shared<nn::GRU>(
                                   nn::GRUOptions{.input_size = hidden, .hidden_size = hidden, .batch_first = true}));
}

Encoder::Output Encoder::forward(const Tensor& source, const std::vector<int64_t>& lengths) {
  Tensor embedded = (*dropout)((*embedding)(source));            // (B, S, H)
  auto [states, last] = (*gru)(embedded, Tensor{}, SeqLengths(lengths));
  return {states, last.select(0, 0)};                             // h_n (1, B, H) -> (B, H)
}

BahdanauAttention::BahdanauAttention(int64_t hidden) : nn::Module("BahdanauAttention") {
  w_query = register_module("w_query", std::make_shared<nn::Linear>(hidden, hidden));
  w_keys = register_module("w_keys", std::make_shared<nn::Linear>(hidden, hidden));
  // v plays the part of the tutorial's Linear(hidden, 1) (whose bias would not change the softmax).
  const double bound = 1.0 / std::sqrt(double(hidden));
  v = register_parameter("v", rand({hidden}) * (2 * bound) - bound);
}

AttentionOutput BahdanauAttention::forward(const Tensor& query, const Tensor& projected_keys, const Tensor& states,
                                           const Tensor& mask) {
  return additive_attention_projected((*w_query)(query), projected_keys, states, v, mask);
}

AttnDecoder::AttnDecoder(int64_t vocab_size, int64_t hidden, double dropout_p) : nn::Module("AttnDecoder") {
  embedding = register_module("embedding", std::make_shared<nn::Embedding>(vocab_size, hidden, Vocab::kPad));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(dropout_p));
  attention = register_module("attention", std::make_shared<BahdanauAttention>(hidden));
  gru = register_module("gru", std::make_shared<nn::GRUCell>(2 * hidden, hidden));
  out = register_module("out", std::make_shared<nn::Linear>(hidden, vocab_size));
}

AttnDecoder::Step AttnDecoder::step(const Tensor& previous_words, const Tensor& hidden, const Memory& memory) {
  Tensor embedded = (*dropout)((*embedding)(previous_words));                                // (B, H)
  AttentionOutput attended = attention->forward(hidden, memory.projected_keys, memory.states, memory.mask);
  Tensor new_hidden = (*gru)(cat({embedded, attended.output}, 1), hidden);                    // (B, H)
  return {(*out)(new_hidden), new_hidden, attended.weights};
}

Seq2Seq::Seq2Seq(int64_t source_vocab, int64_t target_vocab, int64_t hidden, double dropout)
    : nn::Module("Seq2Seq") {
  encoder = register_module("encoder", std::make_shared<Encoder>(source_vocab, hidden, dropout));
  decoder = register_module("decoder", std::make_shared<AttnDecoder>(target_vocab, hidden, dropout));
}

std::pair<Memory, Tensor> Seq2Seq::encode(const Tensor& source, const std::vector<int64_t>& lengths,
                                          const Tensor& mask) {
  Encoder::Output encoded = encoder->forward(source, lengths);
  Memory memory{encoded.states, decoder->attention->keys(encoded.states), mask};
  return {memory, encoded.hidden};
}

Tensor Seq2Seq::loss(const Batch& batch, bool teacher_forcing) {
  auto [memory, hidden] = encode(batch.source, batch.source_lengths, batch.source_mask);
  const int64_t batch_size = batch.target.size(0), steps = batch.target.size(1);
  Tensor previous = full({batch_size}, double(Vocab::kSos), {.dtype = kInt64, .device = batch.target.device()});
  std::vector<Tensor> logits;
  for (int64_t t = 0; t < steps; ++t) {
    AttnDecoder::Step out = decoder->step(previous, hidden, memory);
    hidden = out.hidden;
    logits.push_back(out.logits);
    previous = teacher_forcing ? batch.target.select(1, t).contiguous() : out.logits.argmax(1).detach();
  }
  // (B, T, V) against (B, T); padded target positions are ignored (and left out of the mean).
  Tensor all_logits = stack(logits, 1).reshape({batch_size * steps, -1});
  return cross_entropy(all_logits, batch.target.reshape({-1}), {.ignore_index = Vocab::kPad});
}

std::vector<Seq2Seq::Translation> Seq2Seq::greedy(const Batch& batch, int64_t max_length) {
  NoGradGuard no_grad;
  auto [memory, hidden] = encode(batch.source, batch.source_lengths, batch.source_mask);
  const int64_t batch_size = batch.source.size(0), source_length = batch.source.size(1);
  std::vector<Translation> result(static_cast<size_t>(batch_size));
  std::vector<bool> done(static_cast<size_t>(batch_size), false);
  Tensor previous = full({batch_size}, double(Vocab::kSos), {.dtype = kInt64, .device = batch.source.device()});
  for (int64_t t = 0; t <= max_length; ++t) {
    AttnDecoder::Step out = decoder->step(previous, hidden, memory);
    hidden = out.hidden;
    previous = out.logits.argmax(1);
    const std::vector<int64_t> words = previous.to_vector<int64_t>();
    const std::vector<float> log_probs = log_softmax(out.logits, 1).to_vector<float>();
    const std::vector<float> weights = out.weights.to_vector<float>();
    const int64_t vocab = out.logits.size(1);
    for (int64_t b = 0; b < batch_size; ++b) {
      if (done[size_t(b)]) continue;
      Translation& tr = result[size_t(b)];
      // The source length of this sentence: its padded columns carry weight 0 and are dropped.
      const int64_t length = batch.source_lengths[size_t(b)];
      tr.weights.insert(tr.weights.end(), weights.begin() + b * source_length,
                        weights.begin() + b * source_length + length);
      tr.log_prob += log_probs[size_t(b * vocab + words[size_t(b)])];
      if (words[size_t(b)] == Vocab::kEos || t == max_length) done[size_t(b)] = true;
      else tr.words.push_back(words[size_t(b)]);
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
  }
  return result;
}

Seq2Seq::Translation Seq2Seq::beam_search(const Batch& one_sentence, int64_t beam_size, int64_t max_length,
                                          double length_penalty) {
  NoGradGuard no_grad;
  ATTO_CHECK(one_sentence.source.size(0) == 1, "[beam_search] one sentence at a time, got a batch of {}",
             one_sentence.source.size(0));
  ATTO_CHECK(beam_size >= 1, "[beam_search] beam size {} must be at least 1", beam_size);
  // The memory keeps batch size 1: the attention broadcasts it over the beams.
  auto [memory, hidden] = encode(one_sentence.source, one_sentence.source_lengths, one_sentence.source_mask);
  const int64_t source_length = one_sentence.source.size(1);
  const Device device = one_sentence.source.device();
  std::vector<Translation> beams(1), finished;
  auto normalized = [&](const Translation& tr) {
    return tr.log_prob / std::pow(double(tr.words.size() + 1), length_penalty);   // + 1: the <eos>
  };
  for (int64_t t = 0; t <= max_length && !beams.empty(); ++t) {
    std::vector<int64_t> last;
    for (const Translation& tr : beams) last.push_back(tr.words.empty() ? Vocab::kSos : tr.words.back());
    AttnDecoder::Step out = decoder->step(from_vector<int64_t>(last).to(device), hidden, memory);
    const std::vector<float> log_probs = log_softmax(out.logits, 1).to_vector<float>();
    const std::vector<float> weights = out.weights.to_vector<float>();
    const int64_t vocab = out.logits.size(1);

    // Every (beam, next word) extension, best first; keep enough to refill the beam after some end.
    std::vector<int64_t> candidates(log_probs.size());
    std::iota(candidates.begin(), candidates.end(), 0);
    auto score = [&](int64_t c) { return beams[size_t(c / vocab)].log_prob + log_probs[size_t(c)]; };
    const size_t keep = std::min(candidates.size(), size_t(2 * beam_size));
    std::partial_sort(candidates.begin(), candidates.begin() + keep, candidates.end(),
                      [&](int64_t a, int64_t b) { return score(a) > score(b); });

    std::vector<Translation> next;
    std::vector<int64_t> origins;
    for (size_t i = 0; i < keep && int64_t(next.size()) < beam_size; ++i) {
      const int64_t beam = candidates[i] / vocab, word = candidates[i] % vocab;
      Translation tr = beams[size_t(beam)];
      tr.log_prob = score(candidates[i]);
      tr.weights.insert(tr.weights.end(), weights.begin() + beam * source_length,
                        weights.begin() + (beam + 1) * source_length);
      if (word == Vocab::kEos || t == max_length) {
        finished.push_back(std::move(tr));
      } else {
        tr.words.push_back(word);
        next.push_back(std::move(tr));
        origins.push_back(beam);
      }
    }
    if (int64_t(finished.size()) >= beam_size) break;
    beams = std::move(next);
    if (!beams.empty()) hidden = index_select(out.hidden, 0, from_vector<int64_t>(origins).to(device));
  }
  ATTO_ASSERT(!finished.empty(), "beam search ended with no hypothesis");
  return *std::max_element(finished.begin(), finished.end(),
                           [&](const Translation& a, const Translation& b) { return normalized(a) < normalized(b); });
}

}  // namespace atto::examples
