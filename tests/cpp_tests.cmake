# CPU reference and C API tests (GoogleTest). They see only the public headers
# (seqattn.h and the C++ wrapper seqattn.hpp) and link the shared library, as a
# user would; src/ stays private.
find_package(Threads REQUIRED)

add_executable(seqattn_cpp_tests
  cpp/test_attention.cpp
  cpp/test_pooling.cpp
  cpp/test_rnn.cpp
  cpp/test_dense.cpp
  cpp/test_backward.cpp
  cpp/test_validation.cpp
  cpp/test_api.cpp
  cpp/test_wrapper.cpp
  cpp/enum_calls.c)
target_link_libraries(seqattn_cpp_tests PRIVATE seqattn GTest::gtest_main Threads::Threads
                                                seqattn_warnings)
# The helpers both suites share: tests/common/ (test_util.hpp, oracle.hpp).
target_include_directories(seqattn_cpp_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/common)
# Exported, so that a sanitizer runtime loaded as a shared library finds the
# __asan_default_options that test_api.cpp defines.
set_target_properties(seqattn_cpp_tests PROPERTIES ENABLE_EXPORTS ON)
# What the version test compares the runtime and the macros against: the
# project version CMake configured and the SONAME of the library it built.
target_compile_definitions(seqattn_cpp_tests PRIVATE
  SEQATTN_TEST_PROJECT_VERSION_MAJOR=${PROJECT_VERSION_MAJOR}
  SEQATTN_TEST_PROJECT_VERSION_MINOR=${PROJECT_VERSION_MINOR}
  SEQATTN_TEST_PROJECT_VERSION_PATCH=${PROJECT_VERSION_PATCH}
  "SEQATTN_TEST_SONAME=\"$<TARGET_SONAME_FILE_NAME:seqattn>\"")
# The model entry points' overlap test (test_validation.cpp) loads the date model.
target_compile_definitions(seqattn_cpp_tests PRIVATE
  SEQATTN_TEST_DATE_MODEL="${PROJECT_SOURCE_DIR}/models/date_model.safetensors")
# PRE_TEST: list the tests when ctest runs, so a sanitizer build is not
# started at build time.
gtest_discover_tests(seqattn_cpp_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES)

