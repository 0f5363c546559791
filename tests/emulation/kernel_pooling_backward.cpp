// kernels/pooling_backward.cu compiled unchanged as host C++ for the emulation
// (tests/emulation/emu.hpp; SEQATTN_EMULATION is defined for this target).
#include "kernels/pooling_backward.cu"
