// examples/common/chars.cpp -- character vocabulary, nanoGPT's split and the batch layouts of the
// language-model examples. Twin: chars.h.
#include "common/chars.h"

#include <algorithm>

#include "attograd.h"
#include "common/run.h"

namespace atto::examples {

// ---- CharVocab -----------------------------------------------------------------------------------------

CharVocab::CharVocab(const std::string& text) {
  std::array<bool, 256> seen{};
  for (char c : text) seen[uint8_t(c)] = true;
  id_of_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    if (!seen[size_t(b)]) continue;
    id_of_[size_t(b)] = int64_t(chars_.size());
    chars_ += char(b);
  }
}

int64_t CharVocab::encode(char c) const {
  ATTO_CHECK(contains(c), "[CharVocab] character {} (byte {}) is not in the vocabulary of {} characters", label(c),
             int(uint8_t(c)), size());
  return id_of_[uint8_t(c)];
}

std::vector<int64_t> CharVocab::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(encode(c));
  return ids;
}

char CharVocab::decode(int64_t id) const {
  ATTO_CHECK(id >= 0 && id < size(), "[CharVocab] token id {} is outside [0, {})", id, size());
  return chars_[size_t(id)];
}

std::string CharVocab::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  for (int64_t id : ids) text += decode(id);
  return text;
}

std::string CharVocab::decode(const Tensor& ids) const {
  ATTO_CHECK(ids.dim() == 1, "[CharVocab] decode wants a 1-d tensor of ids, got shape {}", ids.shape());
  return decode(ids.to(kInt64).to_vector<int64_t>());
}

std::string CharVocab::label(char c) {
  if (c == '\n') return "\\n";
  if (c == ' ') return "_";
  if (c == '\t') return "\\t";
  return std::string(1, c);
}

// ---- loading ---------------------------------------------------------------------------------------------

static bool is_text_byte(char c) { return (c >= 32 && c < 127) || c == '\n' || c == '\t' || c == '\r'; }

CharCorpus load_char_corpus(const std::string& program, const std::string& path, double train_fraction) {
  ATTO_CHECK(train_fraction > 0 && train_fraction < 1, "[{}] train fraction {} is not in (0, 1)", program,
             train_fraction);
  std::string text = read_file(program, path);
  if (text.empty()) data_error(program, path, 1, "the file is empty");
  int64_t line = 1, column = 1;
  for (char c : text) {
    if (!is_text_byte(c))
      data_error(program, path, line,
                 fmt::format("column {}: byte 0x{:02x} is not text (printable ASCII, tab or newline expected)",
                             column, int(uint8_t(c))));
    if (c == '\n') ++line, column = 1;
    else ++column;
  }
  CharCorpus corpus;
  corpus.vocab = CharVocab(text);
  std::vector<int64_t> ids = corpus.vocab.encode(text);
  const auto n = int64_t(ids.size());
  const auto n_train = int64_t(double(n) * train_fraction);   // nanoGPT: int(n * 0.9)
  Tensor all = from_vector<int64_t>(ids);
  corpus.train = all.narrow(0, 0, n_train).contiguous();
  corpus.val = all.narrow(0, n_train, n - n_train).contiguous();
  return corpus;
}

// ---- batches ---------------------------------------------------------------------------------------------

std::pair<Tensor, Tensor> random_batch(const Tensor& data, int64_t batch, int64_t block, Generator* gen) {
  const int64_t n = data.numel();
  ATTO_CHECK(n > block, "[random_batch] the text has {} characters, too few for windows of {} + 1", n, block);
  return batch_at(data, randint(0, n - block, {batch}, {.dtype = kInt64}, gen).to_vector<int64_t>(), block);
}

std::pair<Tensor, Tensor> batch_at(const Tensor& data, const std::vector<int64_t>& starts, int64_t block) {
  const int64_t n = data.numel();
  const int64_t* tokens = data.data_ptr<int64_t>();
  std::vector<int64_t> x, y;
  x.reserve(starts.size() * size_t(block));
  y.reserve(starts.size() * size_t(block));
  for (int64_t start : starts) {
    ATTO_CHECK(start >= 0 && start + block < n,
               "[batch_at] a window of {} + 1 characters at {} does not fit in a text of {} characters", block, start,
               n);
    x.insert(x.end(), tokens + start, tokens + start + block);
    y.insert(y.end(), tokens + start + 1, tokens + start + 1 + block);
  }
  const auto rows = int64_t(starts.size());
  return {from_vector<int64_t>(x, Shape{rows, block}), from_vector<int64_t>(y, Shape{rows, block})};
}

StreamBatches::StreamBatches(const Tensor& data, int64_t batch, int64_t seq)
    : data_(data.contiguous()), batch_(batch), seq_(seq) {
  ATTO_CHECK(batch > 0 && seq > 0, "[StreamBatches] batch {} and seq {} must be positive", batch, seq);
  stream_length_ = (data_.numel() - 1) / batch;   // -1: every stream's last target is the next character
  chunks_ = stream_length_ / seq;
  ATTO_CHECK(chunks_ > 0, "[StreamBatches] {} characters make no chunk of {} streams x {} characters",
             data_.numel(), batch, seq);
}

std::pair<Tensor, Tensor> StreamBatches::chunk(int64_t k) const {
  const int64_t offset = (k % chunks_) * seq_;
  const int64_t* tokens = data_.data_ptr<int64_t>();
  std::vector<int64_t> x, y;
  x.reserve(size_t(batch_ * seq_));
  y.reserve(size_t(batch_ * seq_));
  for (int64_t b = 0; b < batch_; ++b) {
    const int64_t* stream = tokens + b * stream_length_ + offset;
    x.insert(x.end(), stream, stream + seq_);
    y.insert(y.end(), stream + 1, stream + 1 + seq_);
  }
  return {from_vector<int64_t>(x, Shape{batch_, seq_}), from_vector<int64_t>(y, Shape{batch_, seq_})};
}

// ---- sampling --------------------------------------------------------------------------------------------

int64_t sample_token(const Tensor& logits, double temperature, Generator* gen) {
  ATTO_CHECK(temperature > 0, "[sample_token] temperature must be positive, got {}", temperature);
  ATTO_CHECK(logits.dim() == 1, "[sample_token] wants 1-d logits, got shape {}", logits.shape());
  std::vector<double> probs = softmax(logits.to(kFloat64) / temperature, 0).to_vector<double>();
  // Inverse transform sampling: the first id whose cumulative probability passes a uniform draw.
  const double u = rand({1}, {.dtype = kFloat64}, gen).item<double>();
  double cumulative = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    cumulative += probs[i];
    if (u < cumulative) return int64_t(i);
  }
  return int64_t(probs.size()) - 1;   // u within rounding of 1
}

}  // namespace atto::examples
