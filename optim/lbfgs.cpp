// optim/lbfgs.cpp -- L-BFGS, a port of torch/optim/lbfgs.py (same steps, same order of floating-point
// operations on the scalars, which are doubles here). Twin: lbfgs.h.
//
// With g the flat gradient over all parameters, each iteration k:
//   k = 1:  d = -g,  history empty,  H = 1
//   k > 1:  y = g - g_prev,  s = t d;  if y.s > 1e-10 push (y, s, rho = 1 / y.s), H = y.s / y.y
//           (dropping the oldest pair past history_size); then the two-loop recursion
//             q = -g;  for i newest..oldest: a_i = rho_i s_i.q,  q -= a_i y_i
//             r = H q;  for i oldest..newest: b_i = rho_i y_i.r,  r += (a_i - b_i) s_i;   d = r
//   t = min(1, 1 / |g|_1) lr on the very first iteration, lr after
//   stop when g.d > -tolerance_change; else move x += t d, either with t fixed (and a new closure
//   evaluation) or with t from the strong-Wolfe line search (cubic interpolation, bracketing + zoom);
//   stop on max_iter, max_eval, max|g| <= tolerance_grad, max|t d| <= tolerance_change or
//   |loss - prev_loss| < tolerance_change.
#include "optim/lbfgs.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "autograd/functions/elementwise.h"
#include "autograd/functions/reduce.h"
#include "autograd/functions/shape_ops.h"
#include "autograd/grad_mode.h"

namespace atto::optim {

namespace {

double dot(const Tensor& a, const Tensor& b) { return sum(mul(a, b)).item_double(); }
double abs_max(const Tensor& a) { return max(abs(a)).item_double(); }

double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         std::optional<std::pair<double, double>> bounds = {}) {
  double xmin_bound, xmax_bound;
  if (bounds) std::tie(xmin_bound, xmax_bound) = *bounds;
  else if (x1 <= x2) xmin_bound = x1, xmax_bound = x2;
  else xmin_bound = x2, xmax_bound = x1;
  // Most common case: cubic interpolation of 2 points with function and derivative values for both
  // (minFunc's polyinterp with points = [x1 f1 g1; x2 f2 g2]).
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0) {
    const double d2 = std::sqrt(d2_square);
    const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return std::min(std::max(min_pos, xmin_bound), xmax_bound);
  }
  return (xmin_bound + xmax_bound) / 2.;
}

struct LineSearchResult {
  double f;
  Tensor g;
  double t;
  int64_t func_evals;
};

// torch.optim.lbfgs._strong_wolfe: a step t along d satisfying the strong Wolfe conditions.
template <class ObjFunc>
LineSearchResult strong_wolfe(ObjFunc&& obj_func, double t, const Tensor& d, double f, Tensor g, double gtd,
                              double c1 = 1e-4, double c2 = 0.9, double tolerance_change = 1e-9, int64_t max_ls = 25) {
  const double d_norm = abs_max(d);
  g = g.clone();
  auto [f_new, g_new] = obj_func(t, d);
  int64_t ls_func_evals = 1;
  double gtd_new = dot(g_new, d);

  double t_prev = 0, f_prev = f, gtd_prev = gtd;
  Tensor g_prev = g;
  bool done = false;
  int64_t ls_iter = 0;
  std::vector<double> bracket, bracket_f, bracket_gtd;
  std::vector<Tensor> bracket_g;
  // Bracketing phase.
  while (ls_iter < max_ls) {
    if (f_new > (f + c1 * t * gtd) || (ls_iter > 1 && f_new >= f_prev)) {
      bracket = {t_prev, t}, bracket_f = {f_prev, f_new}, bracket_g = {g_prev, g_new.clone()};
      bracket_gtd = {gtd_prev, gtd_new};
      break;
    }
    if (std::abs(gtd_new) <= -c2 * gtd) {
      bracket = {t}, bracket_f = {f_new}, bracket_g = {g_new};
      done = true;
      break;
    }
    if (gtd_new >= 0) {
      bracket = {t_prev, t}, bracket_f = {f_prev, f_new}, bracket_g = {g_prev, g_new.clone()};
      bracket_gtd = {gtd_prev, gtd_new};
      break;
    }
    // Interpolate.
    const double min_step = t + 0.01 * (t - t_prev);
    const double max_step = t * 10;
    const double tmp = t;
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, std::pair{min_step, max_step});
    t_prev = tmp, f_prev = f_new, g_prev = g_new.clone(), gtd_prev = gtd_new;
    std::tie(f_new, g_new) = obj_func(t, d);
    ls_func_evals += 1;
    gtd_new = dot(g_new, d);
    ls_iter += 1;
  }
  // Reached the maximum number of iterations?
  if (ls_iter == max_ls) bracket = {0, t}, bracket_f = {f, f_new}, bracket_g = {g, g_new};

  // Zoom phase: a point satisfying the criteria inside the bracket.
  bool insuf_progress = false;
  size_t low_pos = 0, high_pos = 1;
  if (!(bracket_f[0] <= bracket_f.back())) low_pos = 1, high_pos = 0;
  while (!done && ls_iter < max_ls) {
    // Line-search bracket is so small.
    if (std::abs(bracket[1] - bracket[0]) * d_norm < tolerance_change) break;
    t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]);
    // Test that we are making sufficient progress: t not too close to the bracket's ends.
    const double bmax = std::max(bracket[0], bracket[1]), bmin = std::min(bracket[0], bracket[1]);
    const double eps = 0.1 * (bmax - bmin);
    if (std::min(bmax - t, t - bmin) < eps) {
      if (insuf_progress || t >= bmax || t <= bmin) {
        t = std::abs(t - bmax) < std::abs(t - bmin) ? bmax - eps : bmin + eps;
        insuf_progress = false;
      } else {
        insuf_progress = true;
      }
    } else {
      insuf_progress = false;
    }
    std::tie(f_new, g_new) = obj_func(t, d);
    ls_func_evals += 1;
    gtd_new = dot(g_new, d);
    ls_iter += 1;
    if (f_new > (f + c1 * t * gtd) || f_new >= bracket_f[low_pos]) {
      // Armijo condition not satisfied or not lower than the lowest point.
      bracket[high_pos] = t, bracket_f[high_pos] = f_new, bracket_g[high_pos] = g_new.clone();
      bracket_gtd[high_pos] = gtd_new;
      if (bracket_f[0] <= bracket_f[1]) low_pos = 0, high_pos = 1;
      else low_pos = 1, high_pos = 0;
    } else {
      if (std::abs(gtd_new) <= -c2 * gtd) {
        done = true;   // Wolfe conditions satisfied
      } else if (gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0) {
        // The old high becomes the new low.
        bracket[high_pos] = bracket[low_pos], bracket_f[high_pos] = bracket_f[low_pos];
        bracket_g[high_pos] = bracket_g[low_pos], bracket_gtd[high_pos] = bracket_gtd[low_pos];
      }
      // The new point becomes the new low.
      bracket[low_pos] = t, bracket_f[low_pos] = f_new, bracket_g[low_pos] = g_new.clone();
      bracket_gtd[low_pos] = gtd_new;
    }
  }
  return {bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals};
}

Tensor number(double v) { return scalar_tensor(v, {.dtype = kFloat64}); }

}  // namespace

void LBFGSOptions::validate() const {
  ATTO_CHECK(lr >= 0, "[LBFGS] invalid learning rate: {}", lr);
  ATTO_CHECK(max_iter >= 1, "[LBFGS] invalid max_iter: {} (want >= 1)", max_iter);
  ATTO_CHECK(max_eval >= 0, "[LBFGS] invalid max_eval: {} (want >= 1, or 0 for max_iter * 5 / 4)", max_eval);
  ATTO_CHECK(history_size >= 1, "[LBFGS] invalid history_size: {} (want >= 1)", history_size);
  ATTO_CHECK(line_search_fn.empty() || line_search_fn == "strong_wolfe",
             "[LBFGS] line_search_fn must be \"\" or \"strong_wolfe\", got \"{}\"", line_search_fn);
}

LBFGS::LBFGS(std::vector<Tensor> params, LBFGSOptions options) : OptimizerBase(std::move(params), options) {
  LBFGSOptions& o = groups_[0].options;
  if (o.max_eval == 0) o.max_eval = o.max_iter * 5 / 4;
  if (defaults_.max_eval == 0) defaults_.max_eval = o.max_eval;
  ATTO_CHECK(!groups_[0].params.empty(), "[LBFGS] got an empty parameter list");
}

void LBFGS::add_param_group(Group) {
  ATTO_CHECK(false, "[LBFGS] doesn't support per-parameter options (parameter groups)");
}

void LBFGS::update_group(size_t) {
  ATTO_CHECK(false, "[LBFGS] step() needs a closure that reevaluates the model: step(closure)");
}

void LBFGS::check_loaded_state(const Tensor&, const std::string& key, const Tensor& value) const {
  ATTO_CHECK(value.dim() == 0 || (value.dim() == 1 && value.numel() == numel()),
             "[LBFGS] load_state_dict: state '{}' has shape {}, want a number or a flat vector of {} elements", key,
             value.shape(), numel());
}

int64_t LBFGS::numel() const {
  int64_t n = 0;
  for (const Tensor& p : groups_[0].params) n += p.numel();
  return n;
}

Tensor LBFGS::gather_flat_grad() const {
  std::vector<Tensor> views;
  for (const Tensor& p : groups_[0].params) {
    Tensor g = p.grad();
    views.push_back(g.defined() ? g.reshape({-1}) : zeros({p.numel()}, {.dtype = p.dtype(), .device = p.device()}));
  }
  return cat(views, 0);
}

void LBFGS::add_grad(double step_size, const Tensor& update) {
  int64_t offset = 0;
  for (const Tensor& p : groups_[0].params) {
    const int64_t n = p.numel();
    Tensor param = p;
    param.add_(update.narrow(0, offset, n).view(p.shape()), step_size);
    offset += n;
  }
}

std::pair<double, Tensor> LBFGS::directional_evaluate(const std::function<Tensor()>& closure,
                                                      const std::vector<Tensor>& x, double t, const Tensor& d) {
  add_grad(t, d);
  double loss;
  {
    EnableGradGuard grad_on;
    loss = closure().item_double();
  }
  Tensor flat_grad = gather_flat_grad();
  for (size_t i = 0; i < x.size(); ++i) {
    Tensor param = groups_[0].params[i];
    param.copy_(x[i]);
  }
  return {loss, flat_grad};
}

Tensor LBFGS::step(const std::function<Tensor()>& closure) {
  ATTO_CHECK(bool(closure), "[LBFGS] step() needs a closure that reevaluates the model");
  Tensor loss;
  {
    NoGradGuard no_grad;
    move_state_to_params();
    loss = run(closure);
  }
  run_step_post_hooks();
  return loss;
}

Tensor LBFGS::run(const std::function<Tensor()>& closure) {
  auto evaluate = [&] {
    EnableGradGuard grad_on;
    return closure();
  };
  const LBFGSOptions o = groups_[0].options;
  const double lr = o.lr, tolerance_grad = o.tolerance_grad, tolerance_change = o.tolerance_change;
  const int64_t max_iter = o.max_iter, max_eval = o.max_eval > 0 ? o.max_eval : o.max_iter * 5 / 4;
  const size_t history_size = size_t(o.history_size);

  // The state lives on the first parameter, as in PyTorch.
  StateDict& st = mutable_state(groups_[0].params[0]);
  auto get_number = [&](const char* key, double dflt) {
    const Tensor* t = st.find(key);
    return t ? t->item_double() : dflt;
  };
  auto get_tensor = [&](const std::string& key) {
    const Tensor* t = st.find(key);
    return t ? *t : Tensor();
  };
  double func_evals = get_number("func_evals", 0);
  double state_n_iter = get_number("n_iter", 0);

  // Evaluate the initial f(x) and df/dx.
  Tensor orig_loss = evaluate();
  double loss = orig_loss.item_double();
  int64_t current_evals = 1;
  func_evals += 1;
  Tensor flat_grad = gather_flat_grad();
  bool opt_cond = abs_max(flat_grad) <= tolerance_grad;
  if (opt_cond) {   // optimal condition: nothing else to do
    st.insert("func_evals", number(func_evals));
    st.insert("n_iter", number(state_n_iter));
    return orig_loss;
  }

  // The previous step's state.
  Tensor d = get_tensor("d");
  std::optional<double> t;
  if (st.contains("t")) t = get_number("t", 0);
  std::vector<Tensor> old_dirs, old_stps;
  std::vector<double> ro;
  for (size_t i = 0; st.contains(fmt::format("old_dirs.{}", i)); ++i) {
    old_dirs.push_back(st.at(fmt::format("old_dirs.{}", i)));
    old_stps.push_back(st.at(fmt::format("old_stps.{}", i)));
    ro.push_back(st.at(fmt::format("ro.{}", i)).item_double());
  }
  double H_diag = get_number("H_diag", 1);
  Tensor prev_flat_grad = get_tensor("prev_flat_grad");
  std::optional<double> prev_loss;
  if (st.contains("prev_loss")) prev_loss = get_number("prev_loss", 0);
  std::vector<double> al(history_size);

  int64_t n_iter = 0;
  while (n_iter < max_iter) {
    n_iter += 1;
    state_n_iter += 1;

    // Compute the direction.
    if (state_n_iter == 1) {
      d = neg(flat_grad);
      old_dirs.clear(), old_stps.clear(), ro.clear();
      H_diag = 1;
    } else {
      // Do the lbfgs update (update memory).
      Tensor y = sub(flat_grad, prev_flat_grad);
      Tensor s = mul(d, *t);
      const double ys = dot(y, s);   // y*s
      if (ys > 1e-10) {
        if (old_dirs.size() == history_size) {   // shorten the history: drop the oldest pair
          old_dirs.erase(old_dirs.begin()), old_stps.erase(old_stps.begin()), ro.erase(ro.begin());
        }
        old_dirs.push_back(y), old_stps.push_back(s), ro.push_back(1. / ys);
        H_diag = ys / dot(y, y);   // (y*y)
      }
      // The approximate inverse Hessian times the gradient (two-loop recursion).
      const size_t num_old = old_dirs.size();
      Tensor q = neg(flat_grad);
      for (size_t k = num_old; k-- > 0;) {
        al[k] = dot(old_stps[k], q) * ro[k];
        q.add_(old_dirs[k], -al[k]);
      }
      Tensor r = mul(q, H_diag);   // r = H_diag * q, then r = H q
      for (size_t k = 0; k < num_old; ++k) {
        const double be_i = dot(old_dirs[k], r) * ro[k];
        r.add_(old_stps[k], al[k] - be_i);
      }
      d = r;
    }
    if (!prev_flat_grad.defined()) prev_flat_grad = flat_grad.clone();
    else prev_flat_grad.copy_(flat_grad);
    prev_loss = loss;

    // The step length.
    if (state_n_iter == 1) t = std::min(1., 1. / sum(abs(flat_grad)).item_double()) * lr;
    else t = lr;

    // The directional derivative: below the tolerance, stop.
    const double gtd = dot(flat_grad, d);   // g * d
    if (gtd > -tolerance_change) break;

    // Optional line search: user function.
    int64_t ls_func_evals = 0;
    if (!o.line_search_fn.empty()) {
      std::vector<Tensor> x_init;
      for (const Tensor& p : groups_[0].params) x_init.push_back(p.clone());
      auto obj_func = [&](double step, const Tensor& dir) { return directional_evaluate(closure, x_init, step, dir); };
      LineSearchResult ls = strong_wolfe(obj_func, *t, d, loss, flat_grad, gtd);
      loss = ls.f, flat_grad = ls.g, t = ls.t, ls_func_evals = ls.func_evals;
      add_grad(*t, d);
      opt_cond = abs_max(flat_grad) <= tolerance_grad;
    } else {
      // No line search: simply move with a fixed step.
      add_grad(*t, d);
      if (n_iter != max_iter) {
        // Re-evaluate the function only outside the last iteration: the step() caller evaluates it
        // anyway, and the closure might be costly.
        loss = evaluate().item_double();
        flat_grad = gather_flat_grad();
        opt_cond = abs_max(flat_grad) <= tolerance_grad;
        ls_func_evals = 1;
      }
    }
    // Update the function evaluation counts.
    current_evals += ls_func_evals;
    func_evals += double(ls_func_evals);

    // Check conditions.
    if (n_iter == max_iter) break;
    if (current_evals >= max_eval) break;
    if (opt_cond) break;   // optimal condition
    if (abs_max(mul(d, *t)) <= tolerance_change) break;   // lack of progress
    if (std::abs(loss - *prev_loss) < tolerance_change) break;
  }

  StateDict fresh;
  fresh.insert("func_evals", number(func_evals));
  fresh.insert("n_iter", number(state_n_iter));
  if (d.defined()) fresh.insert("d", d);
  if (t) fresh.insert("t", number(*t));
  for (size_t k = 0; k < old_dirs.size(); ++k) {
    fresh.insert(fmt::format("old_dirs.{}", k), old_dirs[k]);
    fresh.insert(fmt::format("old_stps.{}", k), old_stps[k]);
    fresh.insert(fmt::format("ro.{}", k), number(ro[k]));
  }
  fresh.insert("H_diag", number(H_diag));
  if (prev_flat_grad.defined()) fresh.insert("prev_flat_grad", prev_flat_grad);
  if (prev_loss) fresh.insert("prev_loss", number(*prev_loss));
  st = std::move(fresh);
  return orig_loss;
}

}  // namespace atto::optim
