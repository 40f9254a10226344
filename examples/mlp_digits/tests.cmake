# Smoke test: the README's number is checked by the test suite.
add_test(NAME example_mlp_digits_reaches_95_percent COMMAND mlp_digits)
set_tests_properties(example_mlp_digits_reaches_95_percent PROPERTIES
  PASS_REGULAR_EXPRESSION "test accuracy 0\\.9[5-9]" TIMEOUT 300)
