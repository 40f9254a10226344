# lstm_classifier's tests: 2-epoch smoke runs (one-way with mean pooling, bidirectional with the
# last step), each checking that padding does not change the logits and that the test accuracy is
# above chance; a resume; a checkpoint of the other model refused; and a malformed label.
set(lstm_smoke ${CMAKE_CURRENT_BINARY_DIR}/smoke_lstm_classifier)
add_test(NAME example_lstm_classifier_smoke
         COMMAND lstm_classifier --epochs 2 --threads 1 --out ${lstm_smoke})
add_test(NAME example_lstm_classifier_bidirectional_last_step
         COMMAND lstm_classifier --epochs 2 --threads 1 --bidirectional --pool last --out ${lstm_smoke}_bidirectional)
set_tests_properties(example_lstm_classifier_smoke example_lstm_classifier_bidirectional_last_step PROPERTIES
  PASS_REGULAR_EXPRESSION "padding check: [^\n]*\\(ok\\).*test accuracy 0\\.[6-9][0-9]* \\(600 sentences\\)"
  TIMEOUT 240)
set_tests_properties(example_lstm_classifier_smoke PROPERTIES FIXTURES_SETUP lstm_classifier_checkpoint)
set_tests_properties(example_lstm_classifier_bidirectional_last_step PROPERTIES
  FIXTURES_SETUP lstm_classifier_bidirectional_checkpoint)

add_test(NAME example_lstm_classifier_resumes
         COMMAND lstm_classifier --epochs 3 --threads 1 --resume ${lstm_smoke}/checkpoint.safetensors
                 --out ${lstm_smoke}_resumed)
set_tests_properties(example_lstm_classifier_resumes PROPERTIES
  PASS_REGULAR_EXPRESSION "resumed from [^\n]* after epoch 2.*test accuracy 0\\.[6-9]"
  FIXTURES_REQUIRED lstm_classifier_checkpoint TIMEOUT 240)

# The bidirectional model's checkpoint does not fit the one-way model: the error lists the keys.
add_test(NAME example_lstm_classifier_refuses_other_checkpoint
         COMMAND lstm_classifier --epochs 3 --threads 1 --resume ${lstm_smoke}_bidirectional/checkpoint.safetensors
                 --out ${lstm_smoke}_wrong)
set_tests_properties(example_lstm_classifier_refuses_other_checkpoint PROPERTIES
  PASS_REGULAR_EXPRESSION "error: [^\n]*does not fit this LstmClassifier.*unexpected keys: lstm\\.weight_ih_l0_reverse"
  FIXTURES_REQUIRED lstm_classifier_bidirectional_checkpoint TIMEOUT 60)

# A label that is not 0 or 1: the error names the file and the line.
set(lstm_bad ${CMAKE_CURRENT_BINARY_DIR}/bad_sentiment_label)
file(WRITE ${lstm_bad}/amazon_cells_labelled.txt "Good case, Excellent value.\t1\nGreat for the jawbone.\tyes\n")
add_test(NAME example_lstm_classifier_malformed_label
         COMMAND lstm_classifier --data ${lstm_bad} --out ${lstm_smoke}_bad)
set_tests_properties(example_lstm_classifier_malformed_label PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[lstm_classifier\\] [^\n]*amazon_cells_labelled\\.txt:2: the label must be 0 or 1, found 'yes'"
  TIMEOUT 30)
