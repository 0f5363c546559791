# What only the CUDA backend has (GoogleTest): handles, device memory,
# streams and graphs, unaligned device pointers, FAST being approximate. The
# op sweeps against the reference run on every backend from one case table
# (backends_tests.cmake). Built only with the CUDA backend; on a machine
# without a usable GPU every test skips and says why (except the one that
# checks how a missing device is reported). The tests see the public C API
# plus the CUDA runtime, for streams, graphs and cudaMemGetInfo.
if(SEQATTN_WITH_CUDA)
  add_executable(seqattn_cuda_tests
    cuda/test_attention.cpp
    cuda/test_handle.cpp)
  target_link_libraries(seqattn_cuda_tests PRIVATE seqattn GTest::gtest_main CUDA::cudart
                                                   seqattn_warnings)
  # The helpers the suites share: tests/common/ (backend_util.hpp, attention_util.hpp, ...).
  target_include_directories(seqattn_cuda_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/common)
  gtest_discover_tests(seqattn_cuda_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES
                       PROPERTIES LABELS cuda)
endif()

# The model helpers of kernels/model.cu are internal C++ (hidden in the
# library), so this test compiles that file itself and calls its launchers.
if(SEQATTN_WITH_CUDA)
  add_executable(seqattn_cuda_model_ops_tests cuda/test_cuda_model_ops.cpp
                 "${PROJECT_SOURCE_DIR}/kernels/model.cu")
  target_include_directories(seqattn_cuda_model_ops_tests PRIVATE "${PROJECT_SOURCE_DIR}")
  target_link_libraries(seqattn_cuda_model_ops_tests PRIVATE seqattn GTest::gtest_main
                                                             CUDA::cudart seqattn_warnings)
  gtest_discover_tests(seqattn_cuda_model_ops_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES
                       PROPERTIES LABELS cuda)
endif()

# The workspace's growth policy (src/cuda/retiring_buffer.hpp, no CUDA in it)
# on host memory: built and run with or without the CUDA backend.
add_executable(seqattn_retiring_buffer_tests cuda/test_retiring_buffer.cpp)
target_include_directories(seqattn_retiring_buffer_tests PRIVATE "${PROJECT_SOURCE_DIR}/src")
target_link_libraries(seqattn_retiring_buffer_tests PRIVATE GTest::gtest_main seqattn_warnings)
gtest_discover_tests(seqattn_retiring_buffer_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES)
