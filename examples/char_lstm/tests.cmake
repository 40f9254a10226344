# char_lstm smoke tests. A fresh model predicts every character with probability ~1/65, a loss of
# ln 65 = 4.17: 30 iterations must bring both losses below 4. A missing or non-text data file must
# fail with a message naming it. An interrupted and resumed run must end with exactly the weights of
# an uninterrupted one. OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning,
# which keeps the tests fast on a busy machine. A smaller model (16 streams x 32 characters, 128
# hidden units) keeps each run within seconds.
set(char_lstm_smoke ${CMAKE_CURRENT_BINARY_DIR}/smoke_char_lstm)
set(char_lstm_quick --batch 16 --seq 32 --hidden 128 --lr-decay-iters 30 --eval-interval 0 --final-eval-iters 5 --sample-chars 40)

add_test(NAME example_char_lstm_learns
         COMMAND char_lstm --iters 30 ${char_lstm_quick} --checkpoint-every 10 --out ${char_lstm_smoke}/learns)
set_tests_properties(example_char_lstm_learns PROPERTIES
  PASS_REGULAR_EXPRESSION "iter 30: train loss [0-3]\\.[0-9]+, val loss [0-3]\\.[0-9]+" TIMEOUT 120
  ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)

add_test(NAME example_char_lstm_missing_data
         COMMAND char_lstm --data ${char_lstm_smoke}/no_such_file.txt --out ${char_lstm_smoke}/missing)
set_tests_properties(example_char_lstm_missing_data PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[char_lstm\\] cannot open [^\n]*no_such_file\\.txt" TIMEOUT 30)

# The program's own executable is a file that is not text: the error names it, the line and the byte.
add_test(NAME example_char_lstm_binary_data
         COMMAND char_lstm --data $<TARGET_FILE:char_lstm> --out ${char_lstm_smoke}/binary)
set_tests_properties(example_char_lstm_binary_data PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[char_lstm\\] [^\n]*char_lstm:1: column 1: byte 0x7f is not text" TIMEOUT 30)

add_test(NAME example_char_lstm_resumes_bitwise
         COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:char_lstm> -DDIR=${char_lstm_smoke}/resume -DHALF=10 -DFULL=20
                 "-DARGS=--batch;16;--seq;32;--hidden;128;--lr-decay-iters;20;--eval-interval;5;--eval-iters;2;--final-eval-iters;2;--sample-chars;10"
                 -P ${PROJECT_SOURCE_DIR}/examples/common/resume_test.cmake)
set_tests_properties(example_char_lstm_resumes_bitwise PROPERTIES TIMEOUT 180 ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)
