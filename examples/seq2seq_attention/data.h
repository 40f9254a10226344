// examples/seq2seq_attention/data.h -- the sentence pairs: reading the tab-separated file, a held-out
// split in which no sentence appears on both sides, word vocabularies, and padded batches.
// Twin: data.cpp.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bleu.h"
#include "tensor/tensor.h"

namespace atto::examples {

struct SentencePair {
  Tokens source, target;   // words
  int64_t line = 0;        // 1-based line in the data file
};

// One pair per line, "english<TAB>french", already normalized (lower case, no accents, words separated
// by single spaces). french_to_english = true gives source = French, as in the PyTorch tutorial.
// A missing file or a line without exactly one tab and two non-empty sides is an atto::Error naming
// the file and the line.
std::vector<SentencePair> load_pairs(const std::string& path, bool french_to_english);

// Splits the pairs into train and test so that no source sentence and no target sentence is in both.
// Pairs that share a sentence (one French sentence with two English translations, and so on) form
// groups (connected components); whole groups go to the test side, in an order shuffled with `seed`,
// until it holds about test_fraction of the pairs.
void split_pairs(const std::vector<SentencePair>& pairs, double test_fraction, uint64_t seed,
                 std::vector<SentencePair>& train, std::vector<SentencePair>& test);

// Word <-> id. Ids 0..3 are the special tokens; words seen only in the test set map to <unk>.
class Vocab {
 public:
  static constexpr int64_t kPad = 0, kSos = 1, kEos = 2, kUnk = 3;
  Vocab();
  int64_t add(const std::string& word);
  int64_t id(const std::string& word) const;   // kUnk if unknown
  const std::string& word(int64_t id) const { return words_.at(size_t(id)); }
  int64_t size() const { return int64_t(words_.size()); }

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> ids_;
};

// A padded batch. source (B, S) int64 and target (B, T) int64 padded with kPad; every target ends
// with kEos; source_lengths[b] = number of source words; source_mask (B, S) bool, true on real words.
struct Batch {
  Tensor source, target, source_mask;
  std::vector<int64_t> source_lengths;
  int64_t target_tokens = 0;   // words + EOS, the tokens the loss is averaged over
};

Batch make_batch(const std::vector<const SentencePair*>& pairs, const Vocab& source_vocab, const Vocab& target_vocab,
                 Device device = kCPU);   // the tensors on `device`; the lengths stay on the host

}  // namespace atto::examples
