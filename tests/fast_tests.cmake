# The fast CPU backend's SIMD functions on their own (its ops are checked
# against the reference by the shared case table in tests/backends/). The
# test compiles the internal kernel header for every SIMD target itself.
add_executable(seqattn_fast_math_tests fast/test_fast_math.cpp)
target_include_directories(seqattn_fast_math_tests PRIVATE "${PROJECT_SOURCE_DIR}/src"
                                                           "${CMAKE_CURRENT_SOURCE_DIR}/fast")
set_source_files_properties(fast/test_fast_math.cpp PROPERTIES COMPILE_DEFINITIONS
                            "${SEQATTN_HWY_DEFINITIONS}")
target_link_libraries(seqattn_fast_math_tests PRIVATE hwy::hwy GTest::gtest_main seqattn_warnings)
gtest_discover_tests(seqattn_fast_math_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES)
