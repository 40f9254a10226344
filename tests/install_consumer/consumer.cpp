// Uses the installed library: d/dx sum(x^2) = 2x.
#include <attograd.h>

int main() {
  atto::Tensor x = atto::tensor({1.0, 2.0, 3.0}, {.requires_grad = true});
  (x * x).sum().backward();
  fmt::print("{}\n", atto::to_string(x.grad()));
  return x.grad().at({2}) == 6.0 ? 0 : 1;
}
