# The CUDA backend's sources: host side in src/cuda/ (C++, compiled by the host
# compiler), device code in kernels/ (nvcc). kernels/ is self-contained: each
# <op>.cu has its params and launchers in <op>.cuh beside it, which src/cuda/
# includes as "kernels/<op>.cuh"; nothing in kernels/ includes from src/. Included from SeqattnSources.cmake
# before add_library(seqattn), so per-file properties carry the nvcc flags.
set(SEQATTN_CUDA_KERNELS
  kernels/attention.cu
  kernels/attention_backward.cu
  kernels/pooling.cu
  kernels/pooling_backward.cu
  kernels/rnn.cu
  kernels/rnn_backward.cu
  kernels/dense.cu
  kernels/dense_backward.cu
  kernels/model.cu)

set(SEQATTN_CUDA_SOURCES
  src/cuda/context.cpp
  src/cuda/cuda_backend.cpp
  src/cuda/attention.cpp
  src/cuda/pooling.cpp
  src/cuda/rnn.cpp
  src/cuda/dense.cpp
  ${SEQATTN_CUDA_KERNELS})

# -lineinfo: profilers and compute-sanitizer map SASS back to source lines at
# no run-time cost. No --use_fast_math: SEQATTN_MATH_PRECISE relies on the
# IEEE tanhf/expf, and the fast path asks for its approximations explicitly.
# SEQATTN_PTXAS_VERBOSE=ON prints ptxas' register and spill report per kernel.
option(SEQATTN_PTXAS_VERBOSE "Print ptxas register/spill usage of the CUDA kernels" OFF)
set(_seqattn_nvcc_flags -lineinfo)
if(SEQATTN_PTXAS_VERBOSE)
  list(APPEND _seqattn_nvcc_flags -Xptxas=-v)
endif()
set_source_files_properties(${SEQATTN_CUDA_KERNELS} PROPERTIES
  COMPILE_OPTIONS "${_seqattn_nvcc_flags}")

set(SEQATTN_CUDA_LIBRARIES CUDA::cudart CUDA::cublas)

# One CUDA runtime in the process: libseqattn, and programs that link it and
# the runtime themselves (tests passing their own stream), share the shared
# libcudart rather than each carrying a static copy.
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
