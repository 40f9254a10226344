// tensor/print.cpp -- see tensor/print.h. A port of torch/_tensor_str.py (default print options);
// the comments name the Python functions each part follows.
#include "tensor/print.h"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace atto {

namespace {

constexpr int kPrecision = 4;
constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr int kLineWidth = 80;

// The elements of a CPU, contiguous copy, as the strings Python's '{}'.format would give before
// padding (ints, True/False) or as doubles (floats).
struct Values {
  DType dtype;
  std::vector<double> f;
  std::vector<int64_t> i;
  bool floating() const { return is_floating(dtype); }
};

// Python's float formatting: nan prints as "nan" whatever its sign bit.
std::string py_float(double v, const char* spec) {
  if (std::isnan(v)) return "nan";
  return fmt::format(fmt::runtime(spec), v);
}

std::string py_scalar(const Values& v, int64_t k) {
  if (v.dtype == kBool) return v.i[k] ? "True" : "False";
  return fmt::format("{}", v.i[k]);
}

// The indices printed along a dim of size n: all of them, or (summarising) the first and last
// kEdgeItems with -1 marking the "..." between.
std::vector<int64_t> shown_indices(int64_t n, bool summarize) {
  std::vector<int64_t> idx;
  if (summarize && n > 2 * kEdgeItems) {
    for (int64_t k = 0; k < kEdgeItems; ++k) idx.push_back(k);
    idx.push_back(-1);
    for (int64_t k = n - kEdgeItems; k < n; ++k) idx.push_back(k);
  } else {
    for (int64_t k = 0; k < n; ++k) idx.push_back(k);
  }
  return idx;
}

// _Formatter: decides the notation and the common width from the (summarised) values.
class Formatter {
 public:
  explicit Formatter(const Values& v) : floating_(v.floating()) {
    if (!floating_) {
      for (size_t k = 0; k < v.i.size(); ++k)
        max_width_ = std::max<int>(max_width_, int(py_scalar(v, int64_t(k)).size()));
      return;
    }
    std::vector<double> nz;   // nonzero finite values
    for (double x : v.f)
      if (std::isfinite(x) && x != 0.0) nz.push_back(x);
    if (nz.empty()) return;
    double mn = INFINITY, mx = 0;
    for (double x : nz) {
      mn = std::min(mn, std::abs(x));
      mx = std::max(mx, std::abs(x));
      if (x != std::ceil(x)) int_mode_ = false;
    }
    const std::string sci = fmt::format("{{:.{}e}}", kPrecision), fix = fmt::format("{{:.{}f}}", kPrecision);
    if (int_mode_) {
      if (mx / mn > 1000.0 || mx > 1e8) {
        sci_mode_ = true;
        for (double x : nz) max_width_ = std::max<int>(max_width_, int(py_float(x, sci.c_str()).size()));
      } else {
        for (double x : nz) max_width_ = std::max<int>(max_width_, int(py_float(x, "{:.0f}").size()) + 1);
      }
    } else if (mx / mn > 1000.0 || mx > 1e8 || mn < 1e-4) {
      sci_mode_ = true;
      for (double x : nz) max_width_ = std::max<int>(max_width_, int(py_float(x, sci.c_str()).size()));
    } else {
      for (double x : nz) max_width_ = std::max<int>(max_width_, int(py_float(x, fix.c_str()).size()));
    }
  }

  int width() const { return max_width_; }

  std::string format(const Values& v, int64_t k) const {
    std::string s;
    if (!floating_) {
      s = py_scalar(v, k);
    } else {
      double x = v.f[k];
      if (sci_mode_) {
        s = py_float(x, fmt::format("{{:.{}e}}", kPrecision).c_str());
      } else if (int_mode_) {
        s = py_float(x, "{:.0f}");
        if (std::isfinite(x)) s += '.';
      } else {
        s = py_float(x, fmt::format("{{:.{}f}}", kPrecision).c_str());
      }
    }
    if (int(s.size()) < max_width_) s.insert(0, size_t(max_width_ - int(s.size())), ' ');
    return s;
  }

 private:
  bool floating_;
  bool int_mode_ = true;
  bool sci_mode_ = false;
  int max_width_ = 1;
};

// Prints the gathered values: `shown[d]` lists the indices printed along dim d (-1 for "..."),
// and the values are stored densely over the shown indices only (strides `cs`).
struct Printer {
  const Values& v;
  const std::vector<std::vector<int64_t>>& shown;
  const std::vector<int64_t>& cs;
  const Formatter& fmt;

  // _vector_str
  std::string vector_str(int64_t base, int indent) const {
    const int element_length = fmt.width() + 2;
    const int per_line = std::max(1, (kLineWidth - indent) / element_length);
    std::vector<std::string> data;
    int64_t j = 0;
    for (int64_t k : shown.back()) data.push_back(k < 0 ? std::string(" ...") : fmt.format(v, base + j++));
    std::string out = "[";
    for (size_t k = 0; k < data.size(); ++k) {
      if (k > 0) out += (k % size_t(per_line) == 0) ? ",\n" + std::string(size_t(indent + 1), ' ') : ", ";
      out += data[k];
    }
    return out + "]";
  }

  // _tensor_str_with_formatter, for the sub-tensor at `base` starting at dim `d`.
  std::string str(size_t d, int64_t base, int indent) const {
    const size_t dims_left = shown.size() - d;
    if (dims_left == 1) return vector_str(base, indent);
    std::string sep = "," + std::string(dims_left - 1, '\n') + std::string(size_t(indent + 1), ' ');
    std::string out = "[";
    int64_t j = 0;
    for (size_t n = 0; n < shown[d].size(); ++n) {
      if (n > 0) out += sep;
      out += shown[d][n] < 0 ? std::string("...") : str(d + 1, base + j++ * cs[d], indent + 1);
    }
    return out + "]";
  }
};

// _add_suffixes
std::string add_suffixes(std::string s, const std::vector<std::string>& suffixes, int indent) {
  size_t nl = s.rfind('\n');
  int64_t last_line_len = int64_t(s.size()) - (nl == std::string::npos ? -1 : int64_t(nl)) + 1;
  for (const auto& suffix : suffixes) {
    int64_t len = int64_t(suffix.size());
    if (last_line_len + len + 2 > kLineWidth) {
      s += ",\n" + std::string(size_t(indent), ' ') + suffix;
      last_line_len = indent + len;
    } else {
      s += ", " + suffix;
      last_line_len += len + 2;
    }
  }
  return s + ")";
}

}  // namespace

// _str_intern
std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  const std::string prefix = "tensor(";
  const int indent = int(prefix.size());
  std::vector<std::string> suffixes;
  if (!t.device().is_cpu()) suffixes.push_back(fmt::format("device='{}'", t.device()));

  std::string body;
  if (t.numel() == 0) {
    if (t.ndim() != 1) {
      auto dims = t.shape().vec();
      suffixes.push_back(fmt::format("size=({}{})", fmt::join(dims, ", "), dims.size() == 1 ? "," : ""));
    }
    if (t.dtype() != kFloat32) suffixes.push_back(fmt::format("dtype={}", t.dtype()));
    body = "[]";
  } else {
    if (t.dtype() == kFloat64) suffixes.push_back(fmt::format("dtype={}", t.dtype()));
    NoGradGuard no_grad;
    Tensor c = t.detach().to(kCPU);
    const bool summarize = c.numel() > kThreshold;
    // Gather only what is printed (get_summarized_data), straight from c's strides: printing a
    // huge tensor costs a few thousand reads, not a copy. The formatter sees just these values.
    std::vector<std::vector<int64_t>> shown;
    std::vector<int64_t> offsets{0}, cs(size_t(c.ndim()), 1);
    for (int d = 0; d < c.ndim(); ++d) {
      shown.push_back(shown_indices(c.shape()[d], summarize));
      std::vector<int64_t> next;
      for (int64_t base : offsets)
        for (int64_t k : shown.back())
          if (k >= 0) next.push_back(base + k * c.strides()[d]);
      offsets = std::move(next);
    }
    for (size_t d = shown.size(); d-- > 1;) {
      int64_t kept = std::count_if(shown[d].begin(), shown[d].end(), [](int64_t k) { return k >= 0; });
      cs[d - 1] = cs[d] * kept;
    }
    Values v{c.dtype(), {}, {}};
    visit_dtype(c.dtype(), "print", [&](auto tag) {
      using T = decltype(tag);
      const T* p = c.data_ptr<T>();
      for (int64_t off : offsets) {
        if (v.floating()) v.f.push_back(double(p[off]));
        else v.i.push_back(int64_t(p[off]));
      }
    });
    Formatter f(v);
    if (c.ndim() == 0) body = f.format(v, 0);
    else body = Printer{v, shown, cs, f}.str(0, 0, indent);
  }
  if (t.grad_fn()) suffixes.push_back(fmt::format("grad_fn=<{}>", t.grad_fn()->name()));
  else if (t.requires_grad()) suffixes.push_back("requires_grad=True");
  return add_suffixes(prefix + body, suffixes, indent);
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "Tensor(undefined)";
  std::string s = fmt::format("Tensor(shape={}, dtype={}, device={}, strides={}, offset={}, requires_grad={}",
                              t.shape(), t.dtype(), t.device(), t.strides(), t.storage_offset(), t.requires_grad());
  if (t.grad_fn()) s += fmt::format(", grad_fn=<{}>", t.grad_fn()->name());
  return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

}  // namespace atto
