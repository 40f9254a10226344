// tests/cuda/test_training.cpp -- training on the GPU end to end: the caching allocator over 1,000
// steps (no cudaMalloc once the loop is in its steady state), every optimizer on CUDA against the
// same run on the CPU, Module::to(kCUDA) with optimizer state following its parameters,
// checkpoints saved from the GPU and loaded on the CPU (and back), and the fused multi-tensor Adam
// kernel (optim/update_fns.h, cuda/optim.cu) against the same update as separate tensor ops. The
// first case (fused vs composite on the CPU, bitwise) runs in every build.
#include <functional>
#include <memory>

#include "cuda_test_util.h"
#include "optim/adam.h"
#include "optim/checkpoint.h"
#include "temp_dir.h"

using namespace atto;
using namespace atto::testing;

namespace {

// ---- a small float MLP as plain tensors: x (16, 5) -> tanh(x W1^T + b1) (16, 8) -> (16, 3) -------------

std::vector<Tensor> mlp_params(DType dtype, Device device, uint64_t seed = 1) {
  std::vector<Tensor> ps;
  const Shape shapes[] = {{8, 5}, {8}, {3, 8}, {3}};
  for (const Shape& s : shapes) {
    Tensor p = uniform(s, -0.5, 0.5, seed++, dtype).to(device);
    p.requires_grad_(true);
    ps.push_back(p);
  }
  return ps;
}

Tensor mlp_loss(const std::vector<Tensor>& ps) {
  const DType dt = ps[0].dtype();
  const Device dev = ps[0].device();
  Tensor x = uniform({16, 5}, -1, 1, 101, dt).to(dev), y = uniform({16, 3}, -1, 1, 102, dt).to(dev);
  Tensor h = tanh(linear(x, ps[0], ps[1]));
  return mse_loss(linear(h, ps[2], ps[3]), y);
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// `steps` steps of the optimizer `make` builds, on the MLP's parameters on `device`.
std::vector<Tensor> train(const MakeOptimizer& make, DType dtype, Device device, int steps,
                          std::unique_ptr<optim::Optimizer>* keep = nullptr) {
  std::vector<Tensor> ps = mlp_params(dtype, device);
  std::unique_ptr<optim::Optimizer> opt = make(ps);
  auto closure = [&] {
    opt->zero_grad();
    Tensor loss = mlp_loss(ps);
    loss.backward();
    return loss;
  };
  for (int i = 0; i < steps; ++i) opt->step(closure);
  if (keep) *keep = std::move(opt);
  return ps;
}

template <class Opt, class Options> MakeOptimizer make(Options o) {
  return [o](std::vector<Tensor> ps) { return std::make_unique<Opt>(std::move(ps), o); };
}

// ---- fused Adam against the composite ------------------------------------------------------------------

struct AdamCase {
  const char* name;
  AdamHyper hyper;
};

std::vector<AdamCase> adam_cases() {
  return {
      {"plain", {.lr = 1e-2}},
      {"L2 weight decay", {.lr = 1e-2, .weight_decay = 0.1}},
      {"decoupled weight decay", {.lr = 1e-2, .weight_decay = 0.1, .decoupled_weight_decay = true}},
      {"amsgrad", {.lr = 1e-2, .weight_decay = 0.05, .amsgrad = true}},
      {"maximize amsgrad decoupled",
       {.lr = 1e-2, .weight_decay = 0.1, .decoupled_weight_decay = true, .amsgrad = true, .maximize = true}},
  };
}

// `steps` Adam updates of parameters of the awkward sizes with fixed pseudo-random gradients,
// through adam_update (fused where the tensors allow) or adam_update_composite. Parameter 1 skips
// every third step (no gradient), so the step counts within the group differ.
std::vector<Tensor> adam_run(const AdamHyper& hyper, DType dtype, Device device, bool fused, int steps) {
  std::vector<Tensor> ps;
  std::vector<StateDict> states(std::size(kAwkwardSizes));
  uint64_t seed = 7;
  for (int64_t n : kAwkwardSizes) ps.push_back(uniform({n}, -1, 1, seed++, dtype).to(device));
  NoGradGuard no_grad;
  for (int s = 0; s < steps; ++s) {
    std::vector<optim::AdamItem> items;
    for (size_t k = 0; k < ps.size(); ++k) {
      if (k == 1 && s % 3 == 2) continue;
      Tensor grad = uniform(ps[k].shape(), -1, 1, 1000 + uint64_t(s) * 10 + k, dtype).to(device);
      optim::init_adam_state(states[k], ps[k], hyper.amsgrad);
      Tensor(states[k].at("step")).add_(1.0);
      items.push_back({ps[k], grad, &states[k]});
    }
    if (fused) {
      optim::adam_update(items, hyper);
    } else {
      for (const optim::AdamItem& item : items) optim::adam_update_composite(item, hyper);
    }
  }
  const size_t count = ps.size();
  for (size_t k = 0; k < count; ++k) {
    ps.push_back(states[k].at("exp_avg"));
    ps.push_back(states[k].at("exp_avg_sq"));
    if (hyper.amsgrad) ps.push_back(states[k].at("max_exp_avg_sq"));
  }
  return ps;   // the parameters, then each one's buffers
}

}  // namespace

TEST_CASE("fused Adam on the CPU is bitwise the update as separate tensor ops") {
  for (const AdamCase& c : adam_cases())
    for (DType dtype : {kFloat32, kFloat64}) {
      CAPTURE(c.name);
      CAPTURE(dtype);
      std::vector<Tensor> fused = adam_run(c.hyper, dtype, kCPU, /*fused=*/true, 20);
      std::vector<Tensor> composite = adam_run(c.hyper, dtype, kCPU, /*fused=*/false, 20);
      REQUIRE(fused.size() == composite.size());
      for (size_t k = 0; k < fused.size(); ++k) {
        CAPTURE(k);
        CHECK(fused[k].to_vector<double>() == composite[k].to_vector<double>());
      }
      CHECK_FALSE(fused[0].to_vector<double>() == uniform(fused[0].shape(), -1, 1, 7, dtype).to_vector<double>());
    }
}

TEST_SUITE("cuda") {

TEST_CASE("cuda: the fused multi-tensor Adam matches the update as separate tensor ops") {
  ATTO_REQUIRE_CUDA();
  for (const AdamCase& c : adam_cases())
    for (DType dtype : {kFloat32, kFloat64}) {
      CAPTURE(c.name);
      CAPTURE(dtype);
      const double rtol = dtype == kFloat32 ? 1e-5 : 1e-12, atol = dtype == kFloat32 ? 1e-6 : 1e-14;
      std::vector<Tensor> fused = adam_run(c.hyper, dtype, kCUDA, /*fused=*/true, 20);
      std::vector<Tensor> composite = adam_run(c.hyper, dtype, kCUDA, /*fused=*/false, 20);
      std::vector<Tensor> cpu = adam_run(c.hyper, dtype, kCPU, /*fused=*/true, 20);
      REQUIRE(fused.size() == composite.size());
      for (size_t k = 0; k < fused.size(); ++k) {
        CAPTURE(k);
        CHECK(fused[k].device() == kCUDA);
        CHECK_ALLCLOSE(fused[k], composite[k], rtol, atol);
        CHECK_ALLCLOSE(fused[k], cpu[k], rtol, atol);
      }
    }
}

TEST_CASE("cuda: one fused Adam step allocates only its launch table") {
  ATTO_REQUIRE_CUDA();
  // The composite would allocate a temporary per op and parameter; the fused step allocates one
  // buffer (the parameter table and the chunk list) for its one launch.
  std::vector<Tensor> ps = mlp_params(kFloat32, kCUDA);
  optim::AdamW opt(ps, {.lr = 1e-2, .amsgrad = true});
  mlp_loss(ps).backward();
  opt.step();   // creates the state
  mlp_loss(ps).backward();
  const CudaMemoryStats before = cuda_memory_stats();
  opt.step();
  const CudaMemoryStats after = cuda_memory_stats();
  CHECK(after.num_allocs - before.num_allocs == 1);
}

TEST_CASE("cuda: 1000 AdamW steps of an MLP call cudaMalloc only while the loop warms up") {
  ATTO_REQUIRE_CUDA();
  // Issue 4's proof: the caching allocator serves a training loop from its cache. Step 1 creates
  // the optimizer state, which may take blocks that step 1's forward pass left in the cache, so
  // step 2 may still need new blocks; from then on every step asks for the same sizes with the
  // same tensors alive, and every request must be a cache hit.
  manual_seed(0);
  auto model = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      std::make_shared<nn::Linear>(16, 64), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(64, 64),
      std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(64, 4)});
  model->to(kCUDA);
  Tensor x = uniform({32, 16}, -1, 1, 11, kFloat32).to(kCUDA), y = uniform({32, 4}, -1, 1, 12, kFloat32).to(kCUDA);
  optim::AdamW opt(model->parameters(), {.lr = 1e-3});
  auto step = [&] {
    opt.zero_grad();
    Tensor loss = mse_loss((*model)(x), y);
    loss.backward();
    opt.step();
    return loss.item<double>();
  };
  const double first_loss = step();
  const CudaMemoryStats after_1 = cuda_memory_stats();
  step();
  const CudaMemoryStats after_2 = cuda_memory_stats();
  double loss = 0;
  for (int i = 3; i <= 1000; ++i) loss = step();
  const CudaMemoryStats after_1000 = cuda_memory_stats();
  MESSAGE("cudaMalloc calls: ", after_1.num_cuda_mallocs, " after step 1, ", after_2.num_cuda_mallocs,
          " after step 2, ", after_1000.num_cuda_mallocs, " after step 1000");
  CHECK(after_1000.num_cuda_mallocs == after_2.num_cuda_mallocs);
  CHECK(after_1000.num_allocs - after_2.num_allocs >= 998 * 10);   // the steps did allocate, from the cache
  CHECK(after_1000.allocated_bytes == after_2.allocated_bytes);      // and freed what they allocated
  CHECK(loss < 0.5 * first_loss);
  for (const Tensor& p : model->parameters()) {
    CHECK(p.device() == kCUDA);
    CHECK(opt.state(p, "exp_avg").device() == kCUDA);
    CHECK(opt.state(p, "step").device() == kCPU);   // a number: read without a device sync
  }
}

TEST_CASE("cuda: every optimizer takes the same 20 steps on the GPU as on the CPU") {
  ATTO_REQUIRE_CUDA();
  using namespace atto::optim;
  const std::vector<std::pair<const char*, MakeOptimizer>> optimizers = {
      {"SGD", make<SGD>(SGDOptions{.lr = 0.1})},
      {"SGD nesterov", make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-2, .nesterov = true})},
      {"Adam", make<Adam>(AdamOptions{.lr = 1e-2})},
      {"Adam amsgrad", make<Adam>(AdamOptions{.lr = 1e-2, .weight_decay = 1e-2, .amsgrad = true})},
      {"AdamW", make<AdamW>(AdamWOptions{.lr = 1e-2, .weight_decay = 0.1})},
      {"RMSprop", make<RMSprop>(RMSpropOptions{.lr = 1e-2, .momentum = 0.9, .centered = true})},
      {"Adagrad", make<Adagrad>(AdagradOptions{.lr = 0.1, .lr_decay = 1e-3, .weight_decay = 1e-2})},
      {"Adadelta", make<Adadelta>(AdadeltaOptions{.lr = 1.0, .weight_decay = 1e-2})},
      {"Adamax", make<Adamax>(AdamaxOptions{.lr = 2e-2})},
      {"NAdam", make<NAdam>(NAdamOptions{.lr = 2e-2})},
      {"RAdam", make<RAdam>(RAdamOptions{.lr = 1e-2})},   // rho_t passes 5 at step 6: both branches
      {"Lion", make<Lion>(LionOptions{.lr = 1e-3, .weight_decay = 0.1})},
      {"LBFGS", make<LBFGS>(LBFGSOptions{.lr = 1, .max_iter = 2, .line_search_fn = "strong_wolfe"})},
  };
  for (const auto& [name, make_opt] : optimizers) {
    CAPTURE(name);
    std::unique_ptr<Optimizer> gpu_opt;
    std::vector<Tensor> on_gpu = train(make_opt, kFloat64, kCUDA, 20, &gpu_opt);
    std::vector<Tensor> on_cpu = train(make_opt, kFloat64, kCPU, 20);
    const std::vector<Tensor> start = mlp_params(kFloat64, kCPU);
    for (size_t k = 0; k < on_gpu.size(); ++k) {
      CAPTURE(k);
      CHECK(on_gpu[k].device() == kCUDA);
      CHECK_ALLCLOSE(on_gpu[k], on_cpu[k], 1e-8, 1e-10);
      CHECK_FALSE(allclose(on_cpu[k], start[k], 1e-6, 1e-8));   // the steps moved it
    }
    // State lives with its parameter; numbers (step, ...) stay on the CPU.
    for (const Tensor& p : on_gpu)
      for (const auto& [key, t] : gpu_opt->state(p)) {
        CAPTURE(key);
        CHECK(t.device() == (t.dim() > 0 ? kCUDA : kCPU));
      }
  }
}

TEST_CASE("cuda: optimizer state follows its parameters when the model moves after some steps") {
  ATTO_REQUIRE_CUDA();
  using namespace atto::optim;
  const MakeOptimizer adam = make<Adam>(AdamOptions{.lr = 1e-2, .amsgrad = true});
  std::vector<Tensor> straight = train(adam, kFloat64, kCPU, 6);

  // 3 steps on the CPU, then the parameters move (in place, as Module::to does), then 3 more.
  std::vector<Tensor> ps = mlp_params(kFloat64, kCPU);
  Adam opt(ps, {.lr = 1e-2, .amsgrad = true});
  auto closure = [&] {
    opt.zero_grad();
    Tensor loss = mlp_loss(ps);
    loss.backward();
    return loss;
  };
  for (int i = 0; i < 3; ++i) opt.step(closure);
  {
    NoGradGuard no_grad;
    for (Tensor& p : ps) p.set_data(p.to(kCUDA));
  }
  CHECK(opt.state(ps[0], "exp_avg").device() == kCPU);   // not yet: it moves at the next step
  for (int i = 0; i < 3; ++i) opt.step(closure);
  for (size_t k = 0; k < ps.size(); ++k) {
    CAPTURE(k);
    CHECK(opt.state(ps[k], "exp_avg").device() == kCUDA);
    CHECK(opt.state(ps[k], "max_exp_avg_sq").device() == kCUDA);
    CHECK(opt.state(ps[k], "step").device() == kCPU);
    CHECK_ALLCLOSE(ps[k], straight[k], 1e-8, 1e-10);
  }

  // A state dict saved on the CPU loads onto the GPU parameters' device.
  std::unique_ptr<Optimizer> cpu_opt;
  train(adam, kFloat64, kCPU, 2, &cpu_opt);
  opt.load_state_dict(cpu_opt->state_dict());
  for (const Tensor& p : ps) {
    CHECK(opt.state(p, "exp_avg_sq").device() == kCUDA);
    CHECK(opt.state(p, "step").device() == kCPU);
    CHECK(opt.state(p, "step").item<double>() == 2);
  }
}

TEST_CASE("cuda: Module::to moves parameters and buffers in place, with their grads") {
  ATTO_REQUIRE_CUDA();
  // A layer with a buffer (a running mean, say) beside its parameters, inside a container.
  struct Scaled : nn::Module {
    Tensor weight, running;
    Scaled() : nn::Module("Scaled") {
      weight = register_parameter("weight", uniform({4}, -1, 1, 31, kFloat32));
      running = register_buffer("running", uniform({4}, -1, 1, 32, kFloat32));
    }
    Tensor forward(const Tensor& x) override { return mul(x, weight); }
  };
  auto layer = std::make_shared<Scaled>();
  nn::Sequential model{layer};
  const Tensor w = layer->weight, running = layer->running;
  const std::vector<double> w_values = w.to_vector<double>(), running_values = running.to_vector<double>();
  mse_loss(model(ones({2, 4})), zeros({2, 4})).backward();
  const std::vector<double> grad_values = w.grad().to_vector<double>();
  optim::SGD opt(model.parameters(), {.lr = 0.1});

  model.to(kCUDA);
  CHECK(w.device() == kCUDA);   // the handles the module, the optimizer and this test hold saw the move
  CHECK(running.device() == kCUDA);
  CHECK(opt.params(0)[0].device() == kCUDA);
  CHECK(w.requires_grad());
  CHECK(w.is_leaf());
  CHECK(w.grad().device() == kCUDA);
  CHECK(w.to_vector<double>() == w_values);
  CHECK(running.to_vector<double>() == running_values);
  CHECK(w.grad().to_vector<double>() == grad_values);
  CHECK(model.named_buffers().at("0.running").device() == kCUDA);

  opt.step();   // the update runs on the GPU, on the module's own tensor
  std::vector<double> stepped = w.to_vector<double>();
  for (size_t i = 0; i < stepped.size(); ++i) CHECK(stepped[i] == doctest::Approx(w_values[i] - 0.1 * grad_values[i]));

  model.to(kCPU);
  CHECK(w.device() == kCPU);
  CHECK(running.device() == kCPU);
  CHECK(w.to_vector<double>() == stepped);
}

TEST_CASE("cuda: a checkpoint saved from the GPU loads into a CPU model and back onto the GPU") {
  ATTO_REQUIRE_CUDA();
  using namespace atto::optim;
  auto mlp = [] {
    return std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
        std::make_shared<nn::Linear>(5, 8), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(8, 3)});
  };
  Tensor x = uniform({16, 5}, -1, 1, 21, kFloat32), y = uniform({16, 3}, -1, 1, 22, kFloat32);
  auto train_steps = [](nn::Module& model, Optimizer& opt, const Tensor& x, const Tensor& y, int steps) {
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      mse_loss(model(x), y).backward();
      opt.step();
    }
  };

  manual_seed(5);
  auto gpu_model = mlp();
  gpu_model->to(kCUDA);
  AdamW gpu_opt(gpu_model->parameters(), {.lr = 1e-2});
  train_steps(*gpu_model, gpu_opt, x.to(kCUDA), y.to(kCUDA), 10);
  TempDir dir("cuda_training");
  const std::string path = dir.path("ckpt.safetensors");
  TrainingState saved{.model = gpu_model.get(), .optimizer = &gpu_opt, .step = 10};
  save_checkpoint(path, saved);

  manual_seed(6);   // other initial weights: everything must come from the file
  auto cpu_model = mlp();
  AdamW cpu_opt(cpu_model->parameters(), {.lr = 1e-2});
  TrainingState loaded{.model = cpu_model.get(), .optimizer = &cpu_opt};
  load_checkpoint(path, loaded);
  CHECK(loaded.step == 10);
  const std::vector<Tensor> gpu_params = gpu_model->parameters(), cpu_params = cpu_model->parameters();
  for (size_t k = 0; k < gpu_params.size(); ++k) {
    CAPTURE(k);
    CHECK(cpu_params[k].device() == kCPU);
    CHECK(cpu_params[k].to_vector<float>() == gpu_params[k].to_vector<float>());   // copies: bitwise
    CHECK(cpu_opt.state(cpu_params[k], "exp_avg").device() == kCPU);
    CHECK(cpu_opt.state(cpu_params[k], "exp_avg").to_vector<float>() ==
          gpu_opt.state(gpu_params[k], "exp_avg").to_vector<float>());
  }
  CHECK_ALLCLOSE((*cpu_model)(x), (*gpu_model)(x.to(kCUDA)), 1e-5, 1e-6);

  // Both continue alike: the CPU copy and the GPU original, 5 more steps each.
  train_steps(*cpu_model, cpu_opt, x, y, 5);
  train_steps(*gpu_model, gpu_opt, x.to(kCUDA), y.to(kCUDA), 5);
  CHECK_ALLCLOSE((*cpu_model)(x), (*gpu_model)(x.to(kCUDA)), 1e-4, 1e-5);

  // Loading into a model already on the GPU puts the values and the optimizer state there.
  manual_seed(7);
  auto gpu_again = mlp();
  gpu_again->to(kCUDA);
  AdamW again_opt(gpu_again->parameters(), {.lr = 1e-2});
  TrainingState into_gpu{.model = gpu_again.get(), .optimizer = &again_opt};
  load_checkpoint(path, into_gpu);
  const std::vector<Tensor> again_params = gpu_again->parameters();
  for (size_t k = 0; k < again_params.size(); ++k) {
    CAPTURE(k);
    CHECK(again_params[k].device() == kCUDA);
    CHECK(again_opt.state(again_params[k], "exp_avg").device() == kCUDA);
    CHECK(again_opt.state(again_params[k], "step").device() == kCPU);
  }
  train_steps(*gpu_again, again_opt, x.to(kCUDA), y.to(kCUDA), 5);
  CHECK_ALLCLOSE((*gpu_again)(x.to(kCUDA)), (*gpu_model)(x.to(kCUDA)), 1e-5, 1e-6);
}

}  // TEST_SUITE("cuda")
