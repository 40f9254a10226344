// autograd/functions/losses.h -- (placeholder, filled in by its op family)
#pragma once
#include "tensor/tensor.h"
