# Smoke test: every hand-derived gradient matches autograd's, both gradchecks pass, one SGD step
# lowers the loss (the program prints "all checks passed" only then, and exits 1 otherwise).
add_test(NAME example_backprop_by_hand_checks_pass
         COMMAND backprop_by_hand --out ${CMAKE_CURRENT_BINARY_DIR}/smoke_backprop_by_hand)
set_tests_properties(example_backprop_by_hand_checks_pass PROPERTIES
  PASS_REGULAR_EXPRESSION "gradcheck MulBackward: PASSED.*gradcheck MseLossBackward: PASSED.*all checks passed"
  TIMEOUT 60)
