// tensor/dispatch.h -- the one place the CUDA build option shows up (internal header).
//
//   ATTO_ON_DEVICE(dev, softmax_forward<T>, args...)
//       calls atto::cpu::softmax_forward<T>(args...), or atto::cuda::softmax_forward<T>(args...) on a
//       CUDA device. Both backends declare every kernel with the same name and parameters
//       (tensor/cpu/*.h and cuda/*.h), so call sites carry no #ifdef.
//   ATTO_CUDA_ONLY(fn, args...)
//       calls atto::cuda::fn(args...), for what only the CUDA backend has (device memory, copies).
//
// In a build without CUDA the CUDA branch is a throw that says how to reconfigure, and no cuda::
// symbol is referenced.
#pragma once
#include "tensor/check.h"

namespace atto::detail {
[[noreturn]] void throw_no_cuda(const char* what);
// What ATTO_CUDA_ONLY gives in a build without CUDA: never produced (the call throws first), but it
// converts to the pointer a CUDA call would return, so `p = ATTO_CUDA_ONLY(...)` compiles unchanged
// and a statement `ATTO_CUDA_ONLY(...);` raises no unused-value warning.
struct NoCudaResult {
  template <class T> operator T*() const { return nullptr; }
};
[[noreturn]] inline NoCudaResult no_cuda(const char* what) { throw_no_cuda(what); }
}  // namespace atto::detail

#if ATTO_HAS_CUDA
#include "cuda/kernels.h"
#define ATTO_ON_DEVICE(dev, kernel, ...) \
  ((dev).is_cuda() ? ::atto::cuda::kernel(__VA_ARGS__) : ::atto::cpu::kernel(__VA_ARGS__))
#else
#define ATTO_ON_DEVICE(dev, kernel, ...)                                                          \
  ((dev).is_cuda() ? (::atto::detail::throw_no_cuda(#kernel), ::atto::cpu::kernel(__VA_ARGS__)) \
                   : ::atto::cpu::kernel(__VA_ARGS__))
#endif

#if ATTO_HAS_CUDA
#include "cuda/runtime.h"
#define ATTO_CUDA_ONLY(fn, ...) ::atto::cuda::fn(__VA_ARGS__)
#else
#define ATTO_CUDA_ONLY(fn, ...) ::atto::detail::no_cuda(#fn)
#endif
