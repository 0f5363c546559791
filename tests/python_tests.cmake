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
