// tensor/parallel.cpp -- one thread pool for everything: OpenMP's. OpenBLAS is linked in its OpenMP
// build, so its gemm threads are the same threads our loops use; two pools spinning against each
// other on a 2-core machine is what makes some PyTorch builds slower with 2 threads than with 1.
#include "tensor/tensor.h"

#if ATTO_HAS_OPENMP
#include <omp.h>
#endif
#if ATTO_HAS_OPENBLAS
#include <cblas.h>
#endif

namespace atto {

void set_num_threads(int n) {
  ATTO_CHECK(n >= 1, "[set_num_threads] needs n >= 1, got {}", n);
#if ATTO_HAS_OPENMP
  omp_set_num_threads(n);
#endif
#if ATTO_HAS_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

int get_num_threads() {
#if ATTO_HAS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace atto
