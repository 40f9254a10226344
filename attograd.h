// attograd.h -- the one header a user includes. Everything lives in namespace atto.
#pragma once
#include "autograd/function.h"
#include "autograd/functions/broadcast.h"
#include "autograd/functions/elementwise.h"
#include "autograd/functions/reduce.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tensor/tensor.h"
