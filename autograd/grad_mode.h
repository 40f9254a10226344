// autograd/grad_mode.h -- is the graph being recorded? A thread-local switch and its RAII guard.
//
//   { NoGradGuard no_grad; w.sub_(w.grad(), lr); }   // an update that must not be recorded
//
// Optimizers, initialisers, gradcheck's numeric side, evaluation loops and every backward formula
// run with grad mode off.
#pragma once

namespace atto {

namespace detail {
inline thread_local bool grad_mode_enabled = true;   // constant-initialised: no TLS wrapper call
}

class GradMode {
 public:
  static bool is_enabled() { return detail::grad_mode_enabled; }
  static void set_enabled(bool on) { detail::grad_mode_enabled = on; }
};

class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// The opposite, to record a graph inside a no-grad region.
class EnableGradGuard {
 public:
  EnableGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(true); }
  ~EnableGradGuard() { GradMode::set_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace atto
