// autograd/graph_print.cpp -- see autograd/graph_print.h.
#include "autograd/graph_print.h"

#include <unordered_map>

#include "autograd/node.h"

namespace atto {

namespace {

constexpr int kMaxIndent = 64;

std::string node_label(const Node& n, const char* shape_sep) {
  std::string s = fmt::format("{}{}{}", n.name(), shape_sep, n.output_shape);
  if (n.output_dtype != kFloat32) s += fmt::format(" {}", n.output_dtype);
  return s;
}

std::string leaf_label(const Tensor& t, const char* shape_sep) {
  std::string s = fmt::format("AccumulateGrad{}{}", shape_sep, t.shape());
  if (t.dtype() != kFloat32) s += fmt::format(" {}", t.dtype());
  return s;
}

// Graphviz double-quoted string contents (a newline becomes the \n line break).
std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string print_graph(const Tensor& t) {
  if (!t.defined()) return "(undefined tensor)\n";
  if (!t.grad_fn()) {
    if (t.requires_grad()) return fmt::format("#0 {}\n", leaf_label(t, " "));
    return "(no graph: the tensor does not require grad)\n";
  }
  std::string out;
  std::unordered_map<const Node*, int> ids;
  std::vector<std::pair<const Node*, int>> stack{{t.grad_fn().get(), 0}};   // (node or null, depth)
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (depth > kMaxIndent) out += fmt::format("(depth {}) ", depth);
    out.append(size_t(2 * std::min(depth, kMaxIndent)), ' ');
    if (!node) {
      out += "None\n";
      continue;
    }
    auto [it, fresh] = ids.try_emplace(node, int(ids.size()));
    out += fmt::format("#{} {}{}\n", it->second, node_label(*node, " "), fresh ? "" : " (see above)");
    if (!fresh) continue;
    for (auto e = node->next_edges.rbegin(); e != node->next_edges.rend(); ++e)
      stack.push_back({e->fn.get(), depth + 1});
  }
  return out;
}

std::string to_dot(const Tensor& t) {
  std::string out = "digraph autograd {\n  node [shape=box, fontname=\"monospace\"];\n";
  if (!t.defined() || (!t.grad_fn() && !t.requires_grad())) return out + "}\n";
  if (!t.grad_fn())
    return out + fmt::format("  n0 [label=\"{}\", style=filled, fillcolor=lightblue];\n}}\n",
                             dot_escape(leaf_label(t, "\n")));
  std::unordered_map<const Node*, int> ids;
  std::vector<const Node*> todo{t.grad_fn().get()};
  ids.emplace(todo[0], 0);
  std::string edges;
  while (!todo.empty()) {
    const Node* node = todo.back();
    todo.pop_back();
    int id = ids.at(node);
    bool leaf = dynamic_cast<const AccumulateGrad*>(node) != nullptr;
    out += fmt::format("  n{} [label=\"{}\"{}];\n", id, dot_escape(node_label(*node, "\n")),
                       leaf ? ", style=filled, fillcolor=lightblue" : "");
    for (const Edge& e : node->next_edges) {
      if (!e.fn) continue;
      auto [it, fresh] = ids.try_emplace(e.fn.get(), int(ids.size()));
      if (fresh) todo.push_back(e.fn.get());
      edges += fmt::format("  n{} -> n{};\n", it->second, id);
    }
  }
  return out + edges + "}\n";
}

}  // namespace atto
