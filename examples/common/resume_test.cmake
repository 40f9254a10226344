# examples/common/resume_test.cmake -- checks that an example's --resume continues bitwise. Run A
# trains HALF iterations and stops (its final checkpoint), run B resumes from that checkpoint up to
# FULL, run C trains FULL iterations without a break: B and C must print the same
# "weights fingerprint" line (the sum of squares of every weight, to 17 digits).
#
#   cmake -DPROGRAM=<executable> -DDIR=<scratch folder> -DHALF=10 -DFULL=20 "-DARGS=--flag;value;..." -P resume_test.cmake
foreach(var PROGRAM DIR HALF FULL)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "resume_test.cmake needs -D${var}=...")
  endif()
endforeach()
file(REMOVE_RECURSE ${DIR})

function(train name iters)   # extra arguments: more flags
  execute_process(COMMAND ${PROGRAM} ${ARGS} --iters ${iters} --out ${DIR}/${name} ${ARGN}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "run ${name} failed (exit ${rc}):\n${out}\n${err}")
  endif()
  string(REGEX MATCH "weights fingerprint: [^\n]*" line "${out}")
  if(line STREQUAL "")
    message(FATAL_ERROR "run ${name} printed no weights fingerprint:\n${out}")
  endif()
  set(fingerprint_${name} "${line}" PARENT_SCOPE)
endfunction()

train(interrupted ${HALF})
train(resumed ${FULL} --resume ${DIR}/interrupted/checkpoint.safetensors)
train(uninterrupted ${FULL})
message(STATUS "resumed:       ${fingerprint_resumed}")
message(STATUS "uninterrupted: ${fingerprint_uninterrupted}")
if(NOT fingerprint_resumed STREQUAL fingerprint_uninterrupted)
  message(FATAL_ERROR "the resumed run ended with other weights than the uninterrupted one")
endif()
message(STATUS "resume is bitwise: same weights after ${FULL} iterations")
