# cnn_attention_mnist: a short training run must learn (accuracy far above the 10% of guessing), a
# resumed run must start from the trained weights, and broken MNIST files must give errors naming them.
# OMP_WAIT_POLICY=passive: on a machine shared with other jobs, OpenMP threads that spin while they wait
# for a descheduled partner made this program 4-6x slower (README).
set(mnist_smoke ${CMAKE_CURRENT_BINARY_DIR}/smoke_cnn_attention_mnist)
set(mnist_bad ${CMAKE_CURRENT_BINARY_DIR}/bad_mnist)
set(mnist_data ${PROJECT_SOURCE_DIR}/data/mnist)

add_test(NAME example_cnn_attention_mnist_learns
         COMMAND cnn_attention_mnist --train-limit 3000 --test-limit 1000 --batch 32 --epochs 1 --out ${mnist_smoke})
set_tests_properties(example_cnn_attention_mnist_learns PROPERTIES
  PASS_REGULAR_EXPRESSION "test accuracy 0\\.[5-9][0-9]+ \\(1000 test images\\)"
  ENVIRONMENT OMP_WAIT_POLICY=passive TIMEOUT 180 FIXTURES_SETUP mnist_checkpoint)

# The checkpoint has finished its one epoch: no training, and only the loaded weights can score above 50%.
add_test(NAME example_cnn_attention_mnist_resumes
         COMMAND cnn_attention_mnist --train-limit 3000 --test-limit 1000 --batch 32 --epochs 1 --out ${mnist_smoke}
                 --resume ${mnist_smoke}/checkpoint.safetensors)
set_tests_properties(example_cnn_attention_mnist_resumes PROPERTIES
  PASS_REGULAR_EXPRESSION "resumed from .*epoch 1 done.*test accuracy 0\\.[5-9][0-9]+ \\(1000 test images\\)"
  ENVIRONMENT OMP_WAIT_POLICY=passive TIMEOUT 120 FIXTURES_REQUIRED mnist_checkpoint)

# A checkpoint of another model (64 channels) into this one (32): the error lists the differing shapes.
add_test(NAME example_cnn_attention_mnist_resume_other_model
         COMMAND cnn_attention_mnist --train-limit 3000 --test-limit 1000 --channels2 32 --epochs 1
                 --out ${mnist_smoke}_other --resume ${mnist_smoke}/checkpoint.safetensors)
set_tests_properties(example_cnn_attention_mnist_resume_other_model PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[load_checkpoint\\] .*does not fit this AttentionCnn.*conv2.weight: expected \\[32, 32, 3, 3\\], found \\[64, 32, 3, 3\\]"
  TIMEOUT 60 FIXTURES_REQUIRED mnist_checkpoint)

add_test(NAME example_cnn_attention_mnist_missing_file
         COMMAND cnn_attention_mnist --data ${mnist_bad}/no_such_folder --out ${mnist_bad}/out)
set_tests_properties(example_cnn_attention_mnist_missing_file PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[mnist\\] cannot open .*no_such_folder/train-images-idx3-ubyte.gz: No such file"
  TIMEOUT 30)

# Broken copies of the training images, one folder each: not IDX at all, a gzip stream cut short,
# and an uncompressed IDX file cut short.
file(WRITE ${mnist_bad}/magic/train-images-idx3-ubyte.gz "this is not an IDX file")
add_test(NAME example_cnn_attention_mnist_bad_files_setup
         COMMAND sh -c "mkdir -p ${mnist_bad}/cut_gzip ${mnist_bad}/cut_idx && head -c 100000 ${mnist_data}/train-images-idx3-ubyte.gz > ${mnist_bad}/cut_gzip/train-images-idx3-ubyte.gz && gzip -dc ${mnist_data}/train-images-idx3-ubyte.gz | head -c 5000 > ${mnist_bad}/cut_idx/train-images-idx3-ubyte.gz")
set_tests_properties(example_cnn_attention_mnist_bad_files_setup PROPERTIES FIXTURES_SETUP mnist_bad_files TIMEOUT 30)

add_test(NAME example_cnn_attention_mnist_bad_magic
         COMMAND cnn_attention_mnist --data ${mnist_bad}/magic --out ${mnist_bad}/out)
set_tests_properties(example_cnn_attention_mnist_bad_magic PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[mnist\\] .*magic/train-images-idx3-ubyte.gz: magic number [0-9]+ \\(0x[0-9a-f]+\\), expected 2051"
  TIMEOUT 30)
add_test(NAME example_cnn_attention_mnist_truncated_gzip
         COMMAND cnn_attention_mnist --data ${mnist_bad}/cut_gzip --out ${mnist_bad}/out)
set_tests_properties(example_cnn_attention_mnist_truncated_gzip PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[mnist\\] .*cut_gzip/train-images-idx3-ubyte.gz: truncated: it ends after [0-9]+ of the 47040000 bytes of the pixels"
  TIMEOUT 30 FIXTURES_REQUIRED mnist_bad_files)
add_test(NAME example_cnn_attention_mnist_truncated_idx
         COMMAND cnn_attention_mnist --data ${mnist_bad}/cut_idx --out ${mnist_bad}/out)
set_tests_properties(example_cnn_attention_mnist_truncated_idx PROPERTIES
  PASS_REGULAR_EXPRESSION "error: \\[mnist\\] .*cut_idx/train-images-idx3-ubyte.gz: truncated: it ends after 4984 of the 47040000 bytes of the pixels"
  TIMEOUT 30 FIXTURES_REQUIRED mnist_bad_files)
