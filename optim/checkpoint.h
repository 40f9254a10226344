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
// "extra.<key>" for the caller's values. Hyper-parameters are JSON (readable by any safetensors
// tool): [{"params": [0, 1], "lr": 0.001, "betas.0": 0.9, ...}], numbers printed so that they read
// back bit for bit; infinities and NaN, which JSON lacks, as the strings "inf", "-inf", "nan".
//
// load_checkpoint checks the whole file before it changes anything: the format tag and version,
// the model's keys, shapes and dtypes (one error lists every missing / unexpected key and every
// shape or dtype that differs), the optimizer's type, group count and hyper-parameter names, the
// scheduler's type and keys; the optimizer's and scheduler's load_state_dict check the rest, and a
// failure there puts back what was already loaded. A file that does not fit loads nothing.
// An optimizer or scheduler given to load_checkpoint must be in the file; one in the file but not
// given is skipped (pass just the model to load weights; generator, step and extra are always
// restored).
//
// The state files of save_optimizer_state / save_scheduler_state hold the same "optimizer.*" /
// "scheduler.*" tensors and metadata, with format "attograd.optimizer.v1" / "attograd.scheduler.v1".
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
  std::map<std::string, std::string> extra = {};   // the caller's values (epoch, data cursor, ...);
                                                   // load_checkpoint replaces them with the file's
};

void save_checkpoint(const std::string& path, const TrainingState& state);
void load_checkpoint(const std::string& path, TrainingState& state);

// Optimizer and scheduler state on their own, in the same format (hyper-parameters in metadata).
void save_optimizer_state(const std::string& path, const Optimizer& optimizer);
void load_optimizer_state(const std::string& path, Optimizer& optimizer);
void save_scheduler_state(const std::string& path, const LRScheduler& scheduler);
void load_scheduler_state(const std::string& path, LRScheduler& scheduler);

}  // namespace atto::optim
