// optim/checkpoint.cpp -- training checkpoints and optimizer/scheduler state files on top of
// safetensors (NOTE [ Training checkpoint layout ] in the twin, checkpoint.h).
//
// Loading checks everything it can before it changes anything: the format, the model's keys,
// shapes and dtypes, the optimizer's type and hyper-parameter names, the scheduler's type and keys.
// The optimizer's and scheduler's own load_state_dict check the rest (group sizes, state shapes);
// if one of them fails, what was already loaded is put back, so a failed load leaves the model,
// optimizer, scheduler, generator and TrainingState as they were.
#include "optim/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "nn/safetensors.h"

namespace atto::optim {

namespace {

using Json = nlohmann::json;
using Metadata = std::map<std::string, std::string>;

constexpr const char* kCheckpointFormat = "attograd.checkpoint.v1";
constexpr const char* kOptimizerFormat = "attograd.optimizer.v1";
constexpr const char* kSchedulerFormat = "attograd.scheduler.v1";

constexpr const char* kModelPrefix = "model.";
constexpr const char* kOptimizerStatePrefix = "optimizer.state.";
constexpr const char* kSchedulerPrefix = "scheduler.";
constexpr const char* kGeneratorSeed = "generator.seed";
constexpr const char* kGeneratorOffset = "generator.offset";
constexpr const char* kExtraPrefix = "extra.";

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string list_or_none(const std::vector<std::string>& names) {
  return names.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(names, ", "));
}

// "[load_checkpoint] 'run/ckpt.safetensors'": the start of every message about one file.
struct Context {
  std::string op, path;
  std::string where() const { return fmt::format("[{}] '{}'", op, path); }
};

// ---- the format tag --------------------------------------------------------------------------------------

void check_format(const Context& cx, const Metadata& meta, const std::string& want) {
  auto it = meta.find("format");
  ATTO_CHECK(it != meta.end(),
             "{}: no \"format\" entry in the metadata: not an {} file (a file of plain weights loads with "
             "load_safetensors + Module::load_state_dict)",
             cx.where(), want);
  const std::string& found = it->second;
  if (found == want) return;
  const std::string family = want.substr(0, want.rfind(".v"));
  ATTO_CHECK(!starts_with(found, family + ".v"), "{}: format '{}' is a version this build cannot read (it reads '{}')",
             cx.where(), found, want);
  ATTO_CHECK(false, "{}: the file is a '{}' file, not a '{}' file", cx.where(), found, want);
}

const std::string& required_metadata(const Context& cx, const Metadata& meta, const std::string& key) {
  auto it = meta.find(key);
  ATTO_CHECK(it != meta.end(), "{}: the metadata has no \"{}\" entry", cx.where(), key);
  return it->second;
}

// ---- numbers as 0-d tensors --------------------------------------------------------------------------------

Tensor int64_scalar(int64_t v) { return from_vector<int64_t>({v}, Shape{}); }

int64_t read_int64_scalar(const Context& cx, const SafetensorsFile& file, const std::string& name) {
  const Tensor* t = file.tensors.find(name);
  ATTO_CHECK(t, "{}: the checkpoint has no tensor '{}'", cx.where(), name);
  ATTO_CHECK(t->dim() == 0 && t->dtype() == kInt64, "{}: '{}' should be a 0-d int64 tensor, found {} of shape {}",
             cx.where(), name, t->dtype(), t->shape());
  return *t->data_ptr<int64_t>();
}

// ---- optimizer hyper-parameters as JSON --------------------------------------------------------------------
// [{"params": [0, 1], "lr": 0.001, "betas.0": 0.9, ...}, ...]: numbers as JSON numbers (printed
// shortest-round-trip, so they come back bit for bit), strings as strings. JSON has no infinity or
// NaN: those are the strings "inf", "-inf", "nan" (Python's spelling) -- only string-valued options
// (LBFGS's line_search_fn) hold real strings, every other option is a number.

Json option_to_json(const OptionValue& v) {
  if (const std::string* s = std::get_if<std::string>(&v)) return *s;
  const double d = std::get<double>(v);
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  return d;
}

std::string param_groups_to_json(const OptimizerStateDict& sd) {
  Json groups = Json::array();
  for (const ParamGroupState& g : sd.param_groups) {
    Json j = Json::object();
    j["params"] = g.params;
    for (const auto& [key, v] : g.options) j[key] = option_to_json(v);
    groups.push_back(std::move(j));
  }
  return groups.dump();
}

bool is_string_option(const Optimizer& opt, size_t group, const std::string& key) {
  return group < opt.num_param_groups() && opt.has_option(group, key) &&
         std::holds_alternative<std::string>(opt.get_option_value(group, key));
}

std::vector<ParamGroupState> param_groups_from_json(const Context& cx, const std::string& text, const Optimizer& opt) {
  const std::string what = "the metadata entry \"optimizer.param_groups\"";
  Json groups;
  try {
    groups = Json::parse(text);
  } catch (const Json::exception& e) {
    ATTO_CHECK(false, "{}: {} is not valid JSON: {}", cx.where(), what, e.what());
  }
  ATTO_CHECK(groups.is_array(), "{}: {} should be a JSON array of groups", cx.where(), what);
  std::vector<ParamGroupState> out;
  for (size_t g = 0; g < groups.size(); ++g) {
    const Json& j = groups[g];
    ATTO_CHECK(j.is_object(), "{}: group {} of {} is not a JSON object", cx.where(), g, what);
    ParamGroupState gs;
    auto params = j.find("params");
    ATTO_CHECK(params != j.end() && params->is_array(), "{}: group {} of {} has no \"params\" list", cx.where(), g, what);
    for (const Json& p : *params) {
      ATTO_CHECK(p.is_number_integer(), "{}: group {} of {}: \"params\" should hold integers, found {}", cx.where(),
                 g, what, p.dump());
      gs.params.push_back(p.get<int64_t>());
    }
    for (const auto& [key, v] : j.items()) {
      if (key == "params") continue;
      if (v.is_number()) {
        gs.options[key] = v.get<double>();
        continue;
      }
      ATTO_CHECK(v.is_string(), "{}: group {} of {}: option '{}' should be a number or a string, found {}", cx.where(),
                 g, what, key, v.dump());
      const std::string s = v.get<std::string>();
      if (is_string_option(opt, g, key)) {
        gs.options[key] = s;
      } else if (s == "inf" || s == "-inf" || s == "nan") {
        gs.options[key] = s == "nan" ? NAN : (s == "inf" ? INFINITY : -INFINITY);
      } else {
        ATTO_CHECK(false, "{}: group {} of {}: option '{}' of {} is a number, found the string \"{}\"", cx.where(), g,
                   what, key, opt.name(), s);
      }
    }
    out.push_back(std::move(gs));
  }
  return out;
}

// ---- optimizer: writing and reading ------------------------------------------------------------------------

void put_optimizer(StateDict& tensors, Metadata& meta, const Optimizer& opt) {
  OptimizerStateDict sd = opt.state_dict();
  for (const auto& [name, t] : sd.state) tensors.insert(kOptimizerStatePrefix + name, t.cpu());   // the file's bytes
  meta["optimizer"] = opt.name();
  meta["optimizer.param_groups"] = param_groups_to_json(sd);
}

bool has_optimizer(const SafetensorsFile& file) { return file.metadata.count("optimizer") != 0; }

// The optimizer state in `file`, checked against `opt` as far as the file's layout goes (type,
// hyper-parameter names); group sizes and state shapes are load_state_dict's checks.
OptimizerStateDict read_optimizer(const Context& cx, const SafetensorsFile& file, const Optimizer& opt) {
  const std::string& type = required_metadata(cx, file.metadata, "optimizer");
  ATTO_CHECK(type == opt.name(), "{}: the file holds {} optimizer state, but the optimizer is {}", cx.where(), type,
             opt.name());
  OptimizerStateDict sd;
  sd.param_groups = param_groups_from_json(cx, required_metadata(cx, file.metadata, "optimizer.param_groups"), opt);
  ATTO_CHECK(sd.param_groups.size() == opt.num_param_groups(),
             "{}: the file has {} param groups for the {} optimizer, the optimizer has {}", cx.where(),
             sd.param_groups.size(), type, opt.num_param_groups());

  // Every option the optimizer has now (its hyper-parameters, and a scheduler's keys such as
  // initial_lr) must be in the file: loading replaces them all.
  const OptimizerStateDict current = opt.state_dict();
  for (size_t g = 0; g < sd.param_groups.size(); ++g) {
    std::vector<std::string> missing;
    for (const auto& [key, v] : current.param_groups[g].options)
      if (!sd.param_groups[g].options.count(key)) missing.push_back(key);
    ATTO_CHECK(missing.empty(), "{}: param group {} of the {} optimizer lacks the options {} (the file has {})",
               cx.where(), g, type, list_or_none(missing), [&] {
                 std::vector<std::string> have;
                 for (const auto& [key, v] : sd.param_groups[g].options) have.push_back(key);
                 return list_or_none(have);
               }());
  }

  // Read on the CPU; load_state_dict puts each buffer on its parameter's device (NOTE [ Optimizer
  // state and devices ] in optimizer.h).
  for (const auto& [name, t] : file.tensors)
    if (starts_with(name, kOptimizerStatePrefix))
      sd.state.insert(name.substr(std::string(kOptimizerStatePrefix).size()), t);

  // Within a group every parameter is updated alike, so every one that has state has the same
  // entries (a parameter that never had a gradient has none): a missing buffer is a damaged file.
  std::map<int64_t, std::set<std::string>> names_of;
  for (const auto& [key, t] : sd.state) {
    const size_t dot = key.find('.');
    char* end = nullptr;
    const long long index = std::strtoll(key.c_str(), &end, 10);
    if (dot != std::string::npos && end == key.c_str() + dot) names_of[index].insert(key.substr(dot + 1));
  }
  for (size_t g = 0; g < sd.param_groups.size(); ++g) {
    std::set<std::string> all;
    for (int64_t i : sd.param_groups[g].params)
      if (names_of.count(i)) all.insert(names_of[i].begin(), names_of[i].end());
    std::vector<std::string> missing;
    for (int64_t i : sd.param_groups[g].params)
      if (names_of.count(i))
        for (const std::string& n : all)
          if (!names_of[i].count(n)) missing.push_back(fmt::format("{}{}.{}", kOptimizerStatePrefix, i, n));
    ATTO_CHECK(missing.empty(),
               "{}: the parameters of param group {} hold other state names (all of a group should have the "
               "same); missing: {}",
               cx.where(), g, list_or_none(missing));
  }
  return sd;
}

// ---- scheduler: writing and reading ------------------------------------------------------------------------

void put_scheduler(StateDict& tensors, Metadata& meta, const LRScheduler& sched) {
  for (const auto& [name, v] : sched.state_dict()) tensors.insert(kSchedulerPrefix + name, scalar_tensor(v, {.dtype = kFloat64}));
  meta["scheduler"] = sched.name();
}

bool has_scheduler(const SafetensorsFile& file) { return file.metadata.count("scheduler") != 0; }

// The scheduler state in `file`, with exactly the keys `sched` has.
SchedulerStateDict read_scheduler(const Context& cx, const SafetensorsFile& file, const LRScheduler& sched) {
  const std::string& type = required_metadata(cx, file.metadata, "scheduler");
  ATTO_CHECK(type == sched.name(), "{}: the file holds {} scheduler state, but the scheduler is {}", cx.where(), type,
             sched.name());
  SchedulerStateDict sd;
  for (const auto& [name, t] : file.tensors) {
    if (!starts_with(name, kSchedulerPrefix)) continue;
    ATTO_CHECK(t.dim() == 0 && t.dtype() == kFloat64, "{}: '{}' should be a 0-d float64 tensor, found {} of shape {}",
               cx.where(), name, t.dtype(), t.shape());
    sd[name.substr(std::string(kSchedulerPrefix).size())] = t.item<double>();
  }
  std::vector<std::string> missing, unexpected;
  const SchedulerStateDict current = sched.state_dict();
  for (const auto& [key, v] : current)
    if (!sd.count(key)) missing.push_back(kSchedulerPrefix + key);
  for (const auto& [key, v] : sd)
    if (!current.count(key)) unexpected.push_back(kSchedulerPrefix + key);
  ATTO_CHECK(missing.empty() && unexpected.empty(),
             "{}: the {} scheduler's state does not fit this one (another configuration or number of param "
             "groups?)\n  missing keys: {}\n  unexpected keys: {}",
             cx.where(), type, list_or_none(missing), list_or_none(unexpected));
  return sd;
}

// ---- model ---------------------------------------------------------------------------------------------------

// The model's tensors in `file`, checked against `model` -- names, shapes and dtypes -- with one
// message listing every difference.
StateDict read_model(const Context& cx, const SafetensorsFile& file, const nn::Module& model) {
  StateDict dict;
  for (const auto& [name, t] : file.tensors)
    if (starts_with(name, kModelPrefix)) dict.insert(name.substr(std::string(kModelPrefix).size()), t);
  const StateDict own = model.state_dict();
  std::vector<std::string> missing, unexpected, shapes, dtypes;
  for (const auto& [name, t] : own) {
    const Tensor* found = dict.find(name);
    if (!found) missing.push_back(name);
    else if (found->shape() != t.shape())
      shapes.push_back(fmt::format("{}: expected {}, found {}", name, t.shape(), found->shape()));
    else if (found->dtype() != t.dtype())
      dtypes.push_back(fmt::format("{}: expected {}, found {}", name, t.dtype(), found->dtype()));
  }
  for (const auto& [name, t] : dict)
    if (!own.contains(name)) unexpected.push_back(name);
  if (missing.empty() && unexpected.empty() && shapes.empty() && dtypes.empty()) return dict;
  std::string msg = fmt::format("{}: the checkpoint's model does not fit this {} (nothing was loaded):", cx.where(),
                                model.type_name());
  if (!missing.empty()) msg += fmt::format("\n  missing keys: {}", fmt::join(missing, ", "));
  if (!unexpected.empty()) msg += fmt::format("\n  unexpected keys: {}", fmt::join(unexpected, ", "));
  if (!shapes.empty()) msg += fmt::format("\n  shape mismatches: {}", fmt::join(shapes, "; "));
  if (!dtypes.empty()) msg += fmt::format("\n  dtype mismatches: {}", fmt::join(dtypes, "; "));
  throw Error(msg);
}

// Tensors that belong to no part of the layout mean the file is not what it says.
void check_tensor_names(const Context& cx, const SafetensorsFile& file, const std::vector<std::string>& prefixes,
                        const std::vector<std::string>& names) {
  std::vector<std::string> allowed;
  for (const std::string& p : prefixes) allowed.push_back(p + "*");
  allowed.insert(allowed.end(), names.begin(), names.end());
  for (const auto& [name, t] : file.tensors) {
    bool known = std::find(names.begin(), names.end(), name) != names.end();
    for (const std::string& p : prefixes) known = known || starts_with(name, p);
    ATTO_CHECK(known, "{}: unexpected tensor '{}' (this kind of file holds {})", cx.where(), name,
               fmt::join(allowed, ", "));
  }
}

// Runs `load`; if it throws, runs `undo` (which restores what earlier steps changed) and rethrows.
template <class Load, class Undo> void load_or_undo(Load&& load, Undo&& undo) {
  try {
    load();
  } catch (...) {
    undo();
    throw;
  }
}

}  // namespace

// ---- training checkpoints --------------------------------------------------------------------------------------

void save_checkpoint(const std::string& path, const TrainingState& state) {
  const Context cx{"save_checkpoint", path};
  ATTO_CHECK(state.model, "{}: TrainingState.model is null", cx.where());
  StateDict tensors;
  Metadata meta{{"format", kCheckpointFormat}, {"step", std::to_string(state.step)}};
  for (const auto& [name, t] : state.model->state_dict()) tensors.insert(kModelPrefix + name, t.cpu());
  if (state.optimizer) put_optimizer(tensors, meta, *state.optimizer);
  if (state.scheduler) put_scheduler(tensors, meta, *state.scheduler);
  const GeneratorState gen = (state.generator ? *state.generator : default_generator()).get_state();
  tensors.insert(kGeneratorSeed, int64_scalar(static_cast<int64_t>(gen.seed)));
  tensors.insert(kGeneratorOffset, int64_scalar(static_cast<int64_t>(gen.offset)));
  for (const auto& [key, value] : state.extra) meta[kExtraPrefix + key] = value;
  save_safetensors(path, tensors, meta);
}

void load_checkpoint(const std::string& path, TrainingState& state) {
  const Context cx{"load_checkpoint", path};
  ATTO_CHECK(state.model, "{}: TrainingState.model is null", cx.where());
  const SafetensorsFile file = load_safetensors(path);
  check_format(cx, file.metadata, kCheckpointFormat);
  check_tensor_names(cx, file, {kModelPrefix, kOptimizerStatePrefix, kSchedulerPrefix},
                     {kGeneratorSeed, kGeneratorOffset});

  // Read and check everything first.
  const std::string& step_text = required_metadata(cx, file.metadata, "step");
  int64_t step = 0;
  try {
    size_t used = 0;
    step = std::stoll(step_text, &used);
    ATTO_CHECK(used == step_text.size(), "trailing characters");
  } catch (const std::exception&) {
    ATTO_CHECK(false, "{}: the metadata's \"step\" is '{}', not an integer", cx.where(), step_text);
  }
  const GeneratorState gen{static_cast<uint64_t>(read_int64_scalar(cx, file, kGeneratorSeed)),
                           static_cast<uint64_t>(read_int64_scalar(cx, file, kGeneratorOffset))};
  std::map<std::string, std::string> extra;
  for (const auto& [key, value] : file.metadata)
    if (starts_with(key, kExtraPrefix)) extra[key.substr(std::string(kExtraPrefix).size())] = value;
  const StateDict model_dict = read_model(cx, file, *state.model);
  OptimizerStateDict opt_dict;
  if (state.optimizer) {
    ATTO_CHECK(has_optimizer(file), "{}: the checkpoint has no optimizer state (it was saved without one)",
               cx.where());
    opt_dict = read_optimizer(cx, file, *state.optimizer);
  }
  SchedulerStateDict sched_dict;
  if (state.scheduler) {
    ATTO_CHECK(has_scheduler(file), "{}: the checkpoint has no scheduler state (it was saved without one)",
               cx.where());
    sched_dict = read_scheduler(cx, file, *state.scheduler);
  }

  // Then load, undoing the earlier parts if a later one fails its own checks.
  OptimizerStateDict opt_before;
  SchedulerStateDict sched_before;
  auto prefixed = [&](const char* part, auto&& load) {
    try {
      load();
    } catch (const Error& e) {
      throw Error(fmt::format("{}: the {} state does not fit (nothing was loaded): {}", cx.where(), part, e.what()));
    }
  };
  if (state.optimizer) {
    opt_before = state.optimizer->state_dict();
    prefixed("optimizer", [&] { state.optimizer->load_state_dict(opt_dict); });
  }
  auto undo_optimizer = [&] {
    if (state.optimizer) state.optimizer->load_state_dict(opt_before);
  };
  if (state.scheduler) {
    sched_before = state.scheduler->state_dict();
    load_or_undo([&] { prefixed("scheduler", [&] { state.scheduler->load_state_dict(sched_dict); }); },
                 [&] {
                   state.scheduler->load_state_dict(sched_before);
                   undo_optimizer();
                 });
  }
  load_or_undo([&] { state.model->load_state_dict(model_dict, /*strict=*/true); },
               [&] {
                 if (state.scheduler) state.scheduler->load_state_dict(sched_before);
                 undo_optimizer();
               });
  (state.generator ? *state.generator : default_generator()).set_state(gen);
  state.step = step;
  state.extra = std::move(extra);
}

// ---- optimizer and scheduler state on their own ------------------------------------------------------------------

void save_optimizer_state(const std::string& path, const Optimizer& optimizer) {
  StateDict tensors;
  Metadata meta{{"format", kOptimizerFormat}};
  put_optimizer(tensors, meta, optimizer);
  save_safetensors(path, tensors, meta);
}

void load_optimizer_state(const std::string& path, Optimizer& optimizer) {
  const Context cx{"load_optimizer_state", path};
  const SafetensorsFile file = load_safetensors(path);
  check_format(cx, file.metadata, kOptimizerFormat);
  check_tensor_names(cx, file, {kOptimizerStatePrefix}, {});
  const OptimizerStateDict sd = read_optimizer(cx, file, optimizer);
  try {
    optimizer.load_state_dict(sd);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: the optimizer state does not fit (nothing was loaded): {}", cx.where(), e.what()));
  }
}

void save_scheduler_state(const std::string& path, const LRScheduler& scheduler) {
  StateDict tensors;
  Metadata meta{{"format", kSchedulerFormat}};
  put_scheduler(tensors, meta, scheduler);
  save_safetensors(path, tensors, meta);
}

void load_scheduler_state(const std::string& path, LRScheduler& scheduler) {
  const Context cx{"load_scheduler_state", path};
  const SafetensorsFile file = load_safetensors(path);
  check_format(cx, file.metadata, kSchedulerFormat);
  check_tensor_names(cx, file, {kSchedulerPrefix}, {});
  const SchedulerStateDict sd = read_scheduler(cx, file, scheduler);
  const SchedulerStateDict before = scheduler.state_dict();
  load_or_undo([&] { scheduler.load_state_dict(sd); }, [&] { scheduler.load_state_dict(before); });
}

}  // namespace atto::optim
