// examples/common/plot.h -- PNG pictures drawn by the examples themselves (no Python): line plots,
// heatmaps, contour plots with trajectories, and grids of them. Pixels go through a small RGB
// Canvas with a built-in bitmap font (titles, axis labels, tick labels, legends) and are written
// with stb_image_write (Debian's libstb-dev). Twin: plot.cpp.
//
//   plot::line_plot("out/loss.png", {{"train", steps, train_loss}, {"val", steps, val_loss}},
//                   {.title = "tiny_gpt loss", .xlabel = "step", .ylabel = "cross-entropy"});
//   plot::heatmap("out/attn.png", weights, tokens, tokens, {.title = "head 0"});
//
// Every function throws atto::Error naming the file when it cannot write it, and checks that the
// data's sizes agree (e.g. values.size() == rows * cols) with a message that shows them.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace atto::plot {

using Rgb = std::array<uint8_t, 3>;

// A picture in memory: origin top-left, x to the right, y down.
class Canvas {
 public:
  Canvas(int width, int height, Rgb background = {255, 255, 255});
  int width() const { return width_; }
  int height() const { return height_; }
  void set(int x, int y, Rgb c);                                  // ignores pixels off the canvas
  Rgb get(int x, int y) const;                                    // black off the canvas
  void fill_rect(int x, int y, int w, int h, Rgb c);
  void rect(int x, int y, int w, int h, Rgb c);                   // outline
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1);
  void circle(double cx, double cy, double r, Rgb c);             // filled
  // Text in the built-in font; scale 1 = 6x8 pixel cells. align: 0 left, 1 centre, 2 right of x.
  void text(int x, int y, const std::string& s, Rgb c = {0, 0, 0}, int scale = 1, int align = 0);
  void text_vertical(int x, int y, const std::string& s, Rgb c = {0, 0, 0}, int scale = 1);  // bottom to top, centred on y
  static int text_width(const std::string& s, int scale = 1);
  // Copies `other` with its top-left corner at (x, y).
  void blit(const Canvas& other, int x, int y);
  void save_png(const std::string& path) const;

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;   // RGB, row-major
};

// Colour maps: t in [0, 1] -> colour. viridis for heatmaps, a qualitative palette for series.
Rgb viridis(double t);
Rgb series_color(int i);

struct Series {
  std::string label;               // shown in the legend (empty: no legend entry)
  std::vector<double> x, y;        // same length
  Rgb color = {0, 0, 0};           // {0,0,0}: series_color(index)
  bool markers = false;            // draw a dot at each point
};

struct LinePlotOptions {
  std::string title, xlabel, ylabel;
  bool log_y = false;
  bool log_x = false;
  double y_min = NAN, y_max = NAN; // NAN: from the data (non-finite points are skipped)
  int width = 800, height = 500;
};

// One panel of axes with lines, tick labels, axis titles and a legend.
Canvas draw_line_plot(const std::vector<Series>& series, const LinePlotOptions& options);
void line_plot(const std::string& path, const std::vector<Series>& series, const LinePlotOptions& options);

struct HeatmapOptions {
  std::string title, xlabel, ylabel;
  std::vector<std::string> x_labels, y_labels;   // one per column / row, or empty (indices shown)
  double v_min = NAN, v_max = NAN;               // NAN: from the data
  int cell = 0;                                  // pixels per cell; 0: chosen to fit ~600 px
  bool colorbar = true;
  bool annotate = false;                         // print each value in its cell (small maps)
};

// values: rows * cols, row-major (row r is drawn at the top for r = 0).
Canvas draw_heatmap(const std::vector<float>& values, int rows, int cols, const HeatmapOptions& options);
void heatmap(const std::string& path, const std::vector<float>& values, int rows, int cols,
             const HeatmapOptions& options);

// A grayscale image (rows * cols, values 0..1) with a heatmap laid over it at `alpha`
// (the overlay is rows_o * cols_o and is stretched to the image's size).
Canvas draw_image_overlay(const std::vector<float>& image, int rows, int cols, const std::vector<float>& overlay,
                          int rows_o, int cols_o, double alpha, const std::string& title, int scale = 8);

struct ContourOptions {
  std::string title, xlabel = "x", ylabel = "y";
  double x_min = -2, x_max = 2, y_min = -1, y_max = 3;
  int levels = 20;
  bool log_levels = true;          // levels spaced in log(f - min f + 1): valleys stay visible
  int width = 700, height = 600;
};

// Filled contours of f over the box, with each series drawn as a trajectory (start and end marked).
Canvas draw_contour(const std::function<double(double, double)>& f, const std::vector<Series>& trajectories,
                    const ContourOptions& options);
void contour(const std::string& path, const std::function<double(double, double)>& f,
             const std::vector<Series>& trajectories, const ContourOptions& options);

// Lays out panels (each drawn by one of the draw_* functions) in a grid under an overall title.
Canvas grid(const std::vector<Canvas>& panels, int columns, const std::string& title = "");
void save_grid(const std::string& path, const std::vector<Canvas>& panels, int columns, const std::string& title = "");

}  // namespace atto::plot
