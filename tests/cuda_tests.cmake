# CUDA handle vs CPU reference (GoogleTest). Built only with the CUDA backend;
# on a machine without a usable GPU every test skips and says why (except the
# one that checks how a missing device is reported). The tests see the public
# C API plus the CUDA runtime, for streams, graphs and cudaMemGetInfo.
if(SEQATTN_WITH_CUDA)
  add_executable(seqattn_cuda_tests
    cuda/attention_test.cpp
    cuda/layers_test.cpp
    cuda/handle_test.cpp)
  target_link_libraries(seqattn_cuda_tests PRIVATE seqattn GTest::gtest_main CUDA::cudart
                                                   seqattn_warnings)
  gtest_discover_tests(seqattn_cuda_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES
                       PROPERTIES LABELS cuda)
endif()
