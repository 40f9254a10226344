// cuda/gemm.h -- matrix multiply on the GPU through cuBLAS (internal). Twin of tensor/cpu/gemm.h:
// the same names, parameters and row-major meaning, C = alpha * op(A) @ op(B) + beta * C (see there),
// so ATTO_ON_DEVICE picks either. Definitions in cuda/gemm.cu; float32 runs in full float32 unless
// TF32 is switched on (cuda/runtime.h's set_allow_tf32).
#pragma once
#include <cstdint>

#include "tensor/cpu/gemm.h"   // GemmBatch: the call sites build one for either backend

namespace atto::cuda {

using cpu::GemmBatch;

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// Batch element with multi-index idx over batch.shape reads A + sum(idx * stride_a) (stride 0:
// one matrix shared along that dim), B likewise, and writes C + sum(idx * stride_c).
template <class T>
void gemm_batched(const GemmBatch& batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace atto::cuda
