// tensor/cpu/gemm.cpp -- gemm on the CPU: OpenBLAS when available, else the built-in blocked kernel
// (both described in gemm.h), plus the naive reference and the batched driver.
#include "tensor/cpu/gemm.h"

#include <algorithm>
#include <climits>
#include <memory>

#include "tensor/cpu/parallel_for.h"

#if ATTO_HAS_OPENBLAS
#include <cblas.h>
#endif

namespace atto::cpu {

namespace {

int max_threads() {
#if ATTO_HAS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}


// C = beta * C over an M x N block (beta == 0 writes zeros without reading C).
template <class T> void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  if (beta == T(1)) return;
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0)) std::fill(c, c + N, T(0));
    else for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
}

// ---- the built-in blocked kernel ------------------------------------------------------------------
// The classic Goto/BLIS loop nest. C is cut into MR x NR register tiles; op(B) is packed in KC x NC
// panels of NR-wide column slivers and op(A) in MC x KC blocks of MR-tall row slivers, so the inner
// kernel reads both operands with unit stride from cache. Packing pads edge slivers with zeros, so
// the micro-kernel always computes a full tile and only the store is clipped.
template <class T> struct Blocking {
  static constexpr int64_t MR = 4;
  static constexpr int64_t NR = 32 / sizeof(T);   // two 16-byte vectors per row of the tile
  static constexpr int64_t KC = 256;
  static constexpr int64_t MC = 64;                // MC x KC of A stays in L2
  static constexpr int64_t NC = 512;               // KC x NC of B stays in L2/L3
};

// Element (i, k) of op(A), stored with row stride ld.
template <class T> inline T elem(const T* A, int64_t ld, bool trans, int64_t i, int64_t k) {
  return trans ? A[k * ld + i] : A[i * ld + k];
}

// buf[s][k][r] = op(A)[i0 + s*MR + r][p0 + k] for the rows [i0, i0 + mc), zero past the edge.
template <class T> void pack_a(T* buf, const T* A, int64_t lda, bool ta, int64_t i0, int64_t mc, int64_t p0,
                               int64_t kc) {
  constexpr int64_t MR = Blocking<T>::MR;
  for (int64_t s = 0; s < mc; s += MR)
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t r = 0; r < MR; ++r) *buf++ = s + r < mc ? elem(A, lda, ta, i0 + s + r, p0 + k) : T(0);
}

// buf[s][k][c] = op(B)[p0 + k][j0 + s*NR + c] for the columns [j0, j0 + nc), zero past the edge.
template <class T> void pack_b(T* buf, const T* B, int64_t ldb, bool tb, int64_t p0, int64_t kc, int64_t j0,
                               int64_t nc) {
  constexpr int64_t NR = Blocking<T>::NR;
  // op(B)[k][j] is B[j][k] when transposed: elem(B, ldb, !tb, j, k) reads it as a row-major (j, k).
  for (int64_t s = 0; s < nc; s += NR)
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t c = 0; c < NR; ++c) *buf++ = s + c < nc ? elem(B, ldb, !tb, j0 + s + c, p0 + k) : T(0);
}

// C[0:mr, 0:nr] += alpha * (packed A sliver) @ (packed B sliver), accumulating over k in order.
template <class T> void micro_kernel(int64_t kc, const T* a, const T* b, T alpha, T* C, int64_t ldc, int64_t mr,
                                     int64_t nr) {
  constexpr int64_t MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
    for (int64_t r = 0; r < MR; ++r)
      for (int64_t c = 0; c < NR; ++c) acc[r][c] += a[r] * b[c];
  for (int64_t r = 0; r < mr; ++r)
    for (int64_t c = 0; c < nr; ++c) C[r * ldc + c] += alpha * acc[r][c];
}

// The rectangle [i0, i1) x [j0, j1) of C, on one thread, C already scaled by beta.
template <class T> void gemm_rect(bool ta, bool tb, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t K,
                                  T alpha, const T* A, int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc) {
  using Bl = Blocking<T>;
  auto round_up = [](int64_t x, int64_t m) { return (x + m - 1) / m * m; };
  // Sized for this rectangle (small gemms stay small), and left uninitialised: packing fills them.
  const int64_t kc_max = std::min(Bl::KC, K);
  std::unique_ptr<T[]> abuf(new T[size_t(round_up(std::min(Bl::MC, i1 - i0), Bl::MR) * kc_max)]);
  std::unique_ptr<T[]> bbuf(new T[size_t(round_up(std::min(Bl::NC, j1 - j0), Bl::NR) * kc_max)]);
  for (int64_t jc = j0; jc < j1; jc += Bl::NC) {
    int64_t nc = std::min(Bl::NC, j1 - jc);
    for (int64_t pc = 0; pc < K; pc += Bl::KC) {
      int64_t kc = std::min(Bl::KC, K - pc);
      pack_b(bbuf.get(), B, ldb, tb, pc, kc, jc, nc);
      for (int64_t ic = i0; ic < i1; ic += Bl::MC) {
        int64_t mc = std::min(Bl::MC, i1 - ic);
        pack_a(abuf.get(), A, lda, ta, ic, mc, pc, kc);
        for (int64_t jr = 0; jr < nc; jr += Bl::NR)
          for (int64_t ir = 0; ir < mc; ir += Bl::MR)
            micro_kernel(kc, abuf.get() + ir * kc, bbuf.get() + jr * kc, alpha, C + (ic + ir) * ldc + jc + jr,
                         ldc, std::min(Bl::MR, mc - ir), std::min(Bl::NR, nc - jr));
      }
    }
  }
}

// Which gemm runs: the checks and the early exits gemm() shares with both backends.
template <class T> bool trivial_gemm(int64_t M, int64_t N, int64_t K, T alpha, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return true;
  if (K == 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return true;
  }
  return false;
}

}  // namespace

template <class T>
void gemm_blocked(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                  int64_t ldb, T beta, T* C, int64_t ldc) {
  if (trivial_gemm(M, N, K, alpha, beta, C, ldc)) return;
  using Bl = Blocking<T>;
  // Threads take disjoint blocks of rows of C (or of columns, when C is short and wide); none splits
  // the k loop, so each element sums the same way with any number of threads.
  const bool small = M * N * K < (int64_t(1) << 18);
  if (M >= N || N < 2 * Bl::NR) {
    int64_t units = (M + Bl::MR - 1) / Bl::MR;
    parallel_for(0, units, small ? units + 1 : 2, [&](int64_t b, int64_t e) {
      int64_t i0 = b * Bl::MR, i1 = std::min(M, e * Bl::MR);
      scale_c(i1 - i0, N, beta, C + i0 * ldc, ldc);
      gemm_rect(ta, tb, i0, i1, 0, N, K, alpha, A, lda, B, ldb, C, ldc);
    });
  } else {
    int64_t units = (N + Bl::NR - 1) / Bl::NR;
    parallel_for(0, units, small ? units + 1 : 2, [&](int64_t b, int64_t e) {
      int64_t j0 = b * Bl::NR, j1 = std::min(N, e * Bl::NR);
      scale_c(M, j1 - j0, beta, C + j0, ldc);
      gemm_rect(ta, tb, 0, M, j0, j1, K, alpha, A, lda, B, ldb, C, ldc);
    });
  }
}

template <class T>
void gemm_naive(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += elem(A, lda, ta, i, k) * elem(B, ldb, tb, k, j);
      T& c = C[i * ldc + j];
      c = beta == T(0) ? alpha * acc : alpha * acc + beta * c;
    }
}

#if ATTO_HAS_OPENBLAS
namespace {

// Whether parallel_for would start threads now (it does not nest).
bool can_thread() {
#if ATTO_HAS_OPENMP
  return omp_get_max_threads() > 1 && !omp_in_parallel();
#else
  return false;
#endif
}

// NOTE [ Deterministic OpenBLAS ]: OpenBLAS's answer depends on how many threads it splits a gemm
// over (and on where the pieces start), so we never let it thread: C is cut into pieces that depend
// only on (M, N, K) and the machine's processor count -- never on the thread setting -- each piece
// is one single-threaded cblas call, and our threads take pieces.
// OpenBLAS (OpenMP build) runs single-threaded inside a parallel region or when
// omp_get_max_threads() == 1; PinBlasToOneThread arranges the latter for the calls we make
// outside a region. Without OpenMP there are no threads of ours, and OpenBLAS is held at 1.
struct PinBlasToOneThread {
#if ATTO_HAS_OPENMP
  int saved = omp_in_parallel() ? 1 : omp_get_max_threads();
  PinBlasToOneThread() {
    if (saved > 1) omp_set_num_threads(1);
  }
  ~PinBlasToOneThread() {
    if (saved > 1) omp_set_num_threads(saved);
  }
#else
  PinBlasToOneThread() {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  }
#endif
};

template <class T>
void blas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
               int64_t ldb, T beta, T* C, int64_t ldc) {
  auto ot = [](bool t) { return t ? CblasTrans : CblasNoTrans; };
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ot(ta), ot(tb), int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C,
                int(ldc));
  else
    cblas_dgemm(CblasRowMajor, ot(ta), ot(tb), int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C,
                int(ldc));
}

// How many pieces C is cut into along its longer side. Each piece repacks the other operand, so
// there are no more pieces than the machine has processors (a fixed number, unlike the thread
// setting), none under 64 rows or columns, and tiny gemms stay whole.
int64_t blas_pieces(int64_t M, int64_t N, int64_t K) {
#if ATTO_HAS_OPENMP
  static const int64_t procs = std::max(1, omp_get_num_procs());
#else
  const int64_t procs = 1;   // no threads of ours to share the pieces
#endif
  if (M * N * K < (int64_t(1) << 20)) return 1;
  return std::clamp<int64_t>(std::max(M, N) / 64, 1, procs);
}

}  // namespace
#endif

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  if (trivial_gemm(M, N, K, alpha, beta, C, ldc)) return;
#if ATTO_HAS_OPENBLAS
  // OpenBLAS takes int sizes; anything bigger goes to the built-in kernel.
  if (std::max({M, N, K, lda, ldb, ldc}) <= INT_MAX) {
    const int64_t pieces = blas_pieces(M, N, K);
    const bool by_rows = M >= N;
    const int64_t len = by_rows ? M : N;
    const int64_t per = ((len + pieces - 1) / pieces + 63) / 64 * 64;   // piece starts aligned to 64
    auto piece = [&](int64_t p) {
      int64_t b = p * per, e = std::min(len, b + per);
      if (b >= e) return;
      if (by_rows)
        blas_gemm(ta, tb, e - b, N, K, alpha, ta ? A + b : A + b * lda, lda, B, ldb, beta, C + b * ldc, ldc);
      else
        blas_gemm(ta, tb, M, e - b, K, alpha, A, lda, tb ? B + b * ldb : B + b, ldb, beta, C + b, ldc);
    };
    if (pieces > 1 && can_thread()) {
      parallel_for(0, pieces, 2, [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) piece(p);
      });
    } else {
      PinBlasToOneThread pin;
      for (int64_t p = 0; p < pieces; ++p) piece(p);
    }
    return;
  }
#endif
  gemm_blocked(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void gemm_batched(const GemmBatch& batch, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const int64_t count = batch.shape.numel();
  auto one = [&](int64_t b) {
    int64_t oa = 0, ob = 0, oc = 0;
    for (int d = batch.shape.size() - 1; d >= 0; --d) {   // b as a multi-index over the batch dims
      int64_t i = b % batch.shape[d];
      b /= batch.shape[d];
      oa += i * batch.stride_a[d];
      ob += i * batch.stride_b[d];
      oc += i * batch.stride_c[d];
    }
    gemm(ta, tb, M, N, K, alpha, A + oa, lda, B + ob, ldb, beta, C + oc, ldc);
  };
  // Many matrices, or matrices too small to thread individually: one whole gemm per thread.
  const int nt = max_threads();
  const int64_t work = M * N * K;
  const bool by_matrix = count >= 4 * nt || work < (int64_t(1) << 18);
  if (by_matrix && count > 1 && count * work >= (int64_t(1) << 16)) {
    parallel_for(0, count, 2, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < count; ++i) one(i);
  }
}

#define ATTO_GEMM_INSTANTIATE(T)                                                                              \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, \
                        int64_t);                                                                             \
  template void gemm_blocked<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, \
                                T, T*, int64_t);                                                              \
  template void gemm_naive<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, \
                              T*, int64_t);                                                                   \
  template void gemm_batched<T>(const GemmBatch&, bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,  \
                                const T*, int64_t, T, T*, int64_t);
ATTO_GEMM_INSTANTIATE(float)
ATTO_GEMM_INSTANTIATE(double)
#undef ATTO_GEMM_INSTANTIATE

}  // namespace atto::cpu
