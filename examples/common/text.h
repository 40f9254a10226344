// examples/common/text.h -- words for the text examples: a tokenizer (lowercase words and
// punctuation), a Vocabulary (word <-> id, rare words -> <unk>, <pad> = 0), the UCI "Sentiment
// Labelled Sentences" loader with its fixed train/validation/test split, and padded batches of
// token ids. Used by sentiment_attention and lstm_classifier. Twin: text.cpp.
//
//   auto sentences = examples::load_sentiment_sentences("sentiment_attention", data_dir() + "/sentiment");
//   auto split = examples::split_sentences(sentences.size(), 0.2, 0.1, /*split_seed=*/2015);
//   examples::Vocabulary vocab(tokenized_training_sentences, /*min_count=*/2);
//   examples::TokenBatch b = examples::make_batch(encoded, labels, rows);   // b.ids (B, T), b.lengths
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace atto::examples {

// "Wow... Loved this place!" -> {"wow", ".", ".", ".", "loved", "this", "place", "!"}.
// A word is a run of letters and digits (ASCII lowercased; other UTF-8 letters such as "é" kept
// as they are); an apostrophe between a word and a letter stays inside it ("don't", "it's").
// Every other visible character is a token of its own. The C1 control characters that the IMDB
// file carries (U+0080..U+009F, mis-decoded cp1252 dashes) count as spaces.
std::vector<std::string> tokenize(const std::string& text);

// Word <-> id. Ids 0 and 1 are <pad> and <unk>; then the words seen at least min_count times in
// the sentences it was built from, most frequent first (ties alphabetically, so the ids are the
// same on every machine).
class Vocabulary {
 public:
  static constexpr int64_t kPad = 0, kUnk = 1;

  Vocabulary(const std::vector<std::vector<std::string>>& sentences, int64_t min_count);
  int64_t size() const { return int64_t(words_.size()); }
  int64_t id(const std::string& word) const;          // kUnk for a word it does not know
  const std::string& word(int64_t id) const;
  std::vector<int64_t> encode(const std::vector<std::string>& tokens) const;

 private:
  std::vector<std::string> words_;
  std::map<std::string, int64_t> ids_;
};

// One line of the data set: "sentence<TAB>label".
struct LabelledSentence {
  std::string text;
  int64_t label = 0;    // 0 negative, 1 positive
  std::string source;   // the file's name: amazon_cells_labelled.txt, ...
};

// Reads one file. Each line is split at its LAST tab (no CSV quoting: IMDB has unbalanced quotes);
// the label must be 0 or 1 and the sentence non-empty, else atto::Error "[program] path:line: ...".
std::vector<LabelledSentence> load_labelled_sentences(const std::string& program, const std::string& path);

// The three files of data/sentiment (amazon, imdb, yelp: 3,000 sentences), in that order.
std::vector<LabelledSentence> load_sentiment_sentences(const std::string& program, const std::string& folder);

// 0..n-1 in an order drawn from seed (Fisher-Yates over std::mt19937_64, whose output the C++
// standard fixes, so every platform gets the same order).
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed);

// Row indices of a fixed split: test_fraction of all rows for the test set, then val_fraction of
// all rows carved from the rest for validation (early stopping); the remainder trains.
struct Split {
  std::vector<int64_t> train, val, test;
};
Split split_rows(int64_t n, double test_fraction, double val_fraction, uint64_t split_seed);

// The sentences of one part of a split, tokenized and encoded; row k is sentence rows[k] of `all`.
struct EncodedSentences {
  std::vector<std::vector<std::string>> tokens;
  std::vector<std::vector<int64_t>> ids;
  std::vector<int64_t> labels;
  std::vector<std::string> texts;
  int64_t size() const { return int64_t(labels.size()); }
};
EncodedSentences encode_sentences(const std::vector<LabelledSentence>& all, const std::vector<int64_t>& rows,
                                  const Vocabulary& vocab);

// Batches of rows for one epoch: the rows in the order drawn from seed, cut into windows of
// 20 batches, each window sorted by sentence length and cut into batches, and the batches shuffled.
// Sentences of a batch have similar lengths, so little compute goes to padding; the batches are
// still random. (For evaluation, pass shuffle = false: all rows sorted by length, no randomness.)
std::vector<std::vector<int64_t>> length_bucketed_batches(const EncodedSentences& part, int64_t batch, uint64_t seed,
                                                          bool shuffle = true);

// A padded batch: ids (B, T) int64 with T the longest sentence of the batch, padded with <pad>;
// labels (B) int64; lengths (B) the number of real tokens; padding (B, T) bool, true on <pad>.
// The tensors are on `device` (the lengths stay a host vector: the LSTM reads them on the host).
struct TokenBatch {
  Tensor ids, labels, padding;
  std::vector<int64_t> lengths;
};
TokenBatch make_batch(const std::vector<std::vector<int64_t>>& encoded, const std::vector<int64_t>& labels,
                      const std::vector<int64_t>& rows, Device device = kCPU);

}  // namespace atto::examples
