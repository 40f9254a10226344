// cuda/rnn.h -- the LSTM kernels on the GPU (internal): the fused cell pointwise step and a whole
// layer's time loop, forward and backward. Twin of tensor/cpu/rnn.h (same names, parameters and
// shapes, documented there), so ATTO_ON_DEVICE picks either. Definitions in cuda/rnn.cu.
#pragma once
#include <cstdint>

namespace atto::cuda {

template <class T> void lstm_pointwise_forward(const T* gates, const T* c, T* act, T* out, int64_t B, int64_t H);
template <class T>
void lstm_pointwise_backward(const T* act, const T* c, const T* dy, T* dgates, T* dc, int64_t B, int64_t H);

template <class T>
void lstm_sequence_forward(const T* xw, const T* h0, const T* c0, const T* w_hh, const T* b_hh, T* h_prev, T* c_prev,
                           T* act, T* out, int64_t steps, int64_t B, int64_t H, bool reverse);
template <class T>
void lstm_sequence_backward(const T* dout, const T* w_hh, const T* c_prev, const T* act, T* dgates, T* dh0, T* dc0,
                            int64_t steps, int64_t B, int64_t H, bool reverse);

}  // namespace atto::cuda
