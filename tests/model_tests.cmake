# Model files, the seq2seq model through the C API, Keras parity, the CLI.
# Fixture and model paths reach the tests as compile definitions, so the tests
# run from any directory; a test whose file is missing says so and skips.

set(SEQATTN_MODEL_TEST_DEFS
  SEQATTN_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures"
  SEQATTN_DATE_MODEL="${PROJECT_SOURCE_DIR}/models/date_model.safetensors")

find_package(nlohmann_json 3 REQUIRED)

# Tests through the C API: the library, GoogleTest, and nlohmann-json for the
# test-side safetensors writer and reader (model_test_util.hpp).
function(seqattn_model_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE seqattn::seqattn GTest::gtest_main
                        nlohmann_json::nlohmann_json seqattn_warnings)
  target_compile_definitions(${name} PRIVATE ${SEQATTN_MODEL_TEST_DEFS})
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
                       PROPERTIES LABELS "model" TIMEOUT 600)
endfunction()

# The safetensors reader is internal C++ (hidden in the library), so its test
# compiles the reader itself.
if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/model/test_safetensors.cpp")
  add_executable(test_safetensors model/test_safetensors.cpp
                 "${PROJECT_SOURCE_DIR}/src/model/safetensors.cpp")
  target_include_directories(test_safetensors PRIVATE "${PROJECT_SOURCE_DIR}/src"
                             "${PROJECT_SOURCE_DIR}/include")
  target_link_libraries(test_safetensors PRIVATE GTest::gtest_main nlohmann_json::nlohmann_json
                        seqattn_warnings)
  gtest_discover_tests(test_safetensors DISCOVERY_MODE PRE_TEST PROPERTIES LABELS "model")
endif()

seqattn_model_test(test_model_reference model/test_model_reference.cpp)
seqattn_model_test(test_model_api model/test_model_api.cpp)
seqattn_model_test(test_model_files model/test_model_files.cpp)
if(TARGET seqattn_cli)
  target_compile_definitions(test_model_files PRIVATE SEQATTN_CLI="$<TARGET_FILE:seqattn_cli>")
  add_dependencies(test_model_files seqattn_cli)
endif()
seqattn_model_test(test_date_model model/test_date_model.cpp)
seqattn_model_test(test_keras_parity model/test_keras_parity.cpp)
seqattn_model_test(test_model_allocations model/test_model_allocations.cpp)
seqattn_model_test(test_decoder_fixtures model/test_decoder_fixtures.cpp)
seqattn_model_test(test_sequence_head model/test_sequence_head.cpp)
if(TARGET seqattn_cli)
  target_compile_definitions(test_sequence_head PRIVATE SEQATTN_CLI="$<TARGET_FILE:seqattn_cli>")
  add_dependencies(test_sequence_head seqattn_cli)
endif()

# The program itself: translate with the built-in model, and the demo.
# PASS_REGULAR_EXPRESSION ignores the exit status, which test_model_files checks.
if(TARGET seqattn_cli)
  if(SEQATTN_CLI_HAS_DEFAULT_MODEL)
    add_test(NAME cli_translate_date
             COMMAND seqattn_cli translate "Saturday, 21 November 2026" "nov 21, 2026" "21/11/2026")
    set_tests_properties(cli_translate_date PROPERTIES
      PASS_REGULAR_EXPRESSION "^2026-11-21\n2026-11-21\n2026-11-21\n$")
    # The demo's throughput table: the same 256 dates on the reference and on
    # the fast CPU path, each nearly all right, and the speed-up of the second.
    add_test(NAME cli_demo COMMAND seqattn_cli demo)
    set_tests_properties(cli_demo PROPERTIES
      PASS_REGULAR_EXPRESSION "10 of 10 as expected.*256 random dates in one batch[^\n]*\n  reference +25[3-6] of 256 correct +[0-9.]+ ms +[0-9]+ dates/s\n  cpu[^\n]* 25[3-6] of 256 correct +[0-9.]+ ms +[0-9]+ dates/s, [0-9.]+× the reference\n")
  else()
    # Not a silent pass: ctest reports these as skipped, with the reason.
    foreach(_t cli_translate_date cli_demo)
      add_test(NAME ${_t} COMMAND ${CMAKE_COMMAND} -E echo
               "SKIPPED: models/date_model.safetensors was missing when CMake ran")
      set_tests_properties(${_t} PROPERTIES SKIP_REGULAR_EXPRESSION "SKIPPED:")
    endforeach()
  endif()
  set_tests_properties(cli_translate_date cli_demo PROPERTIES LABELS "model;cli" TIMEOUT 300)

  # translate - on hostile stdin (tests/model/test_cli_stdin.py): batched
  # outputs in order and equal to each line alone, a long line among short
  # ones, the 4096-byte bound, NUL bytes, the attention map's bound.
  find_package(Python3 COMPONENTS Interpreter)
  if(SEQATTN_CLI_HAS_DEFAULT_MODEL AND Python3_Interpreter_FOUND)
    add_test(NAME cli_translate_stdin
             COMMAND ${Python3_EXECUTABLE} "${CMAKE_CURRENT_SOURCE_DIR}/model/test_cli_stdin.py"
                     "$<TARGET_FILE:seqattn_cli>")
    set_tests_properties(cli_translate_stdin PROPERTIES
      ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;OMP_WAIT_POLICY=PASSIVE"
      LABELS "model;cli" TIMEOUT 300)
  endif()
endif()
