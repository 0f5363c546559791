# Placeholder until the CUDA backend lands: a CUDA build says the backend is unsupported.
set(SEQATTN_CUDA_SOURCES src/cuda/cuda_unavailable.cpp)
set(SEQATTN_CUDA_LIBRARIES CUDA::cudart)
