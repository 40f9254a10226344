// tensor/tensor.cpp -- the non-differentiable half of the Tensor handle: metadata, element access,
// views' plumbing, creation, and the raw in-place writes fill_ and copy_.
#include "tensor/tensor.h"

#include <cmath>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tensor/cpu/kernels.h"
#include "tensor/dispatch.h"

namespace atto {

TensorImpl::~TensorImpl() = default;

int64_t Tensor::size(int64_t dim) const { return shape()[normalize_dim(dim, ndim(), "size")]; }
int64_t Tensor::stride(int64_t dim) const { return strides()[normalize_dim(dim, ndim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int d = ndim() - 1; d >= 0; --d) {
    if (shape()[d] != 1 && strides()[d] != expected) return false;
    expected *= shape()[d];
  }
  return true;
}

StridedView Tensor::view() const {
  StridedView v;
  v.data = raw_data();
  v.ndim = ndim();
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = shape()[d];
    v.strides[d] = strides()[d];
  }
  return v;
}

Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->offset = offset;
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  ATTO_CHECK(a.device() == b.device(), "[{}] expected all tensors on one device, got {} and {}", op, a.device(),
             b.device());
}

// ---- element access ----------------------------------------------------------------------------

double Tensor::item_double() const {
  ATTO_CHECK(numel() == 1, "[item] needs a tensor with one element, got shape {}", shape());
  Tensor c = device().is_cpu() ? *this : to(kCPU);
  return visit_dtype(dtype(), "item", [&](auto tag) { return double(*c.data_ptr<decltype(tag)>()); });
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  ATTO_CHECK(int(index.size()) == ndim(), "[at] got {} indices for a tensor of shape {}", index.size(), shape());
  int64_t off = 0;
  int d = 0;
  for (int64_t i : index) {
    int64_t n = shape()[d];
    ATTO_CHECK(i >= -n && i < n, "[at] index {} is out of range for dim {} of size {} (shape {})", i, d, n, shape());
    off += (i < 0 ? i + n : i) * strides()[d];
    ++d;
  }
  Tensor base = device().is_cpu() ? *this : make_view(*this, {1}, {1}, storage_offset() + off).to(kCPU);
  if (!device().is_cpu()) return base.item_double();
  return visit_dtype(dtype(), "at", [&](auto tag) { return double(data_ptr<decltype(tag)>()[off]); });
}

template <class T> std::vector<T> Tensor::to_vector() const {
  Tensor c = (device().is_cpu() ? *this : to(kCPU));
  if (c.dtype() != dtype_of<T>()) {
    NoGradGuard g;
    c = c.to(dtype_of<T>());
  }
  c = c.contiguous();
  const T* p = c.data_ptr<T>();
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;

void Tensor::set_data(const Tensor& src) const {
  ATTO_CHECK(src.defined(), "[set_data] source tensor is undefined");
  impl_->storage = src.storage();
  impl_->offset = src.storage_offset();
  impl_->shape = src.shape();
  impl_->strides = src.strides();
  impl_->dtype = src.dtype();
}

// ---- raw in-place writes -------------------------------------------------------------------------

// NOTE [ In-place ops and autograd ]
// Writing into a tensor that requires grad while the graph is being recorded would silently change
// values that backward formulas saved. attograd has no version counters (PyTorch's answer); it
// rejects such writes instead. Under NoGradGuard -- optimizer steps, initialisers -- they are fine.
// Writing into a saved tensor under NoGradGuard between forward and backward is the caller's
// responsibility.
void check_inplace(const Tensor& t, const char* op) {
  ATTO_CHECK(!(GradMode::is_enabled() && t.requires_grad()),
             "[{}] in-place write into a tensor of shape {} that requires grad while grad mode is on; "
             "wrap it in atto::NoGradGuard (optimizer-style update) or use the out-of-place op",
             op, t.shape());
}

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  ATTO_ON_DEVICE(device(), fill, view(), dtype(), value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  check_same_device(*this, src, "copy_");
  broadcast_shapes(shape(), src.shape(), "copy_");   // checks
  Shape s = src.shape();
  ATTO_CHECK(broadcast_shapes(shape(), s, "copy_") == shape(), "[copy_] cannot copy a tensor of shape {} into {}",
             s, shape());
  // Expand src to our shape without autograd (stride 0 along broadcast dims).
  Strides st = Shape::filled(ndim(), 0);
  for (int d = 0; d < src.ndim(); ++d) {
    int od = ndim() - src.ndim() + d;
    st[od] = src.shape()[d] == 1 ? 0 : src.strides()[d];
  }
  Tensor src_view = make_view(src, shape(), st, src.storage_offset());
  ATTO_ON_DEVICE(device(), copy, view(), dtype(), src_view.view(), src.dtype());
  return *this;
}

// ---- creation ----------------------------------------------------------------------------------------

Tensor empty(const Shape& shape, TensorOptions options) {
  for (int64_t s : shape) ATTO_CHECK(s >= 0, "[empty] negative size in shape {}", shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(shape.numel()) * dtype_size(options.dtype), options.device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = options.dtype;
  Tensor t(std::move(impl));
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
  bool rg = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  t.fill_(value);
  if (rg) t.requires_grad_(true);
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor scalar_tensor(double value, TensorOptions options) { return full(Shape{}, value, options); }

Tensor empty_like(const Tensor& t) { return empty(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor empty_with_layout(const Shape& shape, const Strides& like_strides, TensorOptions options) {
  // Dense if, innermost first, each dim that matters (size > 1) has the product of the sizes inside
  // it as its stride.
  const std::vector<int64_t> order = memory_order(like_strides, shape.size());
  int64_t expected = 1;
  for (auto d = order.rbegin(); d != order.rend(); ++d) {
    if (shape[*d] == 1) continue;
    if (like_strides[*d] != expected) return empty(shape, options);
    expected *= shape[*d];
  }
  Strides strides = contiguous_strides(shape);   // size-1 dims keep these; any stride would do
  for (int64_t d : order)
    if (shape[d] > 1) strides[d] = like_strides[d];
  return make_view(empty({shape.numel()}, options), shape, strides, 0);
}

Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor full_like(const Tensor& t, double value) {
  return full(t.shape(), value, {.dtype = t.dtype(), .device = t.device()});
}

template <class T> Tensor from_vector(const std::vector<T>& values, std::optional<Shape> shape, TensorOptions options) {
  Shape s = shape ? *shape : Shape{int64_t(values.size())};
  ATTO_CHECK(s.numel() == int64_t(values.size()), "[from_vector] {} values do not fill shape {} ({} elements)",
             values.size(), s, s.numel());
  bool rg = options.requires_grad;
  TensorOptions host{.dtype = dtype_of<T>()};
  Tensor t = empty(s, host);
  T* p = t.data_ptr<T>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  if (options.dtype != t.dtype()) t = t.to(options.dtype);
  if (!options.device.is_cpu()) t = t.to(options.device);
  if (rg) t.requires_grad_(true);
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, std::optional<Shape>, TensorOptions);
template Tensor from_vector<double>(const std::vector<double>&, std::optional<Shape>, TensorOptions);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, std::optional<Shape>, TensorOptions);
template Tensor from_vector<bool>(const std::vector<bool>&, std::optional<Shape>, TensorOptions);

Tensor tensor(std::initializer_list<double> values, TensorOptions options) {
  return from_vector<double>(std::vector<double>(values), std::nullopt, options);
}

Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, TensorOptions options) {
  std::vector<double> flat;
  int64_t cols = rows.size() ? int64_t(rows.begin()->size()) : 0;
  for (auto& r : rows) {
    ATTO_CHECK(int64_t(r.size()) == cols, "[tensor] ragged rows: {} vs {} values", r.size(), cols);
    flat.insert(flat.end(), r.begin(), r.end());
  }
  return from_vector<double>(flat, Shape{int64_t(rows.size()), cols}, options);
}

}  // namespace atto
