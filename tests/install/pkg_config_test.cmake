# cmake -DPREFIX= -DLIBDIR= -DSOURCE= -DBINARY_DIR= -DPKG_CONFIG= -DC_COMPILER= -DEXTRA_FLAGS=
#       -DVERSION= -P pkg_config_test.cmake
#
# What a Makefile user does:  cc demo.c $(pkg-config --cflags --libs seqattn),
# with the package installed in PREFIX; then runs the program.
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/demo_output.cmake)

file(REMOVE_RECURSE "${BINARY_DIR}")
file(MAKE_DIRECTORY "${BINARY_DIR}")
set(ENV{PKG_CONFIG_PATH} "${PREFIX}/${LIBDIR}/pkgconfig")

execute_process(COMMAND "${PKG_CONFIG}" --modversion seqattn
  RESULT_VARIABLE rc OUTPUT_VARIABLE modversion ERROR_VARIABLE err
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0 OR NOT modversion STREQUAL VERSION)
  message(FATAL_ERROR "pkg-config --modversion seqattn gave \"${modversion}\" (${rc}), "
                      "expected ${VERSION}: ${err}")
endif()
execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs seqattn
  RESULT_VARIABLE rc OUTPUT_VARIABLE flags ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs seqattn failed (${rc}): ${err}")
endif()
message(STATUS "pkg-config --cflags --libs seqattn: ${flags}")
separate_arguments(flags UNIX_COMMAND "${flags}")
separate_arguments(extra UNIX_COMMAND "${EXTRA_FLAGS}")

set(program "${BINARY_DIR}/attention_demo")
execute_process(
  COMMAND "${C_COMPILER}" -std=c11 ${extra} "${SOURCE}" ${flags} -lm
          "-Wl,-rpath,${PREFIX}/${LIBDIR}" -o "${program}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cc attention_demo.c $(pkg-config --cflags --libs seqattn) failed:\n${out}")
endif()

run_demo("${program}")
