// tests/temp_dir.h -- a fresh directory per test, removed afterwards (the file-format tests write
// real files: npy, safetensors, checkpoints).
#pragma once
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

namespace atto::testing {

struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const std::string& prefix) {
    static int counter = 0;
    dir = std::filesystem::temp_directory_path() / fmt::format("atto_{}_{}_{}", prefix, ::getpid(), counter++);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path(const std::string& name) const { return (dir / name).string(); }
  // The names in the directory, sorted (to check that no temporary file was left behind).
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

}  // namespace atto::testing
