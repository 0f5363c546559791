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

# The fast path must also build for aarch64 (NEON): with a cross compiler
# present (Debian g++-aarch64-linux-gnu, which scripts/setup.sh installs), a
# test compiles every source of src/fast/ for it, warnings as errors. Only
# compiled, not run: there is no aarch64 machine here.
find_program(SEQATTN_AARCH64_CXX aarch64-linux-gnu-g++)
if(SEQATTN_AARCH64_CXX)
  file(GLOB _seqattn_fast_sources "${PROJECT_SOURCE_DIR}/src/fast/*.cpp")
  add_test(NAME fast_path_compiles_for_aarch64
           COMMAND ${CMAKE_COMMAND} -DCXX=${SEQATTN_AARCH64_CXX} "-DSOURCES=${_seqattn_fast_sources}"
                   -DROOT=${PROJECT_SOURCE_DIR} "-DDEFINITIONS=${SEQATTN_HWY_DEFINITIONS}"
                   -DBLAS_INCLUDE=${SEQATTN_OPENBLAS_INCLUDE_DIR}
                   -DOUT=${CMAKE_CURRENT_BINARY_DIR}/aarch64
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/fast/cross_compile.cmake)
  set_tests_properties(fast_path_compiles_for_aarch64 PROPERTIES TIMEOUT 600 LABELS fast)
else()
  message(STATUS "seqattn tests: no aarch64-linux-gnu-g++, so the aarch64 build of the fast path is not checked")
endif()

# The thread pool on its own (internal, so the test compiles its source),
# with more threads than cores so that workers are preempted mid-job.
find_package(OpenMP REQUIRED COMPONENTS CXX)
add_executable(seqattn_thread_pool_tests fast/test_thread_pool.cpp
                                         "${PROJECT_SOURCE_DIR}/src/fast/thread_pool.cpp")
target_include_directories(seqattn_thread_pool_tests PRIVATE "${PROJECT_SOURCE_DIR}/src")
target_link_libraries(seqattn_thread_pool_tests PRIVATE GTest::gtest_main OpenMP::OpenMP_CXX
                                                        seqattn_warnings)
gtest_discover_tests(seqattn_thread_pool_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES)

# Edge values (NaN, saturated activations) on both CPU paths, through the C API.
add_executable(seqattn_fast_edge_tests fast/test_fast_edges.cpp)
target_link_libraries(seqattn_fast_edge_tests PRIVATE seqattn GTest::gtest_main seqattn_warnings)
gtest_discover_tests(seqattn_fast_edge_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES)
