// tests/autograd/test_graph_print.cpp -- print_graph and to_dot on small and deep graphs.
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "test_util.h"

using namespace atto;

TEST_CASE("print_graph shows ops shapes and shared leaves once") {
  Tensor a = ones({2, 3}, {.requires_grad = true});
  Tensor b = ones({2, 3}, {.requires_grad = true});
  Tensor y = (a * b + a).sum();
  CHECK(print_graph(y) ==
        "#0 SumBackward []\n"
        "  #1 AddBackward [2, 3]\n"
        "    #2 MulBackward [2, 3]\n"
        "      #3 AccumulateGrad [2, 3]\n"
        "      #4 AccumulateGrad [2, 3]\n"
        "    #3 AccumulateGrad [2, 3] (see above)\n");
}

TEST_CASE("print_graph shows inputs without grad as None and non-float32 dtypes") {
  Tensor a = ones({3}, {.dtype = kFloat64, .requires_grad = true});
  Tensor c = ones({3}, {.dtype = kFloat64});
  CHECK(print_graph(a * c) ==
        "#0 MulBackward [3] float64\n"
        "  #1 AccumulateGrad [3] float64\n"
        "  None\n");
  CHECK(print_graph(a) == "#0 AccumulateGrad [3] float64\n");
  CHECK(print_graph(c).find("does not require grad") != std::string::npos);
}

TEST_CASE("print_graph handles a 5000-op chain without recursion") {
  Tensor x = ones({2}, {.requires_grad = true});
  Tensor y = x;
  for (int i = 0; i < 5000; ++i) y = y * 1.0001;
  std::string s = print_graph(y);
  std::istringstream in(s);
  std::string line;
  int muls = 0, leaves = 0;
  while (std::getline(in, line)) {
    muls += line.find("MulBackward") != std::string::npos;
    leaves += line.find("AccumulateGrad") != std::string::npos;
  }
  CHECK(muls == 5000);
  CHECK(leaves == 1);
  CHECK(s.find("(depth 5000) ") != std::string::npos);
  CHECK(to_dot(y).find("MulBackward") != std::string::npos);
}

TEST_CASE("to_dot gives a graphviz graph with edges from inputs to consumers") {
  Tensor a = ones({2, 3}, {.requires_grad = true});
  Tensor b = ones({2, 3}, {.requires_grad = true});
  Tensor y = (a * b + a).sum();
  std::string dot = to_dot(y);
  CHECK(dot.rfind("digraph autograd {\n", 0) == 0);
  CHECK(dot.substr(dot.size() - 2) == "}\n");
  // id -> label, and edges as (from label, to label).
  std::map<std::string, std::string> label;
  std::regex node_re(R"re(\s*(n\d+) \[label="([^"]*)")re"), edge_re(R"re(\s*(n\d+) -> (n\d+);)re");
  std::vector<std::pair<std::string, std::string>> edges;
  std::istringstream in(dot);
  std::string line;
  int filled = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, node_re)) {
      label[m[1]] = m[2];
      filled += line.find("style=filled") != std::string::npos;
    } else if (std::regex_search(line, m, edge_re)) {
      edges.push_back({m[1], m[2]});
    }
  }
  CHECK(label.size() == 5);
  CHECK(filled == 2);   // the two leaves
  std::multiset<std::string> named;
  for (auto& [from, to] : edges) named.insert(label.at(from) + " -> " + label.at(to));
  std::multiset<std::string> want{
      "AddBackward\\n[2, 3] -> SumBackward\\n[]",
      "MulBackward\\n[2, 3] -> AddBackward\\n[2, 3]",
      "AccumulateGrad\\n[2, 3] -> AddBackward\\n[2, 3]",
      "AccumulateGrad\\n[2, 3] -> MulBackward\\n[2, 3]",
      "AccumulateGrad\\n[2, 3] -> MulBackward\\n[2, 3]",
  };
  CHECK(named == want);
  // The leaf `a` is one node feeding both the add and the mul.
  std::string add_id, mul_id;
  for (auto& [id, l] : label) {
    if (l.rfind("AddBackward", 0) == 0) add_id = id;
    if (l.rfind("MulBackward", 0) == 0) mul_id = id;
  }
  std::set<std::string> leaf_into_add, into_mul;
  for (auto& [from, to] : edges) {
    if (to == add_id && label.at(from).rfind("AccumulateGrad", 0) == 0) leaf_into_add.insert(from);
    if (to == mul_id) into_mul.insert(from);
  }
  REQUIRE(leaf_into_add.size() == 1);
  CHECK(into_mul.count(*leaf_into_add.begin()) == 1);
  CHECK(into_mul.size() == 2);
  CHECK(to_dot(ones({2})) == "digraph autograd {\n  node [shape=box, fontname=\"monospace\"];\n}\n");
}
