# optimizer_study smoke tests: a tiny study (few steps, three optimizers) that must learn, the same
# study run twice whose metrics.csv and trajectories.csv must be byte-for-byte the same, the same study
# interrupted twice and resumed, and the error paths (a missing data file, an unknown optimizer, a
# checkpoint of another model).
set(study_tiny --steps 40 --fn-steps 60 --optimizers sgd,adam,lbfgs --lrs 0.01,0.1 --cosine adam --eval-every 10)

# Learns: Adam's best run brings the training loss from ln(10) = 2.30 to below 1.0 in 40 steps, and its
# test accuracy above 0.5 (chance: 0.1).
add_test(NAME example_optimizer_study_smoke
         COMMAND optimizer_study ${study_tiny} --out ${CMAKE_CURRENT_BINARY_DIR}/smoke_optimizer_study)
set_tests_properties(example_optimizer_study_smoke PROPERTIES
  PASS_REGULAR_EXPRESSION "\nadam +0\\.0?1 +0\\.[0-9]+ +[0-9.]+ +0\\.[5-9][0-9]+" TIMEOUT 60)

# Reproducible: two processes, same seed -> identical CSV files (wall times live only in summary.csv).
foreach(copy a b)
  add_test(NAME example_optimizer_study_repro_${copy}
           COMMAND optimizer_study ${study_tiny} --seed 7 --out ${CMAKE_CURRENT_BINARY_DIR}/repro_optimizer_study_${copy})
  set_tests_properties(example_optimizer_study_repro_${copy} PROPERTIES FIXTURES_SETUP optimizer_study_repro TIMEOUT 60)
endforeach()
foreach(csv metrics.csv trajectories.csv)
  add_test(NAME example_optimizer_study_repro_same_${csv}
           COMMAND ${CMAKE_COMMAND} -E compare_files ${CMAKE_CURRENT_BINARY_DIR}/repro_optimizer_study_a/${csv}
                   ${CMAKE_CURRENT_BINARY_DIR}/repro_optimizer_study_b/${csv})
  set_tests_properties(example_optimizer_study_repro_same_${csv} PROPERTIES FIXTURES_REQUIRED optimizer_study_repro)
endforeach()

# Resume: the tiny digits study (7 runs of 40 steps) whole, and stopped after 190 steps (lbfgs 0.01 at
# step 30; its last checkpoint is at step 25, so metrics.csv holds 5 rows too many), resumed and stopped
# again after 270 (the cosine run, step 30), resumed to the end: metrics.csv must be byte-for-byte the
# uninterrupted one (any state not restored -- weights, optimizer, scheduler, data order -- changes it).
set(study_resume --task digits ${study_tiny} --seed 3 --checkpoint-every 25)
set(resume_dir ${CMAKE_CURRENT_BINARY_DIR}/resume_optimizer_study)
add_test(NAME example_optimizer_study_resume_whole COMMAND optimizer_study ${study_resume} --out ${resume_dir}_whole)
add_test(NAME example_optimizer_study_resume_stop1
         COMMAND optimizer_study ${study_resume} --out ${resume_dir}_parts --stop-after-steps 190)
add_test(NAME example_optimizer_study_resume_stop2
         COMMAND optimizer_study ${study_resume} --out ${resume_dir}_parts --stop-after-steps 270
                 --resume ${resume_dir}_parts/checkpoint.safetensors)
add_test(NAME example_optimizer_study_resume_finish
         COMMAND optimizer_study ${study_resume} --out ${resume_dir}_parts --resume ${resume_dir}_parts/checkpoint.safetensors)
add_test(NAME example_optimizer_study_resume_same_metrics.csv
         COMMAND ${CMAKE_COMMAND} -E compare_files ${resume_dir}_whole/metrics.csv ${resume_dir}_parts/metrics.csv)
set_tests_properties(example_optimizer_study_resume_whole PROPERTIES FIXTURES_SETUP optimizer_study_resumed TIMEOUT 60)
set_tests_properties(example_optimizer_study_resume_stop1 PROPERTIES
  FIXTURES_SETUP optimizer_study_stop1 TIMEOUT 60
  PASS_REGULAR_EXPRESSION "stopped after 190 steps \\(--stop-after-steps\\), in run lbfgs 0\\.01 at step 30")
set_tests_properties(example_optimizer_study_resume_stop2 PROPERTIES
  FIXTURES_REQUIRED optimizer_study_stop1 FIXTURES_SETUP optimizer_study_stop2 TIMEOUT 60
  PASS_REGULAR_EXPRESSION "4 of 7 runs done, lbfgs 0\\.01 at step 25; .*metrics\\.csv cut back to 190 rows.*stopped after 270 steps")
set_tests_properties(example_optimizer_study_resume_finish PROPERTIES
  FIXTURES_REQUIRED optimizer_study_stop2 FIXTURES_SETUP optimizer_study_resumed TIMEOUT 60
  PASS_REGULAR_EXPRESSION "6 of 7 runs done, adam\\+cosine 0\\.01 at step 25; .*cut back to 272 rows.*optimizer_study done")
set_tests_properties(example_optimizer_study_resume_same_metrics.csv PROPERTIES FIXTURES_REQUIRED optimizer_study_resumed)
# A checkpoint of another model (--hidden 32 against 64): the library's error lists the differing shapes.
add_test(NAME example_optimizer_study_resume_other_model
         COMMAND optimizer_study ${study_resume} --hidden 32 --out ${CMAKE_CURRENT_BINARY_DIR}/smoke_optimizer_study_err
                 --resume ${resume_dir}_parts/checkpoint.safetensors)
set_tests_properties(example_optimizer_study_resume_other_model PROPERTIES
  FIXTURES_REQUIRED optimizer_study_stop1 TIMEOUT 30
  PASS_REGULAR_EXPRESSION "error: .*cannot resume this study \\(MLP 64-32-10\\).*shape mismatches: 0\\.weight: expected \\[32, 64\\], found \\[64, 64\\]")

# Error paths: the message names the missing file / the unknown optimizer, and the exit code is non-zero.
add_test(NAME example_optimizer_study_missing_data
         COMMAND optimizer_study --task digits --data ${CMAKE_CURRENT_BINARY_DIR}/no_such_digits.csv
                 --out ${CMAKE_CURRENT_BINARY_DIR}/smoke_optimizer_study_err)
set_tests_properties(example_optimizer_study_missing_data PROPERTIES WILL_FAIL TRUE TIMEOUT 30)
add_test(NAME example_optimizer_study_missing_data_message
         COMMAND optimizer_study --task digits --data ${CMAKE_CURRENT_BINARY_DIR}/no_such_digits.csv
                 --out ${CMAKE_CURRENT_BINARY_DIR}/smoke_optimizer_study_err)
set_tests_properties(example_optimizer_study_missing_data_message PROPERTIES
  PASS_REGULAR_EXPRESSION "cannot open .*no_such_digits\\.csv" TIMEOUT 30)
add_test(NAME example_optimizer_study_unknown_optimizer
         COMMAND optimizer_study --optimizers sgd,adamm --out ${CMAKE_CURRENT_BINARY_DIR}/smoke_optimizer_study_err)
set_tests_properties(example_optimizer_study_unknown_optimizer PROPERTIES
  PASS_REGULAR_EXPRESSION "unknown optimizer 'adamm' \\(known: sgd momentum" TIMEOUT 30)
