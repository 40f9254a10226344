// tensor/check.h -- the two kinds of check, and the one exception type.
//
//   ATTO_CHECK(cond, fmt, args...)   the caller's mistake: always on, throws atto::Error. The message
//                                    names the op in brackets and shows the shapes/values involved:
//                                    "[matmul] inner dims differ: a is [2, 3], b is [4, 5]".
//   ATTO_ASSERT(cond, fmt, args...)  our bug: throws atto::Error prefixed "internal error".
//
// The library never calls exit/abort on bad input: a host program can catch atto::Error and go on.
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace atto {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace atto

#define ATTO_CHECK(cond, ...)                                  \
  do {                                                         \
    if (!(cond)) [[unlikely]]                                  \
      throw ::atto::Error(::fmt::format(__VA_ARGS__));         \
  } while (0)

#define ATTO_ASSERT(cond, ...)                                                              \
  do {                                                                                      \
    if (!(cond)) [[unlikely]]                                                               \
      throw ::atto::Error(::fmt::format("internal error at {}:{} (please report): {}",      \
                                        __FILE__, __LINE__, ::fmt::format(__VA_ARGS__)));   \
  } while (0)
