# cmake -DBUILD_DIR= -DCONFIG= -DPREFIX= -DLIBDIR= -DINCLUDEDIR= -DSONAME= -P install_package.cmake
#
# Installs the build into a fresh PREFIX and checks the files a user relies on.
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE "${PREFIX}")
set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config_args}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} --prefix ${PREFIX} failed (${rc}):\n${out}")
endif()

foreach(file
    "${INCLUDEDIR}/seqattn/seqattn.h"
    "${INCLUDEDIR}/seqattn/seqattn.hpp"
    "${LIBDIR}/libseqattn.so"
    "${LIBDIR}/${SONAME}"
    "${LIBDIR}/cmake/seqattn/seqattnConfig.cmake"
    "${LIBDIR}/cmake/seqattn/seqattnConfigVersion.cmake"
    "${LIBDIR}/cmake/seqattn/seqattnTargets.cmake"
    "${LIBDIR}/pkgconfig/seqattn.pc")
  if(NOT EXISTS "${PREFIX}/${file}")
    message(FATAL_ERROR "cmake --install did not install ${file} under ${PREFIX}:\n${out}")
  endif()
endforeach()
message(STATUS "installed into ${PREFIX}")
