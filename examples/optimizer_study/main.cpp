// examples/optimizer_study -- every optimizer in atto::optim side by side, from identical starting
// points with one seed: (a) walks over 2-D test functions (Rosenbrock, Beale, a saddle) drawn over
// their contours, and (b) a small MLP on the 8x8 digits with a learning-rate sweep per optimizer,
// loss curves, per-step statistics (gradient norm, update/weight ratio, lr) and a summary table.
//
// What it teaches: how to compare optimizers fairly -- same initial weights, same minibatches, each
// optimizer at its own best learning rate chosen on the training loss -- and what the per-step
// numbers of an optimizer look like. The same seed writes bitwise the same CSV files.
//
//   build/examples/optimizer_study [--task functions|digits|all] [--optimizers sgd,adam,...]
//       [--steps 600] [--fn-steps 300] [--lrs 0.001,0.01] [--cosine momentum,adamw] [--out runs/optimizer_study]
//
// Parts: optimizers.cpp (the line-up), functions.cpp (part a), digits.cpp (part b), study.h.
#include <CLI/CLI.hpp>

#include "common/run.h"
#include "study.h"

using namespace atto;

int main(int argc, char** argv) {
  CLI::App app{"Optimizers side by side: 2-D test functions and an MLP on the 8x8 digits"};
  // One thread by default: the MLP is tiny (threads would cost more than they give) and the times
  // in the table are cleaner.
  examples::CommonFlags flags{.out = "runs/optimizer_study", .threads = 1};
  examples::add_common_flags(app, flags);
  study::Settings s;
  std::string task = "all";
  s.optimizers = study::optimizer_names();
  s.cosine = {"momentum", "adamw"};
  s.data = examples::data_dir() + "/digits8x8/digits.csv";
  app.add_option("--task", task, "which part of the study to run")
      ->check(CLI::IsMember({"functions", "digits", "all"}))
      ->capture_default_str();
  app.add_option("--optimizers", s.optimizers, "comma-separated optimizers to compare")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--steps", s.steps, "digits: minibatch steps per run")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--fn-steps", s.fn_steps, "2-D functions: steps per walk")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--lrs", s.lrs, "digits: comma-separated learning rates for every optimizer (default: a grid of "
                                 "0.1x..10x around each optimizer's usual lr)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--cosine", s.cosine, "digits: optimizers also run with cosine annealing, at their best lr ('' for none)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--batch", s.batch, "digits: minibatch size")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--hidden", s.hidden, "digits: hidden units of the MLP")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--eval-every", s.eval_every, "digits: steps between evaluations on the whole training set")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--target-loss", s.target_loss, "digits: the training loss that 'steps to target' counts to")
      ->capture_default_str();
  app.add_option("--data", s.data, "digits.csv (64 pixels and a label per line)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    // Each run takes seconds and the study is many short runs: it is rerun, not resumed (README).
    ATTO_CHECK(flags.resume.empty(),
               "[optimizer_study] --resume {}: this program does not resume -- its runs take seconds each; rerun "
               "the ones you need with --optimizers and --lrs (same seed, same numbers)",
               flags.resume);
    for (const auto& name : s.optimizers) study::make_optimizer(name, {zeros({1}, {.requires_grad = true})}, 0.1);
    std::erase(s.cosine, std::string());
    s.device = examples::setup(flags, "optimizer_study");
    s.out = flags.out;
    s.seed = flags.seed;
    examples::Stopwatch clock;
    if (task == "functions" || task == "all") study::run_functions(s);
    if (task == "digits" || task == "all") study::run_digits(s);
    fmt::print("optimizer_study done in {:.1f} s\n", clock.seconds());
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
