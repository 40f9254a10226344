# examples/tiny_gpt/replay_test.cmake -- runs `tiny_gpt --replay FIXTURE ARGS` and checks that it
# prints every line of EXPECTED: the losses PyTorch printed when it trained the same tiny GPT from the
# same initial weights on the same windows (tools/gen_tiny_gpt_replay.py wrote both files).
#
#   cmake -DPROGRAM=<tiny_gpt> -DFIXTURE=<.safetensors> -DEXPECTED=<.txt> -DDIR=<scratch> "-DARGS=--flag;value;..." -P replay_test.cmake
foreach(var PROGRAM FIXTURE EXPECTED DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "replay_test.cmake needs -D${var}=...")
  endif()
endforeach()
file(REMOVE_RECURSE ${DIR})
execute_process(COMMAND ${PROGRAM} --replay ${FIXTURE} ${ARGS} --out ${DIR}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "tiny_gpt --replay failed (exit ${rc}):\n${out}\n${err}")
endif()
file(STRINGS ${EXPECTED} expected_lines)
list(LENGTH expected_lines count)
if(count EQUAL 0)
  message(FATAL_ERROR "${EXPECTED} holds no line to compare")
endif()
foreach(line IN LISTS expected_lines)
  string(FIND "${out}" "${line}\n" at_end)
  string(FIND "${out}" "${line} (" at_note)   # the last evaluation's line goes on with a note
  if(at_end EQUAL -1 AND at_note EQUAL -1)
    message(FATAL_ERROR "PyTorch printed '${line}'; tiny_gpt --replay did not:\n${out}")
  endif()
  message(STATUS "same as PyTorch: ${line}")
endforeach()
