// examples/optimizer_study/digits.cpp -- part (b) of the study: every optimizer trains the same MLP on
// the 8x8 digits from the same initial weights, with the same minibatches in the same order, over a
// grid of learning rates. Each optimizer is then judged at its best learning rate, the one with the
// lowest final loss on a validation split (the test set is not used to choose). Per-step statistics go to metrics.csv, one row
// per run to summary.csv, and the curves to PNG pictures. Declarations: study.h.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "common/plot.h"
#include "common/run.h"
#include "study.h"

namespace study {

using namespace atto;

// ---- data ----------------------------------------------------------------------------------------------------------

struct Digits {
  Tensor x_train, y_train, x_val, y_val, x_test, y_test;   // x: (N, 64) standardised pixels; y: (N,) labels
};

// One image per line: 64 pixel values 0..16, then the label. Errors name the file and the line.
static Digits load_digits(const std::string& path) {
  const std::vector<std::string> lines = examples::read_lines("optimizer_study", path);
  std::vector<float> pixels;
  std::vector<int64_t> labels;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::stringstream ss(lines[i]);
    std::vector<double> row;
    for (std::string cell; std::getline(ss, cell, ',');) {
      size_t used = 0;
      double v = 0;
      try {
        v = std::stod(cell, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != cell.size())
        examples::data_error("optimizer_study", path, int64_t(i + 1), fmt::format("'{}' is not a number", cell));
      row.push_back(v);
    }
    if (row.size() != 65)
      examples::data_error("optimizer_study", path, int64_t(i + 1),
                           fmt::format("expected 65 values (64 pixels + label), got {}", row.size()));
    if (row[64] < 0 || row[64] > 9 || row[64] != std::floor(row[64]))
      examples::data_error("optimizer_study", path, int64_t(i + 1), fmt::format("label {} is not a digit", row[64]));
    for (int p = 0; p < 64; ++p) pixels.push_back(float(row[p] / 16.0));
    labels.push_back(int64_t(row[64]));
  }
  const int64_t n = int64_t(labels.size());
  ATTO_CHECK(n >= 2, "[optimizer_study] {} holds {} images; the study needs at least 2", path, n);
  Tensor x = from_vector<float>(pixels, Shape{n, 64}), y = from_vector<int64_t>(labels);
  // scikit-learn's split: first half for training, second half test (different writers); the last
  // fifth of the training half is held out to choose each optimizer's learning rate.
  const int64_t n_fit = n / 2, n_val = n_fit / 5, n_train = n_fit - n_val;
  Digits d{x.narrow(0, 0, n_train),   y.narrow(0, 0, n_train),   x.narrow(0, n_train, n_val),
           y.narrow(0, n_train, n_val), x.narrow(0, n_fit, n - n_fit), y.narrow(0, n_fit, n - n_fit)};
  // Standardise each pixel with the training set's statistics (+0.1: border pixels are ~constant).
  Tensor mu = d.x_train.mean({0}, /*keepdim=*/true);
  Tensor sd = atto::std(d.x_train, {0}, /*unbiased=*/true, /*keepdim=*/true) + 0.1;
  d.x_train = (d.x_train - mu) / sd;
  d.x_val = (d.x_val - mu) / sd;
  d.x_test = (d.x_test - mu) / sd;
  return d;
}

// ---- one training run ------------------------------------------------------------------------------------------

// The centre of each optimizer's learning-rate grid, set so that the best value for this MLP lies
// inside the grid rather than on its edge (checked on the default run). The grid spans 1/10 .. 10
// times it.
static double base_lr(const std::string& name) {
  static const std::map<std::string, double> base = {
      {"sgd", 0.3},      {"momentum", 0.03}, {"nesterov", 0.03}, {"adam", 3e-3},  {"adamw", 3e-3},
      {"rmsprop", 1e-3}, {"adagrad", 0.03},  {"adadelta", 3},    {"adamax", 6e-3}, {"nadam", 6e-3},
      {"radam", 3e-3},   {"lion", 3e-4},     {"lbfgs", 1.0}};
  return base.at(name);
}
static const std::vector<double> kGridFactors = {0.1, 0.3, 1, 3, 10};

struct Run {
  std::string optimizer, schedule;   // schedule: "constant" or "cosine"
  double lr = 0;                     // the base (initial) learning rate
  std::vector<double> eval_steps, train_loss, val_loss_curve;   // full-set losses every eval_every steps
  std::vector<double> steps, update_ratio;      // per step
  double final_loss = NAN, val_loss = NAN, test_accuracy = NAN, seconds = 0;
  int steps_to_target = -1, evaluations = 0, steps_done = 0;
  bool diverged = false;
  std::string label() const { return fmt::format("{}{} {:.3g}", optimizer, schedule == "cosine" ? "+cosine" : "", lr); }
  // The optimizer's colour; its cosine run in a darker shade.
  plot::Rgb color() const {
    plot::Rgb c = optimizer_color(optimizer);
    if (schedule == "cosine")
      for (auto& v : c) v = uint8_t(v / 2);
    return c;
  }
};

static std::shared_ptr<nn::Sequential> make_mlp(int hidden) {
  return std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      std::make_shared<nn::Linear>(64, hidden), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(hidden, 10)});
}

static std::vector<Tensor> detached_copies(const std::vector<Tensor>& params) {
  std::vector<Tensor> copies;
  for (const auto& p : params) copies.push_back(p.detach().clone());
  return copies;
}

static Run train(const Settings& s, const Digits& data, const std::string& name, double lr, bool cosine, Csv& metrics,
                 examples::Progress& bar, int64_t& bar_done) {
  Run run{name, cosine ? "cosine" : "constant", lr};
  // The same seed before every run: every optimizer starts from the same weights and sees the same
  // minibatches in the same order.
  manual_seed(s.seed);
  auto model = make_mlp(s.hidden);
  model->to(s.device);
  std::vector<Tensor> params = model->parameters();
  auto opt = make_optimizer(name, params, lr);
  std::unique_ptr<optim::LRScheduler> schedule;
  if (cosine) schedule = std::make_unique<optim::CosineAnnealingLR>(*opt, s.steps);
  std::mt19937_64 shuffle_rng(s.seed);
  const int64_t n_train = data.x_train.size(0);
  std::vector<int64_t> order(size_t(n_train), 0);
  std::iota(order.begin(), order.end(), 0);
  int64_t cursor = n_train;   // position in the current epoch's order; n_train: reshuffle first

  auto full_loss = [&](const Tensor& x, const Tensor& y) {
    NoGradGuard no_grad;
    return cross_entropy(model->forward(x), y).item<double>();
  };
  auto test_accuracy = [&] {
    NoGradGuard no_grad;
    Tensor logits = model->forward(data.x_test);
    return mean((logits.argmax(1) == data.y_test).to(kFloat32)).item<double>();
  };
  // Every eval_every steps: the loss on the whole training set and on the validation split, and the
  // test accuracy, as three cells.
  auto evaluate = [&](int step) -> std::vector<std::string> {
    const double loss = full_loss(data.x_train, data.y_train);
    const double val_loss = full_loss(data.x_val, data.y_val);
    run.eval_steps.push_back(step), run.train_loss.push_back(loss), run.val_loss_curve.push_back(val_loss);
    if (run.steps_to_target < 0 && loss <= s.target_loss) run.steps_to_target = step;
    return {Csv::num(loss), Csv::num(val_loss), Csv::num(test_accuracy())};
  };
  const std::string base = Csv::num(lr);
  std::vector<std::string> eval_cells = evaluate(0);
  metrics.row({name, run.schedule, base, "0", Csv::num(opt->lr(0)), "", "", "", eval_cells[0], eval_cells[1],
               eval_cells[2]});

  examples::Stopwatch clock;
  double eval_seconds = 0;   // the evaluations are the same for every optimizer: not counted in its time
  for (int step = 1; step <= s.steps; ++step) {
    // The next minibatch; LBFGS (a full-batch method) uses the whole training set every step.
    Tensor xb = data.x_train, yb = data.y_train;
    if (!needs_closure(name)) {
      if (cursor + s.batch > n_train) {
        std::shuffle(order.begin(), order.end(), shuffle_rng);
        cursor = 0;
      }
      Tensor idx = from_vector<int64_t>(std::vector<int64_t>(order.begin() + cursor, order.begin() + cursor + s.batch))
                       .to(s.device);
      cursor += s.batch;
      xb = index_select(data.x_train, 0, idx), yb = index_select(data.y_train, 0, idx);
    }
    double grad_norm = NAN;
    auto loss_and_grad = [&] {
      opt->zero_grad();
      Tensor loss = cross_entropy(model->forward(xb), yb);
      loss.backward();
      ++run.evaluations;
      if (std::isnan(grad_norm)) {   // the gradient at the step's starting point
        std::vector<Tensor> grads;
        for (const auto& p : params) grads.push_back(p.grad());
        grad_norm = global_norm(grads);
      }
      return loss;
    };
    const double lr_now = opt->lr(0);
    const std::vector<Tensor> before = detached_copies(params);
    double loss = 0;
    if (needs_closure(name)) {
      loss = opt->step(loss_and_grad).item<double>();
    } else {
      loss = loss_and_grad().item<double>();
      opt->step();
    }
    if (schedule) schedule->step();
    // How far the step moved the weights, relative to their size: ||delta w|| / ||w||.
    std::vector<Tensor> delta;
    for (size_t i = 0; i < params.size(); ++i) delta.push_back(params[i].detach() - before[i]);
    const double ratio = global_norm(delta) / global_norm(before);
    run.steps.push_back(step), run.update_ratio.push_back(ratio);
    run.steps_done = step;

    eval_cells = {"", "", ""};
    if (step % s.eval_every == 0 || step == s.steps) {
      examples::Stopwatch eval_clock;
      eval_cells = evaluate(step);
      eval_seconds += eval_clock.seconds();
    }
    metrics.row({name, run.schedule, base, std::to_string(step), Csv::num(lr_now), Csv::num(loss), Csv::num(grad_norm),
                 Csv::num(ratio), eval_cells[0], eval_cells[1], eval_cells[2]});
    bar.update(++bar_done, {{"loss", loss}}, double(xb.size(0)));
    // A run that blew up stops here; the rest of its steps are counted as done for the progress bar.
    if (!std::isfinite(loss) || loss > 1e3) {
      run.diverged = true;
      bar_done += s.steps - step;
      break;
    }
  }
  run.seconds = clock.seconds() - eval_seconds;
  NoGradGuard no_grad;
  run.final_loss = run.diverged ? NAN : full_loss(data.x_train, data.y_train);
  run.val_loss = run.diverged ? NAN : full_loss(data.x_val, data.y_val);
  run.test_accuracy = test_accuracy();
  return run;
}

// ---- the study -------------------------------------------------------------------------------------------------

static std::string steps_cell(int steps) { return steps < 0 ? "-" : std::to_string(steps); }

void run_digits(const Settings& s) {
  Digits data = load_digits(s.data);
  for (Tensor* t : {&data.x_train, &data.y_train, &data.x_test, &data.y_test}) *t = t->to(s.device);
  fmt::print("\ndigits: {} train / {} validation / {} test images; MLP 64-{}-10; {} steps of {} images; target loss {}\n",
             data.x_train.size(0), data.x_val.size(0), data.x_test.size(0), s.hidden, s.steps, s.batch, s.target_loss);

  // The runs: each optimizer over its learning-rate grid, then the cosine runs at the best constant lr.
  std::map<std::string, std::vector<double>> grid;
  size_t n_runs = 0;
  for (const auto& name : s.optimizers) {
    if (!s.lrs.empty()) {
      grid[name] = s.lrs;
    } else {
      for (double f : kGridFactors) grid[name].push_back(base_lr(name) * f);
    }
    n_runs += grid[name].size();
  }
  std::vector<std::string> cosine;
  for (const auto& name : s.cosine)
    if (std::find(s.optimizers.begin(), s.optimizers.end(), name) != s.optimizers.end()) cosine.push_back(name);
  n_runs += cosine.size();

  Csv metrics(s.out + "/metrics.csv", {"optimizer", "schedule", "base_lr", "step", "lr", "loss", "grad_norm",
                                       "update_ratio", "train_loss", "val_loss", "test_accuracy"});
  examples::Progress bar(int64_t(n_runs) * s.steps, "digits", "img");
  int64_t bar_done = 0;
  std::vector<Run> runs;
  std::map<std::string, size_t> best;   // optimizer -> index of its best constant-lr run
  for (const auto& name : s.optimizers) {
    for (double lr : grid[name]) {
      runs.push_back(train(s, data, name, lr, /*cosine=*/false, metrics, bar, bar_done));
      const Run& r = runs.back();
      auto it = best.find(name);
      if (!r.diverged && (it == best.end() || r.val_loss < runs[it->second].val_loss)) best[name] = runs.size() - 1;
    }
  }
  for (const auto& name : cosine)
    if (best.count(name)) runs.push_back(train(s, data, name, runs[best[name]].lr, /*cosine=*/true, metrics, bar, bar_done));
  bar.finish();

  // summary.csv: every run; the printed table: each optimizer at its best lr, and the cosine runs.
  Csv summary(s.out + "/summary.csv", {"optimizer", "schedule", "lr", "final_train_loss", "val_loss", "test_accuracy",
                                       "steps_to_target", "evaluations", "wall_seconds", "diverged", "best_lr"});
  for (size_t i = 0; i < runs.size(); ++i) {
    const Run& r = runs[i];
    const bool is_best = best.count(r.optimizer) && best[r.optimizer] == i;
    summary.row({r.optimizer, r.schedule, Csv::num(r.lr), Csv::num(r.final_loss), Csv::num(r.val_loss),
                 Csv::num(r.test_accuracy),
                 r.steps_to_target < 0 ? "" : std::to_string(r.steps_to_target), std::to_string(r.evaluations),
                 fmt::format("{:.3f}", r.seconds), r.diverged ? "1" : "0", is_best ? "1" : "0"});
  }
  std::vector<size_t> shown;
  for (const auto& name : s.optimizers)
    if (best.count(name)) shown.push_back(best[name]);
  for (size_t i = 0; i < runs.size(); ++i)
    if (runs[i].schedule == "cosine") shown.push_back(i);
  fmt::print("\n{:<16} {:>8} {:>11} {:>9} {:>9} {:>11} {:>6} {:>8}\n", "optimizer", "best lr", "train loss", "val loss", "test acc",
             fmt::format("steps<{}", s.target_loss), "evals", "time s");
  for (size_t i : shown) {
    const Run& r = runs[i];
    fmt::print("{:<16} {:>8.3g} {:>11.4f} {:>9.4f} {:>9.4f} {:>11} {:>6} {:>8.2f}\n",
               r.optimizer + (r.schedule == "cosine" ? "+cosine" : ""), r.lr, r.final_loss, r.val_loss, r.test_accuracy,
               steps_cell(r.steps_to_target), r.evaluations, r.seconds);
  }
  for (const auto& name : s.optimizers)
    if (!best.count(name)) fmt::print("{:<16} diverged at every learning rate tried\n", name);
  fmt::print("(best lr: lowest final validation loss over the grid; time: training steps only, on a shared machine)\n");

  // Pictures. Losses on a log scale; the y range is fixed so that panels compare at a glance.
  const double y_top = 3.0, y_bottom = 1e-4;
  std::vector<plot::Series> train_curves, val_curves, ratio_curves;
  for (size_t i : shown) {
    train_curves.push_back({runs[i].label(), runs[i].eval_steps, runs[i].train_loss, runs[i].color()});
    val_curves.push_back({runs[i].label(), runs[i].eval_steps, runs[i].val_loss_curve, runs[i].color()});
    ratio_curves.push_back({runs[i].label(), runs[i].steps, runs[i].update_ratio, runs[i].color()});
  }
  plot::save_grid(s.out + "/digits_loss.png",
                  {plot::draw_line_plot(train_curves, {.title = "training set", .xlabel = "step",
                                                       .ylabel = "cross-entropy", .log_y = true, .y_min = y_bottom,
                                                       .y_max = y_top, .width = 760, .height = 640}),
                   plot::draw_line_plot(val_curves, {.title = "validation split", .xlabel = "step",
                                                     .ylabel = "cross-entropy", .log_y = true, .y_min = 0.1,
                                                     .y_max = y_top, .width = 760, .height = 640})},
                  2, "digits MLP: loss of each optimizer at its best lr (chosen on the validation loss)");
  plot::line_plot(s.out + "/digits_update_ratio.png", ratio_curves,
                  {.title = "update size ||delta w|| / ||w|| per step (best lr)", .xlabel = "step",
                   .ylabel = "update / weight norm", .log_y = true, .width = 900, .height = 560});

  std::vector<plot::Canvas> panels;
  std::vector<plot::Series> sensitivity;
  for (const auto& name : s.optimizers) {
    std::vector<plot::Series> curves;
    plot::Series final_vs_lr{name, {}, {}, optimizer_color(name)};
    final_vs_lr.markers = true;
    for (const Run& r : runs) {
      if (r.optimizer != name || r.schedule != "constant") continue;
      const bool chosen = best.count(name) && &runs[best[name]] == &r;
      curves.push_back({fmt::format("lr {:.3g}{}", r.lr, r.diverged ? " (diverged)" : chosen ? " (best)" : ""),
                        r.eval_steps, r.train_loss});
      final_vs_lr.x.push_back(r.lr);
      final_vs_lr.y.push_back(r.diverged ? NAN : r.val_loss);
    }
    panels.push_back(plot::draw_line_plot(curves, {.title = name, .xlabel = "step", .ylabel = "training loss",
                                                   .log_y = true, .y_min = y_bottom, .y_max = y_top,
                                                   .width = 420, .height = 300}));
    sensitivity.push_back(final_vs_lr);
  }
  plot::save_grid(s.out + "/digits_lr_sweep.png", panels, 4, "digits MLP: learning-rate sweep (one curve per lr)");
  plot::line_plot(s.out + "/digits_lr_sensitivity.png", sensitivity,
                  {.title = "final validation loss against learning rate",
                   .xlabel = "learning rate", .ylabel = "final validation loss", .log_y = true, .log_x = true, .width = 900, .height = 560});
  fmt::print("wrote {0}/metrics.csv, {0}/summary.csv, {0}/digits_loss.png, {0}/digits_lr_sweep.png, "
             "{0}/digits_lr_sensitivity.png, {0}/digits_update_ratio.png\n",
             s.out);
}

}  // namespace study
