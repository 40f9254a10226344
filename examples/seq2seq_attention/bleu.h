// examples/seq2seq_attention/bleu.h -- corpus BLEU (Papineni et al., 2002), the usual score of a
// machine translation, and a self-check on cases whose score follows from counting by hand.
// Twin: bleu.cpp.
//
// BLEU-4 compares n-grams (n = 1..4) of each hypothesis with its reference translations:
//   p_n  = (clipped n-gram matches summed over the corpus) / (hypothesis n-grams summed over the corpus)
//          where a hypothesis n-gram counts at most as often as it occurs in any one reference;
//   BP   = 1 if c > r, else exp(1 - r / c)     c = total hypothesis length, r = summed length of the
//          reference closest in length to each hypothesis (the shorter one on a tie);
//   BLEU = BP * exp(mean over n of log p_n)    (0 when some p_n is 0: no smoothing, as the paper).
// Sums run over the whole corpus before dividing: corpus BLEU is not the mean of sentence BLEUs.
#pragma once
#include <array>
#include <string>
#include <vector>

namespace atto::examples {

using Tokens = std::vector<std::string>;

struct BleuScore {
  double bleu = 0;                  // in [0, 1]
  std::array<double, 4> precision{};   // p_1 .. p_4
  double brevity_penalty = 0;
  int64_t hypothesis_length = 0, reference_length = 0;
};

// hypotheses[i] is scored against references[i] (one or more translations of sentence i).
BleuScore corpus_bleu(const std::vector<Tokens>& hypotheses, const std::vector<std::vector<Tokens>>& references);

// Splits on spaces (runs of spaces count as one).
Tokens split_words(const std::string& sentence);

// Runs corpus_bleu on three cases with known answers (identical corpora: 1; a hand-counted sentence:
// (5/6 * 3/5 * 2/4 * 1/3)^(1/4); a short hypothesis: exp(-1/2)), prints one line per case and a
// final "BLEU self-check passed"; throws atto::Error if a score is off.
void bleu_self_check();

}  // namespace atto::examples
