// benchmarks/gpu_models.cpp -- issue 5's GPU training steps, built from the library's own modules and
// optimizers (the models of bench_models.h, shared with the CPU benchmark models.cpp), timed step by
// step on a CUDA device. Twin: benchmarks/gpu_models_torch.py (PyTorch 2.x eager, no torch.compile),
// run beside it by scripts/gpu-check.sh; report.py prints the ratio table. float32, TF32 off.
//   lstm  char-LSTM step: Embedding(65, 128) -> LSTM(128, 512, 2 layers) -> Linear(512, 65) ->
//         cross-entropy -> Adam (lr 2e-3); batch 256, seq 128
//   mha   MultiheadAttention forward + backward of out.sum(): batch 32, seq 1024, embed 1024,
//         16 heads, causal (is_causal, no mask tensor)
//   gpt   nanoGPT's shakespeare-char GPU configuration (config/train_shakespeare_char.py): 6 layers,
//         6 heads, n_embd 384, block 256, batch 64, vocab 65, dropout 0.2; bench_models.h's TinyGPT
//         (pre-LN TransformerEncoderLayers with biases, head tied to the token embedding; nanoGPT's
//         own model has no biases), cross-entropy, gradient norm clipped at 1.0, AdamW (lr 1e-3,
//         betas (0.9, 0.99), weight decay 0.1 on every parameter). One step = one of nanoGPT's
//         iterations on a fixed batch (no data loading).
// Each step is timed between two cuda_synchronize(); a few warm-up steps (allocator, optimizer
// state), then the median of --steps steps. peak_mem_mb is the caching allocator's peak of allocated
// bytes (torch.cuda.max_memory_allocated in the twin).
//
//   gpu_models --model lstm|mha|gpt [--device cuda|cuda:N|cpu] [--steps 20] [--small]
//
// --small shrinks every shape (a check of this program, e.g. --device cpu on a machine without a
// GPU; shape=small in the line). Without a CUDA device it prints a "#" line and exits 0.
#include <functional>

#include "attograd.h"
#include "bench_models.h"
#include "bench_device.h"
#include "bench_util.h"

using namespace atto;

namespace {

using Step = std::function<void()>;

Device dev = kCUDA;
bool small = false;

void sync() {
  if (dev.is_cuda()) cuda_synchronize(dev.index);
}

// Random token ids, drawn on the CPU and copied to the device once.
Tensor tokens(int64_t vocab, const Shape& shape) { return randint(vocab, shape).to(dev); }

Step lstm_step() {
  const int64_t vocab = 65, batch = small ? 4 : 256, seq = small ? 8 : 128;
  auto model = std::make_shared<bench::CharLSTM>(vocab, small ? 16 : 128, small ? 32 : 512, 2);
  model->to(dev);
  auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 2e-3});
  Tensor x = tokens(vocab, {batch, seq}), y = tokens(vocab, {batch, seq});
  return [=] {
    opt->zero_grad();
    Tensor loss = cross_entropy(model->forward(x).reshape({batch * seq, vocab}), y.reshape({batch * seq}));
    loss.backward();
    opt->step();
  };
}

Step mha_step() {
  const int64_t batch = small ? 2 : 32, seq = small ? 16 : 1024, embed = small ? 64 : 1024, heads = small ? 4 : 16;
  auto mha = std::make_shared<nn::MultiheadAttention>(
      nn::MultiheadAttentionOptions{.embed_dim = embed, .num_heads = heads, .batch_first = true});
  mha->to(dev);
  Tensor x = randn({batch, seq, embed}).to(dev).requires_grad_();
  return [=] {
    mha->zero_grad();
    x.set_grad({});
    Tensor out = mha->forward(x, x, x, {}, /*need_weights=*/false, {}, true, /*is_causal=*/true).output;
    out.sum().backward();
  };
}

Step gpt_step() {
  const int64_t vocab = 65, batch = small ? 2 : 64, block = small ? 16 : 256;
  auto model = std::make_shared<bench::TinyGPT>(vocab, block, small ? 48 : 384, 6, small ? 2 : 6, /*dropout=*/0.2);
  model->to(dev);
  auto params = model->parameters();
  auto opt = std::make_shared<optim::AdamW>(params,
                                            optim::AdamWOptions{.lr = 1e-3, .betas = {0.9, 0.99}, .weight_decay = 0.1});
  Tensor x = tokens(vocab, {batch, block}), y = tokens(vocab, {batch, block});
  return [=] {
    opt->zero_grad();
    Tensor loss = cross_entropy(model->forward(x).reshape({batch * block, vocab}), y.reshape({batch * block}));
    loss.backward();
    optim::clip_grad_norm_(params, 1.0);
    opt->step();
  };
}

int run(int argc, char** argv) {
  const std::string model = bench::string_arg(argc, argv, "--model", "gpt");
  const std::string device_arg = bench::string_arg(argc, argv, "--device", "cuda");
  const int steps = bench::int_list_arg(argc, argv, "--steps", {20})[0];
  for (int i = 1; i < argc; ++i) small = small || std::strcmp(argv[i], "--small") == 0;
  dev = Device::parse(device_arg);
  if (auto exit_status = bench::unusable_device("gpu_models", device_arg, dev)) return *exit_status;
  if (dev.is_cuda()) cuda_set_allow_tf32(false);   // as torch.backends.cuda.matmul.allow_tf32 = False
  std::string label = dev.is_cuda() ? cuda_device_name(dev.index) : "cpu";
  std::replace(label.begin(), label.end(), ' ', '_');
  manual_seed(0);
  Step step = model == "lstm" ? lstm_step() : model == "mha" ? mha_step() : model == "gpt" ? gpt_step() : Step{};
  if (!step) {
    std::fprintf(stderr, "gpu_models: unknown --model '%s' (lstm, mha or gpt)\n", model.c_str());
    return 1;
  }
  for (int i = 0; i < 3; ++i) step();   // warm up: allocator, optimizer state
  std::vector<double> times;
  for (int i = 0; i < steps; ++i) {
    sync();
    const double s = bench::now_s();
    step();
    sync();
    times.push_back(bench::now_s() - s);
  }
  const double peak_mb = dev.is_cuda() ? double(cuda_memory_stats(dev.index).peak_allocated_bytes) / (1 << 20) : 0.0;
  std::printf(
      "RESULT bench=gpu_models impl=attograd device=%s model=%s shape=%s steps=%d ms=%.3f ms_min=%.3f "
      "peak_mem_mb=%.1f\n",
      label.c_str(), model.c_str(), small ? "small" : "full", steps, bench::median(times) * 1e3,
      *std::min_element(times.begin(), times.end()) * 1e3, peak_mb);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Error& e) {   // e.g. a kernel this build does not have yet
    std::printf("# gpu_models: error: %s\n", e.what());
    return 1;
  }
}
