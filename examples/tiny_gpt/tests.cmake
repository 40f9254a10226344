# tiny_gpt smoke tests. A fresh model predicts every character with probability ~1/65, a loss of
# ln 65 = 4.17: 30 iterations must bring both losses below 4. A missing or non-text data file must
# fail with a message naming it. An interrupted and resumed run must end with exactly the weights of
# an uninterrupted one. Replaying a run of the PyTorch twin (its initial weights and windows) must
# print PyTorch's losses, and a replay file that is not one must be refused. OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning,
# which keeps the tests fast on a busy machine.
set(tiny_gpt_smoke ${CMAKE_CURRENT_BINARY_DIR}/smoke_tiny_gpt)
set(tiny_gpt_quick --warmup-iters 10 --lr-decay-iters 30 --eval-interval 0 --final-eval-iters 5 --sample-chars 40)

add_test(NAME example_tiny_gpt_learns
         COMMAND tiny_gpt --iters 30 ${tiny_gpt_quick} --checkpoint-every 10 --out ${tiny_gpt_smoke}/learns)
set_tests_properties(example_tiny_gpt_learns PROPERTIES
  PASS_REGULAR_EXPRESSION "step 30: train loss [0-3]\\.[0-9]+, val loss [0-3]\\.[0-9]+" TIMEOUT 120
  ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)

add_test(NAME example_tiny_gpt_missing_data
         COMMAND tiny_gpt --data ${tiny_gpt_smoke}/no_such_file.txt --out ${tiny_gpt_smoke}/missing)
set_tests_properties(example_tiny_gpt_missing_data PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[tiny_gpt\\] cannot open [^\n]*no_such_file\\.txt" TIMEOUT 30)

# The program's own executable is a file that is not text: the error names it, the line and the byte.
add_test(NAME example_tiny_gpt_binary_data
         COMMAND tiny_gpt --data $<TARGET_FILE:tiny_gpt> --out ${tiny_gpt_smoke}/binary)
set_tests_properties(example_tiny_gpt_binary_data PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[tiny_gpt\\] [^\n]*tiny_gpt:1: column 1: byte 0x7f is not text" TIMEOUT 30)

add_test(NAME example_tiny_gpt_resumes_bitwise
         COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:tiny_gpt> -DDIR=${tiny_gpt_smoke}/resume -DHALF=10 -DFULL=20
                 "-DARGS=--warmup-iters;5;--lr-decay-iters;20;--eval-interval;5;--eval-iters;2;--final-eval-iters;2;--sample-chars;10"
                 -P ${PROJECT_SOURCE_DIR}/examples/common/resume_test.cmake)
set_tests_properties(example_tiny_gpt_resumes_bitwise PROPERTIES TIMEOUT 180 ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)

# The fixture and its expected losses come from tools/gen_tiny_gpt_replay.py, with these flags.
add_test(NAME example_tiny_gpt_replays_pytorch
         COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:tiny_gpt> -DDIR=${tiny_gpt_smoke}/replay
                 -DFIXTURE=${PROJECT_SOURCE_DIR}/tests/data/tiny_gpt_replay.safetensors
                 -DEXPECTED=${PROJECT_SOURCE_DIR}/tests/data/tiny_gpt_replay.txt
                 "-DARGS=--n-layer;2;--n-head;2;--n-embd;32;--block;16;--batch;4;--iters;8;--warmup-iters;2;--lr-decay-iters;8;--eval-interval;4;--eval-iters;3;--final-eval-iters;2;--lr;1e-2;--sample-chars;10"
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/tiny_gpt/replay_test.cmake)
set_tests_properties(example_tiny_gpt_replays_pytorch PROPERTIES TIMEOUT 60 ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)

# A checkpoint is a safetensors file but not a replay: the error names the file and what is missing.
add_test(NAME example_tiny_gpt_replay_not_a_replay
         COMMAND tiny_gpt --replay ${PROJECT_SOURCE_DIR}/tests/data/trained_model.safetensors --out ${tiny_gpt_smoke}/not_replay)
set_tests_properties(example_tiny_gpt_replay_not_a_replay PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[tiny_gpt\\] [^\n]*trained_model\\.safetensors has no replay\\.train_starts" TIMEOUT 30)
