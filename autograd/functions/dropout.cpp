// autograd/functions/dropout.cpp -- dropout (declared in tensor/random.h): a random mask drawn
// once in forward and reused by backward.
#include "autograd/function.h"
#include "autograd/functions/elementwise.h"
#include "tensor/cpu/random.h"
#include "tensor/dispatch.h"
#include "tensor/random.h"

namespace atto {

namespace {

// y = x * mask, mask[i] = 1 / (1 - p) with probability 1 - p, else 0 (PyTorch's scaling: the
// expectation of y is x, so evaluation needs no rescaling). The mask is a bernoulli(1 - p) draw
// of x's shape (NOTE [ Random stream layout ] in tensor/random.h), in x's dtype, so the mask is a
// function of the generator state alone: the same on every run and on the CPU and the GPU. `keep`
// goes to the kernel as a host address with p_step 0 (cuda/random.h reads it on the host).
struct Dropout {
  static constexpr const char* name = "DropoutBackward";
  struct Saved { Tensor mask; };
  static Tensor forward(Saved& s, const Tensor& x, double p, Generator* gen) {
    const double keep = 1.0 - p;
    const double scale = p == 1.0 ? 0.0 : 1.0 / keep;
    Tensor mask = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
    Generator& g = gen ? *gen : default_generator();
    visit_floating(x.dtype(), "dropout", [&](auto tag) {
      using T = decltype(tag);
      GeneratorState st = g.reserve(uint64_t((mask.numel() + 1) / 2));
      ATTO_ON_DEVICE(x.device(), random_bernoulli<T>, mask.data_ptr<T>(), mask.numel(), st.seed, st.offset, &keep,
                     0, scale);
    });
    s.mask = mask;
    return mul(x, mask);
  }
  // y = x * mask  =>  dx = dy * mask
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) { return {mul(dy, s.mask)}; }
};

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  ATTO_CHECK(p >= 0.0 && p <= 1.0, "[dropout] probability has to be between 0 and 1, got p={} (input shape {})", p,
             x.shape());
  ATTO_CHECK(x.is_floating_point(), "[dropout] expects a floating tensor, got {} of shape {}", x.dtype(), x.shape());
  if (!training || p == 0.0) return x;
  return apply<Dropout>(x, p, gen);
}

}  // namespace atto
