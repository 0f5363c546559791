# cmake -DPREFIX= -DSOURCE_DIR= -DBINARY_DIR= -DGENERATOR= -DMAKE_PROGRAM= -DC_COMPILER=
#       -DEXTRA_FLAGS= -P find_package_test.cmake
#
# Configures and builds examples/c against the package installed in PREFIX
# (find_package(seqattn) + seqattn::seqattn), then runs the demo.
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/demo_output.cmake)

file(REMOVE_RECURSE "${BINARY_DIR}")
set(generator_args -G "${GENERATOR}")
if(MAKE_PROGRAM)
  list(APPEND generator_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" ${generator_args}
          "-DCMAKE_PREFIX_PATH=${PREFIX}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
          "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_C_FLAGS=${EXTRA_FLAGS}"
          "-DCMAKE_EXE_LINKER_FLAGS=${EXTRA_FLAGS}" -DCMAKE_BUILD_TYPE=Release
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring ${SOURCE_DIR} against ${PREFIX} failed:\n${out}")
endif()

# The package must come from PREFIX, not from somewhere else on the machine.
file(STRINGS "${BINARY_DIR}/CMakeCache.txt" found_dir REGEX "^seqattn_DIR:")
string(REGEX REPLACE "^seqattn_DIR:[A-Z]+=" "" found_dir "${found_dir}")
file(REAL_PATH "${found_dir}" found_dir)
file(REAL_PATH "${PREFIX}" real_prefix)
string(FIND "${found_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "find_package(seqattn) found ${found_dir}, not the package in ${PREFIX}")
endif()

execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BINARY_DIR}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building ${SOURCE_DIR} against ${PREFIX} failed:\n${out}")
endif()

run_demo("${BINARY_DIR}/attention_demo")
