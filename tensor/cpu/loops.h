// tensor/cpu/loops.h -- the generic strided loop every elementwise CPU kernel is made of (internal).
//
//   map_strided<Out, In...>(f, out, in...)   out[i] = f(in[i]...) for every index i of out's shape
//
// All views have out's shape; a broadcast input has stride 0 along the broadcast dims (the caller
// expands it). Two paths:
//   * every view contiguous: one flat loop the compiler vectorises;
//   * otherwise: dims that are contiguous for every operand are merged ("coalesced"), the innermost
//     dim runs as a strided loop, and the outer index is kept as a counter.
// Both split the work over threads with parallel_for; elementwise results never depend on the split.
// Float loops run through `vectorized` (tensor/cpu/isa.h): AVX2 or AVX-512 where the CPU has them,
// with the same bits as the baseline code.
#pragma once
#include <array>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "tensor/coalesce.h"   // is_contiguous_view, coalesce
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel_for.h"
#include "tensor/strided.h"

namespace atto::cpu {

using atto::coalesce;             // still spelled cpu::coalesce by other kernels
using atto::is_contiguous_view;

// Runs loop() through `vectorized` when the output is float (the loops that carry the training
// time); other dtypes keep one baseline copy, which keeps the build small.
template <class Out, class Loop> [[gnu::always_inline]] inline void run_loop(const Loop& loop) {
  if constexpr (std::is_same_v<Out, float>) vectorized(loop);
  else loop();
}

template <class Out, class... In, class F, class... Views>
void map_strided(const F& f, StridedView out, const Views&... in) {
  static_assert(sizeof...(In) == sizeof...(Views), "one element type per input view");
  constexpr size_t N = 1 + sizeof...(In);
  const int64_t n = out.numel();
  if (n == 0) return;
  if ((is_contiguous_view(out) && ... && is_contiguous_view(in))) {
    Out* o = out.ptr<Out>();
    auto run = [&](const In*... p) {
      parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
        run_loop<Out>([&]() ATTO_INLINE_LOOP {
          for (int64_t i = b; i < e; ++i) o[i] = f(p[i]...);
        });
      });
    };
    run(in.template ptr<In>()...);
    return;
  }
  std::array<StridedView, N> v{out, in...};
  coalesce(v);
  const int nd = v[0].ndim;
  if (nd == 0) {   // every dim had size 1: a single element
    *out.ptr<Out>() = f(*in.template ptr<In>()...);
    return;
  }
  const int64_t inner = v[0].shape[nd - 1];
  const int64_t rows = n / inner;
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / inner), [&](int64_t rb, int64_t re) {
    // Decompose the first row index into per-dim counters, then step them like an odometer.
    int64_t idx[kMaxViewDims] = {};
    int64_t rem = rb;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = rem % v[0].shape[d];
      rem /= v[0].shape[d];
    }
    std::array<int64_t, N> off{};
    for (size_t k = 0; k < N; ++k)
      for (int d = 0; d < nd - 1; ++d) off[k] += idx[d] * v[k].strides[d];
    for (int64_t r = rb; r < re; ++r) {
      [&]<size_t... K>(std::index_sequence<K...>) {
        Out* o = out.ptr<Out>() + off[0];
        const int64_t so = v[0].strides[nd - 1];
        std::tuple<const In*...> ptrs{in.template ptr<In>() + off[K + 1]...};
        [[maybe_unused]] const std::array<int64_t, N - 1> si{v[K + 1].strides[nd - 1]...};
        run_loop<Out>([&]() ATTO_INLINE_LOOP {
          for (int64_t i = 0; i < inner; ++i) o[i * so] = f(std::get<K>(ptrs)[i * si[K]]...);
        });
      }(std::make_index_sequence<N - 1>{});
      for (int d = nd - 2; d >= 0; --d) {   // advance the odometer by one row
        ++idx[d];
        for (size_t k = 0; k < N; ++k) off[k] += v[k].strides[d];
        if (idx[d] < v[0].shape[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= idx[d] * v[k].strides[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace atto::cpu
