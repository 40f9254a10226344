// optim/checkpoint.h -- a training checkpoint: everything a run needs to continue bitwise where it
// stopped (model, optimizer, scheduler, random generator, step, and the caller's own values), in one
// safetensors file written atomically. Twin: checkpoint.cpp.
//
//   optim::TrainingState st{.model = &model, .optimizer = &opt, .scheduler = &sched, .step = step};
//   st.extra["epoch"] = std::to_string(epoch);
//   optim::save_checkpoint("run/ckpt.safetensors", st);
//   ...
//   optim::load_checkpoint("run/ckpt.safetensors", st);   // st.step, st.extra restored too
//
// NOTE [ Training checkpoint layout ]
// Tensors: "model.<name>" (the state_dict), "optimizer.state.<i>.<name>", "scheduler.<name>"
// (a 0-d float64 each) and "generator.seed"/"generator.offset" (0-d int64; the generator defaults
// to default_generator()). Metadata: "format" = "attograd.checkpoint.v1", "step", the optimizer's
// type and its param_groups (options = hyper-parameters, as JSON), the scheduler's type, and
// "extra.<key>" for the caller's values. A file from another model fails with the list of keys
// that differ (missing / unexpected / shape) -- nothing is loaded in that case.
#pragma once
#include <map>
#include <string>

#include "nn/module.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"
#include "tensor/random.h"

namespace atto::optim {

struct TrainingState {
  nn::Module* model = nullptr;          // required
  Optimizer* optimizer = nullptr;       // optional
  LRScheduler* scheduler = nullptr;     // optional
  Generator* generator = nullptr;       // null: default_generator()
  int64_t step = 0;                     // saved; restored by load_checkpoint
  std::map<std::string, std::string> extra;   // the caller's values (epoch, data cursor, ...); restored
};

void save_checkpoint(const std::string& path, const TrainingState& state);
void load_checkpoint(const std::string& path, TrainingState& state);

// Optimizer and scheduler state on their own, in the same format (hyper-parameters in metadata).
void save_optimizer_state(const std::string& path, const Optimizer& optimizer);
void load_optimizer_state(const std::string& path, Optimizer& optimizer);
void save_scheduler_state(const std::string& path, const LRScheduler& scheduler);
void load_scheduler_state(const std::string& path, LRScheduler& scheduler);

}  // namespace atto::optim
