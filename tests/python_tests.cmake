# The ctypes binding (python/seqattn) against the library just built: pytest
# compares every op with an independent float64 numpy reference, checks bad
# input through the binding and the raw C calls, and skips its CUDA module
# (saying why) without CuPy/PyTorch or a GPU. Needs numpy and pytest, which
# the CI setup installs; a missing one fails the test rather than skip it.
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(STATUS "seqattn: no Python 3 interpreter found; not registering python_binding")
  return()
endif()

add_test(NAME python_binding
  COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider python/tests
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(python_binding PROPERTIES
  # SEQATTN_LIBRARY: this build's library, never an installed copy.
  # PYTHONDONTWRITEBYTECODE keeps the source tree clean; OMP_WAIT_POLICY=PASSIVE
  # stops OpenMP workers spinning on the many tiny calls, which made the run
  # 10x slower on a loaded machine (ctest -j, shared CI runners).
  ENVIRONMENT "SEQATTN_LIBRARY=$<TARGET_FILE:seqattn>;PYTHONDONTWRITEBYTECODE=1;OMP_WAIT_POLICY=PASSIVE"
  # Any nonzero exit fails, pytest's 5 (no tests collected) included: no
  # SKIP_RETURN_CODE here, on purpose. The pattern also fails a run that
  # collected nothing yet exited 0 (a wrapper or plugin swallowing the code).
  FAIL_REGULAR_EXPRESSION "no tests ran"
  LABELS "python"
  TIMEOUT 300)

# The training example end to end (examples/train_dates_torch.py): the date
# normaliser trained from scratch through seqattn.torch's autograd functions
# on this build's library, exported, and the 2,000 held-out dates translated
# by this build's CLI; the example exits nonzero below 99% exact. About a
# minute on two cores. It needs PyTorch, which only Debian's python3 has here
# (scripts/setup.sh installs python3-torch): without it the test is not
# registered, and configure says so.
find_program(SEQATTN_TORCH_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
set(_torch_rc 1)
if(SEQATTN_TORCH_PYTHON)
  execute_process(COMMAND ${SEQATTN_TORCH_PYTHON} -c "import numpy, torch"
                  RESULT_VARIABLE _torch_rc OUTPUT_QUIET ERROR_QUIET)
endif()
if(_torch_rc EQUAL 0 AND TARGET seqattn_cli)
  add_test(NAME python_train_dates_example
    COMMAND ${SEQATTN_TORCH_PYTHON} examples/train_dates_torch.py --threads 1
            --out ${CMAKE_CURRENT_BINARY_DIR}/date_model_torch.safetensors
            --cli $<TARGET_FILE:seqattn_cli>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(python_train_dates_example PROPERTIES
    ENVIRONMENT "SEQATTN_LIBRARY=$<TARGET_FILE:seqattn>;PYTHONDONTWRITEBYTECODE=1;OMP_WAIT_POLICY=PASSIVE"
    LABELS "python"
    TIMEOUT 900)
else()
  message(STATUS "seqattn: no python3 with torch in /usr/bin; not registering python_train_dates_example")
endif()

# Under AddressSanitizer (the sanitize preset), the binding's hostile-input
# tests against the ASan-built library: a plain python3 cannot load it unless
# the ASan runtime comes first, so it is preloaded. This is the check that
# catches a use after free through the binding (Model.info after close()).
# detect_leaks=0: CPython itself leaks by design at exit. libstdc++ is
# preloaded after it: ASan intercepts __cxa_throw only if libstdc++ is there
# when it starts, else the library's first C++ exception (every refused
# argument) aborts in ASan's CHECK. The name does not begin with "python",
# which the sanitize test preset excludes. --capture=sys: ASan's report,
# written to fd 2 just before it aborts, reaches the test's output.
if(SEQATTN_SANITIZE MATCHES "address")
  foreach(_lib libasan libstdc++)
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=${_lib}.so
                    OUTPUT_VARIABLE _path OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT IS_ABSOLUTE "${_path}" OR NOT EXISTS "${_path}")
      message(FATAL_ERROR "seqattn: SEQATTN_SANITIZE=${SEQATTN_SANITIZE} but ${CMAKE_CXX_COMPILER} "
                          "does not name its ${_lib}.so (got '${_path}')")
    endif()
    list(APPEND _seqattn_preload "${_path}")
  endforeach()
  list(JOIN _seqattn_preload ":" _seqattn_preload)
  add_test(NAME asan_python_hostile
    COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider --capture=sys
          python/tests/test_hostile.py
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(asan_python_hostile PROPERTIES
    ENVIRONMENT "LD_PRELOAD=${_seqattn_preload};ASAN_OPTIONS=detect_leaks=0:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1;SEQATTN_LIBRARY=$<TARGET_FILE:seqattn>;PYTHONDONTWRITEBYTECODE=1;OMP_WAIT_POLICY=PASSIVE"
    FAIL_REGULAR_EXPRESSION "no tests ran|ERROR: AddressSanitizer"
    LABELS "python;sanitize"
    TIMEOUT 300)
endif()
