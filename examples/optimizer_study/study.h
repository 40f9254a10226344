// examples/optimizer_study/study.h -- what the parts of the optimizer study share: the optimizer
// line-up (by name, with a learning rate), the settings from the command line, a CSV writer that
// takes text columns, and the two tasks. optimizers.cpp builds the optimizers, functions.cpp runs
// them on 2-D test functions, digits.cpp on a small MLP; main.cpp reads the flags.
#pragma once
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attograd.h"
#include "common/plot.h"

namespace study {

using atto::Tensor;

// ---- the optimizers (optimizers.cpp) --------------------------------------------------------------------------

// Every optimizer the study knows, in the order the tables list them:
// sgd momentum nesterov adam adamw rmsprop adagrad adadelta adamax nadam radam lion lbfgs.
const std::vector<std::string>& optimizer_names();

// A freshly built optimizer over `params` with learning rate `lr` and the study's other settings
// (momentum 0.9 for momentum/nesterov; LBFGS: one iteration per step with a strong-Wolfe line search).
// An unknown name is an atto::Error listing the known ones.
std::unique_ptr<atto::optim::Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params, double lr);

// One colour per optimizer, the same in every picture.
atto::plot::Rgb optimizer_color(const std::string& name);

// LBFGS needs a closure that re-evaluates the loss; every other optimizer takes one gradient per step.
bool needs_closure(const std::string& name);

// ---- settings ---------------------------------------------------------------------------------------------------

struct Settings {
  std::vector<std::string> optimizers;   // names from optimizer_names()
  std::string out;                       // output folder
  uint64_t seed = 0;
  atto::Device device = atto::kCPU;
  // 2-D functions
  int fn_steps = 500;
  // digits
  int steps = 600;                       // minibatch steps per run
  std::vector<double> lrs;               // absolute learning rates for every optimizer; empty: each one's grid
  std::vector<std::string> cosine;       // optimizers also run once with cosine annealing
  int batch = 32;
  int hidden = 64;
  int eval_every = 20;                   // steps between full-training-set evaluations
  double target_loss = 0.05;              // "steps to target" = first evaluation at or below this training loss
  std::string data;                      // digits.csv
};

// ---- a CSV file with text and number columns -------------------------------------------------------------------

// examples::CsvLog writes numbers only; the study's files have text columns (optimizer, schedule), so
// this small writer formats every cell itself. Numbers use "{:.9g}": the same run writes the same bytes.
class Csv {
 public:
  Csv(const std::string& path, const std::vector<std::string>& columns);
  void row(const std::vector<std::string>& cells);
  static std::string num(double v);   // "{:.9g}", and "" for NaN (an empty cell: no value)

 private:
  std::string path_;
  size_t columns_;
  std::ofstream out_;
};

// ---- the tasks ----------------------------------------------------------------------------------------------------

void run_functions(const Settings& s);   // functions.cpp
void run_digits(const Settings& s);      // digits.cpp

// sqrt(sum of squares) over a list of tensors (undefined tensors count as zero), as one number.
double global_norm(const std::vector<Tensor>& tensors);

}  // namespace study
