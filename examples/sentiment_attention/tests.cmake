# sentiment_attention's tests: a 2-epoch smoke run (accuracy above chance on the 600 test
# sentences, pictures written), a resume from its checkpoint, and a malformed data line.
set(sa_smoke ${CMAKE_CURRENT_BINARY_DIR}/smoke_sentiment_attention)
add_test(NAME example_sentiment_attention_smoke
         COMMAND sentiment_attention --epochs 2 --heatmaps 1 --threads 1 --out ${sa_smoke})
set_tests_properties(example_sentiment_attention_smoke PROPERTIES
  PASS_REGULAR_EXPRESSION "heatmaps: [^\n]*attention_\\*\\.png.*test accuracy 0\\.[6-9][0-9]* \\(600 sentences\\)"
  FIXTURES_SETUP sentiment_attention_checkpoint TIMEOUT 240)

add_test(NAME example_sentiment_attention_resumes
         COMMAND sentiment_attention --epochs 3 --heatmaps 0 --threads 1 --resume ${sa_smoke}/checkpoint.safetensors
                 --out ${sa_smoke}_resumed)
set_tests_properties(example_sentiment_attention_resumes PROPERTIES
  PASS_REGULAR_EXPRESSION "resumed from [^\n]* after epoch 2.*test accuracy 0\\.[6-9]"
  FIXTURES_REQUIRED sentiment_attention_checkpoint TIMEOUT 240)

# A data line without its tab: the error names the file and the line.
set(sa_bad ${CMAKE_CURRENT_BINARY_DIR}/bad_sentiment)
file(WRITE ${sa_bad}/amazon_cells_labelled.txt "Good case, Excellent value.\t1\nThis line lost its label\n")
add_test(NAME example_sentiment_attention_malformed_line
         COMMAND sentiment_attention --data ${sa_bad} --out ${sa_smoke}_bad)
set_tests_properties(example_sentiment_attention_malformed_line PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[sentiment_attention\\] [^\n]*bad_sentiment/amazon_cells_labelled\\.txt:2: expected 'sentence<TAB>label'"
  TIMEOUT 30)
