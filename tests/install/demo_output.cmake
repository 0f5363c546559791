# run_demo(<program>): runs the installed-package demo and checks what it prints.
function(run_demo program)
  execute_process(COMMAND "${program}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${program}:\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${program} exited with ${rc}")
  endif()
  # Two sequences x two decoder steps, every row valid: four sums of 1.
  if(NOT out MATCHES "weights row sums: 1\\.000000 1\\.000000 1\\.000000 1\\.000000\n")
    message(FATAL_ERROR "${program} did not print \"weights row sums: 1.000000\" for each row")
  endif()
  # The second sequence has 3 valid encoder steps: its last weight is exactly 0.
  if(NOT out MATCHES "b=1 t=0 context:[^\n]*weights: [0-9.]+ [0-9.]+ [0-9.]+ 0\\.000000\n")
    message(FATAL_ERROR "${program}: the masked encoder step of b=1 does not have weight 0")
  endif()
endfunction()
