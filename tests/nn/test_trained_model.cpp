// tests/nn/test_trained_model.cpp -- interop of whole trained models through safetensors, both ways.
// PyTorch -> attograd: tests/data/trained_model.safetensors (tools/gen_fixture_trained_model.py: an
// Embedding -> TransformerEncoderLayer -> LSTM -> Linear model trained 50 Adam steps in PyTorch)
// loads unchanged, strictly, into the same model built from attograd modules, which reproduces
// PyTorch's outputs. attograd -> PyTorch: a model trained on here is saved with its outputs; with
// ATTO_TRAINED_MODEL_OUT=DIR set, into DIR, where tools/check_torch_loads.py loads it into PyTorch
// and compares (the ctest torch_loads_attograd_model runs both when PyTorch is present).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "test_util.h"

using namespace atto;
namespace fs = std::filesystem;

namespace {

std::string data_path(const std::string& name) { return std::string(ATTO_SOURCE_DIR) + "/tests/data/" + name; }

constexpr int64_t kVocab = 50, kSeq = 10, kClasses = 3;

// The twin of Twin in tools/gen_fixture_trained_model.py: the same modules under the same names.
struct TrainedTwin : nn::Module {
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::TransformerEncoderLayer> encoder;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> head;
  TrainedTwin() : nn::Module("TrainedTwin") {
    embed = register_module("embed", std::make_shared<nn::Embedding>(kVocab, 16));
    encoder = register_module("encoder", std::make_shared<nn::TransformerEncoderLayer>(nn::TransformerEncoderLayerOptions{
                                             .d_model = 16, .nhead = 2, .dim_feedforward = 32, .dropout = 0.0,
                                             .batch_first = true}));
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(
                                       nn::LSTMOptions{.input_size = 16, .hidden_size = 24, .batch_first = true}));
    head = register_module("head", std::make_shared<nn::Linear>(24, kClasses));
  }
  // tokens (N, S) int64 -> logits (N, 3), from the LSTM's last time step.
  Tensor forward(const Tensor& tokens) override {
    auto [out, state] = (*lstm)((*encoder)((*embed)(tokens)));
    return (*head)(out.select(1, -1));
  }
};

std::shared_ptr<TrainedTwin> load_pytorch_model() {
  auto model = std::make_shared<TrainedTwin>();
  model->load_state_dict(load_safetensors(data_path("trained_model.safetensors")).tensors, /*strict=*/true);
  return model;
}

}  // namespace

TEST_CASE("a model trained in PyTorch loads unchanged and reproduces its outputs") {
  const SafetensorsFile weights = load_safetensors(data_path("trained_model.safetensors"));
  const SafetensorsFile io = load_safetensors(data_path("trained_model_io.safetensors"));
  auto model = load_pytorch_model();
  // Unchanged: every tensor of the file is in the model, bit for bit.
  const StateDict own = model->state_dict();
  CHECK(own.size() == weights.tensors.size());
  for (const auto& [name, t] : weights.tensors) {
    INFO(name);
    REQUIRE(own.contains(name));
    CHECK(own.at(name).dtype() == t.dtype());
    CHECK(own.at(name).to_vector<float>() == t.to_vector<float>());
  }

  model->eval();
  const Tensor input = io.tensors.at("input");
  const Tensor out = (*model)(input);
  CHECK(out.dtype() == kFloat32);
  CHECK_ALLCLOSE(out, io.tensors.at("output"), 1e-5, 1e-6);

  // The trained model does its task (last token mod 3), so the weights are not an initialisation.
  const std::vector<int64_t> predicted = out.argmax(1).to_vector<int64_t>();
  const std::vector<int64_t> tokens = input.to_vector<int64_t>();
  for (int64_t i = 0; i < input.size(0); ++i) CHECK(predicted[size_t(i)] == tokens[size_t(i * kSeq + kSeq - 1)] % kClasses);

  // The same weights in float64 agree with PyTorch's float64 run to rounding.
  model->to(kFloat64);
  CHECK_ALLCLOSE((*model)(input), io.tensors.at("output_f64"), 1e-10, 1e-12);
}

TEST_CASE("a model trained here saves a file that loads back and for PyTorch") {
  auto model = load_pytorch_model();
  // Train on here, on the same task, so that the weights are attograd's own.
  Generator gen(3);
  optim::Adam opt(model->parameters(), {.lr = 0.005});
  model->train();
  for (int step = 0; step < 10; ++step) {
    Tensor tokens = randint(0, kVocab, {16, kSeq}, {.dtype = kInt64}, &gen);
    std::vector<int64_t> labels;
    for (int64_t t : tokens.select(1, -1).to_vector<int64_t>()) labels.push_back(t % kClasses);
    opt.zero_grad();
    Tensor loss = cross_entropy((*model)(tokens), from_vector<int64_t>(labels));
    loss.backward();
    opt.step();
    CHECK(std::isfinite(loss.item<double>()));
  }
  model->eval();
  const Tensor input = randint(0, kVocab, {5, kSeq}, {.dtype = kInt64}, &gen);
  const Tensor out = (*model)(input).detach();

  const char* env = std::getenv("ATTO_TRAINED_MODEL_OUT");
  const fs::path dir = env ? fs::path(env) : fs::temp_directory_path() / fmt::format("atto_trained_{}", ::getpid());
  fs::create_directories(dir);
  const std::string model_path = (dir / "atto_trained_model.safetensors").string();
  const std::string io_path = (dir / "atto_trained_model_io.safetensors").string();
  save_safetensors(model_path, model->state_dict(), {{"format", "pt"}});
  StateDict io;
  io.insert("input", input);
  io.insert("output", out);
  save_safetensors(io_path, io, {{"format", "pt"}});

  // It loads back here, strictly, into a fresh twin with the same outputs bit for bit.
  TrainedTwin fresh;
  fresh.load_state_dict(load_safetensors(model_path).tensors, /*strict=*/true);
  fresh.eval();
  CHECK(fresh(input).to_vector<float>() == out.to_vector<float>());
  if (env) {
    MESSAGE("wrote " << model_path << " and " << io_path);
  } else {
    fs::remove_all(dir);
  }
}
