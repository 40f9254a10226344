# optimizer_study smoke tests: a tiny study (few steps, three optimizers) that must learn, the same
# study run twice whose metrics.csv and trajectories.csv must be byte-for-byte the same, and the
# error paths (a missing data file, an unknown optimizer).
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
