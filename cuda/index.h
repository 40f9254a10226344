// cuda/index.h -- CUDA twins of the indexing kernels of tensor/cpu/index.h (internal): index_select /
// embedding rows, their scatter-add backward, gather / scatter_add along one dim, one_hot. Same
// names and parameters as the CPU kernels; defined in cuda/index.cu. Indices arrive already
// range-checked on the host (autograd/functions/index.cpp checks a CPU copy), so no kernel here
// can see an index out of range.
//
// NOTE [ Deterministic scatter on CUDA ]
// index_add_rows (the backward of embedding and index_select) and scatter_add (the backward of
// gather) add many sources into one destination. By default every destination element is owned by
// one thread that adds its sources in ascending source order, with no float atomics: the result is
// the same bits on every run, and the same bits as the CPU kernels (which add in that order too).
// set_deterministic_scatter(false) switches the float paths to atomicAdd, faster when many sources
// hit few destinations, but the order of the additions (so the low bits) then varies run to run.
#pragma once
#include <cstdint>

#include "tensor/strided.h"

namespace atto::cuda {

// The switch of NOTE [ Deterministic scatter on CUDA ]: on (deterministic) by default; process-wide.
void set_deterministic_scatter(bool on);
bool deterministic_scatter();

// x is (outer, n, inner) and out is (outer, k, inner), both contiguous: out[o, j, :] = x[o, idx[j], :].
template <class T>
void index_select_rows(const T* x, const int64_t* idx, T* out, int64_t outer, int64_t n, int64_t inner, int64_t k);

// dx[o, idx[j], :] += dy[o, j, :] into a zeroed dx, skipping rows idx[j] == skip (-1 for none).
template <class T>
void index_add_rows(T* dx, const int64_t* idx, const T* dy, int64_t outer, int64_t n, int64_t inner, int64_t k,
                    int64_t skip);

// out[p] = x[p with p[dim] replaced by idx[p]] (x's view restricted to the index's sizes outside dim).
template <class T> void gather(StridedView out, StridedView x, StridedView idx, int dim);

// out[p with p[dim] replaced by idx[p]] += src[p] for every p of the index's shape.
template <class T> void scatter_add(StridedView out, StridedView idx, StridedView src, int dim);

// out (n, classes) zeroed: out[r, idx[r]] = 1.
void one_hot(const int64_t* idx, int64_t* out, int64_t n, int64_t classes);

}  // namespace atto::cuda
