// examples/lstm_classifier -- the sentiment sentences of sentiment_attention, read by an LSTM: word
// embeddings -> LSTM (optionally bidirectional) -> a linear layer applied at every step (Keras'
// TimeDistributed(Dense)) -> the per-step scores pooled over the real words -> positive/negative.
// It compares its accuracy and training time with sentiment_attention's in one table.
//
// What it teaches: nn::LSTM on a padded batch of sentences of different lengths, with the lengths
// given to the LSTM (PyTorch's pack_padded_sequence) so that padding changes nothing -- the program
// checks that itself -- and a per-step classifier pooled by the mean over the real steps or taken
// at each sentence's last real step.
//
// Data, split, tokenizer and vocabulary: exactly those of sentiment_attention (examples/common/text.h).
//
//   build/examples/lstm_classifier [--epochs 20] [--bidirectional] [--pool mean|last] [--seed 0]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "attograd.h"
#include "common/plot.h"
#include "common/run.h"
#include "common/text.h"
#include "optim/checkpoint.h"

using namespace atto;
namespace ex = atto::examples;

static const char* kProgram = "lstm_classifier";

struct Hyper {
  int64_t embed = 64, hidden = 64;
  bool bidirectional = false;
  std::string pool = "mean";   // "mean" over the real steps, or the "last" real step
  double dropout = 0.5, word_dropout = 0.2;
};

class LstmClassifier : public nn::Module {
 public:
  LstmClassifier(int64_t vocab_size, const Hyper& h) : Module("LstmClassifier"), hyper(h) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(vocab_size, h.embed, ex::Vocabulary::kPad));
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(nn::LSTMOptions{
        .input_size = h.embed, .hidden_size = h.hidden, .batch_first = true, .bidirectional = h.bidirectional}));
    drop = register_module("drop", std::make_shared<nn::Dropout>(h.dropout));
    per_step = register_module("per_step", std::make_shared<nn::Linear>(h.hidden * (h.bidirectional ? 2 : 1), 2));
  }

  // ids (B, T) int64, padding (B, T) bool (true on <pad>), lengths: real tokens per sentence.
  // Returns the logits (B, 2).
  Tensor forward(const Tensor& ids, const Tensor& padding, const std::vector<int64_t>& lengths) {
    Tensor words = ids;
    if (is_training() && hyper.word_dropout > 0) {   // some words become <unk>: the model cannot lean on one word
      Tensor hide = logical_and(rand(ids.shape(), {.device = ids.device()}) < hyper.word_dropout, logical_not(padding));
      words = where(hide, full(ids.shape(), double(ex::Vocabulary::kUnk), {.dtype = kInt64, .device = ids.device()}),
                    ids);
    }
    Tensor x = drop->forward(embed->forward(words));                      // (B, T, E)
    // With the lengths, the LSTM stops each sentence at its last word (the reverse direction starts
    // there), and the outputs at padded steps are zero.
    Tensor out = lstm->forward(x, {}, lengths).first;                     // (B, T, D * H)
    Tensor scores = per_step->forward(drop->forward(out));                // (B, T, 2): a score at every step
    if (hyper.pool == "last") {
      std::vector<int64_t> last;
      for (int64_t n : lengths) last.push_back(n - 1);
      Tensor index = from_vector<int64_t>(last, Shape{int64_t(last.size()), 1, 1}).to(ids.device()).expand({-1, 1, 2});
      return gather(scores, 1, index).squeeze(1);                         // (B, 2)
    }
    Tensor real = logical_not(padding).to(kFloat32).unsqueeze(2);         // (B, T, 1)
    return sum(scores * real, {1}) / sum(real, {1});                      // mean over the real steps
  }

  Device device() const { return embed->weight.device(); }   // where the model (and its batches) live

  Hyper hyper;
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> per_step;
};

struct Evaluation {
  double loss = 0, accuracy = 0;
};

static Evaluation evaluate(LstmClassifier& model, const ex::EncodedSentences& part, int64_t batch = 200) {
  NoGradGuard no_grad;
  model.eval();
  Evaluation ev;
  double correct = 0;
  for (const auto& rows : ex::length_bucketed_batches(part, batch, 0, /*shuffle=*/false)) {
    ex::TokenBatch b = ex::make_batch(part.ids, part.labels, rows, model.device());
    Tensor logits = model.forward(b.ids, b.padding, b.lengths);
    ev.loss += cross_entropy(logits, b.labels, {.reduction = Reduction::Sum}).item<double>();
    correct += sum((logits.argmax(1) == b.labels).to(kFloat32)).item<double>();
  }
  ev.loss /= double(part.size());
  ev.accuracy = correct / double(part.size());
  model.train();
  return ev;
}

// Padding must not change a sentence's scores: the first sentences of `part` scored one by one
// (no padding at all) and together in one padded batch. Returns the largest difference.
static double padding_difference(LstmClassifier& model, const ex::EncodedSentences& part, int64_t count) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < std::min(count, part.size()); ++i) rows.push_back(i);
  ex::TokenBatch together = ex::make_batch(part.ids, part.labels, rows, model.device());
  std::vector<float> batched = model.forward(together.ids, together.padding, together.lengths).to_vector<float>();
  double largest = 0;
  for (size_t k = 0; k < rows.size(); ++k) {
    ex::TokenBatch alone = ex::make_batch(part.ids, part.labels, {rows[k]}, model.device());
    std::vector<float> single = model.forward(alone.ids, alone.padding, alone.lengths).to_vector<float>();
    for (size_t c = 0; c < 2; ++c) largest = std::max(largest, double(std::fabs(single[c] - batched[2 * k + c])));
  }
  model.train();
  return largest;
}

// A results.csv as both programs write it: header, then one row
// "seed,test_accuracy,test_sentences,train_seconds,parameters,best_epoch,cpu_seconds". Empty when absent.
static std::vector<double> read_results(const std::string& path) {
  if (!std::filesystem::exists(path)) return {};
  std::vector<std::string> lines = ex::read_lines(kProgram, path);
  if (lines.size() < 2) return {};
  std::vector<double> values;
  std::stringstream ss(lines[1]);
  for (std::string cell; std::getline(ss, cell, ',');) values.push_back(std::atof(cell.c_str()));
  return values.size() == 7 ? values : std::vector<double>{};
}

int main(int argc, char** argv) {
  CLI::App app{"Sentiment of review sentences with an LSTM (UCI Sentiment Labelled Sentences)"};
  // One thread by default: the model is small, and on 2 busy cores a second thread mostly waits.
  ex::CommonFlags flags{.out = "runs/lstm_classifier", .threads = 1};
  ex::add_common_flags(app, flags);
  Hyper hyper;
  int64_t epochs = 20, batch = 32, min_count = 1, patience = 6;
  double lr = 5e-3, weight_decay = 0.05, label_smoothing = 0.1;
  std::string data = ex::data_dir() + "/sentiment", compare_with = "runs/sentiment_attention/results.csv";
  app.add_option("--epochs", epochs, "passes over the training sentences (at most)")->capture_default_str();
  app.add_option("--batch", batch, "sentences per step")->capture_default_str();
  app.add_option("--lr", lr, "AdamW learning rate")->capture_default_str();
  app.add_option("--weight-decay", weight_decay, "AdamW weight decay")->capture_default_str();
  app.add_option("--label-smoothing", label_smoothing, "cross-entropy label smoothing")->capture_default_str();
  app.add_option("--embed", hyper.embed, "embedding size")->capture_default_str();
  app.add_option("--hidden", hyper.hidden, "LSTM hidden size (per direction)")->capture_default_str();
  app.add_flag("--bidirectional", hyper.bidirectional, "read each sentence both ways");
  app.add_option("--pool", hyper.pool, "pool the per-step scores: mean (over the real steps) or last (real step)")
      ->check(CLI::IsMember({"mean", "last"}))
      ->capture_default_str();
  app.add_option("--dropout", hyper.dropout, "dropout on the embeddings and the LSTM outputs")->capture_default_str();
  app.add_option("--word-dropout", hyper.word_dropout, "fraction of training words replaced by <unk>")
      ->capture_default_str();
  app.add_option("--min-count", min_count, "words seen fewer times in training become <unk>")->capture_default_str();
  app.add_option("--patience", patience, "stop after this many epochs without a better validation accuracy (0: never)")
      ->capture_default_str();
  app.add_option("--compare-with", compare_with, "sentiment_attention's results.csv, for the comparison table")
      ->capture_default_str();
  app.add_option("--data", data, "folder with the three *_labelled.txt files")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    const Device device = ex::setup(flags, kProgram);
    ex::Stopwatch clock;
    const std::clock_t cpu_start = std::clock();   // CPU time of all threads: not inflated by other programs' load

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

    LstmClassifier model(vocab.size(), hyper);
    model.to(device);
    fmt::print("model: {} parameters, {} LSTM, pooling: {}\n{}\n", model.num_parameters(),
               hyper.bidirectional ? "bidirectional" : "one-way", hyper.pool, model.repr());
    optim::AdamW optimizer(model.parameters(), {.lr = lr, .weight_decay = weight_decay});
    const CrossEntropyOptions loss_options{.label_smoothing = label_smoothing};

    const std::string checkpoint_path = flags.out + "/checkpoint.safetensors", best_path = flags.out + "/best.safetensors";
    optim::TrainingState state{.model = &model, .optimizer = &optimizer};
    int64_t first_epoch = 1, best_epoch = 0, step = 0;
    double best_val_accuracy = -1, train_seconds = 0;
    StateDict best;   // a copy of the weights of the best validation epoch
    if (!flags.resume.empty()) {
      optim::load_checkpoint(flags.resume, state);
      first_epoch = std::stoll(state.extra.at("epoch")) + 1;
      best_epoch = std::stoll(state.extra.at("best_epoch"));
      best_val_accuracy = std::stod(state.extra.at("best_val_accuracy"));
      train_seconds = std::stod(state.extra.at("train_seconds"));
      step = state.step;
      const std::string resumed_best = std::filesystem::path(flags.resume).parent_path().string() + "/best.safetensors";
      if (std::filesystem::exists(resumed_best)) best = load_safetensors(resumed_best).tensors;
      fmt::print("resumed from {} after epoch {} (best validation accuracy {:.4f} at epoch {})\n", flags.resume,
                 first_epoch - 1, best_val_accuracy, best_epoch);
    }
    auto keep_best = [&] {
      best = StateDict{};
      for (const auto& [name, t] : model.state_dict()) best.insert(name, t.device().is_cpu() ? t.clone() : t.cpu());
    };
    if (best.empty()) keep_best();

    const bool resuming = !flags.resume.empty();
    ex::CsvLog step_log(flags.out + "/metrics.csv", {"step", "epoch", "loss"}, resuming);
    ex::CsvLog epoch_log(flags.out + "/epochs.csv",
                         {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"}, resuming);

    const int64_t steps_per_epoch = (train.size() + batch - 1) / batch;
    ex::Progress bar((epochs - first_epoch + 1) * steps_per_epoch, "train", "sent");
    int64_t epochs_without_progress = 0, done = 0;
    for (int64_t epoch = first_epoch; epoch <= epochs; ++epoch) {
      ex::Stopwatch epoch_clock;
      model.train();
      const uint64_t epoch_seed = flags.seed * 100003 + uint64_t(epoch);   // resumed runs see the same batches
      double loss_sum = 0, correct = 0;
      for (const auto& rows : ex::length_bucketed_batches(train, batch, epoch_seed)) {
        ex::TokenBatch b = ex::make_batch(train.ids, train.labels, rows, device);
        Tensor logits = model.forward(b.ids, b.padding, b.lengths);
        Tensor loss = cross_entropy(logits, b.labels, loss_options);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        const double l = loss.item<double>();
        loss_sum += l * double(rows.size());
        correct += sum((logits.argmax(1) == b.labels).to(kFloat32)).item<double>();
        step_log.row({double(++step), double(epoch), l});
        bar.update(++done, {{"loss", l}, {"epoch", double(epoch)}}, double(rows.size()));
      }
      const Evaluation v = evaluate(model, val);
      train_seconds += epoch_clock.seconds();
      epoch_log.row({double(epoch), loss_sum / double(train.size()), correct / double(train.size()), v.loss,
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

    model.load_state_dict(best);
    const Evaluation t = evaluate(model, test);
    const double padding_change = padding_difference(model, test, 32);
    fmt::print("padding check: 32 test sentences alone vs in one padded batch, largest logit difference {:.2g} ({})\n",
               padding_change, padding_change < 1e-4 ? "ok" : "PADDING CHANGES THE RESULT");
    fmt::print("best validation accuracy {:.4f} at epoch {}; training took {:.1f} s\n", best_val_accuracy, best_epoch,
               train_seconds);
    {
      ex::CsvLog results(flags.out + "/results.csv",
                         {"seed", "test_accuracy", "test_sentences", "train_seconds", "parameters", "best_epoch", "cpu_seconds"});
      results.row({double(flags.seed), t.accuracy, double(test.size()), train_seconds, double(model.num_parameters()),
                   double(best_epoch), double(std::clock() - cpu_start) / CLOCKS_PER_SEC});
    }

    // The loss and accuracy curves, from epochs.csv (which holds the epochs before a resume too).
    std::vector<double> x, train_loss, train_acc, val_loss, val_acc;
    std::vector<std::string> lines = ex::read_lines(kProgram, flags.out + "/epochs.csv");
    for (size_t i = 1; i < lines.size(); ++i) {
      std::vector<double> v;
      std::stringstream ss(lines[i]);
      for (std::string cell; std::getline(ss, cell, ',');) v.push_back(std::atof(cell.c_str()));
      if (v.size() < 5) continue;
      x.push_back(v[0]), train_loss.push_back(v[1]), train_acc.push_back(v[2]), val_loss.push_back(v[3]),
          val_acc.push_back(v[4]);
    }
    const std::string model_name = fmt::format("{} LSTM, {} pooling", hyper.bidirectional ? "bidirectional" : "one-way",
                                               hyper.pool);
    plot::save_grid(flags.out + "/curves.png",
                    {plot::draw_line_plot({{"train (dropout on)", x, train_loss}, {"validation", x, val_loss}},
                                          {.title = "loss", .xlabel = "epoch", .ylabel = "cross-entropy"}),
                     plot::draw_line_plot({{"train (dropout on)", x, train_acc}, {"validation", x, val_acc}},
                                          {.title = "accuracy", .xlabel = "epoch", .ylabel = "accuracy"})},
                    2, fmt::format("lstm_classifier ({}): test accuracy {:.3f}", model_name, t.accuracy));

    // The comparison with sentiment_attention, when its results are there (same split, same test set).
    fmt::print("\n{:<54} {:>13} {:>10} {:>10} {:>10}\n", "model (same 600 test sentences)", "test accuracy",
               "train wall", "CPU time", "parameters");
    const std::vector<double> attention = read_results(compare_with);
    if (attention.empty())
      fmt::print("{:<54} (no {}: run sentiment_attention first)\n", "sentiment_attention", compare_with);
    else
      fmt::print("{:<54} {:>13.3f} {:>8.1f} s {:>8.1f} s {:>10}\n",
                 fmt::format("sentiment_attention (seed {})", attention[0]), attention[1], attention[3], attention[6],
                 int64_t(attention[4]));
    fmt::print("{:<54} {:>13.3f} {:>8.1f} s {:>8.1f} s {:>10}\n\n",
               fmt::format("lstm_classifier, {} (seed {})", model_name, flags.seed), t.accuracy, train_seconds,
               double(std::clock() - cpu_start) / CLOCKS_PER_SEC, model.num_parameters());

    fmt::print("curves: {}/curves.png\n", flags.out);
    fmt::print("test accuracy {:.3f} ({} sentences), {:.1f} s in all ({:.1f} s of CPU time)\n", t.accuracy, test.size(),
               clock.seconds(), double(std::clock() - cpu_start) / CLOCKS_PER_SEC);
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
