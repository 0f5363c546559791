# Every kernel of kernels/ under the CPU emulation (tests/emulation/): the
# .cu files compiled unchanged as host C++ with SEQATTN_EMULATION, their
# launches run on OS threads with the checks of tests/emulation/emu.hpp, and
# the results compared with the reference. Built by default, no nvcc needed.
option(SEQATTN_BUILD_EMULATION_TESTS "Run kernels/ under the CPU emulation in the tests" ON)
if(NOT SEQATTN_BUILD_EMULATION_TESTS)
  return()
endif()

set(_emu_dir "${CMAKE_CURRENT_SOURCE_DIR}/emulation")
set(_emu_kernels attention attention_backward dense dense_backward model pooling
                 pooling_backward rnn rnn_backward)
set(_emu_sources "${_emu_dir}/emu.cpp" "${_emu_dir}/test_emulation.cpp"
                 "${_emu_dir}/test_emulation_backward.cpp")
foreach(k IN LISTS _emu_kernels)
  list(APPEND _emu_sources "${_emu_dir}/kernel_${k}.cpp")
endforeach()

# The emulated device and kernels in one static library, so that a second
# test binary (TSan) can rebuild them with other flags.
function(seqattn_add_emulation_test target)
  add_executable(${target} ${_emu_sources})
  # SEQATTN_SOURCE_DIR: the mutation tests find the barriers in kernels/*.cu.
  target_compile_definitions(${target} PRIVATE SEQATTN_EMULATION
                                               SEQATTN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  # <cuda_runtime.h>, <cub/...> and <cuda/functional> resolve to the shims,
  # never to a toolkit's headers.
  target_include_directories(${target} BEFORE PRIVATE "${_emu_dir}/include")
  target_include_directories(${target} PRIVATE "${PROJECT_SOURCE_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}"
                                               "${CMAKE_CURRENT_SOURCE_DIR}/common")
  find_package(Threads REQUIRED)
  target_link_libraries(${target} PRIVATE seqattn GTest::gtest_main Threads::Threads
                                          seqattn_warnings)
  # The kernels' #pragma unroll means nothing to the host compiler.
  target_compile_options(${target} PRIVATE -Wno-unknown-pragmas)
endfunction()

seqattn_add_emulation_test(seqattn_emulation_tests)
if(SEQATTN_SANITIZE)
  target_compile_definitions(seqattn_emulation_tests PRIVATE SEQATTN_TEST_SANITIZED)
endif()
gtest_discover_tests(seqattn_emulation_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES
                     PROPERTIES LABELS emulation)

# The same tests under ThreadSanitizer, free-running schedule only, for the
# kernels with shared memory and barriers (a missing barrier there is a data
# race TSan reports, whatever the timing). Not in the sanitize preset (TSan
# and ASan exclude each other); the library itself stays uninstrumented, its
# OpenMP limited to one thread.
include(CheckCXXSourceCompiles)
if(NOT SEQATTN_SANITIZE AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND NOT CMAKE_CROSSCOMPILING)
  set(CMAKE_REQUIRED_FLAGS -fsanitize=thread)
  set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=thread)
  check_cxx_source_compiles("int main() { return 0; }" SEQATTN_HAVE_TSAN)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
endif()
option(SEQATTN_EMULATION_TSAN "Also run the emulation tests under ThreadSanitizer" ${SEQATTN_HAVE_TSAN})
if(SEQATTN_EMULATION_TSAN AND NOT SEQATTN_SANITIZE)
  seqattn_add_emulation_test(seqattn_emulation_tsan_tests)
  target_compile_options(seqattn_emulation_tsan_tests PRIVATE -fsanitize=thread -O1 -g)
  target_link_options(seqattn_emulation_tsan_tests PRIVATE -fsanitize=thread)
  gtest_discover_tests(seqattn_emulation_tsan_tests DISCOVERY_MODE PRE_TEST NO_PRETTY_VALUES
                       TEST_PREFIX "tsan/"
                       TEST_FILTER "Cases/EmuAttention.*concurrent*:Cases/EmuPooling.*concurrent*:Schedules/EmuModel.*/concurrent*"
                       PROPERTIES LABELS emulation_tsan
                                  ENVIRONMENT "OMP_NUM_THREADS=1;TSAN_OPTIONS=halt_on_error=1")
endif()
