// examples/common/text.cpp -- tokenizer, vocabulary, the sentiment sentences loader and padded
// batches. Twin: text.h.
#include "common/text.h"

#include <algorithm>
#include <cctype>
#include <numeric>
#include <random>

#include "autograd/functions/elementwise.h"
#include "common/run.h"

namespace atto::examples {

// ---- tokenizer -----------------------------------------------------------------------------------

static bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static bool is_ascii_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::vector<std::string> tokenize(const std::string& text) {
  std::vector<std::string> tokens;
  std::string word;
  auto end_word = [&] {
    if (!word.empty()) tokens.push_back(word);
    word.clear();
  };
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const unsigned char next = i + 1 < n ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (c == 0xC2 && next >= 0x80 && next <= 0x9F) {   // UTF-8 of a C1 control: a space
      end_word();
      ++i;
    } else if (is_word_byte(c)) {
      word += (c < 0x80) ? char(std::tolower(c)) : char(c);
    } else if (c == '\'' && !word.empty() && is_ascii_letter(next)) {
      word += '\'';   // don't, it's, i've
    } else {
      end_word();
      if (!std::isspace(c) && !std::iscntrl(c)) tokens.emplace_back(1, char(c));
    }
  }
  end_word();
  return tokens;
}

// ---- vocabulary ----------------------------------------------------------------------------------

Vocabulary::Vocabulary(const std::vector<std::vector<std::string>>& sentences, int64_t min_count) {
  std::map<std::string, int64_t> counts;
  for (const auto& sentence : sentences)
    for (const auto& token : sentence) ++counts[token];
  std::vector<std::pair<std::string, int64_t>> kept;
  for (const auto& [word, count] : counts)
    if (count >= min_count) kept.emplace_back(word, count);
  // Most frequent first; the map already sorted the words, and stable_sort keeps that among ties.
  std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  words_ = {"<pad>", "<unk>"};
  for (const auto& [word, count] : kept) words_.push_back(word);
  for (int64_t i = 0; i < size(); ++i) ids_[words_[size_t(i)]] = i;
}

int64_t Vocabulary::id(const std::string& word) const {
  auto it = ids_.find(word);
  return it == ids_.end() ? kUnk : it->second;
}

const std::string& Vocabulary::word(int64_t id) const {
  ATTO_CHECK(id >= 0 && id < size(), "[Vocabulary] id {} is outside 0..{}", id, size() - 1);
  return words_[size_t(id)];
}

std::vector<int64_t> Vocabulary::encode(const std::vector<std::string>& tokens) const {
  std::vector<int64_t> ids;
  ids.reserve(tokens.size());
  for (const auto& token : tokens) ids.push_back(id(token));
  return ids;
}

// ---- the data set --------------------------------------------------------------------------------

std::vector<LabelledSentence> load_labelled_sentences(const std::string& program, const std::string& path) {
  const std::string source = path.substr(path.find_last_of('/') + 1);
  std::vector<LabelledSentence> sentences;
  const std::vector<std::string> lines = read_lines(program, path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const int64_t lineno = int64_t(i) + 1;
    if (line.empty()) continue;
    const size_t tab = line.rfind('\t');
    if (tab == std::string::npos) data_error(program, path, lineno, "expected 'sentence<TAB>label', found no tab");
    const std::string label = line.substr(tab + 1);
    if (label != "0" && label != "1")
      data_error(program, path, lineno, fmt::format("the label must be 0 or 1, found '{}'", label));
    std::string text = line.substr(0, tab);
    while (!text.empty() && text.back() == ' ') text.pop_back();   // IMDB lines end in two spaces
    if (tokenize(text).empty()) data_error(program, path, lineno, "the sentence has no words");
    sentences.push_back({std::move(text), label == "1" ? 1 : 0, source});
  }
  ATTO_CHECK(!sentences.empty(), "[{}] {} holds no sentences", program, path);
  return sentences;
}

std::vector<LabelledSentence> load_sentiment_sentences(const std::string& program, const std::string& folder) {
  std::vector<LabelledSentence> all;
  for (const char* file : {"amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt"}) {
    std::vector<LabelledSentence> part = load_labelled_sentences(program, folder + "/" + file);
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng() % uint64_t(i + 1))]);
  return order;
}

Split split_rows(int64_t n, double test_fraction, double val_fraction, uint64_t split_seed) {
  ATTO_CHECK(test_fraction > 0 && val_fraction >= 0 && test_fraction + val_fraction < 1,
             "[split_rows] fractions test {} and validation {} leave nothing to train on", test_fraction,
             val_fraction);
  const std::vector<int64_t> order = shuffled_indices(n, split_seed);
  const auto n_test = int64_t(double(n) * test_fraction + 0.5);
  const auto n_val = int64_t(double(n) * val_fraction + 0.5);
  Split split;
  split.test.assign(order.begin(), order.begin() + n_test);
  split.val.assign(order.begin() + n_test, order.begin() + n_test + n_val);
  split.train.assign(order.begin() + n_test + n_val, order.end());
  return split;
}

EncodedSentences encode_sentences(const std::vector<LabelledSentence>& all, const std::vector<int64_t>& rows,
                                  const Vocabulary& vocab) {
  EncodedSentences part;
  for (int64_t r : rows) {
    const LabelledSentence& s = all[size_t(r)];
    part.tokens.push_back(tokenize(s.text));
    part.ids.push_back(vocab.encode(part.tokens.back()));
    part.labels.push_back(s.label);
    part.texts.push_back(s.text);
  }
  return part;
}

std::vector<std::vector<int64_t>> length_bucketed_batches(const EncodedSentences& part, int64_t batch, uint64_t seed,
                                                          bool shuffle) {
  ATTO_CHECK(batch > 0, "[length_bucketed_batches] batch size {} must be positive", batch);
  std::vector<int64_t> order(size_t(part.size()));
  std::iota(order.begin(), order.end(), 0);
  if (shuffle) order = shuffled_indices(part.size(), seed);
  const int64_t window = shuffle ? 20 * batch : part.size();
  auto shorter = [&](int64_t a, int64_t b) { return part.ids[size_t(a)].size() < part.ids[size_t(b)].size(); };
  std::vector<std::vector<int64_t>> batches;
  for (int64_t w = 0; w < part.size(); w += window) {
    auto first = order.begin() + w, last = order.begin() + std::min(w + window, part.size());
    std::stable_sort(first, last, shorter);
    for (auto start = first; start < last;) {
      auto stop = start + std::min<int64_t>(batch, last - start);
      batches.emplace_back(start, stop);
      start = stop;
    }
  }
  if (shuffle) {
    const std::vector<int64_t> batch_order = shuffled_indices(int64_t(batches.size()), seed + 1);
    std::vector<std::vector<int64_t>> shuffled;
    for (int64_t b : batch_order) shuffled.push_back(batches[size_t(b)]);
    batches = std::move(shuffled);
  }
  return batches;
}

TokenBatch make_batch(const std::vector<std::vector<int64_t>>& encoded, const std::vector<int64_t>& labels,
                      const std::vector<int64_t>& rows, Device device) {
  const auto batch = int64_t(rows.size());
  ATTO_CHECK(batch > 0, "[make_batch] no rows");
  int64_t longest = 0;
  for (int64_t r : rows) longest = std::max(longest, int64_t(encoded[size_t(r)].size()));
  std::vector<int64_t> ids(size_t(batch * longest), Vocabulary::kPad), batch_labels, lengths;
  for (int64_t b = 0; b < batch; ++b) {
    const auto& sentence = encoded[size_t(rows[size_t(b)])];
    std::copy(sentence.begin(), sentence.end(), ids.begin() + b * longest);
    lengths.push_back(int64_t(sentence.size()));
    batch_labels.push_back(labels[size_t(rows[size_t(b)])]);
  }
  TokenBatch out;
  out.ids = from_vector<int64_t>(ids, Shape{batch, longest}).to(device);
  out.labels = from_vector<int64_t>(batch_labels).to(device);
  out.padding = eq(out.ids, Vocabulary::kPad);
  out.lengths = std::move(lengths);
  return out;
}

}  // namespace atto::examples
