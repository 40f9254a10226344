// tensor/tensor.h -- the Tensor handle.
//
// NOTE [ Tensors are handles ]
// A Tensor is a shared pointer to a TensorImpl: {storage, offset, shape, strides, dtype, autograd}.
// Copying a Tensor copies the pointer, not the data: `Tensor b = a;` makes b the *same* tensor
// (same .grad(), same requires_grad). Use clone() for a copy of the data.
// Views -- reshape/view, transpose, permute, expand, narrow/slice/select, squeeze/unsqueeze -- are new
// TensorImpls that share the Storage: writing through a view changes the base. Strides count
// elements, not bytes; a stride of 0 repeats an element (that is how expand is free).
//
//   element (i, j) of a 2-d tensor lives at  storage[offset + i * strides[0] + j * strides[1]]
//
// Every op accepts non-contiguous inputs; kernels that want contiguous rows call contiguous().
//
// The methods below are thin: the differentiable ones forward to the free functions of
// autograd/functions/*.h (atto::sum(x) == x.sum()), and are defined next to them.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/storage.h"
#include "tensor/strided.h"

namespace atto {

class Node;
class Tensor;
struct AutogradMeta;

// A gradient hook sees the gradient flowing into a tensor; returning a defined tensor replaces it.
using GradHook = std::function<Tensor(const Tensor&)>;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;   // in elements
  Shape shape;
  Strides strides;
  DType dtype = kFloat32;
  std::unique_ptr<AutogradMeta> autograd;   // null for plain tensors that never needed grad
  ~TensorImpl();
};

// Options for creation functions: zeros({2, 3}, {.dtype = kFloat64, .requires_grad = true}).
struct TensorOptions {
  DType dtype = kFloat32;
  Device device = kCPU;
  bool requires_grad = false;
};

class Tensor {
 public:
  Tensor() = default;   // undefined: no storage; defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata -------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Strides& strides() const { return impl_->strides; }
  int ndim() const { return impl_->shape.size(); }
  int dim() const { return ndim(); }
  int64_t size(int64_t dim) const;     // negative dims count from the end
  int64_t stride(int64_t dim) const;
  int64_t numel() const { return impl_->shape.numel(); }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  int64_t storage_offset() const { return impl_->offset; }
  size_t element_size() const { return dtype_size(dtype()); }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // Pointer to element 0 of this view (storage + offset), typed. Checks the dtype.
  template <class T> T* data_ptr() const {
    ATTO_CHECK(dtype_of<T>() == dtype(), "[data_ptr] tensor is {}, asked for {}", dtype(), dtype_of<T>());
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data()) + impl_->offset * int64_t(element_size());
  }
  StridedView view() const;   // what kernels see

  // ---- element access (for tests and printing; CPU copies are made for CUDA tensors) ----------
  double item_double() const;                             // the one element of a 1-element tensor
  template <class T = float> T item() const { return static_cast<T>(item_double()); }
  double at(std::initializer_list<int64_t> index) const;  // any dtype, as double
  template <class T> std::vector<T> to_vector() const;    // all elements in C order

  // ---- views (share storage; differentiable) --------------------------------------------------
  Tensor reshape(const Shape& shape) const;   // one size may be -1; copies only when it must
  Tensor view(const Shape& shape) const;      // like reshape, but never copies (errors instead)
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;                            // transpose of a 2-d tensor
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor expand(const Shape& shape) const;     // -1 keeps a size; new leading dims allowed
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, std::optional<int64_t> start = {}, std::optional<int64_t> end = {},
               int64_t step = 1) const;        // Python's x[start:end:step] along dim
  Tensor select(int64_t dim, int64_t index) const;   // removes dim; negative index from the end
  Tensor operator[](int64_t index) const { return select(0, index); }

  // ---- copies and conversions (differentiable) -------------------------------------------------
  Tensor contiguous() const;   // itself when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;
  // To another device. Blocking, unless non_blocking and this is a pinned CPU tensor going to CUDA
  // (or a CUDA tensor going to the CPU, which then lands in pinned memory): the copy then overlaps
  // with the host, and cuda_synchronize() waits for it.
  Tensor to(Device device, bool non_blocking = false) const;
  Tensor cpu() const { return to(kCPU); }
  Tensor cuda(int index = 0) const { return to(Device{DeviceKind::CUDA, index}); }
  // A copy in page-locked host memory (itself when already pinned); CUDA builds only.
  Tensor pin_memory() const;
  bool is_pinned() const { return impl_->storage->pinned(); }

  // ---- in-place writes (rejected on a tensor that requires grad while grad mode is on) --------
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);   // broadcasts src and converts its dtype
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& add_(double value);
  Tensor& sub_(const Tensor& other, double alpha = 1.0) { return add_(other, -alpha); }
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double value);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double value) { return mul_(1.0 / value); }
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);
  Tensor& masked_fill_(const Tensor& mask, double value);

  // ---- common math as methods (forward to the free functions) ---------------------------------
  Tensor sum() const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor pow(double exponent) const;
  Tensor matmul(const Tensor& other) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;

  // ---- autograd --------------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);   // only on leaves
  Tensor grad() const;                            // undefined until a backward reaches this leaf
  void set_grad(const Tensor& grad) const;        // replace (or clear, with an undefined tensor)
  const std::shared_ptr<Node>& grad_fn() const;   // null for leaves
  bool is_leaf() const;
  // Backpropagates from this tensor. `gradient` may be omitted for a one-element tensor.
  void backward(const Tensor& gradient = {}, bool retain_graph = false) const;
  Tensor detach() const;                          // same storage, cut from the graph
  // Points this tensor (every handle to it) at src's storage, shape, strides and dtype, keeping its
  // autograd identity (requires_grad, hooks): how Module::to(dtype/device) converts parameters in place,
  // so optimizers holding them see the change. Like PyTorch's `param.data = src`.
  void set_data(const Tensor& src) const;
  void retain_grad() const;                       // keep .grad() on a non-leaf after backward
  bool retains_grad() const;
  void register_hook(GradHook hook) const;        // see GradHook
  AutogradMeta& autograd_meta() const;            // created on first use

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- creation (tensor/factory.cpp; random ones in tensor/random.h) -------------------------------
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor scalar_tensor(double value, TensorOptions options = {});
Tensor empty_like(const Tensor& t);   // same shape, dtype, device; contiguous; no grad
// Uninitialised, with a tensor `like`'s shape and memory order: where `like` is a permutation of dense memory
// (a transposed or head-split view, say), the new tensor's strides equal like's; otherwise it is
// contiguous. PyTorch's empty_like(t, memory_format=torch.preserve_format). Lets a backward write
// a gradient in its input's layout, so the view ops that made the input pass it back without a copy.
// `like` is given by its geometry (shape and strides), so a backward need not keep the tensor.
Tensor empty_with_layout(const Shape& shape, const Strides& like_strides, TensorOptions options);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
// From values in C order: from_vector<float>({1, 2, 3, 4}, {2, 2}). The shape defaults to 1-d.
template <class T> Tensor from_vector(const std::vector<T>& values, std::optional<Shape> shape = {},
                                      TensorOptions options = {.dtype = dtype_of<T>()});
Tensor tensor(std::initializer_list<double> values, TensorOptions options = {});   // 1-d
Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, TensorOptions options = {});   // 2-d
Tensor arange(double end, TensorOptions options = {});
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {});
Tensor linspace(double start, double end, int64_t steps, TensorOptions options = {});
Tensor eye(int64_t n, std::optional<int64_t> m = {}, TensorOptions options = {});

// Wraps a view of `base`'s storage (no autograd): the building block of every view op.
Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides, int64_t offset);

// Checks shared by many ops.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
// Rejects an in-place write into a tensor that requires grad while grad mode is on (tensor.cpp,
// NOTE [ In-place ops and autograd ]); every in-place op calls it first.
void check_inplace(const Tensor& t, const char* op);

// ---- threads (tensor/parallel.cpp) ----------------------------------------------------------------
// One pool: our loops and OpenBLAS (its OpenMP build) share OpenMP's threads.
void set_num_threads(int n);
int get_num_threads();

}  // namespace atto
