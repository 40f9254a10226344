// examples/optimizer_study/optimizers.cpp -- the study's line-up: every optimizer in atto::optim,
// built by name with one learning rate and otherwise PyTorch's defaults; plus the shared CSV writer
// and the norm helper. Declarations: study.h.
#include <cmath>
#include <map>

#include "study.h"

namespace study {

using namespace atto;

const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names = {"sgd",     "momentum", "nesterov", "adam",  "adamw", "rmsprop", "adagrad",
                                                 "adadelta", "adamax",   "nadam",    "radam", "lion",  "lbfgs"};
  return names;
}

plot::Rgb optimizer_color(const std::string& name) {
  // tab10, then three more that stay apart from it; SGD's family in blues, Adam's in reds/oranges.
  static const std::map<std::string, plot::Rgb> colors = {
      {"sgd", {20, 20, 20}},       {"momentum", {31, 119, 180}},  {"nesterov", {23, 190, 207}},
      {"adam", {214, 39, 40}},     {"adamw", {255, 127, 14}},     {"rmsprop", {148, 103, 189}},
      {"adagrad", {140, 86, 75}},  {"adadelta", {227, 119, 194}}, {"adamax", {188, 189, 34}},
      {"nadam", {255, 0, 255}},    {"radam", {127, 127, 127}},    {"lion", {44, 160, 44}},
      {"lbfgs", {0, 0, 160}}};
  auto it = colors.find(name);
  return it == colors.end() ? plot::Rgb{20, 20, 20} : it->second;
}

bool needs_closure(const std::string& name) { return name == "lbfgs"; }

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params, double lr) {
  using namespace optim;
  if (name == "sgd") return std::make_unique<SGD>(params, SGDOptions{.lr = lr});
  // Heavy-ball momentum and its look-ahead (Nesterov) form, both with the usual beta = 0.9.
  if (name == "momentum") return std::make_unique<SGD>(params, SGDOptions{.lr = lr, .momentum = 0.9});
  if (name == "nesterov") return std::make_unique<SGD>(params, SGDOptions{.lr = lr, .momentum = 0.9, .nesterov = true});
  if (name == "adam") return std::make_unique<Adam>(params, AdamOptions{.lr = lr});
  if (name == "adamw") return std::make_unique<AdamW>(params, AdamWOptions{.lr = lr});
  if (name == "rmsprop") return std::make_unique<RMSprop>(params, RMSpropOptions{.lr = lr});
  if (name == "adagrad") return std::make_unique<Adagrad>(params, AdagradOptions{.lr = lr});
  if (name == "adadelta") return std::make_unique<Adadelta>(params, AdadeltaOptions{.lr = lr});
  if (name == "adamax") return std::make_unique<Adamax>(params, AdamaxOptions{.lr = lr});
  if (name == "nadam") return std::make_unique<NAdam>(params, NAdamOptions{.lr = lr});
  if (name == "radam") return std::make_unique<RAdam>(params, RAdamOptions{.lr = lr});
  if (name == "lion") return std::make_unique<Lion>(params, LionOptions{.lr = lr});
  // One quasi-Newton iteration per step, so that "step" means one update for every optimizer; the
  // line search may evaluate the loss several times within it (the tables count evaluations).
  if (name == "lbfgs")
    return std::make_unique<LBFGS>(params,
                                   LBFGSOptions{.lr = lr, .max_iter = 1, .history_size = 10, .line_search_fn = "strong_wolfe"});
  std::string known;
  for (const auto& n : optimizer_names()) known += (known.empty() ? "" : " ") + n;
  throw Error(fmt::format("[optimizer_study] unknown optimizer '{}' (known: {})", name, known));
}

double global_norm(const std::vector<Tensor>& tensors) {
  double sum_sq = 0;
  for (const auto& t : tensors)
    if (t.defined()) sum_sq += (t.to(kFloat64) * t.to(kFloat64)).sum().item<double>();
  return std::sqrt(sum_sq);
}

// ---- Csv ---------------------------------------------------------------------------------------------------------

Csv::Csv(const std::string& path, const std::vector<std::string>& columns) : path_(path), columns_(columns.size()) {
  out_.open(path, std::ios::trunc);
  ATTO_CHECK(out_.good(), "[optimizer_study] cannot write {}", path);
  row(columns);
}

void Csv::row(const std::vector<std::string>& cells) {
  ATTO_CHECK(cells.size() == columns_, "[optimizer_study] {}: {} cells for {} columns", path_, cells.size(), columns_);
  for (size_t i = 0; i < cells.size(); ++i) out_ << (i ? "," : "") << cells[i];
  out_ << '\n' << std::flush;
  ATTO_CHECK(out_.good(), "[optimizer_study] writing {} failed", path_);
}

std::string Csv::num(double v) { return std::isnan(v) ? "" : fmt::format("{:.9g}", v); }

}  // namespace study
