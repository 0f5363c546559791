# cmake -DLIBRARY=<libseqattn.so> -DNM=<nm> -DHEADER=<seqattn.h> -P check_exports.cmake
#
# Fails if the library's dynamic symbol table defines anything not named
# seqattn_* (hidden visibility plus cmake/seqattn.map should leave only the C
# API), or misses a function that seqattn.h declares with SEQATTN_API.
cmake_minimum_required(VERSION 3.25)
foreach(var LIBRARY NM HEADER)
  if(NOT ${var})
    message(FATAL_ERROR "check_exports.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(COMMAND ${NM} -D --defined-only ${LIBRARY}
  OUTPUT_VARIABLE nm_out ERROR_VARIABLE nm_err RESULT_VARIABLE nm_rc)
if(NOT nm_rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${LIBRARY} failed (${nm_rc}): ${nm_err}")
endif()

# Lines are "<address> <type> <name>[@version]".
string(REPLACE "\n" ";" nm_lines "${nm_out}")
set(exported "")
set(foreign "")
foreach(line IN LISTS nm_lines)
  if(line MATCHES "^[0-9a-fA-F]* *[A-Za-z] ([^ @]+)")
    set(name "${CMAKE_MATCH_1}")
    list(APPEND exported "${name}")
    if(NOT name MATCHES "^seqattn_")
      list(APPEND foreign "${line}")
    endif()
  endif()
endforeach()

file(STRINGS ${HEADER} api_lines REGEX "SEQATTN_API .*[ *]seqattn_[a-z0-9_]+\\(")
set(missing "")
set(declared 0)
foreach(line IN LISTS api_lines)
  string(REGEX MATCH "seqattn_[a-z0-9_]+\\(" fn "${line}")
  string(REPLACE "(" "" fn "${fn}")
  math(EXPR declared "${declared} + 1")
  if(NOT fn IN_LIST exported)
    list(APPEND missing "${fn}")
  endif()
endforeach()

list(LENGTH exported n_exported)
if(foreign)
  list(JOIN foreign "\n  " foreign_text)
  message(FATAL_ERROR "${LIBRARY} exports symbols outside the C API:\n  ${foreign_text}")
endif()
if(declared EQUAL 0 OR missing)
  message(FATAL_ERROR "${LIBRARY} does not export these functions of ${HEADER}: ${missing} "
                      "(${declared} declared)")
endif()
message(STATUS "${n_exported} exported symbols, all seqattn_*; all ${declared} API functions present")
