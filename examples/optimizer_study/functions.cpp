// examples/optimizer_study/functions.cpp -- part (a) of the study: every optimizer walks the same
// 2-D test functions from the same start, and the walks are drawn over the functions' contours.
// Rosenbrock's curved valley punishes methods that cannot take long steps along it; Beale's flat
// plateau and steep walls punish fixed step sizes; the saddle x^2 - y^2, started almost on its ridge,
// shows who escapes (the gradient in y starts at nearly zero). Declarations: study.h.
#include <cmath>
#include <map>

#include "common/plot.h"
#include "common/run.h"
#include "study.h"

namespace study {

using namespace atto;

// Each function is written once, for doubles (the contour picture) and for tensors (autograd).
template <class T> T rosenbrock(const T& x, const T& y) { return (1.0 - x) * (1.0 - x) + 100.0 * (y - x * x) * (y - x * x); }
template <class T> T beale(const T& x, const T& y) {
  T a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y;
  return a * a + b * b + c * c;
}
template <class T> T saddle(const T& x, const T& y) { return x * x - y * y; }

struct TestFunction {
  std::string name, formula;
  std::function<double(double, double)> f;
  std::function<Tensor(const Tensor&, const Tensor&)> f_tensor;
  double x0, y0;                                // the start
  double x_min, x_max, y_min, y_max;            // the picture's box
  bool has_minimum;                             // false: the saddle (unbounded below)
  double x_star, y_star;                        // the minimum, where there is one
};

static std::vector<TestFunction> test_functions() {
  return {
      {"rosenbrock", "(1-x)^2 + 100(y-x^2)^2", rosenbrock<double>, rosenbrock<Tensor>, -1.2, 1.0, -2, 2, -1, 3, true, 1, 1},
      {"beale", "Beale", beale<double>, beale<Tensor>, 1.0, 1.5, -4.5, 4.5, -4.5, 4.5, true, 3, 0.5},
      {"saddle", "x^2 - y^2", saddle<double>, saddle<Tensor>, -1.8, 1e-3, -2, 2, -2, 2, false, 0, 0},
  };
}

// On the functions with a minimum each optimizer gets its best learning rate from this grid (the
// fewest steps to the target, else the lowest final value); the saddle has no best (a larger step always escapes sooner), so there every
// optimizer takes the rate that makes its first steps along x about 0.1 long.
static const std::vector<double> kFunctionLrGrid = {1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1, 3, 10};
static double saddle_lr(const std::string& name) {
  static const std::map<std::string, double> lr = {
      {"sgd", 0.03},   {"momentum", 0.003}, {"nesterov", 0.003}, {"adam", 0.1},  {"adamw", 0.1},
      {"rmsprop", 0.01}, {"adagrad", 0.1},  {"adadelta", 10},    {"adamax", 0.1}, {"nadam", 0.1},
      {"radam", 0.03}, {"lion", 0.1},       {"lbfgs", 0.1}};
  return lr.at(name);
}

struct Walk {
  double lr = 0;
  std::vector<double> x, y, f, grad_norm;   // grad_norm[i]: the gradient that moved point i
  int evaluations = 0;   // loss-and-gradient evaluations (LBFGS's line search takes several per step)
};

// One optimizer on one function: `steps` updates from the start, every point recorded. The walk stops
// early when it leaves the picture far behind (the saddle has no bottom) or the value is not finite.
static Walk walk(const TestFunction& fn, const std::string& name, double lr, int steps, Device device) {
  Tensor x = scalar_tensor(fn.x0, {.dtype = kFloat64, .device = device, .requires_grad = true});
  Tensor y = scalar_tensor(fn.y0, {.dtype = kFloat64, .device = device, .requires_grad = true});
  auto opt = make_optimizer(name, {x, y}, lr);
  Walk w;
  w.lr = lr;
  auto loss_and_grad = [&] {
    opt->zero_grad();
    Tensor loss = fn.f_tensor(x, y);
    loss.backward();
    ++w.evaluations;
    return loss;
  };
  const double far = 4 * std::max(fn.x_max - fn.x_min, fn.y_max - fn.y_min);
  for (int step = 0;; ++step) {
    double xv = x.item<double>(), yv = y.item<double>(), fv = fn.f(xv, yv);
    w.x.push_back(xv), w.y.push_back(yv), w.f.push_back(fv);
    if (step == steps || !std::isfinite(fv) || std::fabs(xv) > far || std::fabs(yv) > far) break;
    if (needs_closure(name)) {
      opt->step(loss_and_grad);
    } else {
      loss_and_grad();
      opt->step();
    }
    // (LBFGS: the gradient at the last point its line search evaluated.)
    w.grad_norm.push_back(global_norm({x.grad(), y.grad()}));
  }
  w.grad_norm.push_back(NAN);   // the last point moved nowhere
  return w;
}

// Steps until the walk first succeeds (-1: never): within 1e-3 of the minimum's value, or on the
// saddle |y| > 1 (off the ridge, going downhill).
static int steps_to_success(const TestFunction& fn, const Walk& w) {
  const double f_star = fn.f(fn.x_star, fn.y_star);
  for (size_t i = 0; i < w.f.size(); ++i)
    if (fn.has_minimum ? w.f[i] - f_star < 1e-3 : std::fabs(w.y[i]) > 1) return int(i);
  return -1;
}

void run_functions(const Settings& s) {
  Csv csv(s.out + "/trajectories.csv", {"function", "optimizer", "lr", "step", "x", "y", "f", "grad_norm"});
  Csv summary(s.out + "/functions_summary.csv",
              {"function", "optimizer", "lr", "steps", "evaluations", "final_f", "distance_to_minimum", "steps_to_target"});
  for (const TestFunction& fn : test_functions()) {
    fmt::print("\n{}: f(x,y) = {}, start ({}, {}), {} steps; {}\n", fn.name, fn.formula, fn.x0, fn.y0, s.fn_steps,
               fn.has_minimum ? "each optimizer at its best lr of the grid 1e-4..10" : "lrs set by hand");
    fmt::print("  {:<10} {:>8} {:>12} {:>10} {:>7} {:>15}\n", "optimizer", "lr", "final f", "dist. min", "evals",
               fn.has_minimum ? "steps to f*+1e-3" : "steps to |y|>1");
    std::vector<plot::Series> paths;
    std::vector<plot::Canvas> panels;
    for (const std::string& name : s.optimizers) {
      Walk w;
      if (fn.has_minimum) {
        // Best: reaches the target in the fewest steps; among those that never do, the lowest final value.
        auto score = [&](const Walk& c) {
          const int reached = steps_to_success(fn, c);
          return std::pair{reached < 0 ? s.fn_steps + 1 : reached, std::isfinite(c.f.back()) ? c.f.back() : INFINITY};
        };
        for (double lr : kFunctionLrGrid) {
          Walk candidate = walk(fn, name, lr, s.fn_steps, s.device);
          if (w.f.empty() || score(candidate) < score(w)) w = std::move(candidate);
        }
      } else {
        w = walk(fn, name, saddle_lr(name), s.fn_steps, s.device);
      }
      const int reached = steps_to_success(fn, w);
      const double distance =
          fn.has_minimum ? std::hypot(w.x.back() - fn.x_star, w.y.back() - fn.y_star) : std::nan("");
      fmt::print("  {:<10} {:>8.3g} {:>12.4g} {:>10.4g} {:>7} {:>15}\n", name, w.lr, w.f.back(), distance,
                 w.evaluations, reached < 0 ? "-" : std::to_string(reached));
      for (size_t i = 0; i < w.f.size(); ++i)
        csv.row({fn.name, name, Csv::num(w.lr), std::to_string(i), Csv::num(w.x[i]), Csv::num(w.y[i]), Csv::num(w.f[i]),
                 Csv::num(w.grad_norm[i])});
      summary.row({fn.name, name, Csv::num(w.lr), std::to_string(w.f.size() - 1), std::to_string(w.evaluations),
                   Csv::num(w.f.back()), Csv::num(distance), reached < 0 ? "" : std::to_string(reached)});
      plot::Series path{fmt::format("{} {:.3g}", name, w.lr), w.x, w.y, optimizer_color(name)};
      paths.push_back(path);
      panels.push_back(plot::draw_contour(fn.f, {path},
                                          {.title = fmt::format("{} (lr {:.3g})", name, w.lr), .x_min = fn.x_min,
                                           .x_max = fn.x_max, .y_min = fn.y_min, .y_max = fn.y_max, .levels = 20,
                                           .log_levels = fn.has_minimum, .width = 380, .height = 340}));
    }
    // All walks in one picture, and one small picture per optimizer (easier to read where they overlap).
    const std::string title = fmt::format("{}: {} from ({}, {}), {} steps", fn.name, fn.formula, fn.x0, fn.y0, s.fn_steps);
    const std::string png = s.out + "/functions_" + fn.name + ".png";
    plot::contour(png, fn.f, paths,
                  {.title = title, .x_min = fn.x_min, .x_max = fn.x_max, .y_min = fn.y_min, .y_max = fn.y_max,
                   .levels = 25, .log_levels = fn.has_minimum, .width = 900, .height = 760});
    const std::string grid_png = s.out + "/functions_" + fn.name + "_grid.png";
    plot::save_grid(grid_png, panels, 5, title);
    fmt::print("  wrote {} and {}\n", png, grid_png);
  }
  fmt::print("wrote {} and {}\n", s.out + "/trajectories.csv", s.out + "/functions_summary.csv");
}

}  // namespace study
