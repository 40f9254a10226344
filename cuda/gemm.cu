// cuda/gemm.cu -- gemm and gemm_batched through cuBLAS. Twin: tensor/cpu/gemm.cpp (declared in
// cuda/gemm.h <-> tensor/cpu/gemm.h). All calls go to the device's one stream via its cuBLAS handle.
//
// Determinism: cuBLAS gives bitwise the same result on every run for the same sizes, GPU model and
// toolkit (its atomics mode is off by default, and the handle is never shared across streams). It
// is not bitwise equal to the CPU: the order of the k-sum differs, hence the tests' tolerances.
// The math mode (full float32, or TF32 when allowed) is set on the handle by cuda::cublas().
#include <climits>
#include <vector>

#include "cuda/gemm.h"
#include "cuda/launch.cuh"

namespace atto::cuda {

namespace {

// C = beta * C over an M x N row-major block (beta == 0 writes zeros without reading C): what a
// gemm with K == 0 or alpha == 0 does, as the CPU's trivial_gemm.
template <class T> __global__ void scale_c_kernel(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  const int64_t n = M * N;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    T& c = C[(e / N) * ldc + e % N];
    c = beta == T(0) ? T(0) : c * beta;
  }
}

template <class T> void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  if (beta == T(1)) return;
  cudaStream_t s = stream(device_of(C));
  scale_c_kernel<T><<<blocks_for(M * N), kThreads, 0, s>>>(M, N, beta, C, ldc);
  CUDA_CHECK_LAUNCH("scale_c_kernel");
}

int to_int(int64_t v, const char* what) {
  ATTO_CHECK(v >= 0 && v <= INT_MAX, "[cuda gemm] {} = {} does not fit cuBLAS's int", what, v);
  return int(v);
}

// NOTE [ Row-major gemm through column-major cuBLAS ]
// cuBLAS is column-major: it reads an r x c matrix with leading dimension ld as element (i, j) at
// i + j * ld. Our matrices are row-major: element (i, j) at i * ld + j. The same bytes read the other
// way are the transpose, so a row-major X is, to cuBLAS, the column-major X^T with the same ld. Then
//   C = op(A) op(B)   (row-major, M x N)   <=>   C^T = op(B)^T op(A)^T   (column-major, N x M)
// and C^T is exactly what cuBLAS writes into C's bytes with ldc. So cuBLAS is called with the
// operands swapped (B first, then A), M and N swapped, and each operand keeping its own transpose
// flag and ld: if op(B) = B, cuBLAS sees B's bytes as B^T = op(B)^T already (CUBLAS_OP_N); if
// op(B) = B^T, it sees B^T and must transpose it back to get op(B)^T = B (CUBLAS_OP_T). The leading
// dimension rules carry over unchanged: an untransposed row-major A needs lda >= K, and cuBLAS,
// taking it as its second operand with OP_N, needs ld >= k = K; likewise for the other cases.
// This function is the only place that knows; everything else speaks row-major.
//
// `count` matrices at element strides sa, sb, sc (0 reuses one matrix); count == 1 is a plain gemm.
template <class T>
void cublas_row_major(int dev, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                      int64_t sa, const T* B, int64_t ldb, int64_t sb, T beta, T* C, int64_t ldc, int64_t sc,
                      int64_t count) {
  cublasHandle_t h = cublas(dev);
  const cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = to_int(N, "N"), n = to_int(M, "M"), k = to_int(K, "K");
  const int ld_a = to_int(lda, "lda"), ld_b = to_int(ldb, "ldb"), ld_c = to_int(ldc, "ldc");
  const int batches = to_int(count, "batch count");
  if constexpr (std::is_same_v<T, float>) {
    if (batches == 1)
      CUBLAS_CHECK(cublasSgemm(h, op_b, op_a, m, n, k, &alpha, B, ld_b, A, ld_a, &beta, C, ld_c));
    else
      CUBLAS_CHECK(cublasSgemmStridedBatched(h, op_b, op_a, m, n, k, &alpha, B, ld_b, sb, A, ld_a, sa, &beta, C, ld_c,
                                             sc, batches));
  } else {
    if (batches == 1)
      CUBLAS_CHECK(cublasDgemm(h, op_b, op_a, m, n, k, &alpha, B, ld_b, A, ld_a, &beta, C, ld_c));
    else
      CUBLAS_CHECK(cublasDgemmStridedBatched(h, op_b, op_a, m, n, k, &alpha, B, ld_b, sb, A, ld_a, sa, &beta, C, ld_c,
                                             sc, batches));
  }
}

// A batch dim as gemm_batched walks it: its size and the element strides of A, B and C along it.
struct BatchDim {
  int64_t size, sa, sb, sc;
};

// The batch dims with size-1 dims dropped and neighbours merged wherever all three operands step
// through them as one dim (outer stride = inner stride * inner size, for A, B and C alike). A
// contiguous or broadcast batch of any rank usually ends as one dim: one strided-batched call.
std::vector<BatchDim> collapse(const GemmBatch& batch) {
  std::vector<BatchDim> dims;   // outermost first
  for (int d = 0; d < batch.shape.size(); ++d) {
    if (batch.shape[d] == 1) continue;
    const BatchDim cur{batch.shape[d], batch.stride_a[d], batch.stride_b[d], batch.stride_c[d]};
    if (!dims.empty()) {
      BatchDim& prev = dims.back();   // prev is outside cur
      if (prev.sa == cur.sa * cur.size && prev.sb == cur.sb * cur.size && prev.sc == cur.sc * cur.size) {
        prev = {prev.size * cur.size, cur.sa, cur.sb, cur.sc};
        continue;
      }
    }
    dims.push_back(cur);
  }
  return dims;
}

}  // namespace

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == T(0)) return scale_c(M, N, beta, C, ldc);
  cublas_row_major<T>(device_of(C), ta, tb, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

// The innermost collapsed batch dim is one strided-batched cuBLAS call; any dims outside it (batch
// layouts that do not merge, e.g. A broadcast along one dim but not the next) are a host loop of
// such calls, in order on the one stream.
template <class T>
void gemm_batched(const GemmBatch& batch, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const int64_t count = batch.shape.numel();
  if (count == 0 || M == 0 || N == 0) return;
  std::vector<BatchDim> dims = collapse(batch);
  const BatchDim inner = dims.empty() ? BatchDim{1, 0, 0, 0} : dims.back();
  if (!dims.empty()) dims.pop_back();
  const int64_t outer = count / inner.size;
  const bool trivial = K == 0 || alpha == T(0);
  const int dev = device_of(C);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t oa = 0, ob = 0, oc = 0;
    for (int64_t d = int64_t(dims.size()) - 1, rest = o; d >= 0; --d) {   // o as a multi-index over `dims`
      const BatchDim& bd = dims[size_t(d)];
      const int64_t i = rest % bd.size;
      rest /= bd.size;
      oa += i * bd.sa;
      ob += i * bd.sb;
      oc += i * bd.sc;
    }
    if (trivial) {
      for (int64_t i = 0; i < inner.size; ++i) scale_c(M, N, beta, C + oc + i * inner.sc, ldc);
      continue;
    }
    cublas_row_major<T>(dev, ta, tb, M, N, K, alpha, A + oa, lda, inner.sa, B + ob, ldb, inner.sb, beta, C + oc, ldc,
                        inner.sc, inner.size);
  }
}

#define ATTO_CUDA_GEMM_INSTANTIATE(T)                                                                         \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, \
                        int64_t);                                                                             \
  template void gemm_batched<T>(const GemmBatch&, bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,  \
                                const T*, int64_t, T, T*, int64_t);
ATTO_CUDA_GEMM_INSTANTIATE(float)
ATTO_CUDA_GEMM_INSTANTIATE(double)
#undef ATTO_CUDA_GEMM_INSTANTIATE

}  // namespace atto::cuda
