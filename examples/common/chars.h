// examples/common/chars.h -- character-level text for the language-model examples (char_lstm,
// tiny_gpt): the vocabulary (every distinct character of the text, sorted, as nanoGPT's
// data/shakespeare_char/prepare.py builds it), nanoGPT's 90/10 train/validation split, and the two
// ways of cutting the text into batches. Twin: chars.cpp.
//
//   CharCorpus corpus = load_char_corpus("tiny_gpt", examples::data_dir() + "/tinyshakespeare/input.txt");
//   auto [x, y] = random_batch(corpus.train, /*batch=*/12, /*block=*/64);   // y is x shifted by one
//   fmt::print("{}\n", corpus.vocab.decode(x[0]));
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace atto::examples {

// The characters of a text, sorted by byte value; character i is token id i.
class CharVocab {
 public:
  CharVocab() = default;
  explicit CharVocab(const std::string& text);
  int64_t size() const { return int64_t(chars_.size()); }
  const std::string& chars() const { return chars_; }
  bool contains(char c) const { return id_of_[uint8_t(c)] >= 0; }
  int64_t encode(char c) const;                        // error for a character not in the vocabulary
  std::vector<int64_t> encode(const std::string& text) const;
  char decode(int64_t id) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  std::string decode(const Tensor& ids) const;         // a 1-d integer tensor
  // How a character reads in a picture's labels: "\n" for a newline, "_" for a space.
  static std::string label(char c);

 private:
  std::string chars_;
  std::array<int64_t, 256> id_of_{};
};

// A text as token ids, split as nanoGPT does: the first 90% of the characters train, the rest
// validate (for tiny-shakespeare: 1,003,854 and 111,540 characters).
struct CharCorpus {
  CharVocab vocab;
  Tensor train, val;   // 1-d int64 token ids
};

// Reads a plain-text file. Errors (atto::Error) name the file: it cannot be opened, is empty, or
// holds a byte that is not printable ASCII, tab or newline (with the line and column where it is).
CharCorpus load_char_corpus(const std::string& program, const std::string& path, double train_fraction = 0.9);

// nanoGPT's get_batch: `batch` windows at random starts i ~ U[0, len - block): x = data[i : i + block]
// and the targets y = data[i + 1 : i + 1 + block], each (batch, block) int64. Draws from `gen`
// (null: the default generator), so saving the generator saves where sampling stands.
std::pair<Tensor, Tensor> random_batch(const Tensor& data, int64_t batch, int64_t block, Generator* gen = nullptr);
// The same windows at given starts (each in [0, len - block)): x and y (starts.size(), block).
std::pair<Tensor, Tensor> batch_at(const Tensor& data, const std::vector<int64_t>& starts, int64_t block);

// char-rnn's layout for truncated backpropagation through time: the text is cut into `batch` equal
// streams read side by side, `seq` characters at a time, so chunk k + 1 of every stream continues
// where chunk k stopped and a recurrent net can carry its hidden state from one chunk to the next.
class StreamBatches {
 public:
  StreamBatches(const Tensor& data, int64_t batch, int64_t seq);
  int64_t chunks_per_epoch() const { return chunks_; }
  // Chunk k (wrapping around every chunks_per_epoch()): x and y (batch, seq), y shifted by one.
  std::pair<Tensor, Tensor> chunk(int64_t k) const;

 private:
  Tensor data_;
  int64_t batch_, seq_, stream_length_, chunks_;
};

// One token id drawn from softmax(logits / temperature), logits 1-d (vocab): temperature 1 samples
// the model's distribution, lower sharpens it (towards the most likely character), higher flattens it.
int64_t sample_token(const Tensor& logits, double temperature, Generator* gen = nullptr);

}  // namespace atto::examples
