// examples/common/plot.cpp -- the pictures behind plot.h: an RGB canvas with a bitmap font, and on it
// line plots, heatmaps, contour plots, image overlays and grids. Every plot is laid out the same way:
// a title on top, axes with "nice" tick values (1-2-5 steps, or powers of ten on log axes), axis
// titles, and a legend or colour bar. Twin: plot.h; the font is in font5x7.h.
#include "common/plot.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "common/font5x7.h"
#include "tensor/check.h"

namespace atto::plot {
namespace {

constexpr Rgb kBlack = {0, 0, 0};
constexpr Rgb kWhite = {255, 255, 255};
constexpr Rgb kGridGray = {225, 225, 225};
constexpr Rgb kFrameGray = {90, 90, 90};
constexpr Rgb kMissing = {200, 200, 200};   // cells / pixels whose value is not finite

bool is_default_color(const Rgb& c) { return c == Rgb{0, 0, 0}; }

Rgb mix(const Rgb& a, const Rgb& b, double t) {   // (1 - t) a + t b
  Rgb out;
  for (int i = 0; i < 3; ++i) out[i] = uint8_t(std::lround(a[i] + (b[i] - a[i]) * t));
  return out;
}

// Text that must fit `max_chars` characters loses its tail to a '~'.
std::string truncate(const std::string& s, size_t max_chars) {
  if (s.size() <= max_chars) return s;
  if (max_chars <= 1) return s.substr(0, max_chars);
  return s.substr(0, max_chars - 1) + "~";
}

// Font scale for a picture of this size: 6x8-pixel letters below 300 px, twice that above.
int auto_font_scale(int width, int height) { return std::min(width, height) >= 300 ? 2 : 1; }

// Titles one size up from the labels.
int title_scale(int width, int height) { return auto_font_scale(width, height) + 1; }

// ---- numbers on axes -------------------------------------------------------------------------

// The 1-2-5 step nearest to range / target.
double nice_step(double range, int target) {
  double raw = range / std::max(1, target);
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double r = raw / magnitude;
  double step = r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10;
  return step * magnitude;
}

// "1e-05" -> "1e-5", "2.50e+03" -> "2.5e3": scientific notation as short as it can be.
std::string compact_scientific(double v, int digits) {
  std::string s = fmt::format("{:.{}e}", v, std::max(0, digits));
  size_t e = s.find('e');
  std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
  if (mantissa.find('.') != std::string::npos) {
    while (mantissa.back() == '0') mantissa.pop_back();
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  int exp = std::stoi(exponent);
  return mantissa + "e" + std::to_string(exp);
}

// A tick label: as many decimals as the step needs, scientific notation for very large or small numbers.
std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-6) return "0";
  double a = std::abs(v);
  if (a >= 1e5 || a < 1e-3) {
    int digits = int(std::floor(std::log10(a)) - std::floor(std::log10(step) + 1e-9));
    return compact_scientific(v, std::min(digits, 3));
  }
  int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
  return fmt::format("{:.{}f}", v, decimals);
}

// A short label for one value (heatmap cells, colour-bar ends): 3 significant digits.
std::string short_number(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  double a = std::abs(v);
  if (a == 0) return "0";
  if (a >= 1e4 || a < 1e-2) return compact_scientific(v, 1);
  int decimals = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return fmt::format("{:.{}f}", v, decimals);
}

// The smallest of 1, 2, 5, 10, 20, 50, ... that is >= n.
int one_two_five_at_least(int n) {
  for (int decade = 1;; decade *= 10)
    for (int m : {1, 2, 5})
      if (m * decade >= n) return m * decade;
}

struct Tick {
  double value;
  std::string label;
};

std::vector<Tick> linear_ticks(double lo, double hi, int target) {
  std::vector<Tick> ticks;
  double step = nice_step(hi - lo, target);
  double first = std::ceil(lo / step - 1e-9);
  for (double k = first; k * step <= hi + step * 1e-9; k += 1) {
    double v = k * step;
    ticks.push_back({v, tick_label(v, step)});
  }
  return ticks;
}

// Label for a power-of-ten multiple m * 10^e on a log axis: "0.01", "500", "2e-5".
std::string log_label(int mantissa, int exponent) {
  double v = mantissa * std::pow(10.0, exponent);
  if (exponent >= -3 && exponent <= 4) return tick_label(v, std::pow(10.0, exponent));
  return fmt::format("{}e{}", mantissa, exponent);
}

// Ticks on a log axis; lo and hi are log10 of the range's ends.
std::vector<Tick> log_ticks(double lo, double hi, int target) {
  double decades = hi - lo;
  if (decades < 1) {   // less than a decade: plain 1-2-5 ticks placed on the log scale
    auto ticks = linear_ticks(std::pow(10.0, lo), std::pow(10.0, hi), std::max(3, target / 2));
    std::erase_if(ticks, [](const Tick& t) { return t.value <= 0; });
    return ticks;
  }
  std::vector<Tick> ticks;
  int first = int(std::floor(lo)), last = int(std::ceil(hi));
  int every = std::max(1, int(std::ceil(decades / target)));
  for (int e = first; e <= last; ++e) {
    if (decades <= 2.5) {
      for (int m : {1, 2, 5}) {
        double lv = std::log10(m * std::pow(10.0, e));
        if (lv >= lo - 1e-9 && lv <= hi + 1e-9) ticks.push_back({m * std::pow(10.0, e), log_label(m, e)});
      }
    } else if (((e % every) + every) % every == 0) {
      double lv = double(e);
      if (lv >= lo - 1e-9 && lv <= hi + 1e-9) ticks.push_back({std::pow(10.0, e), log_label(1, e)});
    }
  }
  return ticks;
}

// One axis: a data range mapped onto a pixel span (y axes run upwards, so from > to there).
struct Axis {
  double lo = 0, hi = 1;   // data units, or log10 of them on a log axis
  bool log = false;
  double from = 0, to = 1; // pixels
  double to_pixel(double v) const {
    double t = ((log ? std::log10(v) : v) - lo) / (hi - lo);
    return from + t * (to - from);
  }
  bool usable(double v) const { return std::isfinite(v) && (!log || v > 0); }
  std::vector<Tick> ticks(int target) const { return log ? log_ticks(lo, hi, target) : linear_ticks(lo, hi, target); }
};

// The range an axis shows: the data's (or the caller's) ends, widened if empty, padded a little.
void fit_axis(Axis& axis, const std::vector<double>& values, double want_lo, double want_hi, double pad_fraction) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values)
    if (axis.usable(v)) {
      double u = axis.log ? std::log10(v) : v;
      lo = std::min(lo, u);
      hi = std::max(hi, u);
    }
  bool fixed_lo = axis.usable(want_lo), fixed_hi = axis.usable(want_hi);
  if (fixed_lo) lo = axis.log ? std::log10(want_lo) : want_lo;
  if (fixed_hi) hi = axis.log ? std::log10(want_hi) : want_hi;
  if (!std::isfinite(lo) || !std::isfinite(hi)) {   // nothing to show
    lo = axis.log ? 0 : 0;
    hi = 1;
  }
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(lo))) {   // a single value: show a range around it
    double half = axis.log ? 0.5 : std::max(std::abs(lo) * 0.1, 0.5);
    lo -= half;
    hi += half;
  }
  double pad = (hi - lo) * pad_fraction;
  if (!fixed_lo) lo -= pad;
  if (!fixed_hi) hi += pad;
  axis.lo = lo;
  axis.hi = hi;
}

// Liang-Barsky: clips the segment to the box [x0, x1] x [y0, y1]; false when nothing is left.
bool clip_segment(double& ax, double& ay, double& bx, double& by, double x0, double y0, double x1, double y1) {
  double t0 = 0, t1 = 1, dx = bx - ax, dy = by - ay;
  auto edge = [&](double p, double q) {
    if (p == 0) return q >= 0;
    double t = q / p;
    if (p < 0) {
      if (t > t1) return false;
      t0 = std::max(t0, t);
    } else {
      if (t < t0) return false;
      t1 = std::min(t1, t);
    }
    return true;
  };
  if (!edge(-dx, ax - x0) || !edge(dx, x1 - ax) || !edge(-dy, ay - y0) || !edge(dy, y1 - ay)) return false;
  double nax = ax + t0 * dx, nay = ay + t0 * dy, nbx = ax + t1 * dx, nby = ay + t1 * dy;
  ax = nax, ay = nay, bx = nbx, by = nby;
  return true;
}

// ---- the frame shared by line plots and contour plots ------------------------------------------

struct Frame {
  int x = 0, y = 0, w = 0, h = 0;   // the plot area in pixels
  Axis xaxis, yaxis;
  int font = 1;
};

// Places the plot area inside a width x height canvas, leaving room for the title, tick labels and
// axis titles. The axes' ranges must already be set; their pixel spans are filled in here.
Frame layout_frame(int width, int height, Axis xaxis, Axis yaxis, const std::string& title,
                   const std::string& xlabel, const std::string& ylabel) {
  Frame f;
  f.font = auto_font_scale(width, height);
  int s = f.font, pad = 5 * s, ch = font::kCellH * s;
  int ytick_w = 0;
  for (const auto& t : yaxis.ticks(6)) ytick_w = std::max(ytick_w, Canvas::text_width(t.label, s));
  int ylabel_w = ylabel.empty() ? 0 : ylabel.size() <= 2 ? Canvas::text_width(ylabel, s) : ch;
  int left = pad + (ylabel.empty() ? 0 : ylabel_w + pad) + ytick_w + 4 * s + 2;
  int top = pad + (title.empty() ? ch : font::kCellH * title_scale(width, height) + 2 * pad);
  int bottom = 4 * s + 4 + ch + pad + (xlabel.empty() ? 0 : ch + pad);
  int right = 6 * s + 3 * font::kCellW * s;   // half of a last x tick label fits
  f.x = left;
  f.y = top;
  f.w = std::max(10, width - left - right);
  f.h = std::max(10, height - top - bottom);
  f.xaxis = xaxis;
  f.yaxis = yaxis;
  f.xaxis.from = f.x, f.xaxis.to = f.x + f.w - 1;
  f.yaxis.from = f.y + f.h - 1, f.yaxis.to = f.y;
  return f;
}

// x ticks thinned until their labels do not touch.
std::vector<Tick> x_ticks_that_fit(const Frame& f) {
  for (int target = 8; target >= 2; --target) {
    auto ticks = f.xaxis.ticks(target);
    int widest = 0;
    for (const auto& t : ticks) widest = std::max(widest, Canvas::text_width(t.label, f.font));
    if (ticks.size() <= 1 || double(widest + 4 * f.font) * ticks.size() <= f.w * 0.9) return ticks;
  }
  return f.xaxis.ticks(2);
}

void draw_grid_lines(Canvas& c, const Frame& f) {
  for (const auto& t : x_ticks_that_fit(f)) {
    int px = int(std::lround(f.xaxis.to_pixel(t.value)));
    c.fill_rect(px, f.y, 1, f.h, kGridGray);
  }
  for (const auto& t : f.yaxis.ticks(6)) {
    int py = int(std::lround(f.yaxis.to_pixel(t.value)));
    c.fill_rect(f.x, py, f.w, 1, kGridGray);
  }
}

// Frame, ticks, tick labels, axis titles and title (drawn over the data so the frame stays crisp).
void draw_axes(Canvas& c, const Frame& f, const std::string& title, const std::string& xlabel,
               const std::string& ylabel) {
  int s = f.font, pad = 5 * s, ch = font::kCellH * s, tick = 3 * s;
  c.rect(f.x - 1, f.y - 1, f.w + 2, f.h + 2, kFrameGray);
  for (const auto& t : x_ticks_that_fit(f)) {
    int px = int(std::lround(f.xaxis.to_pixel(t.value)));
    c.fill_rect(px, f.y + f.h + 1, 1, tick, kFrameGray);
    c.text(px, f.y + f.h + tick + 4, t.label, kBlack, s, 1);
  }
  for (const auto& t : f.yaxis.ticks(6)) {
    int py = int(std::lround(f.yaxis.to_pixel(t.value)));
    c.fill_rect(f.x - 1 - tick, py, tick, 1, kFrameGray);
    c.text(f.x - tick - 4, py - ch / 2 + s / 2, t.label, kBlack, s, 2);
  }
  if (!xlabel.empty()) c.text(f.x + f.w / 2, f.y + f.h + tick + 4 + ch + pad, xlabel, kBlack, s, 1);
  if (ylabel.size() <= 2)   // "y", "x2": upright reads better than turned
    c.text(pad, f.y + f.h / 2 - ch / 2, ylabel, kBlack, s);
  else
    c.text_vertical(pad, f.y + f.h / 2, ylabel, kBlack, s);
  if (!title.empty()) {
    int ts = title_scale(c.width(), c.height());
    while (ts > 1 && Canvas::text_width(title, ts) > c.width() * 0.9) --ts;
    size_t fits = size_t(std::max(1, (c.width() - 2 * pad) / (font::kCellW * ts)));
    c.text(c.width() / 2, pad, truncate(title, fits), kBlack, ts, 1);
  }
}

// A trajectory's first point: a ring; its last: a filled dot. Both with a white rim.
void draw_start_marker(Canvas& c, double x, double y, int s, Rgb color) {
  c.circle(x, y, 4.0 * s + 2, kWhite);
  c.circle(x, y, 4.0 * s + 1, color);
  c.circle(x, y, 2.0 * s, kWhite);
}

void draw_end_marker(Canvas& c, double x, double y, int s, Rgb color) {
  c.circle(x, y, 3.0 * s + 2, kWhite);
  c.circle(x, y, 3.0 * s + 1, color);
}

struct LegendEntry {
  std::string label;
  Rgb color;
  bool markers;
};

// A boxed legend in whichever corner of the plot area hides the fewest data points.
void draw_legend(Canvas& c, const Frame& f, const std::vector<LegendEntry>& entries,
                 const std::vector<std::pair<double, double>>& points_px, bool start_end_key = false) {
  if (entries.empty()) return;
  int s = f.font, ch = font::kCellH * s, row = ch + 3 * s, swatch = 18 * s;
  int text_w = start_end_key ? Canvas::text_width("start     end", s) : 0;
  for (const auto& e : entries) text_w = std::max(text_w, Canvas::text_width(e.label, s));
  int box_w = 4 * s + swatch + 4 * s + text_w + 4 * s;
  int box_h = 3 * s + row * int(entries.size() + (start_end_key ? 1 : 0)) + s;
  int margin = 6 * s;
  std::array<std::pair<int, int>, 4> corners = {{{f.x + f.w - box_w - margin, f.y + margin},
                                                 {f.x + margin, f.y + margin},
                                                 {f.x + f.w - box_w - margin, f.y + f.h - box_h - margin},
                                                 {f.x + margin, f.y + f.h - box_h - margin}}};
  int best = 0;
  size_t best_hidden = std::numeric_limits<size_t>::max();
  for (int i = 0; i < 4; ++i) {
    auto [bx, by] = corners[i];
    size_t hidden = 0;
    for (auto [px, py] : points_px) hidden += px >= bx && px <= bx + box_w && py >= by && py <= by + box_h;
    if (hidden < best_hidden) best_hidden = hidden, best = i;
  }
  auto [bx, by] = corners[best];
  c.fill_rect(bx, by, box_w, box_h, kWhite);
  c.rect(bx, by, box_w, box_h, {160, 160, 160});
  int y = by + 3 * s;
  for (const auto& e : entries) {
    double mid = y + ch / 2.0 - 0.5;
    c.line(bx + 4 * s, mid, bx + 4 * s + swatch, mid, e.color, std::max(2, s + 1));
    if (e.markers) c.circle(bx + 4 * s + swatch / 2.0, mid, 2.0 * s + 0.5, e.color);
    c.text(bx + 8 * s + swatch, y, e.label, kBlack, s);
    y += row;
  }
  if (start_end_key) {   // the markers draw_contour puts on each trajectory's ends, in gray
    double mid = y + ch / 2.0 - 0.5, ring_x = bx + 4 * s + swatch / 2.0;
    draw_start_marker(c, ring_x, mid, s, kFrameGray);
    c.text(bx + 8 * s + swatch, y, "start", kBlack, s);
    double dot_x = bx + 8 * s + swatch + Canvas::text_width("start  ", s) + 3 * s;
    draw_end_marker(c, dot_x, mid, s, kFrameGray);
    c.text(int(dot_x) + 6 * s, y, "end", kBlack, s);
  }
}

// A polyline clipped to the plot area; non-finite (or, on log axes, non-positive) points break it.
void draw_series(Canvas& c, const Frame& f, const Series& series, Rgb color, int thickness,
                 std::vector<std::pair<double, double>>* points_px) {
  double x0 = f.x, y0 = f.y, x1 = f.x + f.w - 1, y1 = f.y + f.h - 1;
  bool have_previous = false;
  double prev_x = 0, prev_y = 0;
  for (size_t i = 0; i < series.x.size(); ++i) {
    if (!f.xaxis.usable(series.x[i]) || !f.yaxis.usable(series.y[i])) {
      have_previous = false;
      continue;
    }
    double px = f.xaxis.to_pixel(series.x[i]), py = f.yaxis.to_pixel(series.y[i]);
    if (points_px) points_px->push_back({px, py});
    if (have_previous && points_px) {   // points every few pixels along the segment, for the legend's placement
      int pieces = int(std::hypot(px - prev_x, py - prev_y) / 4);
      for (int k = 1; k < std::min(pieces, 1000); ++k)
        points_px->push_back({prev_x + (px - prev_x) * k / pieces, prev_y + (py - prev_y) * k / pieces});
    }
    if (have_previous) {
      double ax = prev_x, ay = prev_y, bx = px, by = py;
      if (clip_segment(ax, ay, bx, by, x0, y0, x1, y1)) c.line(ax, ay, bx, by, color, thickness);
    }
    if (series.markers && px >= x0 && px <= x1 && py >= y0 && py <= y1) c.circle(px, py, 1.5 * f.font + 1, color);
    prev_x = px, prev_y = py, have_previous = true;
  }
}

void check_series(const std::vector<Series>& series, const char* where) {
  for (size_t i = 0; i < series.size(); ++i)
    ATTO_CHECK(series[i].x.size() == series[i].y.size(),
               "[plot::{}] series {} ('{}') has {} x values but {} y values", where, i, series[i].label,
               series[i].x.size(), series[i].y.size());
}

// A vertical colour bar from v_min (bottom) to v_max (top) with ticks, its left edge at x.
void draw_colorbar(Canvas& c, int x, int y, int w, int h, double v_min, double v_max, int s) {
  for (int row = 0; row < h; ++row) c.fill_rect(x, y + row, w, 1, viridis(1.0 - double(row) / std::max(1, h - 1)));
  c.rect(x - 1, y - 1, w + 2, h + 2, kFrameGray);
  Axis axis{v_min, v_max, false, double(y + h - 1), double(y)};
  int ch = font::kCellH * s;
  for (const auto& t : axis.ticks(std::max(2, std::min(6, h / (3 * ch))))) {
    int py = int(std::lround(axis.to_pixel(t.value)));
    c.fill_rect(x + w + 1, py, 3 * s, 1, kFrameGray);
    c.text(x + w + 3 * s + 4, py - ch / 2 + s / 2, t.label, kBlack, s);
  }
}

int colorbar_label_width(double v_min, double v_max, int h, int s) {
  Axis axis{v_min, v_max, false, double(h - 1), 0};
  int widest = 0;
  for (const auto& t : axis.ticks(std::max(2, std::min(6, h / (3 * font::kCellH * s)))))
    widest = std::max(widest, Canvas::text_width(t.label, s));
  return widest;
}

}  // namespace

// ---- Canvas ------------------------------------------------------------------------------------

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
  ATTO_CHECK(width > 0 && height > 0 && int64_t(width) * height <= int64_t(1) << 28,
             "[plot::Canvas] size {}x{} is not a picture size (each side >= 1, at most 2^28 pixels)", width, height);
  pixels_.resize(size_t(width) * height * 3);
  for (size_t i = 0; i < pixels_.size(); i += 3) std::copy(background.begin(), background.end(), pixels_.begin() + i);
}

void Canvas::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  std::copy(c.begin(), c.end(), pixels_.begin() + (size_t(y) * width_ + x) * 3);
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb c) {
  int xa = std::max(0, x), ya = std::max(0, y), xb = std::min(width_, x + w), yb = std::min(height_, y + h);
  for (int yy = ya; yy < yb; ++yy)
    for (int xx = xa; xx < xb; ++xx) std::copy(c.begin(), c.end(), pixels_.begin() + (size_t(yy) * width_ + xx) * 3);
}

void Canvas::rect(int x, int y, int w, int h, Rgb c) {
  fill_rect(x, y, w, 1, c);
  fill_rect(x, y + h - 1, w, 1, c);
  fill_rect(x, y, 1, h, c);
  fill_rect(x + w - 1, y, 1, h, c);
}

// Walks the segment in half-pixel steps, stamping a square (thin lines) or a disc (thick ones).
void Canvas::line(double x0, double y0, double x1, double y1, Rgb c, int thickness) {
  double length = std::hypot(x1 - x0, y1 - y0);
  int steps = std::max(1, int(std::ceil(length * 2)));
  double r = thickness / 2.0;
  for (int i = 0; i <= steps; ++i) {
    double t = double(i) / steps;
    double x = x0 + t * (x1 - x0), y = y0 + t * (y1 - y0);
    if (thickness <= 1) {
      set(int(std::lround(x)), int(std::lround(y)), c);
      continue;
    }
    for (int yy = int(std::floor(y - r)); yy <= int(std::ceil(y + r)); ++yy)
      for (int xx = int(std::floor(x - r)); xx <= int(std::ceil(x + r)); ++xx)
        if ((xx - x) * (xx - x) + (yy - y) * (yy - y) <= r * r) set(xx, yy, c);
  }
}

void Canvas::circle(double cx, double cy, double r, Rgb c) {
  for (int y = int(std::floor(cy - r)); y <= int(std::ceil(cy + r)); ++y)
    for (int x = int(std::floor(cx - r)); x <= int(std::ceil(cx + r)); ++x)
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) set(x, y, c);
}

int Canvas::text_width(const std::string& s, int scale) { return int(s.size()) * font::kCellW * scale; }

// Pixel (column, row) of glyph `ch`, or false for blank and for characters outside the font ('?' then).
static bool glyph_pixel(char ch, int column, int row) {
  int code = static_cast<unsigned char>(ch);
  if (code < font::kFirst || code > font::kLast) code = '?';
  return (font::kGlyphs[(code - font::kFirst) * font::kGlyphW + column] >> row) & 1;
}

void Canvas::text(int x, int y, const std::string& s, Rgb c, int scale, int align) {
  scale = std::max(1, scale);
  int w = text_width(s, scale);
  int left = align == 1 ? x - w / 2 : align == 2 ? x - w : x;
  for (size_t i = 0; i < s.size(); ++i)
    for (int col = 0; col < font::kGlyphW; ++col)
      for (int row = 0; row < font::kGlyphH; ++row)
        if (glyph_pixel(s[i], col, row))
          fill_rect(left + (int(i) * font::kCellW + col) * scale, y + row * scale, scale, scale, c);
}

// Turned a quarter turn anticlockwise: the glyph's rows run to the right, its columns upwards.
void Canvas::text_vertical(int x, int y, const std::string& s, Rgb c, int scale) {
  scale = std::max(1, scale);
  int bottom = y + text_width(s, scale) / 2;
  for (size_t i = 0; i < s.size(); ++i)
    for (int col = 0; col < font::kGlyphW; ++col)
      for (int row = 0; row < font::kGlyphH; ++row)
        if (glyph_pixel(s[i], col, row))
          fill_rect(x + row * scale, bottom - (int(i) * font::kCellW + col + 1) * scale, scale, scale, c);
}

void Canvas::blit(const Canvas& other, int x, int y) {
  for (int yy = 0; yy < other.height_; ++yy)
    for (int xx = 0; xx < other.width_; ++xx) {
      const uint8_t* p = &other.pixels_[(size_t(yy) * other.width_ + xx) * 3];
      set(x + xx, y + yy, {p[0], p[1], p[2]});
    }
}

Rgb Canvas::get(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return {0, 0, 0};
  const uint8_t* p = &pixels_[(size_t(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::save_png(const std::string& path) const {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  ATTO_CHECK(!ec, "[plot] cannot write {}: cannot create the folder {}: {}", path, parent.string(), ec.message());
  int ok = stbi_write_png(path.c_str(), width_, height_, 3, pixels_.data(), width_ * 3);
  ATTO_CHECK(ok != 0, "[plot] cannot write {} ({}x{} PNG): is the folder writable and the disk not full?", path,
             width_, height_);
}

// ---- colours -----------------------------------------------------------------------------------

// matplotlib's viridis sampled at 9 points, interpolated linearly in between.
Rgb viridis(double t) {
  static constexpr Rgb kAnchors[9] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},   {44, 113, 142}, {33, 144, 141},
                                      {39, 173, 129}, {92, 200, 99},  {170, 220, 50},  {253, 231, 37}};
  if (!std::isfinite(t)) return kMissing;
  t = std::clamp(t, 0.0, 1.0) * 8;
  int i = std::min(7, int(t));
  return mix(kAnchors[i], kAnchors[i + 1], t - i);
}

// matplotlib's "tab10" palette: ten colours that stay apart from each other.
Rgb series_color(int i) {
  static constexpr Rgb kPalette[10] = {{31, 119, 180}, {255, 127, 14},  {44, 160, 44},  {214, 39, 40},
                                       {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                       {188, 189, 34},  {23, 190, 207}};
  return kPalette[((i % 10) + 10) % 10];
}

// ---- line plots --------------------------------------------------------------------------------

Canvas draw_line_plot(const std::vector<Series>& series, const LinePlotOptions& options) {
  check_series(series, "line_plot");
  Axis xaxis, yaxis;
  xaxis.log = options.log_x;
  yaxis.log = options.log_y;
  std::vector<double> xs, ys;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (xaxis.usable(s.x[i]) && yaxis.usable(s.y[i])) xs.push_back(s.x[i]), ys.push_back(s.y[i]);
  fit_axis(xaxis, xs, NAN, NAN, 0.0);
  fit_axis(yaxis, ys, options.y_min, options.y_max, 0.05);

  Canvas c(options.width, options.height);
  Frame f = layout_frame(options.width, options.height, xaxis, yaxis, options.title, options.xlabel, options.ylabel);
  draw_grid_lines(c, f);
  std::vector<std::pair<double, double>> points_px;
  std::vector<LegendEntry> legend;
  int thickness = f.font + 1;
  for (size_t i = 0; i < series.size(); ++i) {
    Rgb color = is_default_color(series[i].color) ? series_color(int(i)) : series[i].color;
    draw_series(c, f, series[i], color, thickness, &points_px);
    if (!series[i].label.empty()) legend.push_back({series[i].label, color, series[i].markers});
  }
  draw_axes(c, f, options.title, options.xlabel, options.ylabel);
  draw_legend(c, f, legend, points_px);
  return c;
}

void line_plot(const std::string& path, const std::vector<Series>& series, const LinePlotOptions& options) {
  draw_line_plot(series, options).save_png(path);
}

// ---- heatmaps ----------------------------------------------------------------------------------

Canvas draw_heatmap(const std::vector<float>& values, int rows, int cols, const HeatmapOptions& options) {
  ATTO_CHECK(rows > 0 && cols > 0, "[plot::heatmap] rows and cols must be positive, got {}x{}", rows, cols);
  ATTO_CHECK(values.size() == size_t(rows) * size_t(cols),
             "[plot::heatmap] values.size() is {} but rows * cols = {} * {} = {}", values.size(), rows, cols,
             size_t(rows) * size_t(cols));
  ATTO_CHECK(options.x_labels.empty() || options.x_labels.size() == size_t(cols),
             "[plot::heatmap] {} x_labels for {} columns", options.x_labels.size(), cols);
  ATTO_CHECK(options.y_labels.empty() || options.y_labels.size() == size_t(rows),
             "[plot::heatmap] {} y_labels for {} rows", options.y_labels.size(), rows);

  double v_min = options.v_min, v_max = options.v_max;
  if (!std::isfinite(v_min) || !std::isfinite(v_max)) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (float v : values)
      if (std::isfinite(v)) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    if (!std::isfinite(v_min)) v_min = lo;
    if (!std::isfinite(v_max)) v_max = hi;
  }
  if (v_max <= v_min) v_max = v_min + (v_min == 0 ? 1 : std::abs(v_min) * 0.1);

  int cell = options.cell > 0 ? options.cell : std::clamp(600 / std::max(rows, cols), 1, 80);
  int s = cell >= 17 || std::max(rows, cols) <= 12 ? 2 : 1;   // label font
  int ch = font::kCellH * s, cw = font::kCellW * s, pad = 6 * s;
  int map_w = cols * cell, map_h = rows * cell;
  const size_t kMaxLabel = 12;

  auto label_of = [](const std::vector<std::string>& labels, int i) {
    return labels.empty() ? std::to_string(i) : truncate(labels[size_t(i)], kMaxLabel);
  };
  // Every k-th label when cells are narrower than a line of text.
  int y_every = std::max(1, int(std::ceil(double(ch + 2) / cell)));
  if (y_every > 1 && (options.x_labels.empty() || options.y_labels.empty())) {   // indices: every 2, 5, 10, 20, ...
    y_every = one_two_five_at_least(y_every);
  }
  int x_every_vertical = y_every;
  int y_label_w = 0, x_label_len = 0, x_label_w = 0;
  for (int r = 0; r < rows; r += y_every) y_label_w = std::max(y_label_w, Canvas::text_width(label_of(options.y_labels, r), s));
  for (int col = 0; col < cols; ++col) x_label_w = std::max(x_label_w, Canvas::text_width(label_of(options.x_labels, col), s));
  bool x_horizontal = x_label_w + 2 * s <= cell;
  int x_every = x_horizontal ? 1 : x_every_vertical;
  for (int col = 0; col < cols; col += x_every) x_label_len = std::max(x_label_len, Canvas::text_width(label_of(options.x_labels, col), s));
  int x_labels_h = x_horizontal ? ch : x_label_len;

  int cb_w = options.colorbar ? 16 * s : 0;
  int cb_space = options.colorbar ? 12 * s + cb_w + 4 * s + colorbar_label_width(v_min, v_max, map_h, s) + pad : pad;
  int title_s = s + 1;
  int left = pad + (options.ylabel.empty() ? 0 : ch + pad) + y_label_w + 4 * s;
  int top = pad + (options.title.empty() ? 0 : font::kCellH * title_s + pad + 2 * s);
  int width = left + map_w + cb_space;
  int title_w = Canvas::text_width(options.title, title_s) + 2 * pad;
  if (title_w > width) {   // a long title widens the picture; the map stays centred under it
    left += (title_w - width) / 2;
    width = title_w;
  }
  int height = top + map_h + 4 * s + x_labels_h + pad + (options.xlabel.empty() ? 0 : ch + pad);
  height = std::max(height, top + map_h + ch / 2 + pad);
  Canvas c(width, height);

  for (int r = 0; r < rows; ++r)
    for (int col = 0; col < cols; ++col) {
      double v = values[size_t(r) * cols + col];
      Rgb color = std::isfinite(v) ? viridis((v - v_min) / (v_max - v_min)) : kMissing;
      c.fill_rect(left + col * cell, top + r * cell, cell, cell, color);
    }
  c.rect(left - 1, top - 1, map_w + 2, map_h + 2, kFrameGray);

  if (options.annotate) {
    int as = s;
    auto fits = [&](int scale) {
      for (float v : values)
        if (Canvas::text_width(short_number(v), scale) + 2 > cell || font::kCellH * scale + 2 > cell) return false;
      return true;
    };
    while (as > 1 && !fits(as)) --as;
    if (fits(as))
      for (int r = 0; r < rows; ++r)
        for (int col = 0; col < cols; ++col) {
          double v = values[size_t(r) * cols + col];
          double t = std::isfinite(v) ? (v - v_min) / (v_max - v_min) : 1.0;
          Rgb ink = t < 0.6 ? kWhite : kBlack;   // viridis is dark below ~0.6
          c.text(left + col * cell + cell / 2, top + r * cell + (cell - font::kCellH * as) / 2 + as / 2,
                 short_number(v), ink, as, 1);
        }
  }

  for (int r = 0; r < rows; r += y_every)
    c.text(left - 4 * s, top + r * cell + (cell - ch) / 2 + s / 2, label_of(options.y_labels, r), kBlack, s, 2);
  for (int col = 0; col < cols; col += x_every) {
    std::string label = label_of(options.x_labels, col);
    int cx = left + col * cell + cell / 2;
    if (x_horizontal) {
      c.text(cx, top + map_h + 4 * s, label, kBlack, s, 1);
    } else {   // read bottom to top, ending just under the map
      int len = Canvas::text_width(label, s);
      c.text_vertical(cx - ch / 2 + s / 2, top + map_h + 4 * s + len / 2, label, kBlack, s);
    }
  }
  if (!options.xlabel.empty())
    c.text(left + map_w / 2, top + map_h + 4 * s + x_labels_h + pad, options.xlabel, kBlack, s, 1);
  if (!options.ylabel.empty()) c.text_vertical(pad, top + map_h / 2, options.ylabel, kBlack, s);
  if (!options.title.empty()) c.text(width / 2, pad, options.title, kBlack, title_s, 1);
  if (options.colorbar) draw_colorbar(c, left + map_w + 12 * s, top, cb_w, map_h, v_min, v_max, s);
  return c;
}

void heatmap(const std::string& path, const std::vector<float>& values, int rows, int cols,
             const HeatmapOptions& options) {
  draw_heatmap(values, rows, cols, options).save_png(path);
}

// ---- image overlays ----------------------------------------------------------------------------

Canvas draw_image_overlay(const std::vector<float>& image, int rows, int cols, const std::vector<float>& overlay,
                          int rows_o, int cols_o, double alpha, const std::string& title, int scale) {
  ATTO_CHECK(rows > 0 && cols > 0 && image.size() == size_t(rows) * size_t(cols),
             "[plot::image_overlay] image.size() is {} but rows * cols = {} * {}", image.size(), rows, cols);
  ATTO_CHECK(rows_o > 0 && cols_o > 0 && overlay.size() == size_t(rows_o) * size_t(cols_o),
             "[plot::image_overlay] overlay.size() is {} but rows_o * cols_o = {} * {}", overlay.size(), rows_o,
             cols_o);
  ATTO_CHECK(scale >= 1, "[plot::image_overlay] scale must be >= 1, got {}", scale);
  alpha = std::clamp(alpha, 0.0, 1.0);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (float v : overlay)
    if (std::isfinite(v)) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
  if (!(hi > lo)) lo = 0, hi = std::isfinite(hi) && hi > 0 ? hi : 1;

  // The overlay sampled bilinearly at a point of the image given in overlay-cell units.
  auto overlay_at = [&](double oy, double ox) {
    oy = std::clamp(oy, 0.0, rows_o - 1.0);
    ox = std::clamp(ox, 0.0, cols_o - 1.0);
    int y0 = int(oy), x0 = int(ox), y1 = std::min(y0 + 1, rows_o - 1), x1 = std::min(x0 + 1, cols_o - 1);
    double fy = oy - y0, fx = ox - x0;
    auto at = [&](int y, int x) {
      double v = overlay[size_t(y) * cols_o + x];
      return std::isfinite(v) ? v : lo;
    };
    return (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
  };

  int img_w = cols * scale, img_h = rows * scale;
  int ts = img_w >= 200 ? 2 : 1, pad = 4 * ts;
  int title_h = title.empty() ? 0 : font::kCellH * ts + pad;
  size_t fits = size_t(std::max(1, (img_w + 2 * pad) / (font::kCellW * ts)));
  Canvas c(img_w + 2 * pad, img_h + title_h + 2 * pad);
  for (int y = 0; y < img_h; ++y)
    for (int x = 0; x < img_w; ++x) {
      double gray = std::clamp(double(image[size_t(y / scale) * cols + x / scale]), 0.0, 1.0);
      uint8_t g = uint8_t(std::lround(gray * 255));
      double oy = (y + 0.5) / img_h * rows_o - 0.5, ox = (x + 0.5) / img_w * cols_o - 0.5;
      Rgb heat = viridis((overlay_at(oy, ox) - lo) / (hi - lo));
      c.set(pad + x, title_h + pad + y, mix({g, g, g}, heat, alpha));
    }
  if (!title.empty()) c.text(c.width() / 2, pad, truncate(title, fits), kBlack, ts, 1);
  return c;
}

// ---- contour plots -----------------------------------------------------------------------------

Canvas draw_contour(const std::function<double(double, double)>& f, const std::vector<Series>& trajectories,
                    const ContourOptions& options) {
  check_series(trajectories, "contour");
  ATTO_CHECK(options.x_max > options.x_min && options.y_max > options.y_min,
             "[plot::contour] the box [{}, {}] x [{}, {}] is empty", options.x_min, options.x_max, options.y_min,
             options.y_max);
  ATTO_CHECK(options.levels >= 2, "[plot::contour] levels must be >= 2, got {}", options.levels);
  Axis xaxis{options.x_min, options.x_max}, yaxis{options.y_min, options.y_max};
  Canvas c(options.width, options.height);
  Frame fr = layout_frame(options.width, options.height, xaxis, yaxis, options.title, options.xlabel, options.ylabel);

  // f on every pixel of the plot area, then the band each pixel's (log-shifted) value falls in.
  std::vector<double> value(size_t(fr.w) * fr.h);
  double f_min = std::numeric_limits<double>::infinity();
  for (int py = 0; py < fr.h; ++py)
    for (int px = 0; px < fr.w; ++px) {
      double x = options.x_min + (px + 0.5) / fr.w * (options.x_max - options.x_min);
      double y = options.y_max - (py + 0.5) / fr.h * (options.y_max - options.y_min);
      double v = f(x, y);
      value[size_t(py) * fr.w + px] = v;
      if (std::isfinite(v)) f_min = std::min(f_min, v);
    }
  double g_lo = std::numeric_limits<double>::infinity(), g_hi = -g_lo;
  for (double& v : value) {
    if (!std::isfinite(v)) continue;
    if (options.log_levels) v = std::log(v - f_min + 1);
    g_lo = std::min(g_lo, v), g_hi = std::max(g_hi, v);
  }
  if (!(g_hi > g_lo)) g_hi = g_lo + 1;
  std::vector<int> band(value.size(), -1);
  for (size_t i = 0; i < value.size(); ++i)
    if (std::isfinite(value[i]))
      band[i] = std::min(options.levels - 1, int((value[i] - g_lo) / (g_hi - g_lo) * options.levels));
  for (int py = 0; py < fr.h; ++py)
    for (int px = 0; px < fr.w; ++px) {
      size_t i = size_t(py) * fr.w + px;
      Rgb color = band[i] < 0 ? kMissing : viridis(double(band[i]) / (options.levels - 1));
      bool edge = (px + 1 < fr.w && band[i + 1] != band[i]) || (py + 1 < fr.h && band[i + fr.w] != band[i]);
      if (edge) color = mix(color, kBlack, 0.35);   // the level lines themselves
      c.set(fr.x + px, fr.y + py, color);
    }

  std::vector<std::pair<double, double>> points_px;
  std::vector<LegendEntry> legend;
  int s = fr.font;
  for (size_t i = 0; i < trajectories.size(); ++i) {
    const Series& t = trajectories[i];
    Rgb color = is_default_color(t.color) ? series_color(int(i)) : t.color;
    Series plain = t;
    plain.markers = false;
    draw_series(c, fr, plain, kWhite, s + 3, nullptr);   // a white halo keeps the line visible on any band
    draw_series(c, fr, t, color, s + 1, &points_px);
    std::vector<size_t> usable;
    for (size_t k = 0; k < t.x.size(); ++k)
      if (std::isfinite(t.x[k]) && std::isfinite(t.y[k])) usable.push_back(k);
    if (!usable.empty()) {
      double sx = fr.xaxis.to_pixel(t.x[usable.front()]), sy = fr.yaxis.to_pixel(t.y[usable.front()]);
      double ex = fr.xaxis.to_pixel(t.x[usable.back()]), ey = fr.yaxis.to_pixel(t.y[usable.back()]);
      draw_start_marker(c, sx, sy, s, color);
      draw_end_marker(c, ex, ey, s, color);
    }
    if (!t.label.empty()) legend.push_back({t.label, color, false});
  }
  draw_axes(c, fr, options.title, options.xlabel, options.ylabel);
  draw_legend(c, fr, legend, points_px, /*start_end_key=*/true);
  return c;
}

void contour(const std::string& path, const std::function<double(double, double)>& f,
             const std::vector<Series>& trajectories, const ContourOptions& options) {
  draw_contour(f, trajectories, options).save_png(path);
}

// ---- grids -------------------------------------------------------------------------------------

Canvas grid(const std::vector<Canvas>& panels, int columns, const std::string& title) {
  ATTO_CHECK(!panels.empty(), "[plot::grid] no panels to lay out");
  ATTO_CHECK(columns >= 1, "[plot::grid] columns must be >= 1, got {}", columns);
  int n = int(panels.size()), rows = (n + columns - 1) / columns;
  columns = std::min(columns, n);
  std::vector<int> col_w(size_t(columns), 0), row_h(size_t(rows), 0);
  for (int i = 0; i < n; ++i) {
    col_w[size_t(i % columns)] = std::max(col_w[size_t(i % columns)], panels[size_t(i)].width());
    row_h[size_t(i / columns)] = std::max(row_h[size_t(i / columns)], panels[size_t(i)].height());
  }
  int gap = 12, width = gap, height = gap;
  for (int w : col_w) width += w + gap;
  for (int h : row_h) height += h + gap;
  int ts = width >= 600 ? 3 : 2;
  while (ts > 1 && Canvas::text_width(title, ts) > width - 2 * gap) --ts;
  int title_h = title.empty() ? 0 : font::kCellH * ts + gap;
  Canvas c(std::max(width, Canvas::text_width(title, ts) + 2 * gap), height + title_h);
  if (!title.empty()) c.text(c.width() / 2, gap, title, kBlack, ts, 1);
  int y = gap + title_h;
  for (int r = 0; r < rows; ++r) {
    int x = gap;
    for (int col = 0; col < columns; ++col) {
      int i = r * columns + col;
      if (i < n) {
        const Canvas& p = panels[size_t(i)];
        c.blit(p, x + (col_w[size_t(col)] - p.width()) / 2, y + (row_h[size_t(r)] - p.height()) / 2);
      }
      x += col_w[size_t(col)] + gap;
    }
    y += row_h[size_t(r)] + gap;
  }
  return c;
}

void save_grid(const std::string& path, const std::vector<Canvas>& panels, int columns, const std::string& title) {
  grid(panels, columns, title).save_png(path);
}

}  // namespace atto::plot
