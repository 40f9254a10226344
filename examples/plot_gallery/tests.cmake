# Smoke test: every kind of picture is drawn and written (the program checks each file is non-empty),
# and bad sizes / an unwritable path give errors that name them.
add_test(NAME example_plot_gallery_writes_pictures
         COMMAND plot_gallery --out ${CMAKE_CURRENT_BINARY_DIR}/smoke_plot_gallery)
set_tests_properties(example_plot_gallery_writes_pictures PROPERTIES
  PASS_REGULAR_EXPRESSION "wrote 8 pictures.*size error: \\[plot::heatmap\\] values.size\\(\\) is 20 but rows \\* cols = 3 \\* 5 = 15.*path error: \\[plot\\] cannot write .*not_a_folder/x.png"
  TIMEOUT 60)
