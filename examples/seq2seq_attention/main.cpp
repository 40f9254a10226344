// examples/seq2seq_attention -- French -> English translation with a GRU encoder-decoder and
// Bahdanau (additive) attention, after the PyTorch tutorial "NLP From Scratch: Translation with a
// Sequence to Sequence Network and Attention", on the same 11,822 short sentence pairs.
//
// What it teaches:
//   * an encoder-decoder: the encoder (nn::GRU over the padded batch, with the true lengths) reads the
//     French sentence; the decoder writes English one word at a time from its previous word, its
//     hidden state and a context vector;
//   * additive attention: at each output word the decoder scores every source word,
//     v . tanh(W_q h + W_k s_j), and the softmax of those scores weights the encoder states into the
//     context -- the weights are the alignment pictures this program draws;
//   * teacher forcing (training on the reference's previous word) against free running (on the
//     model's own), mixed by --teacher-forcing;
//   * decoding: greedy (the best word each step) and beam search (--beam K best partial sentences);
//   * evaluation: corpus BLEU-4 (bleu.h) on held-out sentences that never occur in training.
//
//   build/examples/seq2seq_attention --out runs/seq2seq
//   build/examples/seq2seq_attention --resume runs/seq2seq/checkpoint.safetensors --epochs 10 --out runs/seq2seq
//
// Writes <out>/metrics.csv (per step), <out>/epochs.csv (per epoch: test loss and BLEU),
// <out>/checkpoint.safetensors, <out>/loss.png and <out>/alignment.png.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "attograd.h"
#include "bleu.h"
#include "common/plot.h"
#include "common/run.h"
#include "data.h"
#include "model.h"
#include "optim/checkpoint.h"

using namespace atto;
using namespace atto::examples;

// A held-out source sentence with every reference translation the test set has for it.
struct TestSentence {
  const SentencePair* pair;        // the first pair with this source
  std::vector<Tokens> references;
};

std::vector<TestSentence> group_by_source(const std::vector<SentencePair>& test) {
  std::vector<TestSentence> sentences;
  std::map<Tokens, size_t> index;
  for (const SentencePair& p : test) {
    auto [it, inserted] = index.try_emplace(p.source, sentences.size());
    if (inserted) sentences.push_back({&p, {}});
    sentences[it->second].references.push_back(p.target);
  }
  return sentences;
}

Tokens to_words(const std::vector<int64_t>& ids, const Vocab& vocab) {
  Tokens words;
  for (int64_t id : ids) words.push_back(vocab.word(id));
  return words;
}

std::string join_words(const Tokens& words) {
  std::string s;
  for (size_t i = 0; i < words.size(); ++i) s += (i ? " " : "") + words[i];
  return s;
}

// Mean cross-entropy per target token over all pairs (teacher forcing, no dropout).
double evaluate_loss(Seq2Seq& model, const std::vector<SentencePair>& pairs, const Vocab& src, const Vocab& tgt) {
  NoGradGuard no_grad;
  double total = 0;
  int64_t tokens = 0;
  for (size_t start = 0; start < pairs.size(); start += 128) {
    std::vector<const SentencePair*> chunk;
    for (size_t i = start; i < std::min(pairs.size(), start + 128); ++i) chunk.push_back(&pairs[i]);
    Batch batch = make_batch(chunk, src, tgt, model.device());
    total += model.loss(batch, /*teacher_forcing=*/true).item<double>() * double(batch.target_tokens);
    tokens += batch.target_tokens;
  }
  return total / double(tokens);
}

// Translates every test sentence (greedy, or beam search when beam > 1).
std::vector<Seq2Seq::Translation> translate(Seq2Seq& model, const std::vector<TestSentence>& sentences,
                                            const Vocab& src, const Vocab& tgt, int64_t beam, int64_t max_length,
                                            double length_penalty) {
  std::vector<Seq2Seq::Translation> out;
  if (beam <= 1) {
    for (size_t start = 0; start < sentences.size(); start += 128) {
      std::vector<const SentencePair*> chunk;
      for (size_t i = start; i < std::min(sentences.size(), start + 128); ++i) chunk.push_back(sentences[i].pair);
      for (auto& tr : model.greedy(make_batch(chunk, src, tgt, model.device()), max_length))
        out.push_back(std::move(tr));
    }
  } else {
    for (const TestSentence& s : sentences)
      out.push_back(
          model.beam_search(make_batch({s.pair}, src, tgt, model.device()), beam, max_length, length_penalty));
  }
  return out;
}

BleuScore score(const std::vector<Seq2Seq::Translation>& translations, const std::vector<TestSentence>& sentences,
                const Vocab& tgt) {
  std::vector<Tokens> hypotheses;
  std::vector<std::vector<Tokens>> references;
  for (size_t i = 0; i < sentences.size(); ++i) {
    hypotheses.push_back(to_words(translations[i].words, tgt));
    references.push_back(sentences[i].references);
  }
  return corpus_bleu(hypotheses, references);
}

std::string describe(const BleuScore& s) {
  return fmt::format("BLEU {:.2f}  (1-4 gram precision {:.1f}/{:.1f}/{:.1f}/{:.1f}, brevity penalty {:.3f}, "
                     "length {}/{})",
                     100 * s.bleu, 100 * s.precision[0], 100 * s.precision[1], 100 * s.precision[2],
                     100 * s.precision[3], s.brevity_penalty, s.hypothesis_length, s.reference_length);
}

int main(int argc, char** argv) {
  CLI::App app{"French -> English translation: GRU encoder-decoder with Bahdanau attention, BLEU on held-out pairs"};
  // One thread by default: the matrices are small (a batch of 64 by 128 units), and on a busy 2-core
  // machine a second OpenMP thread spin-waiting for a core costs far more than it gives.
  CommonFlags flags{.out = "runs/seq2seq_attention", .threads = 1};
  add_common_flags(app, flags);
  int epochs = 8;
  int64_t iters = 0, batch_size = 64, hidden = 128, beam = 5, max_length = 12, eval_limit = 0, samples = 4;
  double lr = 2e-3, dropout = 0.1, teacher_forcing = 0.5, clip = 1.0, test_fraction = 0.1, length_penalty = 1.0;
  bool english_to_french = false, bleu_check_only = false;
  std::string data = data_dir() + "/eng-fra/eng-fra.tutorial.tsv";
  app.add_option("--epochs", epochs, "passes over the training pairs")->capture_default_str();
  app.add_option("--iters", iters, "stop after this many steps (0: run all epochs)")->capture_default_str();
  app.add_option("--batch", batch_size, "sentence pairs per step")->capture_default_str()->check(CLI::Range(1, 1000000));
  app.add_option("--hidden", hidden, "embedding and GRU width")->capture_default_str()->check(CLI::Range(1, 1000000));
  app.add_option("--lr", lr, "Adam learning rate")->capture_default_str();
  app.add_option("--dropout", dropout, "dropout on the word embeddings")->capture_default_str();
  app.add_option("--teacher-forcing", teacher_forcing,
                 "probability that a batch is trained on the reference's previous words (else on the model's own)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--clip", clip, "gradient norm clip (0: none)")->capture_default_str();
  app.add_option("--beam", beam, "beam width for the beam-search score (1: greedy only)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--length-penalty", length_penalty, "beam search ranks finished sentences by log p / length^this")
      ->capture_default_str();
  app.add_option("--max-length", max_length, "longest translation, in words")->capture_default_str()->check(CLI::Range(1, 1000000));
  app.add_option("--test-fraction", test_fraction, "share of the pairs held out (whole sentence groups)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 0.9));
  app.add_option("--eval-limit", eval_limit, "score only the first N held-out sentences (0: all)")->capture_default_str();
  app.add_option("--samples", samples, "held-out sentences printed and drawn as alignment heatmaps")->capture_default_str();
  app.add_option("--data", data, "english<TAB>french pairs, normalized")->capture_default_str();
  app.add_flag("--english-to-french", english_to_french, "translate the other way");
  app.add_flag("--bleu-check", bleu_check_only, "run the BLEU self-check and exit");
  CLI11_PARSE(app, argc, argv);

  try {
    bleu_self_check();
    if (bleu_check_only) return 0;
    const Device device = setup(flags, "seq2seq_attention");
    Stopwatch clock;

    // ---- data: a split by sentence groups, vocabularies from the training side only ----
    std::vector<SentencePair> pairs = load_pairs(data, !english_to_french), train, test;
    split_pairs(pairs, test_fraction, flags.seed, train, test);
    Vocab src, tgt;
    for (const SentencePair& p : train) {
      for (const auto& w : p.source) src.add(w);
      for (const auto& w : p.target) tgt.add(w);
    }
    std::vector<TestSentence> test_sentences = group_by_source(test);
    if (eval_limit > 0 && size_t(eval_limit) < test_sentences.size()) test_sentences.resize(size_t(eval_limit));
    fmt::print("{} pairs: {} train, {} test ({} distinct test sentences scored, {:.2f} references each); "
               "vocabulary {} {} / {} {} words\n",
               pairs.size(), train.size(), test.size(), test_sentences.size(),
               double(test.size()) / double(group_by_source(test).size()), english_to_french ? "English" : "French",
               src.size(), english_to_french ? "French" : "English", tgt.size());

    // ---- model and optimizer ----
    Seq2Seq model(src.size(), tgt.size(), hidden, dropout);
    model.to(device);
    optim::Adam optimizer(model.parameters(), {.lr = lr});
    fmt::print("model: {} parameters (hidden {}), Adam lr {}, batch {}, teacher forcing {}\n",
               model.num_parameters(), hidden, lr, batch_size, teacher_forcing);
    fmt::print("a uniform guess over the {} target words costs ln {} = {:.3f} nats per word\n", tgt.size(), tgt.size(),
               std::log(double(tgt.size())));

    // The checkpoint records the epoch and the next batch in it; the batch order and the
    // teacher-forcing coins follow from (seed, epoch), so a resumed run sees the same batches.
    const int64_t steps_per_epoch = (int64_t(train.size()) + batch_size - 1) / batch_size;
    optim::TrainingState state{.model = &model, .optimizer = &optimizer};
    int start_epoch = 1;
    int64_t start_batch = 0;
    if (!flags.resume.empty()) {
      optim::load_checkpoint(flags.resume, state);
      ATTO_CHECK(state.extra["seed"] == std::to_string(flags.seed) && state.extra["batch"] == std::to_string(batch_size),
                 "[seq2seq_attention] {} was trained with --seed {} --batch {} (they fix the split and the batches), "
                 "this run has --seed {} --batch {}",
                 flags.resume, state.extra["seed"], state.extra["batch"], flags.seed, batch_size);
      start_epoch = std::stoi(state.extra["epoch"]);
      start_batch = std::stoll(state.extra["next_batch"]);
      if (start_batch >= steps_per_epoch) start_epoch += 1, start_batch = 0;
      fmt::print("resumed from {} at epoch {}, batch {} (step {})\n", flags.resume, start_epoch, start_batch,
                 state.step);
    }
    const bool resuming = !flags.resume.empty();
    CsvLog step_log(flags.out + "/metrics.csv", {"step", "epoch", "loss", "teacher_forced", "lr"}, resuming);
    CsvLog epoch_log(flags.out + "/epochs.csv", {"epoch", "step", "train_loss", "test_loss", "test_bleu_greedy"},
                     resuming);

    // ---- training ----
    double last_train_loss = NAN, last_test_loss = NAN;
    for (int epoch = start_epoch; epoch <= epochs && (iters == 0 || state.step < iters); ++epoch) {
      std::mt19937_64 rng(flags.seed * 1000003 + uint64_t(epoch));
      std::vector<size_t> order(train.size());
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      std::bernoulli_distribution coin(teacher_forcing);

      model.train();
      const int64_t first_batch = epoch == start_epoch ? start_batch : 0;
      int64_t end_batch = steps_per_epoch;
      if (iters > 0) end_batch = std::min(end_batch, first_batch + iters - state.step);
      Progress bar(end_batch - first_batch, fmt::format("epoch {}/{}", epoch, epochs), "tok");
      double loss_sum = 0;
      int64_t steps = 0;
      for (int64_t b = 0; b < end_batch; ++b) {
        const bool forced = coin(rng);
        if (b < first_batch) continue;   // done before the checkpoint (its coin is drawn all the same)
        std::vector<const SentencePair*> chunk;
        for (size_t i = size_t(b * batch_size); i < std::min(train.size(), size_t((b + 1) * batch_size)); ++i)
          chunk.push_back(&train[order[i]]);
        Batch batch = make_batch(chunk, src, tgt, device);
        Tensor loss = model.loss(batch, forced);
        optimizer.zero_grad();
        loss.backward();
        if (clip > 0) optim::clip_grad_norm_(model.parameters(), clip);
        optimizer.step();
        const double value = loss.item<double>();
        ATTO_CHECK(std::isfinite(value), "[seq2seq_attention] the loss became {} at step {}", value, state.step + 1);
        ++state.step;
        loss_sum += value;
        ++steps;
        step_log.row({double(state.step), double(epoch), value, forced ? 1.0 : 0.0, lr});
        bar.update(steps, {{"loss", value}}, double(batch.target_tokens));
      }
      bar.finish();

      model.eval();
      const double test_loss = evaluate_loss(model, test, src, tgt);
      const BleuScore greedy_bleu =
          score(translate(model, test_sentences, src, tgt, 1, max_length, length_penalty), test_sentences, tgt);
      fmt::print("epoch {:2d}  step {:5d}  train loss {:.4f}  test loss {:.4f}  test greedy BLEU {:.2f}  ({:.0f} s)\n",
                 epoch, state.step, loss_sum / double(steps), test_loss, 100 * greedy_bleu.bleu, clock.seconds());
      std::fflush(stdout);   // a log file shows each epoch as it ends
      epoch_log.row({double(epoch) - 1 + double(end_batch) / double(steps_per_epoch), double(state.step),
                     loss_sum / double(steps), test_loss, greedy_bleu.bleu});
      last_train_loss = loss_sum / double(steps);
      last_test_loss = test_loss;

      state.extra["epoch"] = std::to_string(epoch);
      state.extra["next_batch"] = std::to_string(end_batch);
      state.extra["seed"] = std::to_string(flags.seed);
      state.extra["batch"] = std::to_string(batch_size);
      optim::save_checkpoint(flags.out + "/checkpoint.safetensors", state);
    }

    // ---- final scores: greedy and beam search on the held-out sentences ----
    model.eval();
    const double train_seconds = clock.seconds();
    auto greedy = translate(model, test_sentences, src, tgt, 1, max_length, length_penalty);
    fmt::print("held-out greedy:       {}\n", describe(score(greedy, test_sentences, tgt)));
    std::vector<Seq2Seq::Translation> beamed;
    if (beam > 1) {
      Stopwatch beam_clock;
      beamed = translate(model, test_sentences, src, tgt, beam, max_length, length_penalty);
      fmt::print("held-out beam {:<2d}:      {}  ({:.1f} s)\n", beam, describe(score(beamed, test_sentences, tgt)),
                 beam_clock.seconds());
    }
    int64_t exact = 0;
    for (size_t i = 0; i < test_sentences.size(); ++i) {
      const Tokens hyp = to_words(greedy[i].words, tgt);
      const auto& refs = test_sentences[i].references;
      exact += std::find(refs.begin(), refs.end(), hyp) != refs.end();
    }
    fmt::print("held-out greedy exact matches: {} of {} ({:.1f}%)\n", exact, test_sentences.size(),
               100.0 * double(exact) / double(test_sentences.size()));

    // ---- samples and pictures ----
    std::vector<plot::Canvas> panels;
    const size_t shown = std::min(test_sentences.size(), size_t(std::max<int64_t>(samples, 0)));
    for (size_t k = 0; k < shown; ++k) {
      // Spread the samples over the test set rather than taking the first few.
      const size_t i = k * test_sentences.size() / shown;
      const TestSentence& s = test_sentences[i];
      const Tokens hyp = to_words(greedy[i].words, tgt);
      fmt::print("\n  source:    {}\n  reference: {}\n  greedy:    {}\n", join_words(s.pair->source),
                 join_words(s.references[0]), join_words(hyp));
      if (!beamed.empty()) fmt::print("  beam {}:    {}\n", beam, join_words(to_words(beamed[i].words, tgt)));
      Tokens rows = hyp;
      rows.push_back("<eos>");
      plot::HeatmapOptions options{.xlabel = english_to_french ? "English source" : "French source",
                                   .ylabel = "output",
                                   .x_labels = s.pair->source,
                                   .y_labels = rows,
                                   .v_min = 0,
                                   .v_max = 1,
                                   .cell = 40};
      panels.push_back(plot::draw_heatmap(greedy[i].weights, int(rows.size()), int(s.pair->source.size()), options));
    }
    if (!panels.empty()) {
      plot::save_grid(flags.out + "/alignment.png", panels, std::min<int>(2, int(panels.size())),
                      "Bahdanau attention weights on held-out sentences (row: output word, column: source word)");
      fmt::print("\nwrote {}/alignment.png\n", flags.out);
    }
    // The curves come from epochs.csv, so a resumed run draws the epochs before it too.
    std::vector<double> epoch_axis, train_curve, test_curve, bleu_curve;
    const std::vector<std::string> rows = read_lines("seq2seq_attention", epoch_log.path());
    for (size_t r = 1; r < rows.size(); ++r) {
      std::vector<double> v;
      std::istringstream cells(rows[r]);
      for (std::string cell; std::getline(cells, cell, ',');) v.push_back(std::stod(cell));
      if (v.size() != 5) data_error("seq2seq_attention", epoch_log.path(), int64_t(r) + 1, "expected 5 columns");
      epoch_axis.push_back(v[0]);
      train_curve.push_back(v[2]);
      test_curve.push_back(v[3]);
      bleu_curve.push_back(100 * v[4]);
    }
    if (!epoch_axis.empty()) {
      plot::Canvas losses = plot::draw_line_plot(
          {{"train (mean over the epoch)", epoch_axis, train_curve, {}, true},
           {"held-out (teacher forced)", epoch_axis, test_curve, {}, true}},
          {.title = "cross-entropy per target word", .xlabel = "epoch", .ylabel = "nats", .width = 600, .height = 400});
      plot::Canvas bleu = plot::draw_line_plot({{"greedy", epoch_axis, bleu_curve, {}, true}},
                                               {.title = "held-out BLEU-4 (greedy)", .xlabel = "epoch",
                                                .ylabel = "BLEU x 100", .width = 600, .height = 400});
      plot::save_grid(flags.out + "/loss.png", {losses, bleu}, 2, "seq2seq_attention training");
      fmt::print("wrote {}/loss.png\n", flags.out);
    }
    if (std::isfinite(last_train_loss))
      fmt::print("final train loss {:.4f}  test loss {:.4f}; training and per-epoch scoring took {:.0f} s, "
                 "all {:.0f} s\n",
                 last_train_loss, last_test_loss, train_seconds, clock.seconds());
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
