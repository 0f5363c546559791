# cmake --install: headers, the library, seqattnConfig.cmake (+ version file,
# target seqattn::seqattn) and seqattn.pc.
include(CMakePackageConfigHelpers)

install(TARGETS seqattn EXPORT seqattnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/seqattn DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(SEQATTN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/seqattn)
install(EXPORT seqattnTargets NAMESPACE seqattn:: DESTINATION ${SEQATTN_CMAKE_DIR})
configure_package_config_file(cmake/seqattnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/seqattnConfig.cmake INSTALL_DESTINATION ${SEQATTN_CMAKE_DIR})
# 0.x: a minor release may break the ABI, so only the same minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/seqattnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/seqattnConfig.cmake
              ${PROJECT_BINARY_DIR}/seqattnConfigVersion.cmake
        DESTINATION ${SEQATTN_CMAKE_DIR})

# Relocatable: the prefix is found from where the .pc file lies, so a package
# installed with `cmake --install --prefix DIR` works from DIR as well.
file(RELATIVE_PATH SEQATTN_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(cmake/seqattn.pc.in ${PROJECT_BINARY_DIR}/seqattn.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/seqattn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
