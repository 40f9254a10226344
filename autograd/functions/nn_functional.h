// autograd/functions/nn_functional.h -- (placeholder, filled in by its op family)
#pragma once
#include "tensor/tensor.h"
