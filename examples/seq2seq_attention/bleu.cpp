// examples/seq2seq_attention/bleu.cpp -- corpus BLEU-4 with brevity penalty, and its self-check.
// Twin: bleu.h.
#include "bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "tensor/check.h"

namespace atto::examples {

using NgramCounts = std::map<Tokens, int64_t>;

static NgramCounts count_ngrams(const Tokens& words, size_t n) {
  NgramCounts counts;
  for (size_t i = 0; i + n <= words.size(); ++i) ++counts[Tokens(words.begin() + i, words.begin() + i + n)];
  return counts;
}

BleuScore corpus_bleu(const std::vector<Tokens>& hypotheses, const std::vector<std::vector<Tokens>>& references) {
  ATTO_CHECK(hypotheses.size() == references.size(), "[corpus_bleu] {} hypotheses but {} reference sets",
             hypotheses.size(), references.size());
  std::array<int64_t, 4> matches{}, totals{};
  BleuScore score;
  for (size_t s = 0; s < hypotheses.size(); ++s) {
    const Tokens& hyp = hypotheses[s];
    const auto& refs = references[s];
    ATTO_CHECK(!refs.empty(), "[corpus_bleu] sentence {} has no reference", s);
    for (size_t n = 1; n <= 4; ++n) {
      // The most times each n-gram occurs in a single reference: the clip for its matches.
      NgramCounts max_ref_counts;
      for (const Tokens& ref : refs)
        for (const auto& [gram, count] : count_ngrams(ref, n))
          max_ref_counts[gram] = std::max(max_ref_counts[gram], count);
      for (const auto& [gram, count] : count_ngrams(hyp, n)) {
        auto it = max_ref_counts.find(gram);
        matches[n - 1] += std::min(count, it == max_ref_counts.end() ? int64_t(0) : it->second);
        totals[n - 1] += count;
      }
    }
    // The reference length closest to the hypothesis length (the shorter one on a tie).
    int64_t hyp_len = int64_t(hyp.size()), best = int64_t(refs[0].size());
    for (const Tokens& ref : refs) {
      int64_t len = int64_t(ref.size());
      if (std::abs(len - hyp_len) < std::abs(best - hyp_len) || (std::abs(len - hyp_len) == std::abs(best - hyp_len) && len < best))
        best = len;
    }
    score.hypothesis_length += hyp_len;
    score.reference_length += best;
  }
  double log_sum = 0;
  bool any_zero = false;
  for (size_t n = 0; n < 4; ++n) {
    score.precision[n] = totals[n] > 0 ? double(matches[n]) / double(totals[n]) : 0.0;
    if (matches[n] == 0) any_zero = true;
    else log_sum += std::log(score.precision[n]);
  }
  const double c = double(score.hypothesis_length), r = double(score.reference_length);
  score.brevity_penalty = c == 0 ? 0.0 : (c > r ? 1.0 : std::exp(1.0 - r / c));
  score.bleu = any_zero ? 0.0 : score.brevity_penalty * std::exp(log_sum / 4.0);
  return score;
}

Tokens split_words(const std::string& sentence) {
  Tokens words;
  std::istringstream in(sentence);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

void bleu_self_check() {
  auto check = [](const std::string& what, const BleuScore& got, double expected) {
    bool ok = std::abs(got.bleu - expected) < 1e-12;
    fmt::print("BLEU self-check: {:<58} {:.6f} (expected {:.6f}) {}\n", what, got.bleu, expected, ok ? "ok" : "WRONG");
    ATTO_CHECK(ok, "[bleu_self_check] {}: BLEU {} but the hand count gives {}", what, got.bleu, expected);
  };
  const std::vector<Tokens> corpus = {split_words("je suis content"), split_words("il est tres grand pour son age"),
                                      split_words("nous sommes en retard")};
  std::vector<std::vector<Tokens>> as_references;
  for (const Tokens& s : corpus) as_references.push_back({s});
  check("identical corpora", corpus_bleu(corpus, as_references), 1.0);

  // hyp "the cat sat on the mat" vs ref "the cat sat on a mat": unigrams 5/6 (the second "the" is
  // clipped), bigrams 3/5, trigrams 2/4, 4-grams 1/3 ("the cat sat on"); equal lengths, BP = 1.
  check("'the cat sat on the mat' vs 'the cat sat on a mat'",
        corpus_bleu({split_words("the cat sat on the mat")}, {{split_words("the cat sat on a mat")}}),
        std::pow(5.0 / 6 * 3.0 / 5 * 2.0 / 4 * 1.0 / 3, 0.25));

  // hyp "the cat sat on" (4 words) vs refs of 6 and 8 words: every n-gram matches, the closest
  // reference has r = 6, so BLEU = BP = exp(1 - 6/4).
  check("'the cat sat on' vs two longer references",
        corpus_bleu({split_words("the cat sat on")},
                    {{split_words("the cat sat on the mat"), split_words("the cat sat on the mat all day")}}),
        std::exp(1.0 - 6.0 / 4.0));
  fmt::print("BLEU self-check passed\n");
}

}  // namespace atto::examples
