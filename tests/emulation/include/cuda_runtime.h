// The emulated build's <cuda_runtime.h> (tests/emulation/): the CUDA types,
// built-ins and runtime calls that kernels/ uses, as host C++ (../emu.hpp).
#pragma once
#include "../emu.hpp"
