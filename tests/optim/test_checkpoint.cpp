// tests/optim/test_checkpoint.cpp -- optim/checkpoint.h: a run resumed from a checkpoint continues
// bitwise (losses and parameters) for several optimizers and schedulers; a checkpoint of another
// model, optimizer or scheduler fails with a message naming the difference and loads nothing; bad
// files give clear errors; optimizer and scheduler state files round-trip with readable
// hyper-parameters in their metadata.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "optim/checkpoint.h"
#include "optim_test_util.h"
#include "temp_dir.h"

using namespace atto;
using namespace atto::optim;
using atto::testing::optim_util::throws_with;
namespace fs = std::filesystem;

namespace {

using atto::testing::TempDir;

constexpr int64_t kVocab = 20;

// A next-token model whose training uses the generator twice per step: the batch (randint) and
// dropout. Embedding -> LSTM -> Dropout -> Linear.
struct TinyLM : nn::Module {
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> head;
  explicit TinyLM(int64_t hidden = 16) : nn::Module("TinyLM") {
    embed = register_module("embed", std::make_shared<nn::Embedding>(kVocab, 8));
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(
                                       nn::LSTMOptions{.input_size = 8, .hidden_size = hidden, .batch_first = true}));
    drop = register_module("drop", std::make_shared<nn::Dropout>(0.3));
    head = register_module("head", std::make_shared<nn::Linear>(hidden, kVocab));
  }
  Tensor forward(const Tensor& tokens) override {
    auto [out, state] = (*lstm)((*embed)(tokens));
    return (*head)((*drop)(out));
  }
};

// Cross-entropy of predicting each next token of a random batch drawn from the default generator.
Tensor batch_loss(TinyLM& model) {
  Tensor tokens = randint(0, kVocab, {4, 7});
  Tensor logits = model(tokens.narrow(1, 0, 6));
  return cross_entropy(logits.reshape({-1, kVocab}), tokens.narrow(1, 1, 6).reshape({-1}));
}

struct Run {
  std::shared_ptr<TinyLM> model;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<LRScheduler> scheduler;   // may be null
  TrainingState state() { return {.model = model.get(), .optimizer = optimizer.get(), .scheduler = scheduler.get()}; }
};

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(TinyLM&)>;
using MakeScheduler = std::function<std::unique_ptr<LRScheduler>(Optimizer&)>;

// A run whose model initialisation (and everything after) draws from the default generator seeded `seed`.
Run make_run(uint64_t seed, const MakeOptimizer& make_opt, const MakeScheduler& make_sched) {
  manual_seed(seed);
  Run run;
  run.model = std::make_shared<TinyLM>();
  run.optimizer = make_opt(*run.model);
  if (make_sched) run.scheduler = make_sched(*run.optimizer);
  return run;
}

// `steps` training steps; returns their losses. LBFGS gets a closure (it evaluates it many times).
std::vector<double> train(Run& run, int steps) {
  std::vector<double> losses;
  for (int i = 0; i < steps; ++i) {
    Tensor loss;
    if (run.optimizer->name() == "LBFGS") {
      Tensor tokens = randint(0, kVocab, {4, 7});
      loss = run.optimizer->step([&] {
        run.optimizer->zero_grad();
        Tensor logits = (*run.model)(tokens.narrow(1, 0, 6));
        Tensor l = cross_entropy(logits.reshape({-1, kVocab}), tokens.narrow(1, 1, 6).reshape({-1}));
        l.backward();
        return l;
      });
    } else {
      run.optimizer->zero_grad();
      loss = batch_loss(*run.model);
      loss.backward();
      run.optimizer->step();
    }
    if (run.scheduler) run.scheduler->step();
    losses.push_back(loss.item<double>());
  }
  return losses;
}

std::vector<double> flat_params(const nn::Module& m) {
  std::vector<double> all;
  for (const auto& [name, t] : m.state_dict())
    for (double v : t.to_vector<double>()) all.push_back(v);
  return all;
}

// N steps straight vs k steps, checkpoint, a rebuilt run (other seed, other init, a few steps of
// its own so that its optimizer and scheduler hold other state), load, N - k steps: the losses of
// the last N - k steps and the final parameters are bitwise equal.
void check_bitwise_resume(const MakeOptimizer& make_opt, const MakeScheduler& make_sched, int total = 10,
                          int first = 4) {
  Run straight = make_run(1, make_opt, make_sched);
  std::vector<double> straight_losses = train(straight, total);

  TempDir tmp("checkpoint");
  const std::string path = tmp.path("ckpt.safetensors");
  {
    Run before = make_run(1, make_opt, make_sched);
    train(before, first);
    TrainingState st = before.state();
    st.step = first;
    st.extra["epoch"] = "3";
    st.extra["note"] = "caf\xc3\xa9";
    save_checkpoint(path, st);
  }
  Run resumed = make_run(2, make_opt, make_sched);
  train(resumed, 2);
  manual_seed(12345);
  TrainingState st = resumed.state();
  st.extra["stale"] = "x";
  load_checkpoint(path, st);
  CHECK(st.step == first);
  CHECK(st.extra == std::map<std::string, std::string>{{"epoch", "3"}, {"note", "caf\xc3\xa9"}});
  std::vector<double> resumed_losses = train(resumed, total - first);

  REQUIRE(resumed_losses.size() == size_t(total - first));
  for (int i = 0; i < total - first; ++i) {
    INFO("step " << first + i);
    CHECK(std::isfinite(resumed_losses[size_t(i)]));
    CHECK(resumed_losses[size_t(i)] == straight_losses[size_t(first + i)]);   // bitwise
  }
  CHECK(flat_params(*resumed.model) == flat_params(*straight.model));
  if (straight.scheduler) CHECK(resumed.scheduler->get_last_lr() == straight.scheduler->get_last_lr());
}

// AdamW with two groups: no weight decay on the embedding (a common split).
std::unique_ptr<Optimizer> make_adamw(TinyLM& m) {
  std::vector<Tensor> rest;
  for (const auto& [name, p] : m.named_parameters())
    if (name.rfind("embed.", 0) != 0) rest.push_back(p);
  return std::make_unique<AdamW>(std::vector<AdamW::Group>{{m.embed->parameters(), {.lr = 0.01, .weight_decay = 0}},
                                                           {rest, {.lr = 0.01, .weight_decay = 0.1}}});
}

std::unique_ptr<LRScheduler> make_warmup_cosine(Optimizer& o) {
  auto warmup = std::make_shared<LinearLR>(o, 0.1, 1.0, 3);
  auto cosine = std::make_shared<CosineAnnealingLR>(o, 8);
  return std::make_unique<SequentialLR>(o, std::vector<std::shared_ptr<LRScheduler>>{warmup, cosine},
                                        std::vector<int64_t>{3});
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

// Rewrites a safetensors file through `edit`, which may change its tensors and metadata.
void edit_file(const std::string& path, const std::function<void(SafetensorsFile&)>& edit) {
  SafetensorsFile f = load_safetensors(path);
  edit(f);
  save_safetensors(path, f.tensors, f.metadata);
}

StateDict without(const StateDict& d, const std::string& name) {
  StateDict out;
  for (const auto& [k, t] : d)
    if (k != name) out.insert(k, t);
  return out;
}

// Everything a failed load must leave as it was.
struct Snapshot {
  std::vector<double> params;
  std::vector<std::string> opt_state_names;
  std::vector<double> opt_state;
  SchedulerStateDict sched;
  GeneratorState gen;
  explicit Snapshot(Run& run) {
    params = flat_params(*run.model);
    OptimizerStateDict sd = run.optimizer->state_dict();
    opt_state_names = sd.state.keys();
    for (const auto& [k, t] : sd.state)
      for (double v : t.to_vector<double>()) opt_state.push_back(v);
    if (run.scheduler) sched = run.scheduler->state_dict();
    gen = default_generator().get_state();
  }
  bool operator==(const Snapshot& o) const {
    return params == o.params && opt_state_names == o.opt_state_names && opt_state == o.opt_state &&
           sched == o.sched && gen == o.gen;
  }
};

}  // namespace

// ---- bitwise resume ------------------------------------------------------------------------------------------

TEST_CASE("checkpoint resume is bitwise for AdamW with warmup then cosine") {
  check_bitwise_resume(make_adamw, make_warmup_cosine);
}

TEST_CASE("checkpoint resume is bitwise for Adam amsgrad with OneCycleLR") {
  check_bitwise_resume(
      [](TinyLM& m) { return std::make_unique<Adam>(m.parameters(), AdamOptions{.lr = 0.01, .amsgrad = true}); },
      [](Optimizer& o) { return std::make_unique<OneCycleLR>(o, 0.02, 12); });
}

TEST_CASE("checkpoint resume is bitwise for SGD with nesterov momentum and StepLR") {
  check_bitwise_resume(
      [](TinyLM& m) {
        return std::make_unique<SGD>(m.parameters(), SGDOptions{.lr = 0.5, .momentum = 0.9, .nesterov = true});
      },
      [](Optimizer& o) { return std::make_unique<StepLR>(o, 3, 0.5); });
}

TEST_CASE("checkpoint resume is bitwise for centered RMSprop with momentum") {
  check_bitwise_resume(
      [](TinyLM& m) {
        return std::make_unique<RMSprop>(m.parameters(),
                                         RMSpropOptions{.lr = 0.005, .momentum = 0.5, .centered = true});
      },
      [](Optimizer& o) { return std::make_unique<ExponentialLR>(o, 0.9); });
}

TEST_CASE("checkpoint resume is bitwise for LBFGS with its history") {
  check_bitwise_resume(
      [](TinyLM& m) {
        return std::make_unique<LBFGS>(
            m.parameters(), LBFGSOptions{.lr = 0.5, .max_iter = 3, .history_size = 4, .line_search_fn = "strong_wolfe"});
      },
      nullptr, 6, 3);
}

TEST_CASE("checkpoint without optimizer restores model generator step and extras") {
  TempDir tmp("checkpoint");
  manual_seed(7);
  TinyLM a;
  (void)randint(0, 10, {5});
  TrainingState sa{.model = &a, .step = 42};
  sa.extra["cursor"] = "1234";
  save_checkpoint(tmp.path("m.safetensors"), sa);
  const GeneratorState gen = default_generator().get_state();
  const Tensor next = rand({3});

  Generator mine(99);
  TinyLM b(16);
  TrainingState sb{.model = &b, .generator = &mine};
  load_checkpoint(tmp.path("m.safetensors"), sb);
  CHECK(sb.step == 42);
  CHECK(sb.extra.at("cursor") == "1234");
  CHECK(flat_params(b) == flat_params(a));
  CHECK(mine.get_state() == gen);
  CHECK(rand({3}, {}, &mine).to_vector<float>() == next.to_vector<float>());
}

TEST_CASE("checkpoint file layout follows the documented names") {
  TempDir tmp("checkpoint");
  Run run = make_run(3, make_adamw, make_warmup_cosine);
  train(run, 2);
  TrainingState st = run.state();
  st.step = 2;
  st.extra["epoch"] = "1";
  save_checkpoint(tmp.path("c.safetensors"), st);
  SafetensorsFile f = load_safetensors(tmp.path("c.safetensors"));
  CHECK(f.metadata.at("format") == "attograd.checkpoint.v1");
  CHECK(f.metadata.at("step") == "2");
  CHECK(f.metadata.at("optimizer") == "AdamW");
  CHECK(f.metadata.at("scheduler") == "SequentialLR");
  CHECK(f.metadata.at("extra.epoch") == "1");
  CHECK(f.tensors.contains("model.lstm.weight_ih_l0"));
  CHECK(f.tensors.contains("optimizer.state.0.exp_avg"));
  CHECK(f.tensors.contains("optimizer.state.0.step"));
  CHECK(f.tensors.at("scheduler.last_epoch").dtype() == kFloat64);
  CHECK(f.tensors.at("scheduler.last_epoch").item<double>() == 2);
  CHECK(f.tensors.contains("scheduler._schedulers.1.base_lrs.0"));
  CHECK(f.tensors.at("generator.offset").dtype() == kInt64);
  CHECK(f.tensors.at("generator.seed").item<double>() == 3);
  auto groups = nlohmann::json::parse(f.metadata.at("optimizer.param_groups"));
  REQUIRE(groups.size() == 2);
  CHECK(groups[0]["weight_decay"].get<double>() == 0);
  CHECK(groups[1]["weight_decay"].get<double>() == 0.1);
  CHECK(groups[0]["params"] == nlohmann::json::array({0}));
  CHECK(groups[1]["initial_lr"].get<double>() == 0.01);
}

// ---- mismatches: a clear error, and nothing loaded ---------------------------------------------------------

TEST_CASE("checkpoint of another model fails naming the keys and loads nothing") {
  TempDir tmp("checkpoint");
  const std::string path = tmp.path("c.safetensors");
  Run saved = make_run(1, make_adamw, make_warmup_cosine);
  train(saved, 2);
  save_checkpoint(path, saved.state());

  // Other hidden size: shape mismatches on the LSTM and the head.
  manual_seed(5);
  Run other{std::make_shared<TinyLM>(12), nullptr, nullptr};
  other.optimizer = make_adamw(*other.model);
  other.scheduler = make_warmup_cosine(*other.optimizer);
  train(other, 1);
  const Snapshot before(other);
  TrainingState st = other.state();
  st.step = 77;
  std::string msg;
  CHECK(throws_with([&] { load_checkpoint(path, st); },
                    {path, "does not fit this TinyLM", "nothing was loaded", "shape mismatches",
                     "lstm.weight_hh_l0: expected [48, 12], found [64, 16]", "head.weight: expected [20, 12], found [20, 16]"},
                    &msg));
  MESSAGE(msg);
  CHECK(Snapshot(other) == before);
  CHECK(st.step == 77);

  // Another architecture: missing and unexpected keys.
  struct Other : nn::Module {
    Other() : nn::Module("Other") {
      register_module("embed", std::make_shared<nn::Embedding>(kVocab, 8));
      register_module("proj", std::make_shared<nn::Linear>(8, kVocab));
    }
  } arch;
  TrainingState sa{.model = &arch};
  const std::vector<double> arch_before = flat_params(arch);
  CHECK(throws_with([&] { load_checkpoint(path, sa); },
                    {"missing keys: proj.weight, proj.bias", "unexpected keys: lstm.weight_ih_l0", "head.bias"}, &msg));
  MESSAGE(msg);
  CHECK(flat_params(arch) == arch_before);

  // Same shapes, other dtype.
  TinyLM wide;
  wide.to(kFloat64);
  TrainingState sw{.model = &wide};
  CHECK(throws_with([&] { load_checkpoint(path, sw); },
                    {"dtype mismatches", "embed.weight: expected float64, found float32"}, &msg));
  MESSAGE(msg);
}

TEST_CASE("checkpoint with a mismatched optimizer or scheduler fails and loads nothing") {
  TempDir tmp("checkpoint");
  const std::string path = tmp.path("c.safetensors");
  Run saved = make_run(1, make_adamw, make_warmup_cosine);
  train(saved, 2);
  save_checkpoint(path, saved.state());
  std::string msg;

  auto check_fails = [&](Run& run, std::initializer_list<std::string> parts) {
    train(run, 1);
    const Snapshot before(run);
    TrainingState st = run.state();
    CHECK(throws_with([&] { load_checkpoint(path, st); }, parts, &msg));
    MESSAGE(msg);
    CHECK(Snapshot(run) == before);
  };

  // Another optimizer type.
  Run sgd = make_run(2, [](TinyLM& m) { return std::make_unique<SGD>(m.parameters(), SGDOptions{.lr = 0.1}); },
                     make_warmup_cosine);
  check_fails(sgd, {"holds AdamW optimizer state, but the optimizer is SGD"});

  // The same type with one group instead of two.
  Run one_group = make_run(
      2, [](TinyLM& m) { return std::make_unique<AdamW>(m.parameters(), AdamWOptions{.lr = 0.01}); },
      make_warmup_cosine);
  check_fails(one_group, {"the file has 2 param groups for the AdamW optimizer, the optimizer has 1"});

  // Two groups of other sizes: the optimizer's own check, passed on.
  Run regrouped = make_run(
      2,
      [](TinyLM& m) {
        std::vector<Tensor> ps = m.parameters();
        return std::make_unique<AdamW>(std::vector<AdamW::Group>{{{ps.begin(), ps.begin() + 2}, {.lr = 0.01}},
                                                                 {{ps.begin() + 2, ps.end()}, {.lr = 0.01}}});
      },
      make_warmup_cosine);
  check_fails(regrouped, {"the optimizer state does not fit", "param group 0 has 1 parameters in the state dict, 2 in"});

  // Another scheduler.
  Run step_lr = make_run(2, make_adamw, [](Optimizer& o) { return std::make_unique<StepLR>(o, 3); });
  check_fails(step_lr, {"holds SequentialLR scheduler state, but the scheduler is StepLR"});

  // A SequentialLR of three schedulers instead of two.
  Run three = make_run(2, make_adamw, [](Optimizer& o) -> std::unique_ptr<LRScheduler> {
    std::vector<std::shared_ptr<LRScheduler>> parts{std::make_shared<LinearLR>(o, 0.1, 1.0, 3),
                                                    std::make_shared<ConstantLR>(o, 0.5, 2),
                                                    std::make_shared<CosineAnnealingLR>(o, 8)};
    return std::make_unique<SequentialLR>(o, parts, std::vector<int64_t>{3, 5});
  });
  check_fails(three, {"state does not fit this one", "missing keys: scheduler._schedulers.2."});

  // A scheduler in the run but none in the file (and none of the optimizer's initial_lr).
  const std::string bare = tmp.path("bare.safetensors");
  {
    Run no_sched = make_run(1, make_adamw, nullptr);
    TrainingState st = no_sched.state();
    save_checkpoint(bare, st);
    TrainingState only_model{.model = no_sched.model.get()};
    save_checkpoint(tmp.path("model_only.safetensors"), only_model);
  }
  Run with_sched = make_run(2, make_adamw, make_warmup_cosine);
  train(with_sched, 1);
  const Snapshot before(with_sched);
  TrainingState st = with_sched.state();
  CHECK(throws_with([&] { load_checkpoint(bare, st); }, {bare, "lacks the options initial_lr"}, &msg));
  CHECK(Snapshot(with_sched) == before);
  CHECK(throws_with([&] { load_checkpoint(tmp.path("model_only.safetensors"), st); },
                    {"the checkpoint has no optimizer state (it was saved without one)"}, &msg));
  CHECK(Snapshot(with_sched) == before);
}

TEST_CASE("checkpoint bad files give clear errors") {
  TempDir tmp("checkpoint");
  const std::string path = tmp.path("c.safetensors");
  Run run = make_run(1, make_adamw, make_warmup_cosine);
  train(run, 1);
  save_checkpoint(path, run.state());
  const std::string good = read_bytes(path);
  TrainingState st = run.state();
  std::string msg;
  auto fails = [&](std::initializer_list<std::string> parts) {
    const Snapshot before(run);
    bool ok = throws_with([&] { load_checkpoint(path, st); }, parts, &msg);
    MESSAGE(msg);
    CHECK(Snapshot(run) == before);
    write_bytes(path, good);
    return ok;
  };

  write_bytes(path, good.substr(0, good.size() - 5));
  CHECK(fails({path, "load_safetensors"}));

  write_bytes(path, good.substr(0, 20));
  CHECK(fails({path}));

  CHECK(throws_with([&] { load_checkpoint(tmp.path("nope.safetensors"), st); }, {"nope.safetensors"}));

  // Plain weights: no format tag.
  save_safetensors(path, run.model->state_dict());
  CHECK(fails({"no \"format\" entry in the metadata: not an attograd.checkpoint.v1 file",
               "load_safetensors + Module::load_state_dict"}));

  edit_file(path, [](SafetensorsFile& f) { f.metadata["format"] = "attograd.checkpoint.v2"; });
  CHECK(fails({"format 'attograd.checkpoint.v2' is a version this build cannot read (it reads "
               "'attograd.checkpoint.v1')"}));

  save_optimizer_state(path, *run.optimizer);
  CHECK(fails({"is a 'attograd.optimizer.v1' file, not a 'attograd.checkpoint.v1' file"}));

  edit_file(path, [](SafetensorsFile& f) { f.metadata.erase("optimizer.param_groups"); });
  CHECK(fails({"no \"optimizer.param_groups\" entry"}));

  edit_file(path, [](SafetensorsFile& f) { f.metadata.erase("optimizer"); });
  CHECK(fails({"the checkpoint has no optimizer state"}));

  edit_file(path, [](SafetensorsFile& f) { f.metadata["optimizer.param_groups"] = "[{\"params\": [0], "; });
  CHECK(fails({"\"optimizer.param_groups\" is not valid JSON"}));

  edit_file(path, [](SafetensorsFile& f) {
    auto groups = nlohmann::json::parse(f.metadata["optimizer.param_groups"]);
    groups[1].erase("lr");
    groups[1].erase("eps");
    f.metadata["optimizer.param_groups"] = groups.dump();
  });
  CHECK(fails({"param group 1 of the AdamW optimizer lacks the options eps, lr"}));

  edit_file(path, [](SafetensorsFile& f) {
    auto groups = nlohmann::json::parse(f.metadata["optimizer.param_groups"]);
    groups[0]["lr"] = "fast";
    f.metadata["optimizer.param_groups"] = groups.dump();
  });
  CHECK(fails({"option 'lr' of AdamW is a number, found the string \"fast\""}));

  edit_file(path, [](SafetensorsFile& f) { f.tensors = without(f.tensors, "optimizer.state.1.exp_avg_sq"); });
  CHECK(fails({"parameters of param group 1 hold other state names", "missing: optimizer.state.1.exp_avg_sq"}));

  edit_file(path, [](SafetensorsFile& f) { f.tensors = without(f.tensors, "generator.offset"); });
  CHECK(fails({"no tensor 'generator.offset'"}));

  edit_file(path, [](SafetensorsFile& f) { f.tensors.insert("generator.seed", scalar_tensor(1.0)); });
  CHECK(fails({"'generator.seed' should be a 0-d int64 tensor, found float32 of shape []"}));

  edit_file(path, [](SafetensorsFile& f) { f.tensors.insert("stray", zeros({2})); });
  CHECK(fails({"unexpected tensor 'stray' (this kind of file holds model.*, optimizer.state.*, scheduler.*, "
               "generator.seed, generator.offset)"}));

  edit_file(path, [](SafetensorsFile& f) { f.metadata["step"] = "12x"; });
  CHECK(fails({"the metadata's \"step\" is '12x', not an integer"}));

  edit_file(path, [](SafetensorsFile& f) { f.tensors = without(f.tensors, "scheduler.last_epoch"); });
  CHECK(fails({"missing keys: scheduler.last_epoch"}));

  // The file is still good after all this: it loads.
  load_checkpoint(path, st);
}

TEST_CASE("save_checkpoint is atomic and needs a model") {
  TempDir tmp("checkpoint");
  const std::string path = tmp.path("c.safetensors");
  Run run = make_run(1, make_adamw, make_warmup_cosine);
  save_checkpoint(path, run.state());
  const std::string first = read_bytes(path);
  TrainingState none;
  CHECK(throws_with([&] { save_checkpoint(path, none); }, {"TrainingState.model is null"}));
  CHECK(read_bytes(path) == first);
  CHECK(throws_with([&] { save_checkpoint(tmp.path("no/such/dir/c.safetensors"), run.state()); },
                    {"no/such/dir/c.safetensors"}));
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(tmp.dir)) names.push_back(e.path().filename().string());
  CHECK(names == std::vector<std::string>{"c.safetensors"});
}

// ---- optimizer and scheduler state files ------------------------------------------------------------------

TEST_CASE("optimizer state file round trip with hyper-parameters in the metadata") {
  TempDir tmp("checkpoint");
  const std::string path = tmp.path("opt.safetensors");
  Run a = make_run(1,
                   [](TinyLM& m) {
                     std::vector<Tensor> ps = m.parameters();
                     return std::make_unique<Adam>(std::vector<Adam::Group>{
                         {{ps.begin(), ps.begin() + 3}, {.lr = 0.01, .amsgrad = true}},
                         {{ps.begin() + 3, ps.end()}, {.lr = 0.002, .betas = {0.8, 0.95}, .weight_decay = 1e-4}}});
                   },
                   [](Optimizer& o) { return std::make_unique<OneCycleLR>(o, std::vector<double>{0.05, 0.01}, 20); });
  train(a, 3);
  a.optimizer->set_option(1, "my_limit", INFINITY);   // an extra key with no JSON number for it
  save_optimizer_state(path, *a.optimizer);

  // Readable: the hyper-parameters are JSON in the metadata.
  SafetensorsFile f = load_safetensors(path);
  CHECK(f.metadata.at("format") == "attograd.optimizer.v1");
  CHECK(f.metadata.at("optimizer") == "Adam");
  auto groups = nlohmann::json::parse(f.metadata.at("optimizer.param_groups"));
  REQUIRE(groups.size() == 2);
  CHECK(groups[0]["params"] == nlohmann::json::array({0, 1, 2}));
  CHECK(groups[0]["amsgrad"].get<double>() == 1);
  CHECK(groups[0]["max_lr"].get<double>() == 0.05);
  CHECK(groups[1]["betas.1"].get<double>() == 0.95);
  CHECK(groups[1]["weight_decay"].get<double>() == 1e-4);
  CHECK(groups[1]["lr"].get<double>() == a.optimizer->lr(1));   // the scheduled lr, bit for bit
  CHECK(groups[1]["my_limit"] == "inf");
  CHECK(f.tensors.contains("optimizer.state.0.max_exp_avg_sq"));
  CHECK_FALSE(f.tensors.contains("optimizer.state.3.max_exp_avg_sq"));

  Run b = make_run(2,
                   [](TinyLM& m) {
                     std::vector<Tensor> ps = m.parameters();
                     return std::make_unique<Adam>(std::vector<Adam::Group>{{{ps.begin(), ps.begin() + 3}, {}},
                                                                            {{ps.begin() + 3, ps.end()}, {}}});
                   },
                   nullptr);
  load_optimizer_state(path, *b.optimizer);
  const OptimizerStateDict sa = a.optimizer->state_dict(), sb = b.optimizer->state_dict();
  CHECK(sb.state.keys() == sa.state.keys());
  for (const auto& [name, t] : sa.state) {
    INFO(name);
    CHECK(sb.state.at(name).dtype() == t.dtype());
    CHECK(sb.state.at(name).to_vector<double>() == t.to_vector<double>());
  }
  REQUIRE(sb.param_groups.size() == 2);
  for (size_t g = 0; g < 2; ++g) {
    CHECK(sb.param_groups[g].params == sa.param_groups[g].params);
    CHECK(sb.param_groups[g].options == sa.param_groups[g].options);
  }
  CHECK(std::isinf(b.optimizer->get_option(1, "my_limit")));

  // Errors: another optimizer, another file kind.
  SGD sgd(b.model->parameters(), {.lr = 0.1});
  CHECK(throws_with([&] { load_optimizer_state(path, sgd); },
                    {"[load_optimizer_state]", path, "holds Adam optimizer state, but the optimizer is SGD"}));
  save_scheduler_state(tmp.path("s.safetensors"), *a.scheduler);
  CHECK(throws_with([&] { load_optimizer_state(tmp.path("s.safetensors"), *b.optimizer); },
                    {"is a 'attograd.scheduler.v1' file, not a 'attograd.optimizer.v1' file"}));
}

TEST_CASE("optimizer state file keeps string options") {
  TempDir tmp("checkpoint");
  Tensor x = from_vector<double>({1.5, -0.5});
  x.requires_grad_(true);
  LBFGS a({x}, {.history_size = 3, .line_search_fn = "strong_wolfe"});
  auto closure = [&] {
    a.zero_grad();
    Tensor loss = sum(pow(sub(x, 2.0), 4.0));
    loss.backward();
    return loss;
  };
  a.step(closure);
  save_optimizer_state(tmp.path("lbfgs.safetensors"), a);
  auto groups = nlohmann::json::parse(load_safetensors(tmp.path("lbfgs.safetensors")).metadata.at("optimizer.param_groups"));
  CHECK(groups[0]["line_search_fn"] == "strong_wolfe");
  CHECK(groups[0]["history_size"].get<double>() == 3);

  Tensor y = x.detach().clone();
  y.requires_grad_(true);
  LBFGS b({y});
  load_optimizer_state(tmp.path("lbfgs.safetensors"), b);
  CHECK(std::get<std::string>(b.get_option_value(0, "line_search_fn")) == "strong_wolfe");
  CHECK(b.get_option(0, "history_size") == 3);
  CHECK(b.state(y).keys() == a.state(x).keys());
  CHECK(b.state(y, "d").to_vector<double>() == a.state(x, "d").to_vector<double>());
}

TEST_CASE("scheduler state file round trip") {
  TempDir tmp("checkpoint");
  const std::string path = tmp.path("sched.safetensors");
  Run a = make_run(1, make_adamw, make_warmup_cosine);
  train(a, 5);
  save_scheduler_state(path, *a.scheduler);
  SafetensorsFile f = load_safetensors(path);
  CHECK(f.metadata.at("format") == "attograd.scheduler.v1");
  CHECK(f.metadata.at("scheduler") == "SequentialLR");
  CHECK(f.tensors.at("scheduler.last_epoch").item<double>() == 5);

  Run b = make_run(2, make_adamw, make_warmup_cosine);
  load_scheduler_state(path, *b.scheduler);
  CHECK(b.scheduler->state_dict() == a.scheduler->state_dict());
  CHECK(b.scheduler->get_last_lr() == a.scheduler->get_last_lr());
  CHECK(b.scheduler->last_epoch() == 5);
  CHECK(b.scheduler->base_lrs() == a.scheduler->base_lrs());

  // OneCycleLR on its own.
  Adam o1(a.model->parameters(), {.lr = 0.01}), o2(b.model->parameters(), {.lr = 0.01});
  OneCycleLR s1(o1, 0.1, 30), s2(o2, 0.1, 30);
  for (int i = 0; i < 7; ++i) s1.step();
  save_scheduler_state(path, s1);
  load_scheduler_state(path, s2);
  CHECK(s2.state_dict() == s1.state_dict());
  CHECK(s2.get_last_lr() == s1.get_last_lr());

  StepLR other(o2, 3);
  const SchedulerStateDict other_before = other.state_dict();
  CHECK(throws_with([&] { load_scheduler_state(path, other); },
                    {"[load_scheduler_state]", path, "holds OneCycleLR scheduler state, but the scheduler is StepLR"}));
  CHECK(other.state_dict() == other_before);
  save_optimizer_state(tmp.path("o.safetensors"), o1);
  CHECK(throws_with([&] { load_scheduler_state(tmp.path("o.safetensors"), s2); },
                    {"is a 'attograd.optimizer.v1' file, not a 'attograd.scheduler.v1' file"}));
}
