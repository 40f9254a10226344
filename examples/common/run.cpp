// examples/common/run.cpp -- flags, CSV log, progress bar and data-file reading shared by the
// examples. Twin: run.h.
#include "common/run.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "attograd.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace atto::examples {

void add_common_flags(CLI::App& app, CommonFlags& flags) {
  app.add_option("--seed", flags.seed, "random seed (initialisation, shuffling, dropout)")->capture_default_str();
  app.add_option("--device", flags.device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--out", flags.out, "output folder: metrics.csv, checkpoint, PNG pictures")->capture_default_str();
  app.add_option("--resume", flags.resume, "continue from this checkpoint (.safetensors)");
  app.add_option("--threads", flags.threads, "CPU threads (0: all cores)")->capture_default_str();
}

Device setup(const CommonFlags& flags, const std::string& program_name) {
  Device device = Device::parse(flags.device);
  if (device.is_cuda()) {
    ATTO_CHECK(built_with_cuda(), "[{}] --device {}: this build has no CUDA backend (configure with -DATTO_CUDA=ON)",
               program_name, flags.device);
    ATTO_CHECK(cuda_is_available() && device.index < cuda_device_count(),
               "[{}] --device {}: no such CUDA device on this machine ({} found)", program_name, flags.device,
               cuda_device_count());
  }
  manual_seed(flags.seed);
  if (flags.threads > 0) set_num_threads(flags.threads);
  if (!flags.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(flags.out, ec);
    ATTO_CHECK(!ec, "[{}] cannot create the output folder {}: {}", program_name, flags.out, ec.message());
  }
  std::string where = device.is_cuda() ? fmt::format("{} ({})", device.str(), cuda_device_name(device.index))
                                       : fmt::format("cpu, {} threads", get_num_threads());
  fmt::print("{}: device {}\n", program_name, where);
  return device;
}

// ---- CsvLog ------------------------------------------------------------------------------------------------

static std::string join(const std::vector<std::string>& cells) {
  std::string s;
  for (size_t i = 0; i < cells.size(); ++i) s += (i ? "," : "") + cells[i];
  return s;
}

CsvLog::CsvLog(const std::string& path, std::vector<std::string> columns, bool append)
    : path_(path), columns_(std::move(columns)) {
  ATTO_CHECK(!columns_.empty(), "[CsvLog] {}: no columns", path);
  const std::string header = join(columns_);
  if (append && std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::string first;
    std::getline(in, first);
    ATTO_CHECK(first == header, "[CsvLog] {}: cannot append, its header is '{}' but this run writes '{}'", path,
               first, header);
    out_.open(path, std::ios::app);
  } else {
    out_.open(path, std::ios::trunc);
    if (out_) out_ << header << '\n' << std::flush;
  }
  ATTO_CHECK(out_.good(), "[CsvLog] cannot write {}: {}", path, std::strerror(errno));
}

void CsvLog::row(const std::vector<double>& values) {
  ATTO_CHECK(values.size() == columns_.size(), "[CsvLog] {}: {} values for {} columns ({})", path_, values.size(),
             columns_.size(), join(columns_));
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out_ << ',';
    double v = values[i];
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)
      out_ << fmt::format("{}", int64_t(v));   // steps and counts print as integers
    else
      out_ << fmt::format("{:.8g}", v);
  }
  out_ << '\n' << std::flush;
  ATTO_CHECK(out_.good(), "[CsvLog] writing {} failed: {}", path_, std::strerror(errno));
}

// ---- Progress ----------------------------------------------------------------------------------------------

Progress::Progress(int64_t total, std::string label, std::string unit)
    : total_(std::max<int64_t>(total, 1)),
      label_(std::move(label)),
      unit_(std::move(unit)),
      start_(std::chrono::steady_clock::now()),
      tty_(isatty(STDERR_FILENO) != 0) {}

static std::string human(double v) {   // 4100 -> "4.1k"
  if (v >= 1e6) return fmt::format("{:.1f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.1f}", v);
}

static std::string clock(double s) {   // 62 -> "1:02"
  auto t = int64_t(std::max(0.0, s) + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02d}:{:02d}", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{}:{:02d}", t / 60, t % 60);
}

void Progress::update(int64_t done, const std::vector<std::pair<std::string, double>>& values, double items) {
  items_total_ += items;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // Off a terminal, one line per ~10% (and the last): a log file stays readable.
  int64_t decile = done * 10 / total_;
  if (!tty_ && decile == last_printed_ && done != total_) return;
  last_printed_ = decile;
  const int width = 24;
  int filled = int(width * std::min<int64_t>(done, total_) / total_);
  std::string line = fmt::format("{}  [{}{}]  {}/{}", label_, std::string(size_t(filled), '#'),
                                 std::string(size_t(width - filled), '.'), done, total_);
  for (const auto& [name, v] : values) line += fmt::format("  {} {:.4g}", name, v);
  if (elapsed > 0) line += fmt::format("  {} {}/s", human(items_total_ / elapsed), unit_);
  if (done > 0 && done < total_) line += fmt::format("  ETA {}", clock(elapsed * double(total_ - done) / double(done)));
  if (done >= total_) line += fmt::format("  in {}", clock(elapsed));
  if (tty_)
    fmt::print(stderr, "\r{}\033[K", line);
  else
    fmt::print(stderr, "{}\n", line);
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_) fmt::print(stderr, "\n");
}

std::map<std::string, std::vector<double>> read_csv_columns(const std::string& program, const std::string& path) {
  std::vector<std::string> lines = read_lines(program, path);
  std::vector<std::string> names;
  std::map<std::string, std::vector<double>> columns;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::stringstream ss(lines[i]);
    std::string cell;
    for (size_t c = 0; std::getline(ss, cell, ','); ++c) {
      if (i == 0) {
        names.push_back(cell);
      } else if (c < names.size()) {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(cell, &used);
        } catch (const std::exception&) {
        }
        if (used == 0 || used != cell.size()) data_error(program, path, int64_t(i + 1), fmt::format("'{}' is not a number", cell));
        columns[names[c]].push_back(v);
      }
    }
  }
  return columns;
}

double weights_fingerprint(const nn::Module& model) {
  double total = 0;
  for (const Tensor& p : model.parameters()) {
    Tensor w = p.to(kFloat64);
    total += (w * w).sum().item<double>();
  }
  return total;
}

// ---- data files --------------------------------------------------------------------------------------------

std::string read_file(const std::string& program, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ATTO_CHECK(in, "[{}] cannot open {}: {}", program, path, std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> read_lines(const std::string& program, const std::string& path) {
  std::stringstream ss(read_file(program, path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(ss, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();   // files written on Windows
    lines.push_back(std::move(line));
  }
  return lines;
}

void data_error(const std::string& program, const std::string& path, int64_t line, const std::string& what) {
  throw Error(fmt::format("[{}] {}:{}: {}", program, path, line, what));
}

std::string data_dir() {
  if (const char* env = std::getenv("ATTO_DATA_DIR"); env && *env) return env;
  return ATTO_DATA_DIR;
}

}  // namespace atto::examples
