// examples/hello_autograd -- the README's first program: a linear classifier trained by hand on
// four points, then the backward graph of its loss, printed.
#include "attograd.h"
using namespace atto;

int main() {
  manual_seed(0);
  Tensor x = randn({4, 3});                                  // a batch of 4 inputs
  Tensor y = tensor({0, 2, 1, 2}).to(kInt64);                // their classes
  Tensor w = (randn({3, 3}) * 0.1).requires_grad_();         // a linear classifier
  Tensor b = zeros({3}, {.requires_grad = true});

  for (int step = 0; step < 100; ++step) {
    Tensor loss = cross_entropy(matmul(x, w.t()) + b, y);   // (4, 3) logits -> scalar
    w.set_grad({}); b.set_grad({});
    loss.backward();
    NoGradGuard no_grad;                                     // the update is not recorded
    w.sub_(w.grad(), 0.5);
    b.sub_(b.grad(), 0.5);
    if (step % 25 == 0) fmt::print("step {:3d}  loss {:.4f}\n", step, loss.item());
  }
  fmt::print("{}\n", print_graph(cross_entropy(matmul(x, w.t()) + b, y)));
}
