// examples/seq2seq_attention/data.cpp -- reading, splitting, vocabularies and batches. Twin: data.h.
#include "data.h"

#include <algorithm>
#include <numeric>

#include "autograd/functions/elementwise.h"
#include "common/run.h"
#include "tensor/check.h"

namespace atto::examples {

std::vector<SentencePair> load_pairs(const std::string& path, bool french_to_english) {
  const std::vector<std::string> lines = read_lines("seq2seq_attention", path);
  std::vector<SentencePair> pairs;
  for (size_t i = 0; i < lines.size(); ++i) {
    const int64_t line_no = int64_t(i) + 1;
    const std::string& line = lines[i];
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || line.find('\t', tab + 1) != std::string::npos)
      data_error("seq2seq_attention", path, line_no, "expected 'english<TAB>french' (exactly one tab)");
    Tokens english = split_words(line.substr(0, tab)), french = split_words(line.substr(tab + 1));
    if (english.empty() || french.empty())
      data_error("seq2seq_attention", path, line_no, "an empty sentence on one side of the tab");
    pairs.push_back(french_to_english ? SentencePair{french, english, line_no} : SentencePair{english, french, line_no});
  }
  ATTO_CHECK(!pairs.empty(), "[seq2seq_attention] {} holds no sentence pairs", path);
  return pairs;
}

void split_pairs(const std::vector<SentencePair>& pairs, double test_fraction, uint64_t seed,
                 std::vector<SentencePair>& train, std::vector<SentencePair>& test) {
  // Union-find over sentences: a pair joins its source sentence and its target sentence.
  std::unordered_map<std::string, size_t> sentence_id;
  std::vector<size_t> parent;
  auto node = [&](const std::string& key) {
    auto [it, inserted] = sentence_id.try_emplace(key, parent.size());
    if (inserted) parent.push_back(parent.size());
    return it->second;
  };
  auto root = [&](size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  auto join = [](const Tokens& words) {
    std::string s;
    for (const auto& w : words) s += w + ' ';
    return s;
  };
  std::vector<size_t> source_node(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    size_t a = node("s:" + join(pairs[i].source)), b = node("t:" + join(pairs[i].target));
    parent[root(a)] = root(b);
    source_node[i] = a;
  }
  // Groups in first-seen order, then shuffled: the split depends on the seed only.
  std::unordered_map<size_t, size_t> group_of_root;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < pairs.size(); ++i) {
    auto [it, inserted] = group_of_root.try_emplace(root(source_node[i]), groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::mt19937_64 rng(seed);
  std::shuffle(groups.begin(), groups.end(), rng);
  const size_t test_target = size_t(test_fraction * double(pairs.size()));
  train.clear();
  test.clear();
  for (const auto& group : groups)
    for (size_t i : group) (test.size() < test_target ? test : train).push_back(pairs[i]);
  // Keep file order inside each side: easier to read and to compare between runs.
  auto by_line = [](const SentencePair& a, const SentencePair& b) { return a.line < b.line; };
  std::sort(train.begin(), train.end(), by_line);
  std::sort(test.begin(), test.end(), by_line);
}

Vocab::Vocab() {
  for (const char* special : {"<pad>", "<sos>", "<eos>", "<unk>"}) add(special);
}

int64_t Vocab::add(const std::string& word) {
  auto [it, inserted] = ids_.try_emplace(word, int64_t(words_.size()));
  if (inserted) words_.push_back(word);
  return it->second;
}

int64_t Vocab::id(const std::string& word) const {
  auto it = ids_.find(word);
  return it == ids_.end() ? kUnk : it->second;
}

Batch make_batch(const std::vector<const SentencePair*>& pairs, const Vocab& source_vocab, const Vocab& target_vocab,
                 Device device) {
  const int64_t batch = int64_t(pairs.size());
  int64_t max_source = 0, max_target = 0;
  for (const SentencePair* p : pairs) {
    max_source = std::max<int64_t>(max_source, int64_t(p->source.size()));
    max_target = std::max<int64_t>(max_target, int64_t(p->target.size()) + 1);   // + EOS
  }
  std::vector<int64_t> source(size_t(batch * max_source), Vocab::kPad), target(size_t(batch * max_target), Vocab::kPad);
  Batch b;
  for (int64_t i = 0; i < batch; ++i) {
    const SentencePair& p = *pairs[size_t(i)];
    for (size_t t = 0; t < p.source.size(); ++t) source[size_t(i * max_source) + t] = source_vocab.id(p.source[t]);
    for (size_t t = 0; t < p.target.size(); ++t) target[size_t(i * max_target) + t] = target_vocab.id(p.target[t]);
    target[size_t(i * max_target) + p.target.size()] = Vocab::kEos;
    b.source_lengths.push_back(int64_t(p.source.size()));
    b.target_tokens += int64_t(p.target.size()) + 1;
  }
  b.source = from_vector<int64_t>(source, Shape{batch, max_source}).to(device);
  b.target = from_vector<int64_t>(target, Shape{batch, max_target}).to(device);
  b.source_mask = ne(b.source, Vocab::kPad);   // real words are never <pad>
  return b;
}

}  // namespace atto::examples
