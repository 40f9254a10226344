// autograd/functions/view.cpp -- differentiable views and copies: reshape/view, squeeze/unsqueeze,
// flatten, transpose/permute, expand, narrow/slice/select, contiguous/clone, to(dtype/device).
// A view's forward only computes new (shape, strides, offset) over the same storage; its backward
// maps the gradient back to the base's shape.
#include <cstring>
#include <memory>
#include <numeric>

#include "autograd/function.h"
#include "autograd/functions/broadcast.h"
#include "tensor/cpu/kernels.h"
#include "tensor/dispatch.h"

namespace atto {

namespace {

// Resolves one -1 in `shape` so that it holds `numel` elements.
Shape infer_shape(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (int d = 0; d < out.size(); ++d) {
    if (out[d] == -1) {
      ATTO_CHECK(infer < 0, "[{}] only one dimension can be -1, got {}", op, shape);
      infer = d;
    } else {
      ATTO_CHECK(out[d] >= 0, "[{}] invalid size {} in shape {}", op, out[d], shape);
      known *= out[d];
    }
  }
  if (infer >= 0) {
    ATTO_CHECK(known != 0 && numel % known == 0, "[{}] shape {} is invalid for a tensor of shape {} ({} elements)",
               op, shape, from, numel);
    out[infer] = numel / known;
  }
  ATTO_CHECK(out.numel() == numel, "[{}] shape {} is invalid for a tensor of shape {} ({} elements)", op, shape,
             from, numel);
  return out;
}

// Strides that let `t` be seen with `shape` without copying, if there are any: each run of old
// dims that is contiguous in memory can be re-split freely (PyTorch's computeStride idea).
std::optional<Strides> view_strides(const Tensor& t, const Shape& shape) {
  if (t.numel() == 0 || t.is_contiguous()) return contiguous_strides(shape);
  Strides out = Shape::filled(shape.size(), 1);
  const Shape& os = t.shape();
  const Strides& ost = t.strides();
  int nd = shape.size() - 1;
  int64_t chunk_numel = 1;
  int64_t chunk_base_stride = ost.size() ? ost[ost.size() - 1] : 1;
  int64_t tensor_numel = 1, view_numel = 1;
  for (int d = os.size() - 1; d >= 0; --d) {
    tensor_numel *= os[d];
    // A run ends at d when d is the first dim or dims d-1 and d are not contiguous with each other.
    if (d == 0 || (os[d - 1] != 1 && ost[d - 1] != tensor_numel * chunk_base_stride)) {
      while (nd >= 0 && (view_numel < tensor_numel || shape[nd] == 1)) {
        out[nd] = view_numel * chunk_base_stride;
        view_numel *= shape[nd];
        --nd;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = ost[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  (void)chunk_numel;
  if (nd != -1) return std::nullopt;
  return out;
}

struct View {
  static constexpr const char* name = "ViewBackward";
  struct Saved { Shape in_shape; };
  static Tensor forward(Saved& s, const Tensor& x, const Shape& shape, const char* op) {
    s.in_shape = x.shape();
    auto st = view_strides(x, shape);
    ATTO_CHECK(st.has_value(), "[{}] a tensor of shape {} and strides {} cannot be viewed as {} without a copy; "
               "use reshape()", op, x.shape(), x.strides(), shape);
    return make_view(x, shape, *st, x.storage_offset());
  }
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) { return {dy.reshape(s.in_shape)}; }
};

struct Permute {
  static constexpr const char* name = "PermuteBackward";
  struct Saved { std::vector<int64_t> dims; };
  static Tensor forward(Saved& s, const Tensor& x, const std::vector<int64_t>& dims) {
    ATTO_CHECK(int(dims.size()) == x.ndim(), "[permute] got {} dims {} for a tensor of shape {}", dims.size(), dims,
               x.shape());
    Shape shape = x.shape();
    Strides st = x.strides();
    std::vector<bool> used(x.ndim(), false);
    s.dims.resize(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) {
      int d = normalize_dim(dims[i], x.ndim(), "permute");
      ATTO_CHECK(!used[d], "[permute] dim {} repeats in {}", d, dims);
      used[d] = true;
      shape[i] = x.shape()[d];
      st[i] = x.strides()[d];
      s.dims[i] = d;
    }
    return make_view(x, shape, st, x.storage_offset());
  }
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) {
    std::vector<int64_t> inverse(s.dims.size());
    for (size_t i = 0; i < s.dims.size(); ++i) inverse[s.dims[i]] = int64_t(i);
    return {dy.permute(inverse)};
  }
};

struct Expand {
  static constexpr const char* name = "ExpandBackward";
  struct Saved { Shape in_shape; };
  static Tensor forward(Saved& s, const Tensor& x, const Shape& shape_in) {
    ATTO_CHECK(shape_in.size() >= x.ndim(), "[expand] cannot expand shape {} to fewer dims {}", x.shape(), shape_in);
    Shape shape = shape_in;
    int lead = shape.size() - x.ndim();
    for (int d = 0; d < shape.size(); ++d) {
      if (shape[d] == -1) {
        ATTO_CHECK(d >= lead, "[expand] -1 is not allowed for the new leading dim {} in {}", d, shape_in);
        shape[d] = x.shape()[d - lead];
      }
      ATTO_CHECK(shape[d] >= 0, "[expand] invalid size {} at dim {} in {}", shape[d], d, shape_in);
      ATTO_CHECK(d < lead || x.shape()[d - lead] == 1 || x.shape()[d - lead] == shape[d],
                 "[expand] cannot expand shape {} to {}: size {} at dim {} is not 1", x.shape(), shape_in,
                 d < lead ? 0 : x.shape()[d - lead], d);
    }
    s.in_shape = x.shape();
    return broadcast_view(x, shape);
  }
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) { return {sum_to(dy, s.in_shape)}; }
};

// x[..., start:end:step, ...] along one dim.
struct Slice {
  static constexpr const char* name = "SliceBackward";
  struct Saved { Shape in_shape; int dim; int64_t start, step; };
  static Tensor forward(Saved& s, const Tensor& x, int dim, int64_t start, int64_t end, int64_t step) {
    Shape shape = x.shape();
    Strides st = x.strides();
    int64_t len = end > start ? (end - start + step - 1) / step : 0;
    shape[dim] = len;
    st[dim] = x.strides()[dim] * step;
    s = {x.shape(), dim, start, step};
    return make_view(x, shape, st, x.storage_offset() + start * x.strides()[dim]);
  }
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) {
    Tensor dx = zeros(s.in_shape, {.dtype = dy.dtype(), .device = dy.device()});
    dx.slice(s.dim, s.start, s.start + dy.shape()[s.dim] * s.step, s.step).copy_(dy);
    return {dx};
  }
};

struct Clone {
  static constexpr const char* name = "CloneBackward";
  struct Saved {};
  static Tensor forward(Saved&, const Tensor& x) {
    Tensor y = empty_like(x);
    ATTO_ON_DEVICE(x.device(), copy, y.view(), y.dtype(), x.view(), x.dtype());
    return y;
  }
  static std::array<Tensor, 1> backward(Saved&, const Tensor& dy) { return {dy}; }
};

struct ToDType {
  static constexpr const char* name = "ToCopyBackward";
  struct Saved { DType in_dtype; };
  static Tensor forward(Saved& s, const Tensor& x, DType dtype) {
    s.in_dtype = x.dtype();
    Tensor y = empty(x.shape(), {.dtype = dtype, .device = x.device()});
    ATTO_ON_DEVICE(x.device(), copy, y.view(), dtype, x.view(), x.dtype());
    return y;
  }
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) {
    return {is_floating(s.in_dtype) ? dy.to(s.in_dtype) : Tensor()};
  }
};

// Copies between devices. A cross-device copy always moves a contiguous block of bytes, so the source
// is made contiguous on its own device first. Between two GPUs the bytes go through the host: peer
// access is not set up, and a single-GPU machine never takes that path.
struct ToDevice {
  static constexpr const char* name = "ToCopyBackward";
  struct Saved { Device in_device; };
  static Tensor forward(Saved& s, const Tensor& x, Device device, bool non_blocking);
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) { return {dy.to(s.in_device)}; }
};

Tensor ToDevice::forward(Saved& s, const Tensor& x, Device device, bool non_blocking) {
  s.in_device = x.device();
#if ATTO_HAS_CUDA
  Tensor xc = x.contiguous();
  const size_t nbytes = size_t(x.numel()) * x.element_size();
  const bool to_host = device.is_cpu();
  // A non-blocking download lands in pinned memory, or the copy could not overlap anyway.
  const bool pinned_out = to_host && non_blocking;
  auto storage = std::make_shared<Storage>(nbytes, device, pinned_out);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage;
  impl->shape = x.shape();
  impl->strides = contiguous_strides(x.shape());
  impl->dtype = x.dtype();
  Tensor y(impl);
  if (nbytes == 0) return y;
  if (x.device().is_cuda() && device.is_cuda() && x.device().index != device.index) {
    return ToDevice::forward(s, ToDevice::forward(s, xc, kCPU, false), device, false);
  }
  auto kind = x.device().is_cpu() ? cuda::CopyKind::HostToDevice
              : to_host           ? cuda::CopyKind::DeviceToHost
                                  : cuda::CopyKind::DeviceToDevice;
  const bool host_pinned = x.device().is_cpu() ? xc.is_pinned() : pinned_out;
  cuda::memcpy(y.raw_data(), xc.raw_data(), nbytes, kind, device.is_cuda() ? device.index : x.device().index,
               non_blocking && host_pinned);
  s.in_device = x.device();
  return y;
#else
  (void)non_blocking;
  (void)x;
  detail::throw_no_cuda(fmt::format("to({})", device).c_str());
#endif
}

}  // namespace

// ---- the Tensor methods ---------------------------------------------------------------------------

Tensor Tensor::view(const Shape& shape) const {
  return apply<View>(*this, infer_shape(shape, numel(), "view", this->shape()), "view");
}

Tensor Tensor::reshape(const Shape& shape_in) const {
  Shape shape = infer_shape(shape_in, numel(), "reshape", this->shape());
  if (shape == this->shape()) return apply<View>(*this, shape, "reshape");
  if (view_strides(*this, shape)) return apply<View>(*this, shape, "reshape");
  return apply<View>(contiguous(), shape, "reshape");
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (ndim() == 0) {
    normalize_dim(start_dim, 0, "flatten");
    normalize_dim(end_dim, 0, "flatten");
    return reshape({1});
  }
  int s = normalize_dim(start_dim, ndim(), "flatten"), e = normalize_dim(end_dim, ndim(), "flatten");
  ATTO_CHECK(s <= e, "[flatten] start_dim {} comes after end_dim {} (shape {})", start_dim, end_dim, shape());
  Shape out;
  for (int d = 0; d < s; ++d) out.push_back(shape()[d]);
  int64_t merged = 1;
  for (int d = s; d <= e; ++d) merged *= shape()[d];
  out.push_back(merged);
  for (int d = e + 1; d < ndim(); ++d) out.push_back(shape()[d]);
  return reshape(out);
}

Tensor Tensor::squeeze() const {
  Shape out;
  for (int64_t s : shape())
    if (s != 1) out.push_back(s);
  return reshape(out);
}

Tensor Tensor::squeeze(int64_t dim) const {
  int d = normalize_dim(dim, ndim(), "squeeze");   // a 0-d tensor accepts dim 0 / -1
  if (ndim() == 0) return reshape({});
  if (shape()[d] != 1) return reshape(shape());
  Shape out = shape();
  out.erase(d);
  return reshape(out);
}

Tensor Tensor::unsqueeze(int64_t dim) const {
  int d = normalize_dim(dim, ndim() + 1, "unsqueeze");
  Shape out = shape();
  out.insert(d, 1);
  return reshape(out);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const { return apply<Permute>(*this, dims); }

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  if (ndim() == 0) {   // only dims 0 / -1 exist, and they are the same
    normalize_dim(dim0, 0, "transpose");
    normalize_dim(dim1, 0, "transpose");
    return reshape({});
  }
  std::vector<int64_t> dims(ndim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[normalize_dim(dim0, ndim(), "transpose")], dims[normalize_dim(dim1, ndim(), "transpose")]);
  return permute(dims);
}

Tensor Tensor::t() const {
  ATTO_CHECK(ndim() <= 2, "[t] expects a tensor with at most 2 dims, got shape {}; use transpose(dim0, dim1)",
             shape());
  return ndim() < 2 ? reshape(shape()) : transpose(0, 1);
}

Tensor Tensor::expand(const Shape& shape) const { return apply<Expand>(*this, shape); }

Tensor Tensor::slice(int64_t dim, std::optional<int64_t> start_in, std::optional<int64_t> end_in, int64_t step) const {
  ATTO_CHECK(ndim() > 0, "[slice] cannot be applied to a 0-d tensor");
  int d = normalize_dim(dim, ndim(), "slice");
  ATTO_CHECK(step > 0, "[slice] step must be positive, got {}", step);
  int64_t n = shape()[d];
  auto clampi = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };   // Python's rules
  int64_t start = clampi(start_in.value_or(0)), end = clampi(end_in.value_or(n));
  return apply<Slice>(*this, d, start, std::max(start, end), step);
}

Tensor Tensor::narrow(int64_t dim, int64_t start, int64_t length) const {
  ATTO_CHECK(ndim() > 0, "[narrow] cannot be applied to a 0-d tensor");
  int d = normalize_dim(dim, ndim(), "narrow");
  int64_t n = shape()[d];
  if (start < 0) start += n;
  ATTO_CHECK(start >= 0 && length >= 0 && start + length <= n,
             "[narrow] start {} + length {} exceeds size {} of dim {} (shape {})", start, length, n, d, shape());
  return apply<Slice>(*this, d, start, start + length, int64_t(1));
}

Tensor Tensor::select(int64_t dim, int64_t index) const {
  ATTO_CHECK(ndim() > 0, "[select] cannot be applied to a 0-d tensor");
  int d = normalize_dim(dim, ndim(), "select");
  int64_t n = shape()[d];
  ATTO_CHECK(index >= -n && index < n, "[select] index {} is out of range for dim {} of size {} (shape {})", index, d,
             n, shape());
  if (index < 0) index += n;
  return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }
Tensor Tensor::clone() const { return apply<Clone>(*this); }
Tensor Tensor::to(DType dtype) const { return dtype == this->dtype() ? *this : apply<ToDType>(*this, dtype); }
Tensor Tensor::to(Device device, bool non_blocking) const {
  return device == this->device() ? *this : apply<ToDevice>(*this, device, non_blocking);
}

Tensor Tensor::pin_memory() const {
  ATTO_CHECK(device().is_cpu(), "[pin_memory] only cpu tensors can be pinned, this one is on {}", device());
  if (is_pinned()) return *this;
  Tensor c = contiguous();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(numel()) * element_size(), kCPU, /*pinned=*/true);
  impl->shape = shape();
  impl->strides = contiguous_strides(shape());
  impl->dtype = dtype();
  Tensor y(impl);
  if (numel() > 0) std::memcpy(y.raw_data(), c.raw_data(), size_t(numel()) * element_size());
  return y;
}

// ---- broadcasting -------------------------------------------------------------------------------------

Tensor broadcast_view(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  Strides st = Shape::filled(shape.size(), 0);
  int lead = shape.size() - t.ndim();
  ATTO_ASSERT(lead >= 0, "broadcast_view of {} to {}", t.shape(), shape);
  for (int d = 0; d < t.ndim(); ++d) st[lead + d] = t.shape()[d] == 1 ? 0 : t.strides()[d];
  return make_view(t, shape, st, t.storage_offset());
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);   // reduce.cpp

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  int lead = grad.ndim() - shape.size();
  ATTO_ASSERT(lead >= 0, "sum_to: gradient {} has fewer dims than {}", grad.shape(), shape);
  std::vector<int64_t> dims;
  for (int d = 0; d < grad.ndim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && grad.shape()[d] != 1)) dims.push_back(d);
  Tensor r = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return r.reshape(shape);
}

}  // namespace atto
