# The GPU check (scripts/gpu_check.sh) without a GPU: it must stop at once with
# exit status 2 (its nvidia-smi is overridden, so this holds on a GPU machine
# too), and its record writer (scripts/gpu_record.py) must format the sample
# logs in tests/scripts/gpu_record_sample. Standard-library Python only.
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(STATUS "seqattn: no Python 3 interpreter found; not registering the scripts tests")
  return()
endif()

foreach(_t gpu_check gpu_record)
  add_test(NAME scripts_${_t}
           COMMAND ${Python3_EXECUTABLE} "${CMAKE_CURRENT_SOURCE_DIR}/scripts/test_${_t}.py")
  set_tests_properties(scripts_${_t} PROPERTIES
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1"
    LABELS "scripts"
    TIMEOUT 120)
endforeach()
