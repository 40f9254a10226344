// examples/tiny_gpt -- a small GPT trained on tiny-shakespeare, character by character, with
// nanoGPT's CPU configuration: 4 layers, 4 heads, 128-wide embeddings, a context of 64 characters,
// batches of 12, 2,000 iterations of AdamW (weight decay on the 2-d weights only) with a linear
// warmup and a cosine decay of the learning rate, gradient clipping at 1.0. nanoGPT reports a
// validation loss of about 1.88 for it (its run prints 1.8857; --replay reproduces that run).
//
// What it teaches: a decoder-only transformer built from the library's modules (gpt.h: Embedding,
// LayerNorm, Linear, GELU, causal scaled dot-product attention), parameter groups, a learning-rate
// schedule, checkpoints that resume bitwise, sampling text, and looking inside: the attention maps.
//
// Data: data/tinyshakespeare/input.txt, split as nanoGPT does (first 90% train, last 10% validation).
// The PyTorch twin of this program is tiny_gpt_torch.py (same model, same hyper-parameters).
//
//   build/examples/tiny_gpt [--iters 2000] [--out runs/tiny_gpt] [--resume runs/tiny_gpt/checkpoint.safetensors]
//   build/examples/tiny_gpt --replay runs/nanogpt.safetensors   # nanoGPT's own run: see Replay below
#include <CLI/CLI.hpp>
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>

#include "attograd.h"
#include "common/chars.h"
#include "common/plot.h"
#include "common/run.h"
#include "nn/safetensors.h"
#include "optim/checkpoint.h"
#include "tiny_gpt/gpt.h"

using namespace atto;

struct Flags {
  examples::CommonFlags common{.out = "runs/tiny_gpt"};
  std::string data = examples::data_dir() + "/tinyshakespeare/input.txt";
  int64_t iters = 2000, batch = 12, block = 64;
  int64_t n_layer = 4, n_head = 4, n_embd = 128;
  double dropout = 0.0;
  bool bias = false;
  double lr = 1e-3, min_lr = 1e-4, beta1 = 0.9, beta2 = 0.99, weight_decay = 0.1, grad_clip = 1.0;
  int64_t warmup_iters = 100, lr_decay_iters = 2000;
  int64_t eval_interval = 250, eval_iters = 20, final_eval_iters = 200, checkpoint_every = 500;
  int64_t sample_chars = 500, attention_chars = 40;
  double temperature = 0.8;
  std::string replay;
};

// nanoGPT's get_lr: a linear warmup to lr over warmup_iters, then a cosine from lr down to min_lr at
// lr_decay_iters, and min_lr after that.
double learning_rate_at(int64_t it, const Flags& f) {
  if (it < f.warmup_iters) return f.lr * double(it + 1) / double(f.warmup_iters + 1);
  if (it > f.lr_decay_iters) return f.min_lr;
  double decay_ratio = double(it - f.warmup_iters) / double(f.lr_decay_iters - f.warmup_iters);
  double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * decay_ratio));   // 1 -> 0
  return f.min_lr + coeff * (f.lr - f.min_lr);
}

// nanoGPT's estimate_loss: the mean loss over `iters` random batches of a split, in eval mode. The
// batches come from a generator of their own, seeded the same each time: every evaluation sees the
// same windows (a smoother curve), and training draws are left untouched. The standard error of the
// mean (spread of the batch losses / sqrt(iters)) says how far another set of windows could land.
struct LossEstimate {
  double mean = 0, standard_error = 0, batch_stddev = 0;
};

// `windows` (iters, batch), when given, holds the window starts to use instead (a Replay's).
LossEstimate estimate_loss(gpt::GPT& model, const Tensor& data, int64_t iters, const Flags& f, Device device,
                           const Tensor& windows = {}) {
  NoGradGuard no_grad;
  model.eval();
  Generator gen(f.common.seed + 1);
  std::vector<double> losses;
  for (int64_t i = 0; i < iters; ++i) {
    auto [x, y] = windows.defined() ? examples::batch_at(data, windows.select(0, i).to_vector<int64_t>(), f.block)
                                    : examples::random_batch(data, f.batch, f.block, &gen);
    Tensor logits = model(x.to(device));
    losses.push_back(cross_entropy(logits.reshape({-1, logits.size(-1)}), y.to(device).reshape({-1})).item<double>());
  }
  model.train();
  LossEstimate e;
  for (double l : losses) e.mean += l;
  e.mean /= double(iters);
  if (iters > 1) {
    double squares = 0;
    for (double l : losses) squares += (l - e.mean) * (l - e.mean);
    e.batch_stddev = std::sqrt(squares / double(iters - 1));
    e.standard_error = e.batch_stddev / std::sqrt(double(iters));
  }
  return e;
}

// nanoGPT's own run, replayed: tiny_gpt_torch.py --nanogpt-rng --seed 1337 draws its initial weights,
// batches and evaluation windows from PyTorch's generator in the order nanoGPT's train.py does (its
// first evaluation prints nanoGPT's logged losses digit for digit), and --dump FILE writes them all.
// With --replay FILE this program starts from those weights and trains and evaluates on those
// windows: the one difference left from nanoGPT's run is the framework doing the arithmetic.
struct Replay {
  Tensor train_starts;        // (iterations + 1, batch): row i holds the window starts of iteration i's batch
  Tensor eval_starts;         // (evaluations, 2, eval_iters, batch): evaluation k's train [k][0] and val [k][1] windows
  Tensor final_eval_starts;   // (2, final_eval_iters, batch): the twin's own final estimate's windows

  std::vector<int64_t> batch(int64_t it) const { return train_starts.select(0, it).to_vector<int64_t>(); }
  // Evaluation k's windows, (2 splits, batches, batch); k < 0: the final estimate's.
  Tensor evaluation(int64_t k) const { return k >= 0 ? eval_starts.select(0, k) : final_eval_starts; }
};

// The index of the final evaluation (at iteration iters) among the evaluations of a run: they come
// at 0, eval_interval, ... below iters, then the final one.
int64_t final_evaluation(const Flags& f) {
  return f.eval_interval > 0 ? (f.iters + f.eval_interval - 1) / f.eval_interval : 0;
}

Replay load_replay(const std::string& path, gpt::GPT& model, const Flags& f) {
  SafetensorsFile file = load_safetensors(path);
  StateDict weights;
  Replay replay;
  for (auto& [name, t] : file.tensors) {
    if (name == "replay.train_starts") replay.train_starts = t;
    else if (name == "replay.eval_starts") replay.eval_starts = t;
    else if (name == "replay.final_eval_starts") replay.final_eval_starts = t;
    else weights.insert(name, t);
  }
  ATTO_CHECK(replay.train_starts.defined() && replay.eval_starts.defined() && replay.final_eval_starts.defined(),
             "[tiny_gpt] {} has no replay.train_starts, replay.eval_starts and replay.final_eval_starts (written by "
             "tiny_gpt_torch.py --dump)",
             path);
  const int64_t evaluations = final_evaluation(f) + 1;
  const Tensor& t = replay.train_starts;
  const Tensor& e = replay.eval_starts;
  ATTO_CHECK(t.dtype() == kInt64 && t.dim() == 2 && t.size(0) >= f.iters && t.size(1) == f.batch,
             "[tiny_gpt] {}: replay.train_starts is {} {}, expected int64 (at least {}, {}) for --iters {} --batch {}",
             path, t.dtype(), t.shape(), f.iters, f.batch, f.iters, f.batch);
  ATTO_CHECK(e.dtype() == kInt64 && e.dim() == 4 && e.size(0) >= evaluations && e.size(1) == 2 &&
                 e.size(2) == f.eval_iters && e.size(3) == f.batch,
             "[tiny_gpt] {}: replay.eval_starts is {} {}, expected int64 (at least {}, 2, {}, {}) for --iters {} "
             "--eval-interval {} --eval-iters {} --batch {}",
             path, e.dtype(), e.shape(), evaluations, f.eval_iters, f.batch, f.iters, f.eval_interval, f.eval_iters,
             f.batch);
  const Tensor& l = replay.final_eval_starts;
  ATTO_CHECK(l.dtype() == kInt64 && l.dim() == 3 && l.size(0) == 2 && l.size(1) == f.final_eval_iters &&
                 l.size(2) == f.batch,
             "[tiny_gpt] {}: replay.final_eval_starts is {} {}, expected int64 (2, {}, {}) for --final-eval-iters {} "
             "--batch {}",
             path, l.dtype(), l.shape(), f.final_eval_iters, f.batch, f.final_eval_iters, f.batch);
  try {
    model.load_state_dict(weights);
  } catch (const Error& error) {
    throw Error(fmt::format("[tiny_gpt] the initial weights in {} do not fit this model: {}", path, error.what()));
  }
  return replay;
}

// Training loss per iteration (thin) and the evaluated train / validation losses (with markers).
void draw_loss_curves(const std::string& out) {
  auto steps = examples::read_csv_columns("tiny_gpt", out + "/metrics.csv");
  auto evals = examples::read_csv_columns("tiny_gpt", out + "/eval.csv");
  const double last_iter = evals["iter"].empty() ? steps["iter"].back() : evals["iter"].back();
  plot::line_plot(out + "/loss.png",
                  {{"train (one batch)", steps["iter"], steps["loss"], {190, 190, 190}},
                   {"train (eval)", evals["iter"], evals["train_loss"], plot::series_color(0), true},
                   {"validation (eval)", evals["iter"], evals["val_loss"], plot::series_color(1), true},
                   {"nanoGPT's run: 1.8857", {0, last_iter}, {1.8857, 1.8857}, {120, 120, 120}}},
                  {.title = "tiny_gpt on tiny-shakespeare: loss", .xlabel = "iteration", .ylabel = "cross-entropy (nats/char)",
                   .y_min = 1.0, .y_max = 4.5});
}

// One heatmap per layer and head: how much each character (row) attends to the earlier ones (columns).
void draw_attention(gpt::GPT& model, const examples::CharVocab& vocab, const std::vector<int64_t>& text,
                    const std::string& path, Device device) {
  NoGradGuard no_grad;
  model.eval();
  for (size_t l = 0; l < model.transformer->h->size(); ++l) model.block(l)->attn->keep_weights = true;
  const auto T = int64_t(text.size());
  model(from_vector<int64_t>(text, Shape{1, T}).to(device));
  std::vector<std::string> labels;
  for (int64_t id : text) labels.push_back(examples::CharVocab::label(vocab.decode(id)));
  std::vector<plot::Canvas> panels;
  for (size_t l = 0; l < model.transformer->h->size(); ++l) {
    auto attn = model.block(l)->attn;
    for (int64_t h = 0; h < model.config.n_head; ++h) {
      std::vector<float> w = attn->last_weights.select(0, 0).select(0, h).cpu().to(kFloat32).to_vector<float>();
      panels.push_back(plot::draw_heatmap(w, int(T), int(T),
                                          {.title = fmt::format("layer {} head {}", l, h), .xlabel = "attends to",
                                           .ylabel = "character", .x_labels = labels, .y_labels = labels,
                                           .v_min = 0, .v_max = 1, .cell = 9, .colorbar = false}));
    }
    attn->keep_weights = false;
    attn->last_weights = {};
  }
  plot::save_grid(path, panels, int(model.config.n_head),
                  fmt::format("tiny_gpt attention weights on the last {} characters of the sample", T));
  model.train();
}

int main(int argc, char** argv) {
  CLI::App app{"A small GPT on tiny-shakespeare (nanoGPT's CPU configuration)"};
  Flags f;
  examples::add_common_flags(app, f.common);
  app.add_option("--data", f.data, "the text to learn")->capture_default_str();
  app.add_option("--iters", f.iters, "training iterations (batches)")->capture_default_str();
  app.add_option("--batch", f.batch, "sequences per batch")->capture_default_str();
  app.add_option("--block", f.block, "context length in characters (block_size)")->capture_default_str();
  app.add_option("--n-layer", f.n_layer, "transformer blocks")->capture_default_str();
  app.add_option("--n-head", f.n_head, "attention heads per block")->capture_default_str();
  app.add_option("--n-embd", f.n_embd, "embedding width")->capture_default_str();
  app.add_option("--dropout", f.dropout, "dropout probability while training")->capture_default_str();
  app.add_flag("--bias", f.bias, "biases in the Linear and LayerNorm layers (nanoGPT's default: none)");
  app.add_option("--lr", f.lr, "peak learning rate")->capture_default_str();
  app.add_option("--min-lr", f.min_lr, "learning rate at the end of the cosine decay")->capture_default_str();
  app.add_option("--warmup-iters", f.warmup_iters, "iterations of linear warmup")->capture_default_str();
  app.add_option("--lr-decay-iters", f.lr_decay_iters, "iteration where the cosine decay ends")->capture_default_str();
  app.add_option("--weight-decay", f.weight_decay, "AdamW weight decay (2-d weights only)")->capture_default_str();
  app.add_option("--beta1", f.beta1, "AdamW beta1")->capture_default_str();
  app.add_option("--beta2", f.beta2, "AdamW beta2")->capture_default_str();
  app.add_option("--grad-clip", f.grad_clip, "clip the gradient norm to this (0: off)")->capture_default_str();
  app.add_option("--eval-interval", f.eval_interval, "evaluate every N iterations")->capture_default_str();
  app.add_option("--eval-iters", f.eval_iters, "batches per evaluation during training")->capture_default_str();
  app.add_option("--final-eval-iters", f.final_eval_iters, "batches for the final evaluation")->capture_default_str();
  app.add_option("--checkpoint-every", f.checkpoint_every, "save a checkpoint every N iterations (0: at the end only)")
      ->capture_default_str();
  app.add_option("--sample-chars", f.sample_chars, "characters of text to sample at the end")->capture_default_str();
  app.add_option("--temperature", f.temperature, "sampling temperature")->capture_default_str();
  app.add_option("--attention-chars", f.attention_chars, "characters shown in the attention maps")->capture_default_str();
  app.add_option("--replay", f.replay,
                 "start from the initial weights and train and evaluate on the windows in this file, written by "
                 "tiny_gpt_torch.py --nanogpt-rng --dump FILE (with --seed 1337: nanoGPT's own run)");
  CLI11_PARSE(app, argc, argv);

  try {
    Device device = examples::setup(f.common, "tiny_gpt");
    examples::CharCorpus corpus = examples::load_char_corpus("tiny_gpt", f.data);
    fmt::print("data: {} train / {} validation characters, vocabulary {}\n", corpus.train.numel(),
               corpus.val.numel(), corpus.vocab.size());

    gpt::GPT model({.vocab_size = corpus.vocab.size(), .block_size = f.block, .n_layer = f.n_layer,
                    .n_head = f.n_head, .n_embd = f.n_embd, .dropout = f.dropout, .bias = f.bias});
    std::optional<Replay> replay;
    if (!f.replay.empty()) {
      replay = load_replay(f.replay, model, f);
      fmt::print("replaying the PyTorch twin's run in {}: its initial weights, batches and evaluation windows\n",
                 f.replay);
    }
    model.to(device);
    fmt::print("model: {:.2f}M parameters (without position embeddings, as nanoGPT counts)\n",
               double(model.num_parameters_without_positions()) / 1e6);

    // nanoGPT's configure_optimizers: weight decay on every 2-d parameter (the matmul and embedding
    // weights), none on the 1-d ones (LayerNorm weights, biases).
    std::vector<Tensor> decay, no_decay;
    for (auto& [name, p] : model.named_parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
    optim::AdamWOptions options{.lr = f.lr, .betas = {f.beta1, f.beta2}, .weight_decay = f.weight_decay};
    optim::AdamWOptions no_decay_options = options;
    no_decay_options.weight_decay = 0.0;
    optim::AdamW optimizer({{decay, options}, {no_decay, no_decay_options}}, options);
    fmt::print("optimizer: AdamW, {} tensors decayed, {} not\n", decay.size(), no_decay.size());
    optim::LambdaLR scheduler(optimizer, [&](int64_t it) { return learning_rate_at(it, f) / f.lr; });

    // A checkpoint holds the model, AdamW's moments, the schedule, the default generator (which draws
    // the training batches), the iteration and the wall time so far: resuming continues bitwise.
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
    // Evaluation k (at iteration k * eval_interval, or the final one) of `batches` batches per split;
    // a replay evaluates on nanoGPT's windows of evaluation k, and for k < 0 on those of the twin's
    // final estimate (in its own order, like this program's final estimate).
    auto evaluate = [&](int64_t it, int64_t k, int64_t batches) {
      Tensor train_windows, val_windows;
      if (replay) {
        train_windows = replay->evaluation(k).select(0, 0);
        val_windows = replay->evaluation(k).select(0, 1);
      }
      LossEstimate train_loss = estimate_loss(model, corpus.train, batches, f, device, train_windows);
      LossEstimate val_loss = estimate_loss(model, corpus.val, batches, f, device, val_windows);
      if (!replay || k >= 0)   // a replay's log holds nanoGPT's estimates only
        eval_log.row({double(it), train_loss.mean, val_loss.mean, seconds_before + clock.seconds()});
      return std::pair{train_loss, val_loss};
    };

    const int64_t first_iter = state.step;   // save() moves state.step on
    examples::Progress bar(f.iters - first_iter, "train", "tok");
    double eval_seconds = 0, last_loss = NAN;
    for (int64_t it = first_iter; it < f.iters; ++it) {
      if (f.eval_interval > 0 && it % f.eval_interval == 0) {
        examples::Stopwatch eval_clock;
        auto [train_loss, val_loss] = evaluate(it, it / f.eval_interval, f.eval_iters);
        eval_seconds += eval_clock.seconds();
        fmt::print("step {}: train loss {:.4f}, val loss {:.4f}\n", it, train_loss.mean, val_loss.mean);
      }
      auto [x, y] = replay ? examples::batch_at(corpus.train, replay->batch(it), f.block)
                           : examples::random_batch(corpus.train, f.batch, f.block);
      Tensor logits = model(x.to(device));
      Tensor loss = cross_entropy(logits.reshape({-1, logits.size(-1)}), y.to(device).reshape({-1}));
      optimizer.zero_grad();
      loss.backward();
      double grad_norm = f.grad_clip > 0 ? optim::clip_grad_norm_(model.parameters(), f.grad_clip).item<double>() : NAN;
      const double lr = optimizer.lr(0);
      optimizer.step();
      scheduler.step();

      const double loss_value = last_loss = loss.item<double>();
      log.row({double(it), loss_value, lr, grad_norm, seconds_before + clock.seconds()});
      bar.update(it + 1 - first_iter, {{"loss", loss_value}, {"lr", lr}}, double(f.batch * f.block));
      if (f.checkpoint_every > 0 && (it + 1) % f.checkpoint_every == 0 && it + 1 < f.iters) save(it + 1);
    }
    bar.finish();
    const double train_seconds = clock.seconds() - eval_seconds;
    save(f.iters);
    fmt::print("weights fingerprint: {:.17g}\n", examples::weights_fingerprint(model));

    fmt::print("iter {}: loss {:.4f} (the last training batch)\n", f.iters - 1, last_loss);
    examples::Stopwatch final_clock;
    if (replay) {   // the line nanoGPT's run ends with: its last evaluation, on its windows
      auto [train_loss, val_loss] = evaluate(f.iters, final_evaluation(f), f.eval_iters);
      fmt::print("step {}: train loss {:.4f}, val loss {:.4f} (nanoGPT's estimate: its {} windows of {}x{} per split)\n",
                 f.iters, train_loss.mean, val_loss.mean, f.eval_iters, f.batch, f.block);
    }
    auto [train_loss, val_loss] = evaluate(f.iters, -1, f.final_eval_iters);
    fmt::print("step {}: train loss {:.4f}, val loss {:.4f} ({} batches of {}x{} per split)\n", f.iters,
               train_loss.mean, val_loss.mean, f.final_eval_iters, f.batch, f.block);
    // nanoGPT's CPU run reports a 20-batch estimate: show how much such an estimate moves around.
    fmt::print("standard error of the val loss: {:.4f} over these {} batches; {:.4f} for an estimate from {}\n",
               val_loss.standard_error, f.final_eval_iters, val_loss.batch_stddev / std::sqrt(double(f.eval_iters)),
               f.eval_iters);
    fmt::print("time: {:.1f} s training + {:.1f} s evaluating in this run ({:.1f} s in all runs so far)\n",
               train_seconds, eval_seconds + final_clock.seconds(), seconds_before + clock.seconds());

    // Text from the trained model: start from a newline, as nanoGPT's sample.py does.
    Generator sampling(f.common.seed + 2);
    std::vector<int64_t> text =
        gpt::generate(model, corpus.vocab.encode("\n"), f.sample_chars, f.temperature, &sampling);
    std::string sample = corpus.vocab.decode(text);
    fmt::print("---- sample (temperature {}) ----{}\n----\n", f.temperature, sample);
    std::ofstream(f.common.out + "/sample.txt") << sample;

    draw_loss_curves(f.common.out);
    const auto shown = std::min<int64_t>({f.attention_chars, f.block, int64_t(text.size())});
    draw_attention(model, corpus.vocab, std::vector<int64_t>(text.end() - shown, text.end()),
                   f.common.out + "/attention.png", device);
    fmt::print("wrote {0}/metrics.csv, {0}/eval.csv, {0}/checkpoint.safetensors, {0}/sample.txt, {0}/loss.png, "
               "{0}/attention.png\n",
               f.common.out);
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
