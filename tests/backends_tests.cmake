# Every op on every backend against the double-precision reference, from the
# one case table (tests/common/cases.hpp). Built in every build: without CUDA
# (or without a GPU) the cuda cases skip and say why, and the fast CPU path
# runs under each SIMD target this processor has. The test forces Highway's
# targets through the libhwy the library also uses, hence hwy::hwy.
find_package(hwy REQUIRED)
add_executable(seqattn_backend_tests
  backends/test_attention.cpp
  backends/test_backward.cpp
  backends/test_layers.cpp
  backends/test_targets.cpp)
target_link_libraries(seqattn_backend_tests PRIVATE seqattn GTest::gtest_main hwy::hwy
                                                    seqattn_warnings)
target_include_directories(seqattn_backend_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/common)
# Heavy cases (the reference takes seconds per call) skip under a sanitizer,
# which would make them take minutes: cases.hpp reads this.
if(SEQATTN_SANITIZE)
  target_compile_definitions(seqattn_backend_tests PRIVATE SEQATTN_TEST_SANITIZED)
endif()
# The CUDA cases are labelled cuda, like every other GPU test, so that
# scripts/gpu_check.sh finds and sanitizes them and counts their skips (one
# label each: gtest_discover_tests cannot pass a list of labels).
gtest_discover_tests(seqattn_backend_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES
                     TEST_FILTER "-*/cuda_*"
                     PROPERTIES LABELS backends)
gtest_discover_tests(seqattn_backend_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES
                     TEST_FILTER "*/cuda_*"
                     PROPERTIES LABELS cuda)
