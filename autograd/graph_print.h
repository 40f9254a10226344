// autograd/graph_print.h -- looking at a backward graph: print_graph (an indented text tree) and
// to_dot (Graphviz). Both walk the graph from t.grad_fn() with an explicit stack, so a 5,000-op
// chain prints without deep recursion.
//
//   Tensor y = (a * b + a).sum();
//   fmt::print("{}", print_graph(y));
//     #0 SumBackward []
//       #1 AddBackward [2, 3]
//         #2 MulBackward [2, 3]
//           #3 AccumulateGrad [2, 3]
//           #4 AccumulateGrad [2, 3]
//         #3 AccumulateGrad [2, 3] (see above)
//
// Each node is numbered when first printed, with its op name and output shape (and dtype unless
// float32); a node reached again (a shared input) is printed as a reference to that number, once
// and without its inputs. Leaves appear as AccumulateGrad with the leaf's shape; an input that needs
// no gradient appears as "None" (as in PyTorch's next_functions). Children are listed in input
// order. Indentation is two spaces a level, capped at 64 levels; deeper lines start with their
// depth, "(depth 70)".
//
// to_dot(y) gives "digraph autograd { ... }": one box per node labelled "Name\n[shape]" (leaves
// filled), an edge from each input's node to the node consuming it. Render: dot -Tsvg g.dot.
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace atto {

std::string print_graph(const Tensor& t);
std::string to_dot(const Tensor& t);

}  // namespace atto
