# Smoke tests for seq2seq_attention: the BLEU self-check, a few training steps whose held-out loss
# must fall well below a uniform guess (ln 2876 = 7.96 nats), a resume from that run's checkpoint,
# a checkpoint of another model refused, and data errors that name the file and the line.
set(S2S_OUT ${CMAKE_CURRENT_BINARY_DIR}/smoke_seq2seq_attention)
set(S2S_SMALL --hidden 64 --lr 0.01 --batch 32 --eval-limit 20 --beam 2 --samples 1)

add_test(NAME example_seq2seq_bleu_self_check COMMAND seq2seq_attention --bleu-check)
set_tests_properties(example_seq2seq_bleu_self_check PROPERTIES
  PASS_REGULAR_EXPRESSION "BLEU self-check passed" TIMEOUT 30)

# 25 steps of 32 pairs (a small model, a high learning rate): the held-out loss drops from ~7.9 to
# about 4 nats per word; the test wants it below 6.
add_test(NAME example_seq2seq_smoke_loss_falls
  COMMAND seq2seq_attention --iters 25 --epochs 2 ${S2S_SMALL} --out ${S2S_OUT})
set_tests_properties(example_seq2seq_smoke_loss_falls PROPERTIES
  PASS_REGULAR_EXPRESSION "epoch  1  step    25  train loss [0-7]\\.[0-9]+  test loss [0-5]\\.[0-9]+"
  FIXTURES_SETUP seq2seq_checkpoint TIMEOUT 60)

# The checkpoint, saved after batch 25 of epoch 1, continues there (5 more steps, up to --iters 30).
add_test(NAME example_seq2seq_smoke_resume
  COMMAND seq2seq_attention --iters 30 --epochs 2 ${S2S_SMALL} --out ${S2S_OUT}_resumed
          --resume ${S2S_OUT}/checkpoint.safetensors)
set_tests_properties(example_seq2seq_smoke_resume PROPERTIES
  PASS_REGULAR_EXPRESSION "resumed from .* at epoch 1, batch 25 \\(step 25\\).*epoch  1  step    30  train loss [0-9.]+  test loss [0-5]\\.[0-9]+"
  FIXTURES_REQUIRED seq2seq_checkpoint TIMEOUT 60)

# A checkpoint of a wider model is refused, naming the parameters whose shapes differ.
add_test(NAME example_seq2seq_resume_other_model_fails
  COMMAND seq2seq_attention --iters 30 --epochs 2 --hidden 32 --out ${S2S_OUT}_wrong
          --resume ${S2S_OUT}/checkpoint.safetensors)
set_tests_properties(example_seq2seq_resume_other_model_fails PROPERTIES
  PASS_REGULAR_EXPRESSION "error: .*checkpoint.safetensors.*encoder.embedding.weight"
  FIXTURES_REQUIRED seq2seq_checkpoint TIMEOUT 30)

# Data errors name the file (and the line).
file(WRITE ${S2S_OUT}_bad_pairs.tsv "i m ok\tje vais bien\nthis line has no tab\n")
add_test(NAME example_seq2seq_malformed_data_names_line
  COMMAND seq2seq_attention --data ${S2S_OUT}_bad_pairs.tsv --out ${S2S_OUT}_bad)
set_tests_properties(example_seq2seq_malformed_data_names_line PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[seq2seq_attention\\] .*_bad_pairs.tsv:2: expected 'english<TAB>french'" TIMEOUT 30)
add_test(NAME example_seq2seq_missing_data_names_file
  COMMAND seq2seq_attention --data ${S2S_OUT}_no_such_file.tsv --out ${S2S_OUT}_bad)
set_tests_properties(example_seq2seq_missing_data_names_file PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[seq2seq_attention\\] cannot open .*_no_such_file.tsv" TIMEOUT 30)
