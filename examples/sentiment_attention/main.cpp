// examples/sentiment_attention -- is a review sentence positive or negative? Word embeddings, one
// layer of multi-head self-attention, a mean over the words, a linear layer; and pictures of where
// each head looks. The project's flagship example (scripts/train.sh runs it).
//
// What it teaches: text as token ids (tokenizer, vocabulary with <pad> and <unk>, padded batches),
// nn::Embedding, nn::MultiheadAttention with a key_padding_mask so that no word attends to padding,
// a masked mean that ignores padding too, AdamW with dropout and label smoothing on a small data set,
// early stopping on a validation split carved from the training data (the test set is looked at
// once, at the end), and reading attention weights back out of the model.
//
// Data: data/sentiment, UCI "Sentiment Labelled Sentences" (Kotzias et al., KDD 2015): 3,000
// sentences from amazon, imdb and yelp, half positive. A fixed 80/20 split (2,400 / 600; the same
// for every --seed), and 10% of all sentences (300) carved from the 2,400 for validation.
//
//   build/examples/sentiment_attention [--epochs 25] [--embed 64] [--heads 4] [--seed 0] [--out DIR]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "attograd.h"
#include "common/plot.h"
#include "common/run.h"
#include "common/text.h"
#include "optim/checkpoint.h"

using namespace atto;
namespace ex = atto::examples;

static const char* kProgram = "sentiment_attention";

struct Hyper {
  int64_t embed = 64, heads = 4;
  double embed_std = 1.0;   // initial spread of the word vectors (nn.Embedding's N(0, 1))
  double dropout = 0.5, attention_dropout = 0.0, word_dropout = 0.2;
  bool positions = false;
};

// Embedding -> self-attention (with a residual connection) -> mean over the real words -> Linear.
class AttentionClassifier : public nn::Module {
 public:
  static constexpr int64_t kMaxPositions = 256;

  AttentionClassifier(int64_t vocab_size, const Hyper& h) : Module("AttentionClassifier"), hyper(h) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(vocab_size, h.embed, ex::Vocabulary::kPad));
    if (h.embed_std != 1.0) {   // nn.Embedding starts at N(0, 1)
      NoGradGuard no_grad;
      embed->weight.mul_(h.embed_std);
    }
    if (h.positions) position = register_module("position", std::make_shared<nn::Embedding>(kMaxPositions, h.embed));
    attention = register_module("attention", std::make_shared<nn::MultiheadAttention>(nn::MultiheadAttentionOptions{
        .embed_dim = h.embed, .num_heads = h.heads, .dropout = h.attention_dropout, .batch_first = true}));
    drop = register_module("drop", std::make_shared<nn::Dropout>(h.dropout));
    classify = register_module("classify", std::make_shared<nn::Linear>(h.embed, 2));
  }

  struct Output {
    Tensor logits;    // (B, 2)
    Tensor weights;   // (B, heads, T, T): row i = how query word i spreads its attention over the words
  };

  // ids (B, T) int64, padding (B, T) bool (true on <pad>).
  Output forward(const Tensor& ids, const Tensor& padding, bool need_weights = false) {
    const int64_t length = ids.size(1);
    Tensor words = ids;
    if (is_training() && hyper.word_dropout > 0) {   // some words become <unk>: the model cannot lean on one word
      Tensor hide = logical_and(rand(ids.shape(), {.device = ids.device()}) < hyper.word_dropout, logical_not(padding));
      words = where(hide, full(ids.shape(), double(ex::Vocabulary::kUnk), {.dtype = kInt64, .device = ids.device()}),
                    ids);
    }
    ATTO_CHECK(!position || length <= kMaxPositions, "[{}] a sentence of {} tokens is longer than {}", kProgram,
               length, kMaxPositions);
    Tensor x = embed->forward(words);                                      // (B, T, E)
    if (position) x = x + position->forward(arange(double(length), {.dtype = kInt64, .device = ids.device()}));
    x = drop->forward(x);
    auto [attended, weights] = attention->forward(x, x, x, padding, need_weights, {}, /*average_attn_weights=*/false);
    Tensor h = x + attended;                                               // residual: attention adds context
    // Mean over the real words only: zero the padded rows, divide by each sentence's length.
    Tensor real = logical_not(padding).to(kFloat32).unsqueeze(2);          // (B, T, 1)
    Tensor pooled = sum(h * real, {1}) / sum(real, {1});                   // (B, E)
    return {classify->forward(drop->forward(pooled)), weights};
  }

  Device device() const { return embed->weight.device(); }   // where the model (and its batches) live

  Hyper hyper;
  std::shared_ptr<nn::Embedding> embed, position;
  std::shared_ptr<nn::MultiheadAttention> attention;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> classify;
};

struct Evaluation {
  double loss = 0, accuracy = 0;
  std::vector<int64_t> predictions;
};

// Loss and accuracy over a whole part, in evaluation mode (no dropout), without building a graph.
static Evaluation evaluate(AttentionClassifier& model, const ex::EncodedSentences& part, int64_t batch = 200) {
  NoGradGuard no_grad;
  model.eval();
  Evaluation ev;
  int64_t correct = 0;
  ev.predictions.resize(size_t(part.size()));
  for (const auto& rows : ex::length_bucketed_batches(part, batch, 0, /*shuffle=*/false)) {
    ex::TokenBatch b = ex::make_batch(part.ids, part.labels, rows, model.device());
    Tensor logits = model.forward(b.ids, b.padding).logits;
    ev.loss += cross_entropy(logits, b.labels, {.reduction = Reduction::Sum}).item<double>();
    const std::vector<int64_t> predicted = logits.argmax(1).to_vector<int64_t>();
    for (size_t k = 0; k < rows.size(); ++k) ev.predictions[size_t(rows[k])] = predicted[k];
  }
  for (int64_t i = 0; i < part.size(); ++i) correct += ev.predictions[size_t(i)] == part.labels[size_t(i)];
  ev.loss /= double(part.size());
  ev.accuracy = double(correct) / double(part.size());
  model.train();
  return ev;
}

static std::string label_name(int64_t label) { return label == 1 ? "positive" : "negative"; }

// One picture per sentence: a (words x words) heatmap per head, row = the word that looks,
// column = the word looked at.
static std::vector<std::string> draw_attention_maps(AttentionClassifier& model, const ex::EncodedSentences& test,
                                                    const ex::Vocabulary& vocab, const std::string& out,
                                                    int64_t how_many) {
  NoGradGuard no_grad;
  model.eval();
  // Short-to-medium sentences read best; take them alternately negative and positive, in test order.
  std::vector<int64_t> chosen;
  for (int64_t want = 0; int64_t(chosen.size()) < how_many; want = 1 - want) {
    int64_t found = -1;
    for (int64_t i = 0; i < test.size() && found < 0; ++i) {
      const auto n = int64_t(test.ids[size_t(i)].size());
      if (test.labels[size_t(i)] == want && n >= 6 && n <= 12 &&
          std::find(chosen.begin(), chosen.end(), i) == chosen.end())
        found = i;
    }
    if (found < 0) break;
    chosen.push_back(found);
  }
  std::vector<std::string> paths;
  for (size_t k = 0; k < chosen.size(); ++k) {
    const int64_t i = chosen[k];
    ex::TokenBatch b = ex::make_batch(test.ids, test.labels, {i}, model.device());
    auto [logits, weights] = model.forward(b.ids, b.padding, /*need_weights=*/true);
    const double p_positive = softmax(logits, 1).to_vector<float>()[1];
    const int64_t length = b.ids.size(1), heads = weights.size(1);
    std::vector<std::string> words;
    for (int64_t id : test.ids[size_t(i)]) words.push_back(id == ex::Vocabulary::kUnk ? "<unk>" : vocab.word(id));
    std::vector<float> all = weights.contiguous().to_vector<float>();   // (1, heads, T, T)
    const double strongest = *std::max_element(all.begin(), all.end());  // one colour scale for all heads
    std::vector<plot::Canvas> panels;
    for (int64_t h = 0; h < heads; ++h) {
      std::vector<float> map(all.begin() + h * length * length, all.begin() + (h + 1) * length * length);
      panels.push_back(plot::draw_heatmap(map, int(length), int(length),
                                          {.title = fmt::format("head {}", h), .xlabel = "attended word",
                                           .ylabel = "attending word", .x_labels = words, .y_labels = words,
                                           .v_min = 0, .v_max = strongest, .cell = 28}));
    }
    std::string text = test.texts[size_t(i)];
    if (text.size() > 70) text = text.substr(0, 67) + "...";
    const std::string title = fmt::format("\"{}\"  label {}, model says {} (p positive {:.2f})", text,
                                          label_name(test.labels[size_t(i)]), label_name(p_positive > 0.5 ? 1 : 0),
                                          p_positive);
    paths.push_back(fmt::format("{}/attention_{}.png", out, k));
    plot::save_grid(paths.back(), panels, int(std::min<int64_t>(heads, 2)), title);
  }
  model.train();
  return paths;
}

// Which words draw the attention? The pooled vector is the mean over the words i of
// x_i + sum_j w_ij v_j, so word j enters it with weight mean_i w_ij (per head). We report that
// weight times the sentence length: 1 = what a uniform spread would give, 3 = three times as much.
// Averaged over heads and over every occurrence of the word in the test set, per predicted class.
struct AttendedWord {
  std::string word;
  int64_t occurrences = 0;
  double relative_attention = 0;
};

static std::map<int64_t, std::vector<AttendedWord>> most_attended_words(AttentionClassifier& model, const ex::EncodedSentences& test,
                                                                        const std::vector<int64_t>& predictions,
                                                                        const ex::Vocabulary& vocab,
                                                                        int64_t min_occurrences) {
  NoGradGuard no_grad;
  model.eval();
  std::map<int64_t, std::map<std::string, std::pair<double, int64_t>>> totals;   // class -> word -> (sum, count)
  for (const auto& rows : ex::length_bucketed_batches(test, 100, 0, /*shuffle=*/false)) {
    ex::TokenBatch b = ex::make_batch(test.ids, test.labels, rows, model.device());
    Tensor weights = model.forward(b.ids, b.padding, /*need_weights=*/true).weights;   // (B, H, T, T)
    const int64_t heads = weights.size(1), T = weights.size(2);
    std::vector<float> w = weights.contiguous().to_vector<float>();
    for (size_t r = 0; r < rows.size(); ++r) {
      const int64_t n = b.lengths[r], row = rows[r];
      for (int64_t j = 0; j < n; ++j) {
        double received = 0;   // summed over heads and over the real query words i
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t i = 0; i < n; ++i) received += w[size_t(((int64_t(r) * heads + h) * T + i) * T + j)];
        const double relative = received / double(heads * n) * double(n);
        const int64_t id = test.ids[size_t(row)][size_t(j)];
        auto& [sum_relative, count] = totals[predictions[size_t(row)]][id == ex::Vocabulary::kUnk ? "<unk>" : vocab.word(id)];
        sum_relative += relative;
        ++count;
      }
    }
  }
  model.train();
  std::map<int64_t, std::vector<AttendedWord>> ranked;
  for (auto& [label, words] : totals) {
    for (auto& [word, sc] : words)
      if (sc.second >= min_occurrences) ranked[label].push_back({word, sc.second, sc.first / double(sc.second)});
    std::stable_sort(ranked[label].begin(), ranked[label].end(),
                     [](const auto& a, const auto& b) { return a.relative_attention > b.relative_attention; });
  }
  return ranked;
}

int main(int argc, char** argv) {
  CLI::App app{"Sentiment of review sentences with multi-head self-attention (UCI Sentiment Labelled Sentences)"};
  // One thread by default: the model is small, and on 2 busy cores a second thread mostly waits.
  ex::CommonFlags flags{.out = "runs/sentiment_attention", .threads = 1};
  ex::add_common_flags(app, flags);
  Hyper hyper;
  int64_t epochs = 25, batch = 32, min_count = 1, patience = 8, heatmaps = 4;
  double lr = 5e-3, weight_decay = 0.05, label_smoothing = 0.1;
  std::string data = ex::data_dir() + "/sentiment";
  app.add_option("--epochs", epochs, "passes over the training sentences (at most)")->capture_default_str();
  app.add_option("--batch", batch, "sentences per step")->capture_default_str();
  app.add_option("--lr", lr, "AdamW learning rate")->capture_default_str();
  app.add_option("--weight-decay", weight_decay, "AdamW weight decay")->capture_default_str();
  app.add_option("--label-smoothing", label_smoothing, "cross-entropy label smoothing")->capture_default_str();
  app.add_option("--embed", hyper.embed, "embedding size (= attention width)")->capture_default_str();
  app.add_option("--heads", hyper.heads, "attention heads (must divide --embed)")->capture_default_str();
  app.add_option("--dropout", hyper.dropout, "dropout on the embeddings and the pooled vector")->capture_default_str();
  app.add_option("--attention-dropout", hyper.attention_dropout, "dropout on the attention weights")
      ->capture_default_str();
  app.add_option("--word-dropout", hyper.word_dropout, "fraction of training words replaced by <unk>")
      ->capture_default_str();
  app.add_option("--embed-std", hyper.embed_std, "initial standard deviation of the word vectors")
      ->capture_default_str();
  app.add_flag("--positions", hyper.positions, "add learned position embeddings (off: a bag of words in context)");
  app.add_option("--min-count", min_count, "words seen fewer times in training become <unk>")->capture_default_str();
  app.add_option("--patience", patience, "stop after this many epochs without a better validation accuracy (0: never)")
      ->capture_default_str();
  app.add_option("--heatmaps", heatmaps, "test sentences drawn as attention maps")->capture_default_str();
  app.add_option("--data", data, "folder with the three *_labelled.txt files")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    const Device device = ex::setup(flags, kProgram);
    ex::Stopwatch clock;
    const std::clock_t cpu_start = std::clock();   // CPU time of all threads: not inflated by other programs' load

    // ---- data: sentences -> tokens -> ids; the vocabulary comes from the training part only.
    const std::vector<ex::LabelledSentence> sentences = ex::load_sentiment_sentences(kProgram, data);
    const ex::Split split = ex::split_rows(int64_t(sentences.size()), 0.2, 0.1, /*split_seed=*/2015);
    std::vector<std::vector<std::string>> train_tokens;
    for (int64_t r : split.train) train_tokens.push_back(ex::tokenize(sentences[size_t(r)].text));
    const ex::Vocabulary vocab(train_tokens, min_count);
    const ex::EncodedSentences train = ex::encode_sentences(sentences, split.train, vocab),
                               val = ex::encode_sentences(sentences, split.val, vocab),
                               test = ex::encode_sentences(sentences, split.test, vocab);
    fmt::print("data: {} sentences -> {} train / {} validation / {} test; vocabulary {} words (seen >= {} times)\n",
               sentences.size(), train.size(), val.size(), test.size(), vocab.size(), min_count);

    AttentionClassifier model(vocab.size(), hyper);
    model.to(device);
    fmt::print("model: {} parameters\n{}\n", model.num_parameters(), model.repr());
    optim::AdamW optimizer(model.parameters(), {.lr = lr, .weight_decay = weight_decay});
    const CrossEntropyOptions loss_options{.label_smoothing = label_smoothing};

    // ---- resume: model, optimizer, dropout generator, epoch counter, and the best weights so far.
    const std::string checkpoint_path = flags.out + "/checkpoint.safetensors", best_path = flags.out + "/best.safetensors";
    optim::TrainingState state{.model = &model, .optimizer = &optimizer};
    int64_t first_epoch = 1, best_epoch = 0, step = 0;
    double best_val_accuracy = -1, train_seconds = 0;
    if (!flags.resume.empty()) {
      optim::load_checkpoint(flags.resume, state);
      first_epoch = std::stoll(state.extra.at("epoch")) + 1;
      best_epoch = std::stoll(state.extra.at("best_epoch"));
      best_val_accuracy = std::stod(state.extra.at("best_val_accuracy"));
      train_seconds = std::stod(state.extra.at("train_seconds"));
      step = state.step;
      fmt::print("resumed from {} after epoch {} (best validation accuracy {:.4f} at epoch {})\n", flags.resume,
                 first_epoch - 1, best_val_accuracy, best_epoch);
    }
    StateDict best;   // a copy of the weights of the best validation epoch
    auto keep_best = [&] {
      best = StateDict{};
      for (const auto& [name, t] : model.state_dict()) best.insert(name, t.device().is_cpu() ? t.clone() : t.cpu());
    };
    const std::string resumed_best = std::filesystem::path(flags.resume).parent_path().string() + "/best.safetensors";
    if (!flags.resume.empty() && std::filesystem::exists(resumed_best)) best = load_safetensors(resumed_best).tensors;
    if (best.empty()) keep_best();

    const bool resuming = !flags.resume.empty();
    ex::CsvLog step_log(flags.out + "/metrics.csv", {"step", "epoch", "loss"}, resuming);
    ex::CsvLog epoch_log(flags.out + "/epochs.csv",
                         {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"}, resuming);

    // ---- training
    const int64_t steps_per_epoch = (train.size() + batch - 1) / batch;
    ex::Progress bar((epochs - first_epoch + 1) * steps_per_epoch, "train", "sent");
    int64_t epochs_without_progress = 0, done = 0;
    for (int64_t epoch = first_epoch; epoch <= epochs; ++epoch) {
      ex::Stopwatch epoch_clock;
      model.train();
      // The batches of an epoch depend on (seed, epoch) only, so a resumed run sees the same ones.
      const uint64_t epoch_seed = flags.seed * 100003 + uint64_t(epoch);
      double loss_sum = 0;
      int64_t correct = 0;
      for (const auto& rows : ex::length_bucketed_batches(train, batch, epoch_seed)) {
        ex::TokenBatch b = ex::make_batch(train.ids, train.labels, rows, device);
        Tensor logits = model.forward(b.ids, b.padding).logits;
        Tensor loss = cross_entropy(logits, b.labels, loss_options);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        const double l = loss.item<double>();
        loss_sum += l * double(rows.size());
        correct += int64_t(sum((logits.argmax(1) == b.labels).to(kFloat32)).item<double>());
        step_log.row({double(++step), double(epoch), l});
        bar.update(++done, {{"loss", l}, {"epoch", double(epoch)}}, double(rows.size()));
      }
      const Evaluation v = evaluate(model, val);
      train_seconds += epoch_clock.seconds();
      epoch_log.row({double(epoch), loss_sum / double(train.size()), double(correct) / double(train.size()), v.loss,
                     v.accuracy, train_seconds});
      if (v.accuracy > best_val_accuracy) {
        best_val_accuracy = v.accuracy;
        best_epoch = epoch;
        epochs_without_progress = 0;
        keep_best();
        save_safetensors(best_path, best);
      } else {
        ++epochs_without_progress;
      }
      state.step = step;
      state.extra = {{"epoch", std::to_string(epoch)},
                     {"best_epoch", std::to_string(best_epoch)},
                     {"best_val_accuracy", fmt::format("{}", best_val_accuracy)},
                     {"train_seconds", fmt::format("{}", train_seconds)}};
      optim::save_checkpoint(checkpoint_path, state);
      if (patience > 0 && epochs_without_progress >= patience) {
        bar.finish();
        fmt::print("early stop after epoch {}: no better validation accuracy for {} epochs\n", epoch, patience);
        break;
      }
    }
    bar.finish();

    // ---- the test set, once, with the weights of the best validation epoch
    model.load_state_dict(best);
    const Evaluation t = evaluate(model, test);
    fmt::print("best validation accuracy {:.4f} at epoch {}; training took {:.1f} s\n", best_val_accuracy, best_epoch,
               train_seconds);
    {
      ex::CsvLog results(flags.out + "/results.csv",
                         {"seed", "test_accuracy", "test_sentences", "train_seconds", "parameters", "best_epoch", "cpu_seconds"});
      results.row({double(flags.seed), t.accuracy, double(test.size()), train_seconds, double(model.num_parameters()),
                   double(best_epoch), double(std::clock() - cpu_start) / CLOCKS_PER_SEC});
    }

    // ---- pictures and the most-attended words
    {
      std::vector<double> x, train_loss, train_acc, val_loss, val_acc;
      for (const std::string& line : ex::read_lines(kProgram, flags.out + "/epochs.csv")) {
        std::vector<double> v;
        std::stringstream ss(line);
        for (std::string cell; std::getline(ss, cell, ',');) v.push_back(std::atof(cell.c_str()));
        if (line.rfind("epoch", 0) == 0 || v.size() < 5) continue;   // the header
        x.push_back(v[0]), train_loss.push_back(v[1]), train_acc.push_back(v[2]), val_loss.push_back(v[3]),
            val_acc.push_back(v[4]);
      }
      plot::save_grid(flags.out + "/curves.png",
                      {plot::draw_line_plot({{"train (dropout on)", x, train_loss}, {"validation", x, val_loss}},
                                            {.title = "loss", .xlabel = "epoch", .ylabel = "cross-entropy"}),
                       plot::draw_line_plot({{"train (dropout on)", x, train_acc}, {"validation", x, val_acc}},
                                            {.title = "accuracy", .xlabel = "epoch", .ylabel = "accuracy"})},
                      2, fmt::format("sentiment_attention: test accuracy {:.3f} (weights of epoch {})", t.accuracy,
                                     best_epoch));
    }
    const std::vector<std::string> maps = draw_attention_maps(model, test, vocab, flags.out, heatmaps);

    const auto ranked = most_attended_words(model, test, t.predictions, vocab, /*min_occurrences=*/4);
    {
      std::ofstream csv(flags.out + "/attended_words.csv");
      csv << "predicted_class,rank,word,occurrences,relative_attention\n";
      for (const auto& [label, words] : ranked) {
        std::string shown;
        for (size_t k = 0; k < words.size(); ++k) {
          const std::string& w = words[k].word;
          const std::string quoted = w.find_first_of(",\"") == std::string::npos ? w : "\"" + (w == "\"" ? "\"\"" : w) + "\"";
          csv << fmt::format("{},{},{},{},{:.4f}\n", label_name(label), k + 1, quoted, words[k].occurrences,
                             words[k].relative_attention);
          if (k < 12) shown += fmt::format("  {} {:.2f}", w, words[k].relative_attention);
        }
        fmt::print("most attended words when predicting {} (x uniform):{}\n", label_name(label), shown);
      }
      ATTO_CHECK(csv.good(), "[{}] cannot write {}/attended_words.csv", kProgram, flags.out);
    }

    fmt::print("curves: {}/curves.png\n", flags.out);
    if (!maps.empty()) fmt::print("heatmaps: {}/attention_*.png ({} sentences)\n", flags.out, maps.size());
    fmt::print("attended words: {}/attended_words.csv\n", flags.out);
    fmt::print("test accuracy {:.3f} ({} sentences), {:.1f} s in all ({:.1f} s of CPU time)\n", t.accuracy, test.size(),
               clock.seconds(), double(std::clock() - cpu_start) / CLOCKS_PER_SEC);
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
