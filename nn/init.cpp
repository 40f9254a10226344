// nn/init.cpp -- see init.h. Formulas follow torch.nn.init; the random streams are attograd's own.
#include "nn/init.h"

#include <cmath>

#include "autograd/functions/elementwise.h"
#include "autograd/grad_mode.h"

namespace atto::nn::init {

double calculate_gain(Nonlinearity nonlinearity, double param) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Sigmoid: return 1.0;
    case Nonlinearity::Tanh: return 5.0 / 3.0;
    case Nonlinearity::ReLU: return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: return std::sqrt(2.0 / (1.0 + param * param));
  }
  return 1.0;
}

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& t) {
  ATTO_CHECK(t.ndim() >= 2, "[init] fan in and fan out need a tensor with at least 2 dims, got shape {}", t.shape());
  int64_t receptive = 1;
  for (int d = 2; d < t.ndim(); ++d) receptive *= t.shape()[d];
  return {t.shape()[1] * receptive, t.shape()[0] * receptive};
}

Tensor uniform_(const Tensor& t, double a, double b, Generator* gen) {
  NoGradGuard no_grad;
  return atto::uniform_(t, a, b, gen);
}

Tensor normal_(const Tensor& t, double mean, double std, Generator* gen) {
  NoGradGuard no_grad;
  return atto::normal_(t, mean, std, gen);
}

Tensor constant_(const Tensor& t, double value) {
  NoGradGuard no_grad;
  Tensor h = t;
  h.fill_(value);
  return t;
}
Tensor zeros_(const Tensor& t) { return constant_(t, 0.0); }
Tensor ones_(const Tensor& t) { return constant_(t, 1.0); }

Tensor xavier_uniform_(const Tensor& t, double gain, Generator* gen) {
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  double a = gain * std::sqrt(6.0 / double(fan_in + fan_out));
  return init::uniform_(t, -a, a, gen);
}

Tensor xavier_normal_(const Tensor& t, double gain, Generator* gen) {
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  return init::normal_(t, 0.0, gain * std::sqrt(2.0 / double(fan_in + fan_out)), gen);
}

static double kaiming_std(const Tensor& t, double a, FanMode mode, Nonlinearity nl) {
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  int64_t fan = mode == FanMode::FanIn ? fan_in : fan_out;
  ATTO_CHECK(fan > 0, "[kaiming] fan is 0 for a tensor of shape {}", t.shape());
  return calculate_gain(nl, a) / std::sqrt(double(fan));
}

Tensor kaiming_uniform_(const Tensor& t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl);
  return init::uniform_(t, -bound, bound, gen);
}

Tensor kaiming_normal_(const Tensor& t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  return init::normal_(t, 0.0, kaiming_std(t, a, mode, nl), gen);
}

Tensor orthogonal_(const Tensor& t, double gain, Generator* gen) {
  ATTO_CHECK(t.ndim() >= 2, "[orthogonal_] needs a tensor with at least 2 dims, got shape {}", t.shape());
  NoGradGuard no_grad;
  const int64_t rows = t.shape()[0], cols = t.numel() / rows;
  // Work on the tall orientation (n >= m): Q (n x m) with orthonormal columns.
  const bool transpose = rows < cols;
  const int64_t n = transpose ? cols : rows, m = transpose ? rows : cols;
  std::vector<double> a = randn({n, m}, {.dtype = kFloat64}, gen).to_vector<double>();   // column j: a[i*m + j]
  // Modified Gram-Schmidt in double; the sign of each R diagonal is folded in (as torch's q *= sign(diag(r))).
  for (int64_t j = 0; j < m; ++j) {
    for (int64_t k = 0; k < j; ++k) {
      double dot = 0;
      for (int64_t i = 0; i < n; ++i) dot += a[i * m + k] * a[i * m + j];
      for (int64_t i = 0; i < n; ++i) a[i * m + j] -= dot * a[i * m + k];
    }
    double norm = 0;
    for (int64_t i = 0; i < n; ++i) norm += a[i * m + j] * a[i * m + j];
    norm = std::sqrt(norm);
    ATTO_CHECK(norm > 0, "[orthogonal_] degenerate random matrix");
    for (int64_t i = 0; i < n; ++i) a[i * m + j] /= norm;
  }
  Tensor q = from_vector<double>(a, Shape{n, m});
  if (transpose) q = q.t();
  Tensor h = t;
  h.copy_((q * gain).reshape(t.shape()));
  return t;
}

}  // namespace atto::nn::init
