// examples/cnn_attention_mnist -- a small CNN on MNIST whose last step is attention: the network
// learns where in the picture to look, and we can draw it.
//
// What it teaches: convolution and max pooling (nn::Conv2d, nn::MaxPool2d) turn a 28x28 digit into a
// 7x7 grid of feature vectors; attention pooling then scores every grid position with a learned vector,
// takes a softmax over the 49 positions and sums the feature vectors with those weights; one Linear layer
// reads the digit off that sum. The 7x7 softmax weights are the "attention map": laid over the digit they
// show which strokes the classifier relied on.
//
// Data: data/mnist (the IDX files, read by idx.cpp), 60,000 training and 10,000 test images.
//
//   build/examples/cnn_attention_mnist [--epochs 3] [--batch 64] [--lr 2e-3] [--train-limit 0] [--out runs/...]
//
// Writes to --out: metrics.csv (one row per step), epochs.csv (test loss/accuracy per epoch),
// checkpoint.safetensors (after every epoch; --resume continues from it), curves.png and attention.png.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>

#include "attograd.h"
#include "common/plot.h"
#include "common/run.h"
#include "idx.h"
#include "optim/checkpoint.h"

using namespace atto;

// conv -> pool -> conv -> pool -> conv -> attention pooling -> linear.
//
//   x (N, 1, 28, 28) -conv1+relu-> (N, c1, 28, 28) -pool-> (N, c1, 14, 14)
//                    -conv2+relu-> (N, c2, 14, 14) -pool-> (N, c2, 7, 7)
//                    -conv3+relu-> (N, c2, 7, 7)   = 49 feature vectors h_p of size c2, p = 7 * row + col
//   v_p = h_p + e_p                          e_p: a learned position embedding (49, c2)
//   score_{p,k} = w_k . v_p                  one learned vector w_k per head k = 1..heads
//   a_k = softmax over the 49 p of score_k   head k's attention map, sums to 1
//   z_k = sum_p a_{p,k} v_p                  (N, c2): what head k saw, weighted by where it looked
//   logits = Linear(z_1 ... z_heads)         (N, 10)
//
// Each head is single-head attention with one learned query (w_k) whose keys and values are the
// feature vectors themselves. The position embedding lets a head prefer a region ("the top left")
// and tells the classifier where its summary came from; without it the network only sees a bag of
// 49 local features and learns far more slowly (README). nn::MultiheadAttention with a learned query
// would add key/value/output projections around the same softmax; here they did not help.
struct AttentionCnn : nn::Module {
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::MaxPool2d> pool;
  std::shared_ptr<nn::Linear> score, classifier;
  Tensor position;   // (49, c2)

  AttentionCnn(int64_t c1, int64_t c2, int64_t heads) : nn::Module("AttentionCnn") {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(1, c1, 3, /*stride=*/1, /*padding=*/1));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(c1, c2, 3, /*stride=*/1, /*padding=*/1));
    conv3 = register_module("conv3", std::make_shared<nn::Conv2d>(c2, c2, 3, /*stride=*/1, /*padding=*/1));
    pool = register_module("pool", std::make_shared<nn::MaxPool2d>(2));
    position = register_parameter("position", randn({49, c2}) * 0.1);
    // One score per head; a bias would be the same for all 49 positions and cancel in the softmax.
    score = register_module("score", std::make_shared<nn::Linear>(c2, heads, /*bias=*/false));
    classifier = register_module("classifier", std::make_shared<nn::Linear>(heads * c2, 10));
  }

  struct Output {
    Tensor logits;      // (N, 10)
    Tensor attention;   // (N, heads, 7, 7), each map sums to 1
  };

  Output run(const Tensor& x) {
    Tensor h = (*pool)(relu((*conv1)(x)));                          // (N, c1, 14, 14)
    h = (*pool)(relu((*conv2)(h)));                                 // (N, c2, 7, 7)
    h = relu((*conv3)(h));                                          // (N, c2, 7, 7)
    const int64_t n = h.size(0), rows = h.size(2), cols = h.size(3);
    Tensor values = h.flatten(2).transpose(1, 2) + position;        // (N, 49, c2): one vector per position
    Tensor weights = softmax((*score)(values), 1).transpose(1, 2);  // (N, heads, 49), softmax over positions
    Tensor pooled = matmul(weights, values);                        // (N, heads, 49) @ (N, 49, c2) -> (N, heads, c2)
    return {(*classifier)(pooled.flatten(1)), weights.reshape({n, -1, rows, cols})};
  }
  Tensor forward(const Tensor& x) override { return run(x).logits; }
};

struct Evaluation {
  double loss = 0, accuracy = 0;
};

// Mean cross-entropy and accuracy over a whole split, in batches, without building a graph.
Evaluation evaluate(AttentionCnn& model, const mnist::Split& split, int64_t batch) {
  NoGradGuard no_grad;
  model.eval();
  const int64_t n = split.labels.size(0);
  double loss_sum = 0, correct = 0;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t b = std::min(batch, n - start);
    Tensor logits = model(split.images.narrow(0, start, b));
    Tensor labels = split.labels.narrow(0, start, b);
    loss_sum += cross_entropy(logits, labels).item<double>() * double(b);
    correct += (logits.argmax(1) == labels).to(kFloat32).sum().item<double>();
  }
  model.train();
  return {loss_sum / double(n), correct / double(n)};
}

// Column `name` of a CSV file written by examples::CsvLog (the whole run, resumed parts included).
std::vector<double> csv_column(const std::string& path, const std::string& name) {
  std::vector<std::string> lines = examples::read_lines("cnn_attention_mnist", path);
  ATTO_CHECK(!lines.empty(), "[cnn_attention_mnist] {} is empty", path);
  auto split_row = [](const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    return cells;
  };
  std::vector<std::string> header = split_row(lines[0]);
  auto at = std::find(header.begin(), header.end(), name);
  ATTO_CHECK(at != header.end(), "[cnn_attention_mnist] {}: no column '{}'", path, name);
  const size_t column = size_t(at - header.begin());
  std::vector<double> values;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> cells = split_row(lines[i]);
    const int64_t line = int64_t(i) + 1;
    if (cells.size() != header.size())
      examples::data_error("cnn_attention_mnist", path, line, fmt::format("{} cells, the header has {}", cells.size(), header.size()));
    try {
      values.push_back(std::stod(cells[column]));
    } catch (const std::exception&) {
      examples::data_error("cnn_attention_mnist", path, line, fmt::format("'{}' is not a number", cells[column]));
    }
  }
  return values;
}

// curves.png: the training loss per step (and its running mean) beside the test accuracy per epoch.
void draw_curves(const std::string& out, int64_t test_images) {
  std::vector<double> steps = csv_column(out + "/metrics.csv", "step");
  std::vector<double> loss = csv_column(out + "/metrics.csv", "loss");
  std::vector<double> smooth(loss.size());
  double running = loss.empty() ? 0 : loss[0];
  for (size_t i = 0; i < loss.size(); ++i) smooth[i] = running = 0.98 * running + 0.02 * loss[i];
  std::vector<double> epochs = csv_column(out + "/epochs.csv", "epoch");
  std::vector<double> accuracy = csv_column(out + "/epochs.csv", "test_accuracy");
  for (double& a : accuracy) a *= 100;
  plot::Canvas left = plot::draw_line_plot({{"batch loss", steps, loss, {190, 190, 190}}, {"running mean", steps, smooth}},
                                           {.title = "training loss", .xlabel = "step", .ylabel = "cross-entropy",
                                            .log_y = true, .width = 640, .height = 420});
  plot::Canvas right = plot::draw_line_plot({{fmt::format("test set ({} images)", test_images), epochs, accuracy, {}, /*markers=*/true}},
                                            {.title = "test accuracy", .xlabel = "epoch", .ylabel = "accuracy (%)",
                                             .width = 640, .height = 420});
  plot::save_grid(out + "/curves.png", {left, right}, 2, "cnn_attention_mnist: conv -> attention pooling -> linear");
}

// attention.png: the first `count` test images, one row each, with every head's 7x7 map stretched over
// the digit (each map scaled so its largest weight is brightest: the shape, not the scale).
void draw_attention(AttentionCnn& model, const mnist::Split& test, int64_t count, const std::string& out) {
  NoGradGuard no_grad;
  model.eval();
  count = std::min(count, test.labels.size(0));
  AttentionCnn::Output o = model.run(test.images.narrow(0, 0, count));
  Tensor maps = o.attention.to(kCPU).contiguous();   // (count, heads, 7, 7)
  Tensor predicted = o.logits.argmax(1).to(kCPU), labels = test.labels.narrow(0, 0, count).to(kCPU);
  const int64_t heads = maps.size(1), rows = maps.size(2), cols = maps.size(3), cells = rows * cols;
  const float* weights = maps.data_ptr<float>();
  std::vector<plot::Canvas> panels;
  for (int64_t i = 0; i < count; ++i) {
    std::vector<float> image(test.raw.begin() + i * 784, test.raw.begin() + (i + 1) * 784);
    for (float& p : image) p /= 255;
    for (int64_t k = 0; k < heads; ++k) {
      const float* map = weights + (i * heads + k) * cells;
      std::vector<float> attention(map, map + cells);
      const float top = *std::max_element(attention.begin(), attention.end());
      for (float& a : attention) a /= top;
      const std::string title = fmt::format("#{}: {} -> {}, head {}", i, labels.data_ptr<int64_t>()[i],
                                            predicted.data_ptr<int64_t>()[i], k + 1);
      panels.push_back(plot::draw_image_overlay(image, 28, 28, attention, int(rows), int(cols), 0.55, title, 6));
    }
  }
  model.train();
  plot::save_grid(out + "/attention.png", panels, int(heads),
                  "where each head looks: softmax over the 7x7 positions (test image #: label -> prediction)");
}

int main(int argc, char** argv) {
  CLI::App app{"A CNN with attention pooling on MNIST"};
  examples::CommonFlags flags{.out = "runs/cnn_attention_mnist"};
  examples::add_common_flags(app, flags);
  int epochs = 3;
  int64_t batch = 64, c1 = 32, c2 = 64, heads = 4, train_limit = 0, test_limit = 0;
  double lr = 2e-3;
  std::string data = examples::data_dir() + "/mnist";
  app.add_option("--epochs", epochs, "passes over the training set")->capture_default_str();
  app.add_option("--batch", batch, "minibatch size")->capture_default_str();
  app.add_option("--lr", lr, "Adam's peak learning rate (cosine decay to 0 over the run)")->capture_default_str();
  app.add_option("--channels1", c1, "channels of the first convolution")->capture_default_str();
  app.add_option("--channels2", c2, "channels of the second and third convolutions (the attended vectors)")
      ->capture_default_str();
  app.add_option("--heads", heads, "attention heads (learned queries)")->capture_default_str();
  app.add_option("--train-limit", train_limit, "train on the first N images only (0: all 60,000)")
      ->capture_default_str();
  app.add_option("--test-limit", test_limit, "test on the first N images only (0: all 10,000)")->capture_default_str();
  app.add_option("--data", data, "folder with the four MNIST .gz files")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    const Device device = examples::setup(flags, "cnn_attention_mnist");
    ATTO_CHECK(epochs > 0 && batch > 0, "[cnn_attention_mnist] --epochs and --batch must be positive");
    examples::Stopwatch clock;
    mnist::Split train = mnist::load_split(data, "train", train_limit);
    mnist::Split test = mnist::load_split(data, "t10k", test_limit);
    for (Tensor* t : {&train.images, &train.labels, &test.images, &test.labels}) *t = t->to(device);
    const int64_t n_train = train.labels.size(0);
    fmt::print("mnist: {} training / {} test images from {} ({:.1f} s)\n", n_train, test.labels.size(0), data,
               clock.seconds());

    AttentionCnn model(c1, c2, heads);
    model.to(device);
    fmt::print("{}\n{} parameters\n", model.repr(), model.num_parameters());
    optim::Adam optimizer(model.parameters(), {.lr = lr});
    const int64_t steps_per_epoch = (n_train + batch - 1) / batch;
    optim::CosineAnnealingLR schedule(optimizer, /*T_max=*/epochs * steps_per_epoch);

    // A checkpoint holds model, optimizer, schedule, generator, step and the epoch it finished.
    optim::TrainingState state{.model = &model, .optimizer = &optimizer, .scheduler = &schedule};
    int first_epoch = 1;
    if (!flags.resume.empty()) {
      optim::load_checkpoint(flags.resume, state);
      ATTO_CHECK(state.extra.count("epoch") && state.extra.count("epochs"),
                 "[cnn_attention_mnist] {}: not a checkpoint of this program (no epoch / epochs values)", flags.resume);
      ATTO_CHECK(std::stoi(state.extra["epochs"]) == epochs,
                 "[cnn_attention_mnist] {} was planned for --epochs {} (its learning-rate schedule); pass the same",
                 flags.resume, state.extra["epochs"]);
      first_epoch = std::stoi(state.extra["epoch"]) + 1;
      fmt::print("resumed from {}: epoch {} done, step {}\n", flags.resume, first_epoch - 1, state.step);
    }
    const bool resuming = !flags.resume.empty();
    examples::CsvLog step_log(flags.out + "/metrics.csv", {"step", "epoch", "loss", "batch_accuracy", "lr"}, resuming);
    examples::CsvLog epoch_log(flags.out + "/epochs.csv",
                               {"epoch", "step", "train_loss", "test_loss", "test_accuracy", "seconds"}, resuming);

    std::vector<int64_t> order(static_cast<size_t>(n_train));
    double train_seconds = 0;
    std::optional<Evaluation> last_eval;
    int64_t images_seen = 0;
    for (int epoch = first_epoch; epoch <= epochs; ++epoch) {
      // Each epoch's shuffle depends only on (seed, epoch): a resumed run sees the same batches.
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 shuffle_rng(flags.seed * 1000003 + uint64_t(epoch));
      std::shuffle(order.begin(), order.end(), shuffle_rng);
      Tensor permutation = from_vector<int64_t>(order).to(device);

      examples::Stopwatch epoch_clock;
      examples::Progress bar(steps_per_epoch, fmt::format("epoch {}/{}", epoch, epochs), "img");
      double loss_sum = 0;
      for (int64_t k = 0; k < steps_per_epoch; ++k) {
        const int64_t b = std::min(batch, n_train - k * batch);
        Tensor idx = permutation.narrow(0, k * batch, b);
        Tensor x = index_select(train.images, 0, idx), y = index_select(train.labels, 0, idx);
        Tensor logits = model(x);
        Tensor loss = cross_entropy(logits, y);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        schedule.step();
        ++state.step;

        const double loss_value = loss.item<double>();
        const double batch_accuracy = (logits.argmax(1) == y).to(kFloat32).mean().item<double>();
        loss_sum += loss_value;
        step_log.row({double(state.step), double(epoch), loss_value, batch_accuracy, schedule.get_last_lr()[0]});
        bar.update(k + 1, {{"loss", loss_value}}, double(b));
      }
      bar.finish();
      const double seconds = epoch_clock.seconds();
      train_seconds += seconds;
      images_seen += n_train;
      Evaluation ev = evaluate(model, test, 500);
      last_eval = ev;
      fmt::print("epoch {}  train loss {:.4f}  test loss {:.4f}  test accuracy {:.4f}  ({:.1f} s, {:.0f} img/s)\n",
                 epoch, loss_sum / double(steps_per_epoch), ev.loss, ev.accuracy, seconds, double(n_train) / seconds);
      epoch_log.row({double(epoch), double(state.step), loss_sum / double(steps_per_epoch), ev.loss, ev.accuracy,
                     seconds});
      state.extra["epoch"] = std::to_string(epoch);
      state.extra["epochs"] = std::to_string(epochs);
      optim::save_checkpoint(flags.out + "/checkpoint.safetensors", state);
    }

    Evaluation final_eval = last_eval ? *last_eval : evaluate(model, test, 500);   // resumed after the last epoch: evaluate
    if (images_seen > 0)
      fmt::print("trained {} epoch(s) in {:.1f} s ({:.0f} img/s)\n", epochs - first_epoch + 1, train_seconds,
                 double(images_seen) / train_seconds);
    fmt::print("test accuracy {:.4f} ({} test images), {:.1f} s in all\n", final_eval.accuracy, test.labels.size(0),
               clock.seconds());
    draw_curves(flags.out, test.labels.size(0));
    draw_attention(model, test, /*count=*/6, flags.out);
    fmt::print("wrote {0}/metrics.csv, {0}/epochs.csv, {0}/checkpoint.safetensors, {0}/curves.png, {0}/attention.png\n",
               flags.out);
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
