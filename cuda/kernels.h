// cuda/kernels.h -- every CUDA kernel the tensor layer calls through ATTO_ON_DEVICE (internal): the
// twin of tensor/cpu/kernels.h and its family headers. Plain C++ declarations (no CUDA types), so
// the .cpp files of the tensor layer can include them; the definitions and their explicit
// instantiations are in the .cu file of each family.
#pragma once
#include "tensor/dtype.h"
#include "tensor/strided.h"

#include "cuda/attention.h"
#include "cuda/conv.h"
#include "cuda/copy.h"
#include "cuda/elementwise.h"
#include "cuda/fused.h"
#include "cuda/gemm.h"
#include "cuda/index.h"
#include "cuda/layernorm.h"
#include "cuda/loss.h"
#include "cuda/optim.h"
#include "cuda/random.h"
#include "cuda/reduce.h"
#include "cuda/rnn.h"
#include "cuda/softmax.h"
