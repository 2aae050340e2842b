# cmake --install: headers, libskein.so and libskein.a, the skein CLI, the CMake
# package (find_package(skein) -> skein::skein, skein::skein_static) and skein.pc.
include(CMakePackageConfigHelpers)

set_target_properties(skein_shared PROPERTIES EXPORT_NAME skein)
set_target_properties(skein_engine PROPERTIES EXPORT_NAME skein_static)
set(SKEIN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/skein)

install(DIRECTORY engine/include/skein DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(TARGETS skein_shared skein_engine EXPORT skeinTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS skein RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT skeinTargets NAMESPACE skein:: DESTINATION ${SKEIN_CMAKE_DIR})

configure_package_config_file(cmake/skeinConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/skeinConfig.cmake
                              INSTALL_DESTINATION ${SKEIN_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/skeinConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/skeinConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/skeinConfigVersion.cmake
        DESTINATION ${SKEIN_CMAKE_DIR})

# skein.pc locates the prefix from its own directory, so `cmake --install --prefix`
# may choose any prefix after configuring.
file(RELATIVE_PATH SKEIN_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" SKEIN_PC_TO_PREFIX "${SKEIN_PC_TO_PREFIX}")
configure_file(cmake/skein.pc.in ${CMAKE_CURRENT_BINARY_DIR}/skein.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/skein.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
