# Compiles each of SOURCES with CXX (a cross compiler) as the library does,
# warnings as errors; fails on the first source that does not compile, and
# checks that the kernels were generated for NEON. The BLAS header is the
# host's (cblas.h declares the same functions on every architecture).
file(MAKE_DIRECTORY "${OUT}")
foreach(src IN LISTS SOURCES)
  get_filename_component(name "${src}" NAME)
  execute_process(
    COMMAND "${CXX}" -std=c++17 -O2 -fopenmp -Wall -Wextra -Wpedantic -Wshadow -Wconversion
            -Wno-sign-conversion -Werror "-D${DEFINITIONS}" -I${ROOT}/include -I${ROOT}/src
            -isystem ${BLAS_INCLUDE}
            -c "${src}" -o "${OUT}/${name}.o"
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} does not compile for aarch64:\n${err}")
  endif()
  message(STATUS "aarch64: ${name} compiles")
endforeach()
string(REGEX REPLACE "g\\+\\+$" "nm" NM "${CXX}")
execute_process(COMMAND "${NM}" -C "${OUT}/kernels.cpp.o" OUTPUT_VARIABLE symbols)
if(NOT symbols MATCHES "N_NEON::AttentionEnergies")
  message(FATAL_ERROR "kernels.cpp has no NEON AttentionEnergies for aarch64")
endif()
