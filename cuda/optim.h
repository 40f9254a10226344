// cuda/optim.h -- the fused optimizer steps on the GPU (internal): the twin of optim/cpu_kernels.h,
// same names and parameters, so ATTO_ON_DEVICE (tensor/dispatch.h) picks either. Plain C++
// declarations; the kernel and its explicit instantiations are in cuda/optim.cu.
#pragma once
#include <cstdint>

#include "optim/update_fns.h"

namespace atto::cuda {

// One Adam/AdamW step over `count` parameters of one device in ONE kernel launch (NOTE [ Fused
// Adam ] in optim/update_fns.h, NOTE [ Multi-tensor launch ] in cuda/optim.cu). The table is host
// memory (the launcher copies it to the device); its buffers are contiguous T on one device.
//                                                               (T: float, double)
template <class T> void adam_step(const AdamTensorRef* tensors, int64_t count, const AdamHyper& hyper);

}  // namespace atto::cuda
