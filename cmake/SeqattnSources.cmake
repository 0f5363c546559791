# The library target: one shared libseqattn exporting only the C API.

set(SEQATTN_CPU_SOURCES
  capi/seqattn.cpp
  src/cpu/attention.cpp
  src/cpu/pooling.cpp
  src/cpu/rnn.cpp
  src/cpu/dense.cpp
  src/cpu/attention_backward.cpp
  src/cpu/layers_backward.cpp
  src/cpu/rnn_backward.cpp
  src/cpu/model_ops.cpp
  src/cpu/cpu_backend.cpp
  src/fast/attention.cpp
  src/fast/rnn.cpp
  src/fast/layers.cpp
  src/fast/gemm.cpp
  src/fast/thread_pool.cpp
  src/fast/kernels.cpp
  src/fast/fast_backend.cpp
  src/model/safetensors.cpp
  src/model/config.cpp
  src/model/block_cache.cpp
  src/model/vocab.cpp
  src/model/model.cpp
  src/model/sequence_head.cpp
  capi/model.cpp)

# CUDA sources are listed in cmake/SeqattnCuda.cmake (host side in src/cuda/,
# device code in kernels/); a build without CUDA gets the stub that says so.
if(SEQATTN_WITH_CUDA)
  include(cmake/SeqattnCuda.cmake)
else()
  set(SEQATTN_CUDA_SOURCES src/cuda/cuda_unavailable.cpp)
endif()

add_library(seqattn SHARED ${SEQATTN_CPU_SOURCES} ${SEQATTN_CUDA_SOURCES})
add_library(seqattn::seqattn ALIAS seqattn)
target_include_directories(seqattn
  PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
         $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  PRIVATE ${PROJECT_SOURCE_DIR}/src)
# src/cuda/ includes the launchers' headers as "kernels/<op>.cuh".
if(SEQATTN_WITH_CUDA)
  target_include_directories(seqattn PRIVATE ${PROJECT_SOURCE_DIR})
endif()
target_compile_definitions(seqattn PRIVATE SEQATTN_BUILDING_LIBRARY
                           $<$<BOOL:${SEQATTN_WITH_CUDA}>:SEQATTN_WITH_CUDA>)
target_link_libraries(seqattn PRIVATE seqattn_warnings)
# nlohmann-json (Debian: nlohmann-json3-dev) parses model-file headers; header-only.
find_package(nlohmann_json 3 REQUIRED)
target_link_libraries(seqattn PRIVATE nlohmann_json::nlohmann_json)
target_link_libraries(seqattn PRIVATE OpenMP::OpenMP_CXX)

# The fast CPU path: Google Highway (Debian libhwy-dev) compiles its kernels
# for every SIMD target and dispatches at run time; OpenBLAS does the products.
# The pthread build of OpenBLAS (Debian's default) is the one that may be
# called from several threads at once; seqattn makes it single-threaded and
# threads the calls itself (src/fast/parallel.hpp says why).
find_package(hwy REQUIRED)
target_link_libraries(seqattn PRIVATE hwy::hwy)
# SSE4 is the oldest x86 target worth its compile time (SSSE3 adds nothing
# here; the portable EMU128 fallback covers older processors), and SVE's
# sizeless vectors cannot live in the kernels' register-tile arrays (NEON
# serves aarch64).
set(SEQATTN_HWY_DEFINITIONS
    "HWY_DISABLED_TARGETS=(HWY_SSSE3|HWY_SVE|HWY_SVE2|HWY_SVE_256|HWY_SVE2_128)")
set_source_files_properties(src/fast/kernels.cpp PROPERTIES COMPILE_DEFINITIONS
                            "${SEQATTN_HWY_DEFINITIONS}")
find_library(SEQATTN_OPENBLAS_LIBRARY NAMES openblas
             HINTS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread REQUIRED)
find_path(SEQATTN_OPENBLAS_INCLUDE_DIR cblas.h
          HINTS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread /usr/include/openblas
          REQUIRED)
target_include_directories(seqattn SYSTEM PRIVATE ${SEQATTN_OPENBLAS_INCLUDE_DIR})
target_link_libraries(seqattn PRIVATE ${SEQATTN_OPENBLAS_LIBRARY})
if(SEQATTN_WITH_CUDA)
  target_link_libraries(seqattn PRIVATE ${SEQATTN_CUDA_LIBRARIES})
endif()

# Hidden visibility hides our C++; the version script also hides what the
# standard library's headers would otherwise export, so only seqattn_* remains.
target_link_options(seqattn PRIVATE
  "LINKER:--version-script=${PROJECT_SOURCE_DIR}/cmake/seqattn.map"
  "LINKER:--no-undefined")
set_target_properties(seqattn PROPERTIES
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  LINK_DEPENDS ${PROJECT_SOURCE_DIR}/cmake/seqattn.map
  CUDA_SEPARABLE_COMPILATION OFF)
