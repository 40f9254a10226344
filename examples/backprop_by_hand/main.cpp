// examples/backprop_by_hand -- the learner's walkthrough of reverse-mode autograd, on two tiny
// graphs you can check with pencil and paper.
//
// What it teaches:
//   1. A 2-4-1 perceptron (tanh hidden layer, mean squared error) on two inputs. Every intermediate
//      tensor is kept (retain_grad) and printed with its op, shape, value and gradient, first in
//      the order the forward pass made them, then in the order backward reached them (recorded by
//      a hook on each tensor). The chain rule is then done by hand -- dL/dy = 2 (y - t) / N,
//      dL/dW2 = dL/dy^T h, dL/dz1 = dL/dh * (1 - h^2), ... -- and printed next to autograd's.
//      gradcheck compares the backward formulas with finite differences, and one SGD step along
//      the gradient lowers the loss.
//   2. One attention head on three tokens: q, k, v, scores = q k^T / sqrt(d), softmax, weighted
//      sum. Same tables; the hand-derived softmax backward dL/dS = A * (dL/dA - rowsum(dL/dA * A));
//      and dL/dX, which adds up the gradients arriving along three paths (through q, k and v).
//      Its attention weights and their gradient are drawn as heatmaps.
//   3. Both backward graphs written as Graphviz files (atto::to_dot), rendered to PNG when Graphviz's
//      `dot` is on the PATH.
// Everything runs in float64, so hand-derived and autograd gradients agree to ~1e-16.
//
//   build/examples/backprop_by_hand [--seed 0] [--out runs/backprop_by_hand] [--no-render]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "attograd.h"
#include "common/plot.h"
#include "common/run.h"

using namespace atto;

// ---- printing tensors compactly ------------------------------------------------------------------

// "[[0.1234, -0.5678], [1.0000, 2.0000]]": the values of a small tensor on one line.
std::string values_of(const Tensor& t) {
  if (!t.defined()) return "-";
  std::vector<double> v = t.detach().cpu().to(kFloat64).contiguous().to_vector<double>();
  auto number = [](double x) { return fmt::format("{:.4f}", x); };
  if (t.dim() == 0) return number(v[0]);
  int64_t cols = t.shape()[t.dim() - 1];
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    bool row_start = int64_t(i) % cols == 0, row_end = int64_t(i) % cols == cols - 1;
    if (row_start) out += (i == 0 ? "" : ", ") + std::string(t.dim() == 2 ? "[" : "");
    out += number(v[i]);
    if (!row_end) out += ", ";
    if (row_end && t.dim() == 2) out += "]";
  }
  return "[" + out + "]";
}

std::string op_of(const Tensor& t) {
  if (t.grad_fn()) return t.grad_fn()->name();
  return t.requires_grad() ? "leaf (parameter)" : "leaf (data)";
}

// ---- the walkthrough's bookkeeping ---------------------------------------------------------------

// The tensors of one graph, in the order they were made, each with the formula that made it.
class Tape {
 public:
  // Records t; keeps its gradient after backward and notes when backward reaches it.
  Tensor note(const std::string& name, const std::string& formula, Tensor t) {
    if (t.requires_grad()) {
      if (!t.is_leaf()) t.retain_grad();
      t.register_hook([this, name](const Tensor&) {
        backward_order_.push_back(name);
        return Tensor();   // an undefined tensor: the gradient goes on unchanged
      });
    }
    entries_.push_back({name, formula, t});
    return t;
  }

  // The gradient backward left on the tensor noted as `name`.
  Tensor grad_of(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return e.t.grad();
    ATTO_CHECK(false, "[backprop_by_hand] no tensor named {} on the tape", name);
    return {};
  }

  void print_forward() const {
    fmt::print("\n  forward order (value, then dL/d(tensor) once backward has run):\n");
    for (const auto& e : entries_) print_entry(e);
  }

  void print_backward() const {
    fmt::print("\n  backward order (the engine reached the tensors in this order):\n");
    for (const auto& name : backward_order_)
      for (const auto& e : entries_)
        if (e.name == name) print_entry(e, /*with_value=*/false);
  }

 private:
  struct Entry {
    std::string name, formula;
    Tensor t;
  };

  static void print_entry(const Entry& e, bool with_value = true) {
    fmt::print("    {:<7} = {:<22} {:<18} {}\n", e.name, e.formula, op_of(e.t), e.t.shape());
    if (with_value) fmt::print("              value {}\n", values_of(e.t));
    fmt::print("              grad  {}\n", e.t.requires_grad() ? values_of(e.t.grad()) : "- (needs no gradient)");
  }

  std::vector<Entry> entries_;
  std::vector<std::string> backward_order_;
};

// Prints a gradient worked out by hand next to autograd's; true when they agree.
bool compare(const std::string& formula, const Tensor& by_hand, const Tensor& by_autograd) {
  double diff = max((by_hand - by_autograd).abs()).item<double>();
  bool ok = diff <= 1e-12;
  fmt::print("    {}\n      by hand   {}\n      autograd  {}\n      max |diff| {:.1e}  {}\n", formula,
             values_of(by_hand), values_of(by_autograd), diff, ok ? "ok" : "MISMATCH");
  return ok;
}

// Writes the graph of `root` as DOT and, when Graphviz is installed and wanted, as PNG.
void write_graph(const Tensor& root, const std::string& out, const std::string& name, bool render) {
  std::string dot_path = out + "/" + name + ".dot";
  std::ofstream(dot_path) << to_dot(root);
  ATTO_CHECK(std::ifstream(dot_path).good(), "[backprop_by_hand] cannot write {}", dot_path);
  fmt::print("  wrote {}\n", dot_path);
  if (!render) return;
  if (std::system("command -v dot > /dev/null 2>&1") != 0) {
    fmt::print("  (Graphviz's dot is not on the PATH: render it elsewhere with  dot -Tpng {} -o {}.png)\n",
               dot_path, name);
    return;
  }
  std::string png_path = out + "/" + name + ".png";
  int rc = std::system(fmt::format("dot -Tpng '{}' -o '{}'", dot_path, png_path).c_str());
  if (rc == 0)
    fmt::print("  wrote {} (rendered by Graphviz)\n", png_path);
  else
    fmt::print("  dot failed on {} (exit status {}); the .dot file is still there\n", dot_path, rc);
}

// ---- part 1: a 2-4-1 perceptron --------------------------------------------------------------------

struct Mlp {
  Tensor w1, b1, w2, b2;
};

// The loss of the perceptron on (x, t): mean((tanh(x W1^T + b1) W2^T + b2 - t)^2).
Tensor mlp_loss(const Mlp& p, const Tensor& x, const Tensor& t, Tape* tape) {
  auto note = [&](const char* name, const char* formula, Tensor v) { return tape ? tape->note(name, formula, v) : v; };
  Tensor a1 = note("a1", "x @ W1^T", matmul(x, p.w1.t()));
  Tensor z1 = note("z1", "a1 + b1", a1 + p.b1);
  Tensor h = note("h", "tanh(z1)", tanh(z1));
  Tensor a2 = note("a2", "h @ W2^T", matmul(h, p.w2.t()));
  Tensor y = note("y", "a2 + b2", a2 + p.b2);
  Tensor diff = note("diff", "y - t", y - t);
  Tensor sq = note("sq", "diff^2", diff.pow(2));
  return note("L", "mean(sq)", sq.mean());
}

bool perceptron(Device device, const examples::CommonFlags& flags, bool render) {
  fmt::print("\n=== 1. a 2-4-1 perceptron: L = mean((tanh(x W1^T + b1) W2^T + b2 - t)^2) ===\n");
  TensorOptions f64{.dtype = kFloat64, .device = device};
  Tensor x = tensor({{0.5, -1.0}, {1.5, 0.25}}, f64);   // two inputs, two features each
  Tensor t = from_vector<double>({1.0, -0.5}, Shape{2, 1}, f64);   // their targets
  Mlp p{(randn({4, 2}, {.dtype = kFloat64}) * 0.8).to(device).requires_grad_(),
        (randn({4}, {.dtype = kFloat64}) * 0.1).to(device).requires_grad_(),
        (randn({1, 4}, {.dtype = kFloat64}) * 0.8).to(device).requires_grad_(),
        zeros({1}, f64).requires_grad_()};

  Tape tape;
  tape.note("x", "input", x);
  tape.note("t", "target", t);
  tape.note("W1", "parameter", p.w1);
  tape.note("b1", "parameter", p.b1);
  tape.note("W2", "parameter", p.w2);
  tape.note("b2", "parameter", p.b2);
  Tensor loss = mlp_loss(p, x, t, &tape);
  fmt::print("\n  the backward graph, as print_graph shows it:\n{}", print_graph(loss));
  loss.backward();
  tape.print_forward();
  tape.print_backward();

  // The chain rule by hand, one layer at a time, from the saved forward values.
  fmt::print("\n  the chain rule by hand (N = {} outputs):\n", t.numel());
  bool ok = true;
  {
    NoGradGuard no_grad;   // plain arithmetic on the forward values: nothing to record
    Tensor h = tanh(matmul(x, p.w1.t()) + p.b1);
    Tensor y = matmul(h, p.w2.t()) + p.b2;
    Tensor dy = (y - t) * (2.0 / double(t.numel()));
    Tensor dh = matmul(dy, p.w2);
    Tensor dz1 = dh * (1 - h * h);
    ok &= compare("dL/dW2 = dL/dy^T @ h          (dL/dy = 2 (y - t) / N)", matmul(dy.t(), h), p.w2.grad());
    ok &= compare("dL/db2 = sum over the batch of dL/dy", dy.sum({0}), p.b2.grad());
    ok &= compare("dL/dW1 = dL/dz1^T @ x         (dL/dz1 = (dL/dy @ W2) * (1 - h^2))", matmul(dz1.t(), x),
                  p.w1.grad());
    ok &= compare("dL/db1 = sum over the batch of dL/dz1", dz1.sum({0}), p.b1.grad());
  }

  // Finite differences agree with every backward formula on the path.
  Tensor x_cpu = x.cpu(), t_cpu = t.cpu();
  auto report = gradcheck(
      [&](const std::vector<Tensor>& in) { return mlp_loss({in[0], in[1], in[2], in[3]}, x_cpu, t_cpu, nullptr); },
      {p.w1, p.b1, p.w2, p.b2}, {.seed = flags.seed});
  fmt::print("\n  {}\n", report.str());
  ok &= report.ok;

  // The gradient points uphill: a small step against it lowers the loss.
  NoGradGuard no_grad;
  double lr = 0.1, before = loss.item<double>();
  Mlp stepped{p.w1 - lr * p.w1.grad(), p.b1 - lr * p.b1.grad(), p.w2 - lr * p.w2.grad(), p.b2 - lr * p.b2.grad()};
  double after = mlp_loss(stepped, x, t, nullptr).item<double>();
  bool fell = after < before;
  fmt::print("\n  one SGD step (lr {}): loss {:.6f} -> {:.6f} ({})\n", lr, before, after, fell ? "lower" : "NOT LOWER");
  ok &= fell;

  fmt::print("\n");
  write_graph(loss, flags.out, "mlp_graph", render);
  return ok;
}

// ---- part 2: one attention head ------------------------------------------------------------------

struct Head {
  Tensor wq, wk, wv;
};

// mean((softmax(q k^T / sqrt(d)) v - target)^2) with q, k, v = X Wq^T, X Wk^T, X Wv^T.
Tensor attention_loss(const Tensor& x, const Head& p, const Tensor& target, Tape* tape) {
  auto note = [&](const char* name, const char* formula, Tensor v) { return tape ? tape->note(name, formula, v) : v; };
  double d = double(x.shape()[1]);
  Tensor q = note("q", "X @ Wq^T", matmul(x, p.wq.t()));
  Tensor k = note("k", "X @ Wk^T", matmul(x, p.wk.t()));
  Tensor v = note("v", "X @ Wv^T", matmul(x, p.wv.t()));
  Tensor s = note("S", "q @ k^T / sqrt(d)", matmul(q, k.t()) / std::sqrt(d));
  Tensor a = note("A", "softmax(S, dim=-1)", softmax(s, -1));
  Tensor o = note("O", "A @ v", matmul(a, v));
  return note("L", "mean((O - T)^2)", mse_loss(o, target));
}

bool attention_head(Device device, const examples::CommonFlags& flags, bool render) {
  fmt::print("\n=== 2. one attention head on 3 tokens: L = mean((softmax(q k^T / sqrt(d)) v - T)^2) ===\n");
  const std::vector<std::string> tokens = {"the", "cat", "sat"};
  const int64_t n = 3, d = 4;
  auto param = [&](double scale) { return (randn({d, d}, {.dtype = kFloat64}) * scale).to(device).requires_grad_(); };
  Tensor x = randn({n, d}, {.dtype = kFloat64}).to(device).requires_grad_();   // one embedding per token
  Head p{param(0.7), param(0.7), param(0.7)};
  Tensor target = randn({n, d}, {.dtype = kFloat64}).to(device);

  Tape tape;
  tape.note("X", "token embeddings", x);
  tape.note("Wq", "parameter", p.wq);
  tape.note("Wk", "parameter", p.wk);
  tape.note("Wv", "parameter", p.wv);
  tape.note("T", "target", target);
  Tensor loss = attention_loss(x, p, target, &tape);
  loss.backward();
  tape.print_forward();
  tape.print_backward();

  fmt::print("\n  the chain rule by hand (d = {}):\n", d);
  bool ok = true;
  Tensor a, d_s;   // the attention weights and dL/dS, drawn below
  {
    NoGradGuard no_grad;   // plain arithmetic on the forward values: nothing to record
    Tensor q = matmul(x, p.wq.t()), k = matmul(x, p.wk.t()), v = matmul(x, p.wv.t());
    a = softmax(matmul(q, k.t()) / std::sqrt(double(d)), -1);
    Tensor o = matmul(a, v);
    Tensor d_o = (o - target) * (2.0 / double(o.numel()));
    Tensor d_a = matmul(d_o, v.t());
    d_s = a * (d_a - (d_a * a).sum({-1}, true));   // softmax's backward, row by row
    Tensor d_q = matmul(d_s, k) / std::sqrt(double(d)), d_k = matmul(d_s.t(), q) / std::sqrt(double(d));
    Tensor d_v = matmul(a.t(), d_o);
    ok &= compare("dL/dv  = A^T @ dL/dO", d_v, tape.grad_of("v"));
    ok &= compare("dL/dS  = A * (dL/dA - rowsum(dL/dA * A))   (dL/dA = dL/dO @ v^T)", d_s, tape.grad_of("S"));
    ok &= compare("dL/dWq = dL/dq^T @ X          (dL/dq = dL/dS @ k / sqrt(d))", matmul(d_q.t(), x), p.wq.grad());
    ok &= compare("dL/dX  = dL/dq @ Wq + dL/dk @ Wk + dL/dv @ Wv   (three paths, summed)",
                  matmul(d_q, p.wq) + matmul(d_k, p.wk) + matmul(d_v, p.wv), x.grad());
  }

  Tensor target_cpu = target.cpu();
  auto report = gradcheck(
      [&](const std::vector<Tensor>& in) { return attention_loss(in[0], {in[1], in[2], in[3]}, target_cpu, nullptr); },
      {x, p.wq, p.wk, p.wv}, {.seed = flags.seed});
  fmt::print("\n  {}\n", report.str());
  ok &= report.ok;

  // The weights each token (row) gives the others, and which way the loss would move them.
  int rows = int(n);
  std::vector<float> a_values = a.cpu().to(kFloat32).contiguous().to_vector<float>();
  std::vector<float> ds_values = d_s.cpu().to(kFloat32).contiguous().to_vector<float>();
  plot::HeatmapOptions common{.xlabel = "key", .ylabel = "query", .x_labels = tokens, .y_labels = tokens,
                              .cell = 90, .annotate = true};
  plot::HeatmapOptions weights_opts = common, grad_opts = common;
  weights_opts.title = "attention weights A";
  weights_opts.v_min = 0, weights_opts.v_max = 1;
  grad_opts.title = "dL/dS (scores)";
  std::string png = flags.out + "/attention.png";
  plot::save_grid(png,
                  {plot::draw_heatmap(a_values, rows, rows, weights_opts),
                   plot::draw_heatmap(ds_values, rows, rows, grad_opts)},
                  2, "One attention head: weights and their gradient");
  fmt::print("\n  wrote {}\n", png);
  write_graph(loss, flags.out, "attention_graph", render);
  return ok;
}

int main(int argc, char** argv) {
  CLI::App app{"Backpropagation by hand: a tiny MLP and one attention head, every gradient printed and checked"};
  examples::CommonFlags flags{.out = "runs/backprop_by_hand"};
  examples::add_common_flags(app, flags);
  bool no_render = false;
  app.add_flag("--no-render", no_render, "write the graphs as .dot only, even when Graphviz is installed");
  CLI11_PARSE(app, argc, argv);
  try {
    Device device = examples::setup(flags, "backprop_by_hand");
    if (!flags.resume.empty())
      fmt::print("backprop_by_hand: --resume ignored: this walkthrough trains nothing, so there is no checkpoint\n");
    bool ok = perceptron(device, flags, !no_render);
    ok &= attention_head(device, flags, !no_render);
    fmt::print("\n{}\n", ok ? "all checks passed: hand-derived gradients = autograd, gradcheck passed, loss fell"
                             : "SOME CHECKS FAILED (see MISMATCH / FAILED above)");
    return ok ? 0 : 1;
  } catch (const Error& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  }
}
