// tests/main.cpp -- the doctest runner. Prints the build configuration first, so a log says what
// was tested (BLAS, OpenMP threads, CUDA and its device).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <fmt/core.h>

#include "attograd.h"

int main(int argc, char** argv) {
  doctest::Context ctx(argc, argv);
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]).find("list") != std::string_view::npos) listing = true;
  if (!listing) {
    fmt::print("attograd tests: threads={} cuda_built={} cuda_available={}{}\n", atto::get_num_threads(),
               atto::built_with_cuda(), atto::cuda_is_available(),
               atto::cuda_is_available() ? " device=" + atto::cuda_device_name(0) : std::string());
  }
  return ctx.run();
}
