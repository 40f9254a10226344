// examples/mlp_digits -- a two-layer perceptron on the 8x8 handwritten digits, written out by hand.
//
// What it teaches: the whole training loop with nothing hidden -- parameters as plain tensors that
// require grad, a forward pass (x @ W1^T + b1 -> relu -> dropout -> @ W2^T + b2), cross-entropy,
// backward(), and an SGD-with-momentum update under NoGradGuard. (nn/ and optim/ wrap exactly this.)
//
// Data: data/digits8x8/digits.csv, 1,797 images; scikit-learn's split (first half train, second
// half test: different writers), pixels scaled to 0..1 and standardised with the training set's
// statistics; the training images are augmented with one-pixel shifts.
//
//   build/examples/mlp_digits [--epochs 40] [--hidden 128] [--lr 0.05] [--dropout 0.2] [--seed 0] [--device cuda]
#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "attograd.h"

using namespace atto;

struct Digits {
  Tensor x;   // (N, 64) float32 in [0, 1]
  Tensor y;   // (N,) int64 labels 0..9
};

// One image per line: 64 pixel values 0..16, then the label. Errors name the file and the line.
Digits load_digits(const std::string& path) {
  std::ifstream in(path);
  ATTO_CHECK(in, "[mlp_digits] cannot open {}", path);
  std::vector<float> pixels;
  std::vector<int64_t> labels;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string cell;
    std::vector<double> row;
    while (std::getline(ss, cell, ',')) {
      try {
        size_t used = 0;
        row.push_back(std::stod(cell, &used));
        ATTO_CHECK(used == cell.size(), "");
      } catch (const std::exception&) {
        throw Error(fmt::format("[mlp_digits] {}:{}: '{}' is not a number", path, lineno, cell));
      }
    }
    ATTO_CHECK(row.size() == 65, "[mlp_digits] {}:{}: expected 65 values (64 pixels + label), got {}", path, lineno,
               row.size());
    ATTO_CHECK(row[64] >= 0 && row[64] <= 9, "[mlp_digits] {}:{}: label {} is not a digit", path, lineno, row[64]);
    for (int i = 0; i < 64; ++i) pixels.push_back(float(row[i] / 16.0));
    labels.push_back(int64_t(row[64]));
  }
  int64_t n = int64_t(labels.size());
  ATTO_CHECK(n > 0, "[mlp_digits] {} holds no images", path);
  return {from_vector<float>(pixels, Shape{n, 64}), from_vector<int64_t>(labels)};
}

// Moves every 8x8 image by (dy, dx) pixels, filling with zeros: views (narrow) and cat at work.
Tensor shift(const Tensor& x, int dy, int dx) {            // x: (N, 64) -> (N, 64)
  Tensor img = x.reshape({-1, 8, 8});                       // (N, 8, 8)
  auto move = [](const Tensor& t, int dim, int by) {        // shift along one dim
    if (by == 0) return t;
    Shape pad_shape = t.shape();
    pad_shape[dim] = std::abs(by);
    Tensor pad = zeros(pad_shape);
    return by > 0 ? cat({pad, t.narrow(dim, 0, 8 - by)}, dim) : cat({t.narrow(dim, -by, 8 + by), pad}, dim);
  };
  return move(move(img, 1, dy), 2, dx).reshape({-1, 64});
}

// Fraction of rows whose largest logit is the label.
double accuracy(const Tensor& logits, const Tensor& labels) {
  return mean((logits.argmax(1) == labels).to(kFloat32)).item<double>();
}

int main(int argc, char** argv) {
  CLI::App app{"Two-layer perceptron on the 8x8 handwritten digits"};
  int epochs = 40, hidden = 128, batch = 32;
  double lr = 0.05, momentum = 0.9, weight_decay = 0.0, p_drop = 0.2;
  uint64_t seed = 0;
  std::string data = std::string(ATTO_DATA_DIR) + "/digits8x8/digits.csv";
  app.add_option("--epochs", epochs, "passes over the training set")->capture_default_str();
  app.add_option("--hidden", hidden, "hidden units")->capture_default_str();
  app.add_option("--batch", batch, "minibatch size")->capture_default_str();
  app.add_option("--lr", lr, "learning rate")->capture_default_str();
  app.add_option("--momentum", momentum, "SGD momentum")->capture_default_str();
  app.add_option("--weight-decay", weight_decay, "L2 penalty added to the gradient")->capture_default_str();
  app.add_option("--dropout", p_drop, "dropout probability on the hidden layer")->capture_default_str();
  app.add_option("--seed", seed, "random seed (initialisation and shuffling)")->capture_default_str();
  app.add_option("--data", data, "digits.csv")->capture_default_str();
  std::string device_name = "cpu";
  app.add_option("--device", device_name, "cpu, cuda or cuda:N")->capture_default_str();
  bool augment = true;
  app.add_flag("!--no-augment", augment, "train on the original images only");
  CLI11_PARSE(app, argc, argv);

  try {
    const Device device = Device::parse(device_name);
    if (device.is_cuda()) fmt::print("device: {}\n", device);
    auto t0 = std::chrono::steady_clock::now();
    Digits all = load_digits(data);
    const int64_t n = all.x.size(0), n_test = n - n / 2;
    int64_t n_train = n / 2;   // scikit-learn's example: first half train, rest test
    Tensor x_train = all.x.narrow(0, 0, n_train), y_train = all.y.narrow(0, 0, n_train);
    Tensor x_test = all.x.narrow(0, n_train, n_test), y_test = all.y.narrow(0, n_train, n_test);
    fmt::print("digits: {} train / {} test images of 64 pixels\n", n_train, n_test);

    // Augment the training set with copies shifted by one pixel up, down, left and right: the
    // test digits were written by other people, and a small translation is the cheapest prior.
    if (augment) {
      x_train = cat({x_train, shift(x_train, 1, 0), shift(x_train, -1, 0), shift(x_train, 0, 1), shift(x_train, 0, -1)}, 0);
      y_train = cat({y_train, y_train, y_train, y_train, y_train}, 0);
      n_train = x_train.size(0);
      fmt::print("augmented: {} training images (originals + 4 one-pixel shifts)\n", n_train);
    }

    // Standardise each pixel with the training set's mean and spread (test data never leaks in).
    Tensor mu = x_train.mean({0}, /*keepdim=*/true);                 // (1, 64)
    Tensor sd = atto::std(x_train, {0}, /*unbiased=*/true, /*keepdim=*/true) + 0.1;   // border pixels: ~constant
    x_train = (x_train - mu) / sd;
    x_test = (x_test - mu) / sd;
    // The data go to the device once; the parameters are drawn on the CPU (the same numbers on
    // every device) and moved there too.
    x_train = x_train.to(device), y_train = y_train.to(device), x_test = x_test.to(device), y_test = y_test.to(device);

    // Parameters, initialised as PyTorch's nn.Linear does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    manual_seed(seed);
    auto linear_param = [&](Shape shape, int64_t fan_in) {
      double bound = 1.0 / std::sqrt(double(fan_in));
      Tensor p = (rand(shape) * (2 * bound) + (-bound)).to(device);
      return p.requires_grad_(true);
    };
    Tensor w1 = linear_param({hidden, 64}, 64), b1 = linear_param({hidden}, 64);
    Tensor w2 = linear_param({10, hidden}, hidden), b2 = linear_param({10}, hidden);
    std::vector<Tensor> params = {w1, b1, w2, b2};
    std::vector<Tensor> velocity;
    for (auto& p : params) velocity.push_back(zeros_like(p));

    auto forward = [&](const Tensor& x, bool training = false) {   // x: (B, 64)
      Tensor h = relu(matmul(x, w1.t()) + b1);                       // (B, hidden)
      h = dropout(h, p_drop, training);                              // identity when evaluating
      return matmul(h, w2.t()) + b2;                                 // (B, 10) logits
    };

    std::mt19937_64 shuffle_rng(seed);
    std::vector<int64_t> order(static_cast<size_t>(n_train));
    std::iota(order.begin(), order.end(), 0);
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      std::shuffle(order.begin(), order.end(), shuffle_rng);
      Tensor perm = from_vector<int64_t>(order).to(device);
      double loss_sum = 0;
      int batches = 0;
      for (int64_t start = 0; start < n_train; start += batch) {
        Tensor idx = perm.narrow(0, start, std::min<int64_t>(batch, n_train - start));
        Tensor xb = index_select(x_train, 0, idx), yb = index_select(y_train, 0, idx);
        Tensor loss = cross_entropy(forward(xb, /*training=*/true), yb);
        for (auto& p : params) p.set_grad({});
        loss.backward();
        {
          NoGradGuard no_grad;   // the update itself is not part of the graph
          for (size_t i = 0; i < params.size(); ++i) {
            Tensor g = params[i].grad() + params[i] * weight_decay;  // g = dL/dp + wd * p
            velocity[i].mul_(momentum).add_(g);                      // v = momentum * v + g
            params[i].sub_(velocity[i], lr);                       // p = p - lr * v
          }
        }
        loss_sum += loss.item<double>();
        ++batches;
      }
      if (epoch == 1 || epoch % 10 == 0 || epoch == epochs) {
        NoGradGuard no_grad;
        fmt::print("epoch {:3d}  train loss {:.4f}  train acc {:.4f}  test acc {:.4f}\n", epoch, loss_sum / batches,
                   accuracy(forward(x_train), y_train), accuracy(forward(x_test), y_test));
      }
    }
    NoGradGuard no_grad;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("test accuracy {:.4f} ({} test images) in {:.2f} s\n", accuracy(forward(x_test), y_test), n_test,
               secs);
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
