// tensor/cpu/conv.h -- 2-D convolution (im2col + gemm) and 2-D max/avg pooling on the CPU, forward
// and backward (internal). The differentiable ops are in autograd/functions/conv.cpp.
//
// Every image and every plane is contiguous NCHW: image n, channel c, pixel (h, w) lives at
// ((n * C + c) * H + h) * W + w. Pooling sees its input as `planes` = N * C independent H x W planes.
//
// NOTE [ im2col layout ]
// A convolution becomes a matrix product once every receptive field is copied out as a column.
// Say one 3x3 image (C = 1), a 2x2 kernel, stride 1, no padding: 2x2 outputs, so 4 columns.
//
//   x = a b c      cols      column: 0  1  2  3   (output pixel (0,0) (0,1) (1,0) (1,1))
//       d e f      row (c=0, i=0, j=0)  a  b  d  e
//       g h i      row (c=0, i=0, j=1)  b  c  e  f
//                  row (c=0, i=1, j=0)  d  e  g  h
//                  row (c=0, i=1, j=1)  e  f  h  i
//
// In general, for a chunk of nb images, cols has C * kH * kW rows and nb * oH*oW columns; row
// (c * kH + i) * kW + j, column b * oH*oW + oh * oW + ow holds x_b[c, oh*sH - pH + i*dH, ow*sW - pW + j*dW]
// (image b of the chunk), or 0 where that pixel falls in the padding.
//
// Channel c's rows are contiguous, so group g's rows are the block [g * K, (g + 1) * K) with
// K = C/groups * kH * kW, and weight (C_out, C/groups, kH, kW) is already the matrix (C_out, K):
//
//   out_g (C_out/groups, nb * oH*oW) = W_g (C_out/groups, K) @ cols_g (K, nb * oH*oW)
//
// which has images side by side; it is scattered back to NCHW (adding the bias on the way). With
// nb = 1 the product already is NCHW and is written in place. Backward uses the same layout, with dout
// (dy) first copied side by side:
//   dcols_g = W_g^T @ dout_g    then col2im adds each column entry back to its pixel  (dinput)
//   dW_g   += dout_g @ cols_g^T summed over chunks in order                          (dweight)
//
// nb depends only on the shapes (columns of at most kColumnBudget elements), and every sum runs
// in a fixed order (gemm is deterministic; col2im and the pooling backward give each plane to one
// thread), so results are bitwise identical for any thread count.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/parallel_for.h"

namespace atto::cpu {

// The sliding-window geometry shared by convolution and pooling (per spatial dim: kernel,
// stride, padding, dilation), with the input (C, H, W) and output (oH, oW) plane sizes.
struct Window2d {
  int64_t C = 1, H = 0, W = 0;
  int64_t kH = 1, kW = 1, sH = 1, sW = 1, pH = 0, pW = 0, dH = 1, dW = 1;
  int64_t oH = 0, oW = 0;
  int64_t out_plane() const { return oH * oW; }
  int64_t in_plane() const { return H * W; }
  int64_t col_rows() const { return C * kH * kW; }
};

inline constexpr int64_t kColumnBudget = int64_t(1) << 20;   // elements in one chunk's column matrix

// Images per im2col chunk: a function of the shapes only (determinism), at least 1.
inline int64_t conv_chunk(const Window2d& g, int64_t N) {
  return std::clamp<int64_t>(kColumnBudget / std::max<int64_t>(1, g.col_rows() * g.out_plane()), 1,
                             std::max<int64_t>(N, 1));
}

// The outputs o in [0, n) whose input coordinate o * s + off lies in [0, limit): [lo, hi).
inline void valid_range(int64_t off, int64_t s, int64_t limit, int64_t n, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = limit - off <= 0 ? 0 : (limit - off - 1) / s + 1;
  lo = std::min(lo, n);
  hi = std::clamp(hi, lo, n);
}

// cols (col_rows, nb * oH*oW) from nb images (NOTE [ im2col layout ]).
template <class T> void im2col(const Window2d& g, const T* x, int64_t nb, T* cols) {
  const int64_t L = g.out_plane(), ld = nb * L, kk = g.kH * g.kW;
  parallel_for(0, g.col_rows(), std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(ld, 1)),
               [&](int64_t rb, int64_t re) {
                 for (int64_t r = rb; r < re; ++r) {
                   const int64_t c = r / kk, i = r % kk / g.kW, j = r % g.kW;
                   int64_t h0, h1, w0, w1;
                   valid_range(i * g.dH - g.pH, g.sH, g.H, g.oH, h0, h1);
                   valid_range(j * g.dW - g.pW, g.sW, g.W, g.oW, w0, w1);
                   for (int64_t b = 0; b < nb; ++b) {
                     const T* xp = x + (b * g.C + c) * g.in_plane();
                     T* out = cols + r * ld + b * L;
                     std::fill(out, out + h0 * g.oW, T(0));
                     for (int64_t oh = h0; oh < h1; ++oh) {
                       // x's index for column ow is base + ow * sW (base < 0 when the row starts in padding)
                       const int64_t base = (oh * g.sH - g.pH + i * g.dH) * g.W + j * g.dW - g.pW;
                       T* orow = out + oh * g.oW;
                       std::fill(orow, orow + w0, T(0));
                       if (g.sW == 1) std::copy(xp + (base + w0), xp + (base + w1), orow + w0);
                       else
                         for (int64_t ow = w0; ow < w1; ++ow) orow[ow] = xp[base + ow * g.sW];
                       std::fill(orow + w1, orow + g.oW, T(0));
                     }
                     std::fill(out + h1 * g.oW, out + L, T(0));
                   }
                 }
               });
}

// The adjoint of im2col: dx (nb images, overwritten) = the sum of every column entry at its pixel.
// One thread per (image, channel) plane, adding in (i, j, oh, ow) order.
template <class T> void col2im(const Window2d& g, const T* cols, int64_t nb, T* dx) {
  const int64_t L = g.out_plane(), ld = nb * L;
  parallel_for(0, nb * g.C, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(g.kH * g.kW * L, 1)),
               [&](int64_t pb, int64_t pe) {
                 for (int64_t p = pb; p < pe; ++p) {
                   const int64_t b = p / g.C, c = p % g.C;
                   T* xp = dx + p * g.in_plane();
                   std::fill(xp, xp + g.in_plane(), T(0));
                   for (int64_t i = 0; i < g.kH; ++i)
                     for (int64_t j = 0; j < g.kW; ++j) {
                       const T* col = cols + ((c * g.kH + i) * g.kW + j) * ld + b * L;
                       int64_t h0, h1, w0, w1;
                       valid_range(i * g.dH - g.pH, g.sH, g.H, g.oH, h0, h1);
                       valid_range(j * g.dW - g.pW, g.sW, g.W, g.oW, w0, w1);
                       for (int64_t oh = h0; oh < h1; ++oh) {
                         const int64_t base = (oh * g.sH - g.pH + i * g.dH) * g.W + j * g.dW - g.pW;
                         const T* crow = col + oh * g.oW;
                         if (g.sW == 1) {   // contiguous: vectorises
                           T* xrow = xp + (base + w0);
                           for (int64_t k = 0; k < w1 - w0; ++k) xrow[k] += crow[w0 + k];
                         } else {
                           for (int64_t ow = w0; ow < w1; ++ow) xp[base + ow * g.sW] += crow[ow];
                         }
                       }
                     }
                 }
               });
}

// Between NCHW (nb, Cout, L) and the side-by-side layout (Cout, nb * L) of NOTE [ im2col layout ];
// `bias` (may be null) is added on the way to NCHW.
template <class T> void side_by_side_to_nchw(const T* src, const T* bias, int64_t nb, int64_t Cout, int64_t L,
                                             T* dst) {
  parallel_for(0, nb * Cout, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(L, 1)),
               [&](int64_t b0, int64_t e0) {
                 for (int64_t p = b0; p < e0; ++p) {
                   const int64_t b = p / Cout, co = p % Cout;
                   const T* s = src + (co * nb + b) * L;
                   T* d = dst + p * L;
                   const T add = bias ? bias[co] : T(0);
                   for (int64_t l = 0; l < L; ++l) d[l] = s[l] + add;
                 }
               });
}
template <class T> void nchw_to_side_by_side(const T* src, int64_t nb, int64_t Cout, int64_t L, T* dst) {
  parallel_for(0, nb * Cout, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(L, 1)),
               [&](int64_t b0, int64_t e0) {
                 for (int64_t p = b0; p < e0; ++p) {
                   const int64_t b = p / Cout, co = p % Cout;
                   std::copy(src + p * L, src + (p + 1) * L, dst + (co * nb + b) * L);
                 }
               });
}

// y (N, Cout, oH, oW) = conv2d(x (N, C, H, W), w (Cout, C/groups, kH, kW)) + bias (Cout, may be null).
template <class T> void conv2d_forward(const Window2d& g, int64_t N, int64_t Cout, int64_t groups, const T* x,
                                       const T* w, const T* bias, T* y) {
  const int64_t L = g.out_plane(), K = g.col_rows() / groups, Cg = Cout / groups, nb = conv_chunk(g, N);
  std::vector<T> cols(size_t(g.col_rows() * nb * L)), wide(nb > 1 ? size_t(Cout * nb * L) : 0);
  for (int64_t n0 = 0; n0 < N; n0 += nb) {
    const int64_t b = std::min(nb, N - n0), ld = b * L;
    T* yn = y + n0 * Cout * L;
    T* out = b == 1 ? yn : wide.data();
    im2col(g, x + n0 * g.C * g.in_plane(), b, cols.data());
    for (int64_t gr = 0; gr < groups; ++gr)
      gemm<T>(false, false, Cg, ld, K, T(1), w + gr * Cg * K, K, cols.data() + gr * K * ld, ld, T(0),
              out + gr * Cg * ld, ld);
    if (b > 1 || bias) side_by_side_to_nchw(out, bias, b, Cout, L, yn);
  }
}

// forward: y = W_g @ im2col(x) + bias per group (NOTE [ im2col layout ]), so
//   dx = col2im(W_g^T @ dy_g),   dW_g = sum over images of dy_g @ im2col(x)_g^T,   dbias = sum over n, h, w of dy.
// dx, dw, db may each be null when not needed; x is read only for dw, w only for dx.
template <class T> void conv2d_backward(const Window2d& g, int64_t N, int64_t Cout, int64_t groups, const T* x,
                                        const T* w, const T* dy, T* dx, T* dw, T* db) {
  const int64_t L = g.out_plane(), K = g.col_rows() / groups, Cg = Cout / groups, nb = conv_chunk(g, N);
  if (db) {
    parallel_for(0, Cout, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(N * L, 1)),
                 [&](int64_t cb, int64_t ce) {
                   for (int64_t co = cb; co < ce; ++co) {
                     double s = 0;
                     for (int64_t n = 0; n < N; ++n)
                       for (const T* p = dy + (n * Cout + co) * L; p != dy + (n * Cout + co + 1) * L; ++p) s += *p;
                     db[co] = T(s);
                   }
                 });
  }
  if (!dx && !dw) return;
  if (dw && N == 0) std::fill(dw, dw + Cout * K, T(0));
  std::vector<T> cols(size_t(g.col_rows() * nb * L)), wide(nb > 1 ? size_t(Cout * nb * L) : 0);
  for (int64_t n0 = 0; n0 < N; n0 += nb) {
    const int64_t b = std::min(nb, N - n0), ld = b * L;
    const T* d = dy + n0 * Cout * L;
    if (b > 1) {
      nchw_to_side_by_side(d, b, Cout, L, wide.data());
      d = wide.data();
    }
    if (dw) {
      im2col(g, x + n0 * g.C * g.in_plane(), b, cols.data());
      for (int64_t gr = 0; gr < groups; ++gr)
        gemm<T>(false, true, Cg, K, ld, T(1), d + gr * Cg * ld, ld, cols.data() + gr * K * ld, ld,
                n0 == 0 ? T(0) : T(1), dw + gr * Cg * K, K);
    }
    if (dx) {   // cols is free again: it holds dcols now
      for (int64_t gr = 0; gr < groups; ++gr)
        gemm<T>(true, false, K, ld, Cg, T(1), w + gr * Cg * K, K, d + gr * Cg * ld, ld, T(0),
                cols.data() + gr * K * ld, ld);
      col2im(g, cols.data(), b, dx + n0 * g.C * g.in_plane());
    }
  }
}

// ---- pooling ----------------------------------------------------------------------------------------
// Each of the `planes` H x W planes is pooled by one thread; windows follow Window2d (C unused).

template <class F> void for_each_plane(const Window2d& g, int64_t planes, const F& fn) {
  parallel_for(0, planes,
               std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(g.out_plane() * g.kH * g.kW, 1)),
               [&](int64_t pb, int64_t pe) {
                 for (int64_t p = pb; p < pe; ++p) fn(p);
               });
}

// y = the max over each window, skipping padding (as if it were -inf); idx = the flat index h * W + w
// of that max in its plane. As PyTorch: the first max wins a tie, and a NaN counts as the max.
template <class T> void max_pool2d_forward(const Window2d& g, int64_t planes, const T* x, T* y, int64_t* idx) {
  for_each_plane(g, planes, [&](int64_t p) {
    const T* xp = x + p * g.in_plane();
    T* yp = y + p * g.out_plane();
    int64_t* ip = idx + p * g.out_plane();
    for (int64_t oh = 0; oh < g.oH; ++oh)
      for (int64_t ow = 0; ow < g.oW; ++ow) {
        int64_t h0 = oh * g.sH - g.pH, w0 = ow * g.sW - g.pW;
        const int64_t h1 = std::min(h0 + (g.kH - 1) * g.dH + 1, g.H), w1 = std::min(w0 + (g.kW - 1) * g.dW + 1, g.W);
        while (h0 < 0) h0 += g.dH;
        while (w0 < 0) w0 += g.dW;
        int64_t best = h0 * g.W + w0;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t h = h0; h < h1; h += g.dH)
          for (int64_t w = w0; w < w1; w += g.dW) {
            const T v = xp[h * g.W + w];
            if (v > m || std::isnan(v)) {
              m = v;
              best = h * g.W + w;
            }
          }
        yp[oh * g.oW + ow] = m;
        ip[oh * g.oW + ow] = best;
      }
  });
}

// forward: y = x[idx]  =>  dx[idx] += dy (dx overwritten; windows may share an argmax). A window
// that dilation leaves wholly in the padding has no pixel (y = -inf, idx outside the plane): skipped.
template <class T> void max_pool2d_backward(const Window2d& g, int64_t planes, const T* dy, const int64_t* idx, T* dx) {
  for_each_plane(g, planes, [&](int64_t p) {
    T* dxp = dx + p * g.in_plane();
    std::fill(dxp, dxp + g.in_plane(), T(0));
    const T* dyp = dy + p * g.out_plane();
    const int64_t* ip = idx + p * g.out_plane();
    for (int64_t o = 0; o < g.out_plane(); ++o)
      if (ip[o] >= 0 && ip[o] < g.in_plane()) dxp[ip[o]] += dyp[o];
  });
}

// One avg_pool2d window: the pixels [h0, h1) x [w0, w1) inside the input, and the divisor. As
// PyTorch: the window is clipped to the padded input first (that size is the divisor with
// count_include_pad), then to the input itself (the divisor without it); a non-zero divisor_override wins.
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};
inline AvgWindow avg_window(const Window2d& g, int64_t oh, int64_t ow, bool count_include_pad,
                            int64_t divisor_override) {
  int64_t h0 = oh * g.sH - g.pH, w0 = ow * g.sW - g.pW;
  int64_t h1 = std::min(h0 + g.kH, g.H + g.pH), w1 = std::min(w0 + g.kW, g.W + g.pW);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.H);
  w1 = std::min(w1, g.W);
  const int64_t div = divisor_override != 0 ? divisor_override : count_include_pad ? padded : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, div};
}

// y = sum over the window / divisor (0 for a window wholly in the padding).
template <class T> void avg_pool2d_forward(const Window2d& g, int64_t planes, const T* x, T* y,
                                           bool count_include_pad, int64_t divisor_override) {
  for_each_plane(g, planes, [&](int64_t p) {
    const T* xp = x + p * g.in_plane();
    T* yp = y + p * g.out_plane();
    for (int64_t oh = 0; oh < g.oH; ++oh)
      for (int64_t ow = 0; ow < g.oW; ++ow) {
        const AvgWindow a = avg_window(g, oh, ow, count_include_pad, divisor_override);
        double s = 0;
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) s += double(xp[h * g.W + w]);
        yp[oh * g.oW + ow] = a.h0 < a.h1 && a.w0 < a.w1 ? T(s / double(a.divisor)) : T(0);
      }
  });
}

// forward: y = sum(window) / divisor  =>  every pixel of the window gets dy / divisor (dx overwritten).
template <class T> void avg_pool2d_backward(const Window2d& g, int64_t planes, const T* dy, T* dx,
                                            bool count_include_pad, int64_t divisor_override) {
  for_each_plane(g, planes, [&](int64_t p) {
    T* dxp = dx + p * g.in_plane();
    std::fill(dxp, dxp + g.in_plane(), T(0));
    const T* dyp = dy + p * g.out_plane();
    for (int64_t oh = 0; oh < g.oH; ++oh)
      for (int64_t ow = 0; ow < g.oW; ++ow) {
        const AvgWindow a = avg_window(g, oh, ow, count_include_pad, divisor_override);
        if (a.h0 >= a.h1 || a.w0 >= a.w1) continue;
        const T v = dyp[oh * g.oW + ow] / T(a.divisor);
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) dxp[h * g.W + w] += v;
      }
  });
}

}  // namespace atto::cpu
