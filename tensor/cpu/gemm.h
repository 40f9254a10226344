// tensor/cpu/gemm.h -- matrix multiply on the CPU (internal): C = alpha * op(A) @ op(B) + beta * C,
// row-major, as BLAS's gemm. Twin: cuda/gemm.cu (cuBLAS), when the CUDA backend arrives.
//
//   op(A) is M x K: A itself (trans_a = false, A is M x K with row stride lda >= max(1, K)) or
//   A^T (trans_a = true, A is K x M with row stride lda >= max(1, M)); likewise op(B) is K x N.
//   beta == 0 overwrites C without reading it (NaNs already in C do not leak through).
//
// gemm() calls OpenBLAS (cblas_sgemm/dgemm) when built with it (ATTO_HAS_OPENBLAS), and otherwise
// gemm_blocked(), the built-in cache-blocked kernel. gemm_blocked() and gemm_naive() -- the plain
// triple loop it is tested against -- exist in every build, so the tests check them everywhere.
//
// Determinism: results are bitwise identical for 1 or N threads. The built-in kernel sums every
// element of C over k in the same order whatever the thread count (threads split the rows or
// columns of C, never the k loop). OpenBLAS's own threading is not reproducible, so it is never
// used: C is cut into pieces that depend only on the sizes and the machine's processor count (not
// on the thread setting), one single-threaded cblas call each
// (NOTE [ Deterministic OpenBLAS ] in gemm.cpp).
#pragma once
#include <cstdint>

#include "tensor/shape.h"

namespace atto::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The built-in kernel: packs panels of op(A) and op(B), multiplies MR x NR register tiles, and runs
// blocks of rows of C on separate threads (parallel_for).
template <class T>
void gemm_blocked(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                  const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The reference: C[i][j] = alpha * sum_k op(A)[i][k] * op(B)[k][j] + beta * C[i][j], one k loop per
// element, no blocking, no threads. Slow; for tests.
template <class T>
void gemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// A batch of independent gemms over (possibly broadcast) batch dims: batch element b, with
// multi-index idx over `shape`, multiplies A + sum(idx * stride_a), B + sum(idx * stride_b) into
// C + sum(idx * stride_c). A stride of 0 reuses one matrix for a whole batch dim (broadcasting
// without a copy). All strides in elements.
struct GemmBatch {
  Shape shape;                         // the batch dims; empty for a single gemm
  Strides stride_a, stride_b, stride_c;
};

// Small batches of big matrices run one threaded gemm after another; many matrices run on
// separate threads, one (single-threaded) gemm each. Either way each C element sums the same way.
template <class T>
void gemm_batched(const GemmBatch& batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace atto::cpu
