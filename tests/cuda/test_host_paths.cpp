// tests/cuda/test_host_paths.cpp -- the host-side code that meets CUDA tensors: factories with
// options.device = cuda (tensor/factory.cpp, tensor/tensor.cpp), element access, printing
// (tensor/print.cpp), .npy and safetensors files from and into CUDA tensors (tensor/npy.cpp,
// nn/safetensors.cpp, Module::load_state_dict), rnn lengths (nn/rnn.cpp), gradcheck of a function
// that runs on the GPU (autograd/gradcheck.cpp), and the error for tensors on two devices.
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>

#include "cuda_test_util.h"
#include "temp_dir.h"

using namespace atto;
using namespace atto::testing;

namespace {

bool bitwise_equal(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) return false;
  Tensor a = got.cpu().contiguous(), b = want.cpu().contiguous();
  return std::memcmp(a.raw_data(), b.raw_data(), size_t(a.numel()) * a.element_size()) == 0;
}

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// f must throw an atto::Error that names the op and both devices.
void check_mixed_devices(const std::string& op, const std::function<void()>& f) {
  INFO(op);
  try {
    f();
    FAIL("no error for tensors on cpu and cuda:0");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK_MESSAGE(m.find("cpu") != std::string::npos, m);
    CHECK_MESSAGE(m.find("cuda:0") != std::string::npos, m);
    CHECK_MESSAGE(m.find("[" + op + "]") != std::string::npos, m);
  }
}

const TensorOptions kCudaF32{.dtype = kFloat32, .device = kCUDA};
const TensorOptions kCudaF64{.dtype = kFloat64, .device = kCUDA};

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda: factories with a cuda device give the CPU's values as cuda leaves") {
  ATTO_REQUIRE_CUDA();
  for (DType dt : {kFloat32, kFloat64, kInt64}) {
    INFO(fmt::format("{}", dt));
    const bool floating = dt != kInt64;
    const TensorOptions c{.dtype = dt}, g{.dtype = dt, .device = kCUDA};
    const TensorOptions g_rg{.dtype = dt, .device = kCUDA, .requires_grad = floating};
    std::vector<std::pair<Tensor, Tensor>> pairs = {
        {arange(-3.0, 7.0, 0.5, g_rg), arange(-3.0, 7.0, 0.5, c)},
        {arange(1025.0, g), arange(1025.0, c)},
        {linspace(-1.0, 1.0, 37, g_rg), linspace(-1.0, 1.0, 37, c)},
        {eye(4, 6, g_rg), eye(4, 6, c)},
        {eye(5, std::nullopt, g), eye(5, std::nullopt, c)},
        {full({3, 37}, 2.5, g_rg), full({3, 37}, 2.5, c)},
        {zeros({1025}, g_rg), zeros({1025}, c)},
        {ones({2, 3}, g), ones({2, 3}, c)},
        {scalar_tensor(-7.0, g_rg), scalar_tensor(-7.0, c)},
        {from_vector<double>({1.5, -2.0, 3.25, 4.0, 5.0, 6.0}, Shape{2, 3}, g_rg),
         from_vector<double>({1.5, -2.0, 3.25, 4.0, 5.0, 6.0}, Shape{2, 3}, c)},
        {from_vector<int64_t>({1, -2, 3}, std::nullopt, g), from_vector<int64_t>({1, -2, 3}, std::nullopt, c)},
        {tensor({{1.0, 2.0}, {3.0, 4.0}}, g), tensor({{1.0, 2.0}, {3.0, 4.0}}, c)},
    };
    for (size_t k = 0; k < pairs.size(); ++k) {
      CAPTURE(k);
      const auto& [gpu, cpu] = pairs[k];
      CHECK(gpu.device() == kCUDA);
      CHECK(gpu.dtype() == dt);
      CHECK(gpu.is_leaf());
      CHECK(bitwise_equal(gpu, cpu));
    }
    CHECK(pairs[0].first.requires_grad() == floating);
    CHECK_FALSE(pairs[1].first.requires_grad());
  }
  // from_vector<bool> and the *_like creators keep the device.
  Tensor b = from_vector<bool>({true, false, true}, std::nullopt, {.dtype = kBool, .device = kCUDA});
  CHECK(b.device() == kCUDA);
  CHECK(b.to_vector<bool>() == std::vector<bool>{true, false, true});
  Tensor x = ones({37}, kCudaF64);
  for (const Tensor& t : {zeros_like(x), ones_like(x), full_like(x, 3.0), empty_like(x), rand_like(x), randn_like(x)}) {
    CHECK(t.device() == kCUDA);
    CHECK(t.dtype() == kFloat64);
    CHECK(t.shape() == x.shape());
  }
}

TEST_CASE("cuda: item at and to_vector read cuda views through a copy") {
  ATTO_REQUIRE_CUDA();
  Tensor c = arange(12.0, {.dtype = kFloat64}).reshape({3, 4});
  Tensor g = c.to(kCUDA);
  Tensor gt = g.t();   // strides (1, 4)
  CHECK(gt.at({1, 2}) == 9.0);
  CHECK(gt.at({-1, 0}) == 3.0);
  CHECK(g.narrow(0, 2, 1).narrow(1, 3, 1).item<double>() == 11.0);   // an offset into the storage
  CHECK(gt.to_vector<double>() == c.t().to_vector<double>());
  CHECK(g.slice(1, 0, std::nullopt, 2).to_vector<int64_t>() == std::vector<int64_t>{0, 2, 4, 6, 8, 10});
}

TEST_CASE("cuda: printing a cuda tensor prints its values and device as PyTorch") {
  ATTO_REQUIRE_CUDA();
  CHECK(to_string(tensor({1.0, 2.0, 3.0}).to(kCUDA)) == "tensor([1., 2., 3.], device='cuda:0')");
  CHECK(to_string(arange(4.0, {.dtype = kInt64}).reshape({2, 2}).to(kCUDA)) ==
        "tensor([[0, 1],\n        [2, 3]], device='cuda:0')");
  CHECK(to_string(zeros({0}, kCudaF32)) == "tensor([], device='cuda:0')");
  // The body is the CPU's -- including a summarised tensor and a non-contiguous view -- and the
  // device is the first suffix.
  for (const Tensor& c : {uniform({2000}, -5, 5, 1, kFloat32), uniform({37, 41}, -1, 1, 2, kFloat32).t(),
                          uniform({3, 4}, -1, 1, 3, kFloat32).slice(1, 0, std::nullopt, 2)}) {
    const std::string cs = to_string(c), gs = to_string(c.to(kCUDA));
    REQUIRE(cs.back() == ')');
    CHECK(gs == cs.substr(0, cs.size() - 1) + ", device='cuda:0')");
  }
  Tensor w = tensor({0.5, 1.0}, kCudaF64).requires_grad_(true);
  CHECK(to_string(w) == "tensor([0.5000, 1.0000], device='cuda:0', dtype=float64, requires_grad=True)");
}

TEST_CASE("cuda: npy files saved from cuda tensors are the CPU's files") {
  ATTO_REQUIRE_CUDA();
  TempDir dir("cuda_npy");
  Tensor f = uniform({37, 5}, -1, 1, 4, kFloat32);
  std::vector<Tensor> cases = {f, f.to(kFloat64).t(), arange(1025.0, {.dtype = kInt64}).slice(0, 3, std::nullopt, 7),
                               gt(f, 0.0)};
  for (size_t k = 0; k < cases.size(); ++k) {
    CAPTURE(k);
    const Tensor& c = cases[k];
    save_npy(dir.path("cpu.npy"), c);
    save_npy(dir.path("gpu.npy"), c.to(kCUDA));
    CHECK(file_bytes(dir.path("gpu.npy")) == file_bytes(dir.path("cpu.npy")));
    // And back onto the GPU.
    Tensor loaded = load_npy(dir.path("gpu.npy")).to(kCUDA);
    CHECK(loaded.device() == kCUDA);
    CHECK(bitwise_equal(loaded, c));
  }
}

TEST_CASE("cuda: a cuda state dict saves as safetensors and loads into cuda parameters") {
  ATTO_REQUIRE_CUDA();
  TempDir dir("cuda_safetensors");
  manual_seed(8);
  nn::Linear cpu_model(5, 3);
  nn::Linear gpu_model(5, 3);
  gpu_model.load_state_dict(cpu_model.state_dict());   // CPU tensors into CPU parameters
  gpu_model.to(kCUDA);
  CHECK(gpu_model.weight.device() == kCUDA);
  save_safetensors(dir.path("cpu.safetensors"), cpu_model.state_dict());
  save_safetensors(dir.path("gpu.safetensors"), gpu_model.state_dict());
  CHECK(file_bytes(dir.path("gpu.safetensors")) == file_bytes(dir.path("cpu.safetensors")));

  // Loading: CPU tensors from the file go into CUDA parameters, which stay on the GPU (same handles).
  nn::Linear target(5, 3);
  target.to(kCUDA);
  Tensor weight_handle = target.weight;
  target.load_state_dict(load_safetensors(dir.path("gpu.safetensors")).tensors);
  CHECK(target.weight.device() == kCUDA);
  CHECK(weight_handle.is_same(target.weight));
  CHECK(bitwise_equal(target.weight, cpu_model.weight));
  CHECK(bitwise_equal(target.bias, cpu_model.bias));
  // A CUDA state dict loads into a CPU model too.
  nn::Linear back(5, 3);
  back.load_state_dict(gpu_model.state_dict());
  CHECK(back.weight.device() == kCPU);
  CHECK(bitwise_equal(back.weight, cpu_model.weight));
}

TEST_CASE("cuda: rnn lengths build their mask on the host and run on the GPU") {
  ATTO_REQUIRE_CUDA();
  const nn::RNNOptions o{.input_size = 4, .hidden_size = 3, .num_layers = 2, .bidirectional = true};
  manual_seed(9);
  nn::LSTM cpu_lstm(o);
  cpu_lstm.to(kFloat64);
  nn::LSTM gpu_lstm(o);
  gpu_lstm.to(kFloat64);
  gpu_lstm.load_state_dict(cpu_lstm.state_dict());
  gpu_lstm.to(kCUDA);
  Tensor x = uniform({5, 3, 4}, -1, 1, 10);   // [T, B, I], float64
  Tensor xc = x.clone().requires_grad_(true), xg = x.to(kCUDA).requires_grad_(true);
  auto [yc, hc] = cpu_lstm(xc, {}, {5, 2, 0});
  auto [yg, hg] = gpu_lstm(xg, {}, SeqLengths(from_vector<int64_t>({5, 2, 0}, std::nullopt, {.dtype = kInt64,
                                                                                             .device = kCUDA})));
  CHECK(yg.device() == kCUDA);
  CHECK_ALLCLOSE(yg, yc, 1e-9, 1e-12);
  CHECK_ALLCLOSE(hg.first, hc.first, 1e-9, 1e-12);
  CHECK_ALLCLOSE(hg.second, hc.second, 1e-9, 1e-12);
  (yc.sum() + hc.first.sum()).backward();
  (yg.sum() + hg.first.sum()).backward();
  CHECK_ALLCLOSE(xg.grad(), xc.grad(), 1e-9, 1e-12);
}

TEST_CASE("cuda: gradcheck runs a cuda function on the GPU") {
  ATTO_REQUIRE_CUDA();
  Tensor a = uniform({5, 3}, -1, 1, 11, kFloat32).to(kCUDA).requires_grad_(true);
  Tensor b = uniform({3, 4}, -1, 1, 12, kFloat32).to(kCUDA).requires_grad_(true);
  bool all_on_gpu = true;
  GradcheckReport r = gradcheck(
      [&](const std::vector<Tensor>& in) {
        all_on_gpu = all_on_gpu && in[0].device() == kCUDA && in[1].device() == kCUDA && in[0].dtype() == kFloat64;
        // A tensor made inside fn on the GPU must meet the inputs there.
        return add(tanh(matmul(in[0], in[1])), full({5, 4}, 0.5, kCudaF64));
      },
      {a, b});
  CHECK_MESSAGE(r.ok, r.str());
  CHECK(r.checked == 5 * 3 + 3 * 4);
  CHECK(all_on_gpu);
  // The caller's tensors are untouched.
  CHECK(a.dtype() == kFloat32);
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("cuda: an op on tensors from two devices names both devices") {
  ATTO_REQUIRE_CUDA();
  Tensor c = ones({3, 3}), g = ones({3, 3}, kCudaF32);
  Tensor ci = zeros({3}, {.dtype = kInt64}), gi = ci.to(kCUDA);
  check_mixed_devices("add", [&] { add(c, g); });
  check_mixed_devices("mul", [&] { mul(g, c); });
  check_mixed_devices("maximum", [&] { maximum(c, g); });
  check_mixed_devices("eq", [&] { eq(g, c); });
  check_mixed_devices("where", [&] { where(gt(c, 0.0), g, g); });
  check_mixed_devices("matmul", [&] { matmul(c, g); });
  check_mixed_devices("cat", [&] { cat({c, g}, 0); });
  check_mixed_devices("copy_", [&] { Tensor(g).copy_(c); });
  check_mixed_devices("index_select", [&] { index_select(g, 0, ci); });
  check_mixed_devices("embedding", [&] { embedding(c, gi); });
  check_mixed_devices("mse_loss", [&] { mse_loss(c, g); });
  check_mixed_devices("cross_entropy", [&] { cross_entropy(g, ci); });
  {
    NoGradGuard no_grad;
    check_mixed_devices("add_", [&] { Tensor(c).add_(g); });
  }
  // A module on the GPU fed a CPU input.
  nn::Linear lin(3, 2);
  lin.to(kCUDA);
  check_mixed_devices("matmul", [&] { lin(c); });
}

}  // TEST_SUITE("cuda")
