// benchmarks/models.cpp -- whole training steps of four small models, built from the library's own
// modules and optimizers (what a user would write), timed step by step:
//   lstm       char-LSTM step: Embedding(65, 64) -> LSTM(64, 256) -> Linear(256, 65) -> cross-entropy
//              -> Adam; batch 32, seq 64
//   mha        MultiheadAttention forward + backward: batch 16, seq 128, embed 256, 8 heads, causal
//   gpt        tiny GPT step: token + position embeddings, 4 pre-LN blocks (LayerNorm, causal
//              self-attention with 4 heads, MLP 4x with GELU), final LayerNorm, head tied to the token
//              embedding, cross-entropy, AdamW; n_embd 128, block 64, batch 12, vocab 65
//   sentiment  Embedding(5000, 64) -> MultiheadAttention(64, 4 heads) -> mean over the sequence ->
//              Linear(64, 2) -> cross-entropy -> Adam; batch 64, seq 32
// Each model runs in its own process (so that the peak RSS is that model's): a few warm-up steps,
// then the median of --steps timed steps (wall-clock, and the process's CPU time). Twin:
// benchmarks/models_torch.py (the same models in PyTorch). Run both with benchmarks/run.sh, which
// prints the ratio table (benchmarks/report.py). The LSTM and GPT classes are in bench_models.h,
// shared with the GPU benchmark (gpu_models.cpp).
//
//   models --model lstm|mha|gpt|sentiment [--threads 2] [--steps 20] [--config NAME]
#include <sys/resource.h>

#include <functional>

#include "attograd.h"
#include "bench_models.h"
#include "bench_util.h"

using namespace atto;
using bench::CharLSTM;
using bench::TinyGPT;

namespace {

// One training step of a model, ready to be called again and again.
using Step = std::function<void()>;

// ---- (a) char-LSTM (bench_models.h) ---------------------------------------------------------------
Step lstm_step() {
  const int64_t vocab = 65, batch = 32, seq = 64;
  auto model = std::make_shared<CharLSTM>(vocab, 64, 256);
  auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 2e-3});
  Tensor x = randint(vocab, {batch, seq}), y = randint(vocab, {batch, seq});
  return [=] {
    opt->zero_grad();
    Tensor loss = cross_entropy(model->forward(x).reshape({batch * seq, vocab}), y.reshape({batch * seq}));
    loss.backward();
    opt->step();
  };
}

// ---- (b) multi-head attention, forward and backward ------------------------------------------------
Step mha_step() {
  const int64_t batch = 16, seq = 128, embed = 256, heads = 8;
  auto mha = std::make_shared<nn::MultiheadAttention>(
      nn::MultiheadAttentionOptions{.embed_dim = embed, .num_heads = heads, .batch_first = true});
  Tensor x = randn({batch, seq, embed}, {.requires_grad = true});
  return [=] {
    mha->zero_grad();
    x.set_grad({});
    Tensor out = mha->forward(x, x, x, {}, /*need_weights=*/false, {}, true, /*is_causal=*/true).output;
    out.sum().backward();
  };
}

// ---- (c) tiny GPT (bench_models.h) -------------------------------------------------------------------
Step gpt_step() {
  const int64_t vocab = 65, batch = 12, block = 64;
  auto model = std::make_shared<TinyGPT>(vocab, block, 128, 4, 4);
  auto opt = std::make_shared<optim::AdamW>(model->parameters(), optim::AdamWOptions{.lr = 3e-4});
  Tensor x = randint(vocab, {batch, block}), y = randint(vocab, {batch, block});
  return [=] {
    opt->zero_grad();
    Tensor loss = cross_entropy(model->forward(x).reshape({batch * block, vocab}), y.reshape({batch * block}));
    loss.backward();
    opt->step();
  };
}

// ---- (d) sentiment classifier -----------------------------------------------------------------------
struct SentimentNet : nn::Module {
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::MultiheadAttention> attn;
  std::shared_ptr<nn::Linear> head;
  SentimentNet(int64_t vocab, int64_t dim, int64_t heads, int64_t classes) : Module("SentimentNet") {
    embed = register_module("embed", std::make_shared<nn::Embedding>(vocab, dim));
    attn = register_module("attn", std::make_shared<nn::MultiheadAttention>(
                                       nn::MultiheadAttentionOptions{.embed_dim = dim, .num_heads = heads, .batch_first = true}));
    head = register_module("head", std::make_shared<nn::Linear>(dim, classes));
  }
  Tensor forward(const Tensor& tokens) override {   // (B, T) -> logits (B, classes)
    Tensor x = embed->forward(tokens);
    Tensor context = attn->forward(x, x, x, {}, /*need_weights=*/false).output;
    return head->forward(context.mean({1}));
  }
};

Step sentiment_step() {
  const int64_t vocab = 5000, batch = 64, seq = 32;
  auto model = std::make_shared<SentimentNet>(vocab, 64, 4, 2);
  auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-3});
  Tensor x = randint(vocab, {batch, seq}), y = randint(2, {batch});
  return [=] {
    opt->zero_grad();
    cross_entropy(model->forward(x), y).backward();
    opt->step();
  };
}

// CPU time of the whole process (all its threads): unlike wall time, not inflated by other work on
// a shared machine (but spinning idle threads count).
double process_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model = bench::string_arg(argc, argv, "--model", "lstm");
  const char* config = bench::string_arg(argc, argv, "--config", "default");
  const int threads = bench::int_list_arg(argc, argv, "--threads", {2})[0];
  const int steps = bench::int_list_arg(argc, argv, "--steps", {20})[0];
  set_num_threads(threads);
  manual_seed(0);
  Step step = model == "lstm" ? lstm_step()
              : model == "mha" ? mha_step()
              : model == "gpt" ? gpt_step()
              : model == "sentiment" ? sentiment_step()
                                     : Step{};
  if (!step) {
    std::fprintf(stderr, "models: unknown --model '%s' (lstm, mha, gpt or sentiment)\n", model.c_str());
    return 1;
  }
  for (int i = 0; i < 3; ++i) step();   // warm up: allocator, optimizer state, page faults
  std::vector<double> times, cpu_times;
  for (int i = 0; i < steps; ++i) {
    double s = bench::now_s(), c = process_cpu_s();
    step();
    cpu_times.push_back(process_cpu_s() - c);
    times.push_back(bench::now_s() - s);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);   // ru_maxrss: the peak resident set, in KiB on Linux
  std::printf(
      "RESULT bench=models impl=attograd model=%s config=%s threads=%d ms=%.3f ms_min=%.3f cpu_ms=%.3f "
      "peak_rss_mb=%.1f\n",
      model.c_str(), config, threads, bench::median(times) * 1e3, *std::min_element(times.begin(), times.end()) * 1e3,
      bench::median(cpu_times) * 1e3, usage.ru_maxrss / 1024.0);
  return 0;
}
