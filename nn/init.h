// nn/init.h -- parameter initialisation, as torch.nn.init. Every function writes in place under
// NoGradGuard (so it works on parameters that require grad) and returns its argument.
//
// fan_in / fan_out of a weight (out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel).
#pragma once
#include <string>
#include <utility>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace atto::nn::init {

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Sigmoid, Tanh, ReLU, LeakyReLU };

// The recommended gain for a nonlinearity (torch.nn.init.calculate_gain): tanh 5/3, relu sqrt(2),
// leaky_relu sqrt(2 / (1 + slope^2)), linear and sigmoid 1.
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);
std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& t);

Tensor uniform_(const Tensor& t, double a = 0.0, double b = 1.0, Generator* gen = nullptr);
Tensor normal_(const Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
Tensor constant_(const Tensor& t, double value);
Tensor zeros_(const Tensor& t);
Tensor ones_(const Tensor& t);
// U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))
Tensor xavier_uniform_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);
// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))
Tensor xavier_normal_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);
// U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
Tensor kaiming_uniform_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* gen = nullptr);
// N(0, std^2) with std = gain / sqrt(fan)
Tensor kaiming_normal_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                       Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* gen = nullptr);
// A (semi-)orthogonal matrix from the QR decomposition of a normal one (rows x prod(other dims)),
// signs fixed so the distribution is uniform, scaled by gain.
Tensor orthogonal_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);

}  // namespace atto::nn::init
