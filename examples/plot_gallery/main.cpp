// examples/plot_gallery -- one picture of every kind examples/common/plot.h draws, from made-up data:
// line plots (linear and log axes, a gap where a value is not finite), heatmaps (a small annotated
// one and a 30-token attention map), a contour plot with two optimiser trajectories, an image with an
// attention overlay, a grid of panels, and the font itself. It checks every file was written and
// that bad sizes and unwritable paths give clear errors; the smoke test runs it.
//
//   build/examples/plot_gallery [--out runs/plot_gallery]
#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>

#include "attograd.h"
#include "common/plot.h"
#include "common/run.h"

using namespace atto;
namespace plot = atto::plot;

// A loss curve that falls like a / (1 + step) plus noise, with a floor: what training plots look like.
std::vector<double> fake_loss(const std::vector<double>& steps, double start, double floor_value, uint64_t seed) {
  std::vector<double> loss;
  uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (double s : steps) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    double noise = double(state >> 40) / double(1ULL << 24) - 0.5;
    loss.push_back(floor_value + (start - floor_value) / (1 + s / 40.0) * (1 + 0.08 * noise));
  }
  return loss;
}

// Gradient descent (plain or with heavy-ball momentum) on Rosenbrock's valley: the contour plot's paths.
plot::Series descend(const std::string& label, double x, double y, double lr, double momentum, int steps) {
  plot::Series path{label, {}, {}};
  double vx = 0, vy = 0;
  for (int i = 0; i <= steps; ++i) {
    path.x.push_back(x);
    path.y.push_back(y);
    double gx = -2 * (1 - x) - 400 * x * (y - x * x), gy = 200 * (y - x * x);
    vx = momentum * vx + gx;
    vy = momentum * vy + gy;
    x -= lr * vx;
    y -= lr * vy;
  }
  return path;
}

int main(int argc, char** argv) {
  CLI::App app{"Draws one picture of every kind examples/common/plot.h offers"};
  examples::CommonFlags flags{.out = "runs/plot_gallery"};
  examples::add_common_flags(app, flags);
  CLI11_PARSE(app, argc, argv);
  try {
    examples::setup(flags, "plot_gallery");
    std::vector<std::string> written;
    auto out = [&](const std::string& name) {
      written.push_back(flags.out + "/" + name);
      return written.back();
    };

    // 1. Line plot: two curves, markers on one, a NaN that leaves a gap.
    std::vector<double> steps;
    for (int s = 0; s <= 300; s += 5) steps.push_back(s);
    auto train = fake_loss(steps, 2.3, 0.35, 1), val = fake_loss(steps, 2.3, 0.5, 2);
    train[20] = NAN;
    std::vector<double> val_steps, val_sparse;
    for (size_t i = 0; i < steps.size(); i += 6) val_steps.push_back(steps[i]), val_sparse.push_back(val[i]);
    plot::Series train_series{"train", steps, train};
    plot::Series val_series{"validation", val_steps, val_sparse, {}, true};
    plot::line_plot(out("line.png"), {train_series, val_series},
                    {.title = "Loss (a NaN at step 100 leaves a gap)", .xlabel = "step", .ylabel = "cross-entropy"});

    // 2. Log axes: an error falling over seven decades against a learning rate spanning four.
    std::vector<double> lrs, err_sgd, err_adam;
    for (int i = 0; i <= 40; ++i) {
      double lr = std::pow(10.0, -4 + i / 10.0);
      lrs.push_back(lr);
      err_sgd.push_back(1e-7 + 0.5 * std::exp(-lr * 300) + 1e-5 * lr * lr);
      err_adam.push_back(3e-7 + 0.2 * std::exp(-lr * 2000) + 1e-4 * lr);
    }
    plot::line_plot(out("log_axes.png"), {{"SGD", lrs, err_sgd}, {"Adam", lrs, err_adam, {}, true}},
                    {.title = "Final error vs learning rate (log-log)", .xlabel = "learning rate",
                     .ylabel = "error", .log_y = true, .log_x = true});

    // 3. A small heatmap with its values written in.
    std::vector<std::string> words = {"the", "cat", "sat", "on", "mats"};
    std::vector<float> small;
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 5; ++c) small.push_back(float(std::sin(0.9 * r + 0.4 * c) * 0.5 + 0.5));
    plot::heatmap(out("heatmap_small.png"), small, 4, 5,
                  {.title = "Annotated 4x5", .xlabel = "key", .ylabel = "query", .x_labels = words,
                   .y_labels = {"q0", "q1", "q2", "q3"}, .annotate = true});

    // 4. A causal attention map over 30 tokens: labels turn vertical, masked cells are -inf (gray).
    std::vector<std::string> tokens = {"Once", "upon", "a",     "time",  ",",    "there", "lived", "a",
                                       "very", "small", "dragon", "who", "loved", "reading", "ancient",
                                       "scrolls", "about", "the", "stars", "and",  "the",   "distant",
                                       "mountains", "beyond", "the", "sea", "of", "clouds", ".", "<eos>"};
    int n = int(tokens.size());
    std::vector<float> attention(size_t(n) * n, -INFINITY);
    for (int q = 0; q < n; ++q) {
      double total = 0;
      for (int k = 0; k <= q; ++k) total += std::exp(-0.35 * (q - k)) + (k == 0 ? 1.0 : 0.0);
      for (int k = 0; k <= q; ++k)
        attention[size_t(q) * n + k] = float((std::exp(-0.35 * (q - k)) + (k == 0 ? 1.0 : 0.0)) / total);
    }
    plot::heatmap(out("heatmap_tokens.png"), attention, n, n,
                  {.title = "Causal attention, 30 tokens", .xlabel = "key", .ylabel = "query", .x_labels = tokens,
                   .y_labels = tokens, .v_min = 0, .v_max = 1});

    // 5. Rosenbrock's valley with two optimisers' paths.
    auto rosenbrock = [](double x, double y) { return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x); };
    plot::contour(out("contour.png"), rosenbrock,
                  {descend("gradient descent", -1.2, 1.0, 1e-3, 0.0, 500),
                   descend("momentum 0.9", -1.5, 2.5, 2e-4, 0.9, 500)},
                  {.title = "Rosenbrock: 500 steps of each"});

    // 6. A hand-drawn "7" with an attention-like blob laid over it.
    std::vector<float> digit(28 * 28, 0.f), blob(7 * 7);
    for (int x = 6; x < 22; ++x) digit[size_t(6 * 28 + x)] = digit[size_t(7 * 28 + x)] = 1.f;
    for (int y = 8; y < 23; ++y) {
      int x = 21 - (y - 8) * 8 / 15;
      digit[size_t(y * 28 + x)] = digit[size_t(y * 28 + x - 1)] = 1.f;
    }
    for (int r = 0; r < 7; ++r)
      for (int c = 0; c < 7; ++c) blob[size_t(r * 7 + c)] = float(std::exp(-((r - 1.5) * (r - 1.5) + (c - 4.5) * (c - 4.5)) / 3));
    plot::draw_image_overlay(digit, 28, 28, blob, 7, 7, 0.5, "attention on a 7").save_png(out("overlay.png"));

    // 7. A grid: four panels under one title.
    std::vector<plot::Canvas> panels;
    for (int i = 0; i < 3; ++i) {
      auto curve = fake_loss(steps, 2.3, 0.3 + 0.15 * i, uint64_t(10 + i));
      panels.push_back(plot::draw_line_plot({{"run " + std::to_string(i), steps, curve}},
                                            {.title = "lr = " + std::to_string(3 - i) + "e-3", .xlabel = "step",
                                             .ylabel = "loss", .width = 420, .height = 300}));
    }
    panels.push_back(plot::draw_image_overlay(digit, 28, 28, blob, 7, 7, 0.6, "overlay", 8));
    plot::save_grid(out("grid.png"), panels, 2, "Grid of four panels");

    // 8. The font, at the three sizes the plots use.
    std::string ascii;
    for (int ch = 32; ch <= 126; ++ch) ascii += char(ch);
    plot::Canvas sheet(620, 130);
    for (int scale = 1; scale <= 2; ++scale)
      for (int part = 0; part < 2; ++part)
        sheet.text(10, 10 + (scale - 1) * 24 + part * (8 * scale + 4) + (scale - 1) * 4,
                   ascii.substr(size_t(part) * 48, 48), {0, 0, 0}, scale);
    sheet.text(10, 86, "Scale 3: Loss 0.25", {31, 119, 180}, 3);
    sheet.text_vertical(600, 65, "vertical", {214, 39, 40}, 1);
    sheet.save_png(out("font.png"));

    // Every picture must be on disk and non-empty.
    for (const auto& path : written) {
      std::error_code ec;
      auto size = std::filesystem::file_size(path, ec);
      ATTO_CHECK(!ec && size > 0, "[plot_gallery] {} was not written ({})", path, ec ? ec.message() : "empty");
    }
    std::printf("wrote %zu pictures to %s\n", written.size(), flags.out.c_str());

    // The errors a caller gets for bad sizes and for a path that cannot be written.
    try {
      plot::heatmap(flags.out + "/never.png", small, 3, 5, {});
    } catch (const Error& e) {
      std::printf("size error: %s\n", e.what());
    }
    try {
      plot::Canvas(4, 4).save_png(written.front() + "/not_a_folder/x.png");
    } catch (const Error& e) {
      std::printf("path error: %s\n", e.what());
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
