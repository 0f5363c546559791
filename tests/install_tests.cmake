# The package as a user gets it: `cmake --install` into a scratch prefix, then
# examples/c built against that prefix with find_package and with pkg-config,
# and run. Also the exported symbol table of the shared library.
set(SEQATTN_INSTALL_TEST_DIR ${CMAKE_CURRENT_BINARY_DIR}/install-test)
set(SEQATTN_INSTALL_TEST_PREFIX ${SEQATTN_INSTALL_TEST_DIR}/prefix)
# A sanitized libseqattn needs its runtime in the program that loads it.
set(SEQATTN_INSTALL_TEST_FLAGS "")
if(SEQATTN_SANITIZE)
  set(SEQATTN_INSTALL_TEST_FLAGS "-fsanitize=${SEQATTN_SANITIZE}")
endif()

add_test(NAME install.package
  COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR} -DCONFIG=$<CONFIG>
          -DPREFIX=${SEQATTN_INSTALL_TEST_PREFIX} -DLIBDIR=${CMAKE_INSTALL_LIBDIR}
          -DINCLUDEDIR=${CMAKE_INSTALL_INCLUDEDIR}
          -DSONAME=$<TARGET_SONAME_FILE_NAME:seqattn>
          -P ${CMAKE_CURRENT_SOURCE_DIR}/install/install_package.cmake)
set_tests_properties(install.package PROPERTIES FIXTURES_SETUP seqattn_installed)

add_test(NAME install.find_package
  COMMAND ${CMAKE_COMMAND} -DPREFIX=${SEQATTN_INSTALL_TEST_PREFIX}
          -DSOURCE_DIR=${PROJECT_SOURCE_DIR}/examples/c
          -DBINARY_DIR=${SEQATTN_INSTALL_TEST_DIR}/find_package
          -DGENERATOR=${CMAKE_GENERATOR} -DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}
          -DC_COMPILER=${CMAKE_C_COMPILER} -DEXTRA_FLAGS=${SEQATTN_INSTALL_TEST_FLAGS}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/install/find_package_test.cmake)
set_tests_properties(install.find_package PROPERTIES FIXTURES_REQUIRED seqattn_installed)

find_program(SEQATTN_PKG_CONFIG NAMES pkg-config pkgconf)
add_test(NAME install.pkg_config
  COMMAND ${CMAKE_COMMAND} -DPREFIX=${SEQATTN_INSTALL_TEST_PREFIX} -DLIBDIR=${CMAKE_INSTALL_LIBDIR}
          -DSOURCE=${PROJECT_SOURCE_DIR}/examples/c/attention_demo.c
          -DBINARY_DIR=${SEQATTN_INSTALL_TEST_DIR}/pkg_config
          -DPKG_CONFIG=${SEQATTN_PKG_CONFIG} -DC_COMPILER=${CMAKE_C_COMPILER}
          -DEXTRA_FLAGS=${SEQATTN_INSTALL_TEST_FLAGS} -DVERSION=${PROJECT_VERSION}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/install/pkg_config_test.cmake)
set_tests_properties(install.pkg_config PROPERTIES FIXTURES_REQUIRED seqattn_installed)
if(NOT SEQATTN_PKG_CONFIG)
  message(STATUS "seqattn: pkg-config not found; the install.pkg_config test is disabled")
  set_tests_properties(install.pkg_config PROPERTIES DISABLED TRUE)
endif()

# Only seqattn_* leaves the shared library, and every function of seqattn.h does.
add_test(NAME install.exported_symbols
  COMMAND ${CMAKE_COMMAND} -DLIBRARY=$<TARGET_FILE:seqattn> -DNM=${CMAKE_NM}
          -DHEADER=${PROJECT_SOURCE_DIR}/include/seqattn/seqattn.h
          -P ${CMAKE_CURRENT_SOURCE_DIR}/install/check_exports.cmake)
