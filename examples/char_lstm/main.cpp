// examples/char_lstm -- a character-level language model: a 2-layer LSTM reads tiny-shakespeare one
// character at a time and learns to predict the next one; then it writes Shakespeare-like text.
//
// What it teaches: truncated backpropagation through time. The text is cut into `batch` streams read
// side by side (char-rnn's layout, examples/common/chars.h); each iteration feeds the next `seq`
// characters of every stream and backpropagates through those steps only, while the hidden state is
// carried on, detached, into the next chunk: the model sees an unbroken text, the gradient graph
// stays `seq` steps long. Also: gradient clipping (clip_grad_norm_), Adam with a cosine learning
// rate, checkpoints that resume bitwise, and sampling with a temperature.
//
// Data: data/tinyshakespeare/input.txt with nanoGPT's split (first 90% train, last 10% validation).
// The validation loss is measured as nanoGPT measures it (examples/tiny_gpt): the mean loss over
// random windows of 64 characters, each read from a zero state, so the two programs' numbers compare.
//
//   build/examples/char_lstm [--iters 800] [--hidden 256] [--out runs/char_lstm] [--temperature 0.8]
#include <CLI/CLI.hpp>
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>

#include "attograd.h"
#include "common/chars.h"
#include "common/plot.h"
#include "common/run.h"
#include "optim/checkpoint.h"

using namespace atto;

struct Flags {
  examples::CommonFlags common{.out = "runs/char_lstm"};
  std::string data = examples::data_dir() + "/tinyshakespeare/input.txt";
  int64_t iters = 800, batch = 32, seq = 64;
  int64_t embed = 64, hidden = 256, layers = 2;
  double dropout = 0.0;
  double lr = 3e-3, min_lr = 3e-4, grad_clip = 1.0;
  int64_t lr_decay_iters = 800;
  int64_t eval_interval = 100, eval_iters = 20, eval_block = 64, final_eval_iters = 200, checkpoint_every = 500;
  int64_t sample_chars = 500;
  double temperature = 0.8;
};

// Embedding -> 2-layer LSTM -> Linear: logits for the next character after every position.
class CharLSTM : public nn::Module {
 public:
  using State = std::pair<Tensor, Tensor>;   // (h, c), each (layers, batch, hidden); undefined: zeros

  CharLSTM(int64_t vocab, const Flags& f) : nn::Module("CharLSTM") {
    embed = register_module("embed", std::make_shared<nn::Embedding>(vocab, f.embed));
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(nn::LSTMOptions{
        .input_size = f.embed, .hidden_size = f.hidden, .num_layers = f.layers, .batch_first = true,
        .dropout = f.dropout}));
    head = register_module("head", std::make_shared<nn::Linear>(f.hidden, vocab));
    // The state the training streams carry into their next chunk. Buffers, so the checkpoint keeps
    // them and a resumed run continues exactly where it stopped.
    carry_h = register_buffer("carry_h", zeros({f.layers, f.batch, f.hidden}));
    carry_c = register_buffer("carry_c", zeros({f.layers, f.batch, f.hidden}));
  }

  // x (B, T) character ids -> logits (B, T, vocab), and the state after the last step.
  std::pair<Tensor, State> forward(const Tensor& x, const State& state) {
    auto [outputs, final_state] = (*lstm)((*embed)(x), state);   // outputs (B, T, hidden)
    return {(*head)(outputs), final_state};
  }

  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> head;
  Tensor carry_h, carry_c;
};

Tensor next_char_loss(const Tensor& logits, const Tensor& targets) {
  return cross_entropy(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}));
}

// The mean loss over `iters` random windows of eval_block characters, each from a zero state (as
// tiny_gpt and nanoGPT measure it). A generator of its own, seeded the same every time: each
// evaluation sees the same windows, and the training's random state is left untouched.
double estimate_loss(CharLSTM& model, const Tensor& data, int64_t iters, const Flags& f, Device device) {
  NoGradGuard no_grad;
  model.eval();
  Generator gen(f.common.seed + 1);
  double total = 0;
  for (int64_t i = 0; i < iters; ++i) {
    auto [x, y] = examples::random_batch(data, f.batch, f.eval_block, &gen);
    total += next_char_loss(model.forward(x.to(device), {}).first, y.to(device)).item<double>();
  }
  model.train();
  return total / double(iters);
}

// Feeds `prompt`, then draws `count` characters one at a time, carrying the state along.
std::string sample_text(CharLSTM& model, const examples::CharVocab& vocab, const std::string& prompt, int64_t count,
                        double temperature, Generator* gen, Device device) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<int64_t> ids = vocab.encode(prompt);
  auto [logits, state] = model.forward(from_vector<int64_t>(ids, Shape{1, int64_t(ids.size())}).to(device), {});
  std::string text = prompt;
  for (int64_t i = 0; i < count; ++i) {
    int64_t next = examples::sample_token(logits.select(0, 0).select(0, -1), temperature, gen);
    text += vocab.decode(next);
    std::tie(logits, state) = model.forward(from_vector<int64_t>({next}, Shape{1, 1}).to(device), state);
  }
  model.train();
  return text;
}

// The loss against wall-clock seconds: what a budget of minutes buys.
void draw_loss_curves(const std::string& out) {
  auto steps = examples::read_csv_columns("char_lstm", out + "/metrics.csv");
  auto evals = examples::read_csv_columns("char_lstm", out + "/eval.csv");
  plot::line_plot(out + "/loss.png",
                  {{"train (one chunk)", steps["seconds"], steps["loss"], {190, 190, 190}},
                   {"train (eval)", evals["seconds"], evals["train_loss"], plot::series_color(0), true},
                   {"validation (eval)", evals["seconds"], evals["val_loss"], plot::series_color(1), true}},
                  {.title = "char_lstm on tiny-shakespeare: loss against wall time", .xlabel = "seconds",
                   .ylabel = "cross-entropy (nats/char)", .y_min = 1.0, .y_max = 4.5});
}

int main(int argc, char** argv) {
  CLI::App app{"A character-level LSTM language model on tiny-shakespeare (truncated BPTT)"};
  Flags f;
  examples::add_common_flags(app, f.common);
  app.add_option("--data", f.data, "the text to learn")->capture_default_str();
  app.add_option("--iters", f.iters, "training iterations (chunks)")->capture_default_str();
  app.add_option("--batch", f.batch, "streams read side by side")->capture_default_str();
  app.add_option("--seq", f.seq, "characters per chunk: how far back the gradient flows")->capture_default_str();
  app.add_option("--embed", f.embed, "character embedding width")->capture_default_str();
  app.add_option("--hidden", f.hidden, "LSTM hidden units per layer")->capture_default_str();
  app.add_option("--layers", f.layers, "stacked LSTM layers")->capture_default_str();
  app.add_option("--dropout", f.dropout, "dropout between the LSTM layers while training")->capture_default_str();
  app.add_option("--lr", f.lr, "Adam learning rate at the start")->capture_default_str();
  app.add_option("--min-lr", f.min_lr, "learning rate at the end of the cosine decay")->capture_default_str();
  app.add_option("--lr-decay-iters", f.lr_decay_iters, "iteration where the cosine decay reaches --min-lr")
      ->capture_default_str();
  app.add_option("--grad-clip", f.grad_clip, "clip the gradient norm to this (0: off)")->capture_default_str();
  app.add_option("--eval-interval", f.eval_interval, "evaluate every N iterations")->capture_default_str();
  app.add_option("--eval-iters", f.eval_iters, "batches per evaluation during training")->capture_default_str();
  app.add_option("--eval-block", f.eval_block, "characters per evaluation window")->capture_default_str();
  app.add_option("--final-eval-iters", f.final_eval_iters, "batches for the final evaluation")->capture_default_str();
  app.add_option("--checkpoint-every", f.checkpoint_every, "save a checkpoint every N iterations (0: at the end only)")
      ->capture_default_str();
  app.add_option("--sample-chars", f.sample_chars, "characters of text to sample at the end")->capture_default_str();
  app.add_option("--temperature", f.temperature, "sampling temperature (lower: safer, duller text)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    Device device = examples::setup(f.common, "char_lstm");
    examples::CharCorpus corpus = examples::load_char_corpus("char_lstm", f.data);
    fmt::print("data: {} train / {} validation characters, vocabulary {}\n", corpus.train.numel(),
               corpus.val.numel(), corpus.vocab.size());
    examples::StreamBatches chunks(corpus.train, f.batch, f.seq);
    fmt::print("truncated BPTT: {} streams x {} characters per chunk, {} chunks per pass over the text\n", f.batch,
               f.seq, chunks.chunks_per_epoch());

    CharLSTM model(corpus.vocab.size(), f);
    model.to(device);
    fmt::print("model: {} parameters\n", model.num_parameters());
    optim::Adam optimizer(model.parameters(), {.lr = f.lr});
    // The learning rate falls along half a cosine from lr to min_lr at lr_decay_iters, then stays.
    optim::LambdaLR scheduler(optimizer, [&](int64_t it) {
      double progress = std::min(1.0, double(it) / double(f.lr_decay_iters));
      return (f.min_lr + 0.5 * (1.0 + std::cos(std::numbers::pi * progress)) * (f.lr - f.min_lr)) / f.lr;
    });

    // A checkpoint holds the model (with the carried state), Adam's moments, the schedule, the
    // default generator, the iteration and the wall time so far: resuming continues bitwise.
    optim::TrainingState state{.model = &model, .optimizer = &optimizer, .scheduler = &scheduler};
    double seconds_before = 0;
    const bool resuming = !f.common.resume.empty();
    if (resuming) {
      optim::load_checkpoint(f.common.resume, state);
      seconds_before = std::stod(state.extra.at("seconds"));
      fmt::print("resumed from {} at iteration {}\n", f.common.resume, state.step);
    }
    const std::string checkpoint_path = f.common.out + "/checkpoint.safetensors";
    examples::Stopwatch clock;
    auto save = [&](int64_t next_iter) {
      state.step = next_iter;
      state.extra["seconds"] = fmt::format("{:.17g}", seconds_before + clock.seconds());
      optim::save_checkpoint(checkpoint_path, state);
    };

    examples::CsvLog log(f.common.out + "/metrics.csv", {"iter", "loss", "lr", "grad_norm", "seconds"}, resuming);
    examples::CsvLog eval_log(f.common.out + "/eval.csv", {"iter", "train_loss", "val_loss", "seconds"}, resuming);
    // Wall time on the curve is training time: evaluations pause the clock.
    double eval_seconds = 0;
    auto training_seconds = [&] { return seconds_before + clock.seconds() - eval_seconds; };
    auto evaluate = [&](int64_t it, int64_t batches) {
      examples::Stopwatch eval_clock;
      double train_loss = estimate_loss(model, corpus.train, batches, f, device);
      double val_loss = estimate_loss(model, corpus.val, batches, f, device);
      eval_seconds += eval_clock.seconds();
      eval_log.row({double(it), train_loss, val_loss, training_seconds()});
      return std::pair{train_loss, val_loss};
    };

    const int64_t first_iter = state.step;   // save() moves state.step on
    examples::Progress bar(f.iters - first_iter, "train", "char");
    for (int64_t it = first_iter; it < f.iters; ++it) {
      if (f.eval_interval > 0 && it % f.eval_interval == 0) {
        auto [train_loss, val_loss] = evaluate(it, f.eval_iters);
        fmt::print("iter {}: train loss {:.4f}, val loss {:.4f}\n", it, train_loss, val_loss);
      }
      // A new pass over the text starts the streams from a zero state; otherwise the state flows on.
      if (it % chunks.chunks_per_epoch() == 0) {
        NoGradGuard no_grad;
        model.carry_h.zero_();
        model.carry_c.zero_();
      }
      auto [x, y] = chunks.chunk(it);
      auto [logits, next_state] = model.forward(x.to(device), {model.carry_h, model.carry_c});
      Tensor loss = next_char_loss(logits, y.to(device));
      optimizer.zero_grad();
      loss.backward();
      {
        NoGradGuard no_grad;   // detach: the next chunk starts from these values, not from this graph
        model.carry_h.copy_(next_state.first);
        model.carry_c.copy_(next_state.second);
      }
      double grad_norm = f.grad_clip > 0 ? optim::clip_grad_norm_(model.parameters(), f.grad_clip).item<double>() : NAN;
      const double lr = optimizer.lr(0);
      optimizer.step();
      scheduler.step();

      const double loss_value = loss.item<double>();
      log.row({double(it), loss_value, lr, grad_norm, training_seconds()});
      bar.update(it + 1 - first_iter, {{"loss", loss_value}, {"lr", lr}}, double(f.batch * f.seq));
      if (f.checkpoint_every > 0 && (it + 1) % f.checkpoint_every == 0 && it + 1 < f.iters) save(it + 1);
    }
    bar.finish();
    const double train_seconds = clock.seconds() - eval_seconds;
    save(f.iters);
    fmt::print("weights fingerprint: {:.17g}\n", examples::weights_fingerprint(model));

    auto [train_loss, val_loss] = evaluate(f.iters, f.final_eval_iters);
    fmt::print("iter {}: train loss {:.4f}, val loss {:.4f} ({} windows of {}x{} per split)\n", f.iters, train_loss,
               val_loss, f.final_eval_iters, f.batch, f.eval_block);
    fmt::print("time: {:.1f} s training + {:.1f} s evaluating in this run ({:.1f} s of training in all runs)\n",
               train_seconds, eval_seconds, training_seconds());

    Generator sampling(f.common.seed + 2);
    std::string sample = sample_text(model, corpus.vocab, "\n", f.sample_chars, f.temperature, &sampling, device);
    fmt::print("---- sample (temperature {}) ----{}\n----\n", f.temperature, sample);
    std::ofstream(f.common.out + "/sample.txt") << sample;

    draw_loss_curves(f.common.out);
    fmt::print("wrote {0}/metrics.csv, {0}/eval.csv, {0}/checkpoint.safetensors, {0}/sample.txt, {0}/loss.png\n",
               f.common.out);
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
