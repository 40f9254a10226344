// tensor/dispatch.h -- the one place the CUDA build option shows up (internal header).
//
//   ATTO_ON_DEVICE(dev, softmax_forward<T>, args...)
//       calls atto::cpu::softmax_forward<T>(args...) or, on a CUDA tensor, the CUDA kernel.
//   ATTO_CUDA_ONLY(fn, args...)
//       calls atto::cuda::fn(args...), for what only the CUDA backend has (device memory, copies).
//
// The CUDA branch of ATTO_ON_DEVICE is a throw that names the kernel: in a build without CUDA it
// says how to reconfigure; in a CUDA build it says the kernel does not exist yet (the CUDA kernels
// arrive with the CUDA backend and then turn this branch into ::atto::cuda::kernel). Either way no
// missing cuda:: symbol is referenced and call sites carry no #ifdef.
#pragma once
#include "tensor/check.h"

namespace atto::detail {
[[noreturn]] void throw_no_cuda(const char* what);
}

#define ATTO_ON_DEVICE(dev, kernel, ...)                                                          \
  ((dev).is_cuda() ? (::atto::detail::throw_no_cuda(#kernel), ::atto::cpu::kernel(__VA_ARGS__)) \
                   : ::atto::cpu::kernel(__VA_ARGS__))

#if ATTO_HAS_CUDA
#include "cuda/runtime.h"
#define ATTO_CUDA_ONLY(fn, ...) ::atto::cuda::fn(__VA_ARGS__)
#else
#define ATTO_CUDA_ONLY(fn, ...) (::atto::detail::throw_no_cuda(#fn), nullptr)
#endif
