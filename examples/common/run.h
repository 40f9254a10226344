// examples/common/run.h -- what every example program shares: the common flags (--seed, --device,
// --out, --resume, --threads), a per-step CSV log, a progress bar with loss, throughput and ETA, a
// wall clock, and data files read with errors that name the file and the line. Twin: run.cpp.
//
//   CLI::App app{"..."};
//   examples::CommonFlags flags{.out = "runs/tiny_gpt"};
//   examples::add_common_flags(app, flags);
//   ... CLI11_PARSE(app, argc, argv);
//   Device device = examples::setup(flags, "tiny_gpt");   // seeds, threads, makes --out, prints the device
//   examples::CsvLog log(flags.out + "/metrics.csv", {"step", "loss", "lr"}, /*append=*/resuming);
//   examples::Progress bar(iters, "train");
//   for (...) { ...; log.row({step, loss, lr}); bar.update(step, {{"loss", loss}}, tokens_per_step); }
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "nn/module.h"
#include "tensor/device.h"

namespace atto::examples {

struct CommonFlags {
  uint64_t seed = 0;
  std::string device = "cpu";   // "cpu" or "cuda" / "cuda:N"
  std::string out;              // output folder (metrics.csv, checkpoints, PNGs); created if missing
  std::string resume;           // a checkpoint to continue from ("" = start afresh)
  int threads = 0;              // 0: leave the default (all cores)
};

void add_common_flags(CLI::App& app, CommonFlags& flags);

// Seeds the default generator with flags.seed, sets the thread count, creates flags.out, parses the
// device (an unavailable CUDA device is an atto::Error saying why) and prints "<name>: device cpu, N threads".
Device setup(const CommonFlags& flags, const std::string& program_name);

// A CSV file with a header row; row() appends one line and flushes (a crash loses nothing).
// append = true keeps an existing file (a resumed run), after checking its header matches.
class CsvLog {
 public:
  CsvLog(const std::string& path, std::vector<std::string> columns, bool append = false);
  void row(const std::vector<double>& values);   // values.size() == columns.size()
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> columns_;
  std::ofstream out_;
};

// One line on stderr redrawn in place on a terminal:  train  [#####.....]  512/2000  loss 1.93  4.1k tok/s  ETA 1:02
// When stderr is not a terminal (logs, CI) it prints a plain line about every 10% instead.
class Progress {
 public:
  Progress(int64_t total, std::string label, std::string unit = "it");
  // `done` steps finished; `items` = units processed by this step (for the throughput).
  void update(int64_t done, const std::vector<std::pair<std::string, double>>& values = {}, double items = 1);
  void finish();   // ends the line

 private:
  int64_t total_;
  std::string label_, unit_;
  std::chrono::steady_clock::time_point start_;
  double items_total_ = 0;
  int64_t last_printed_ = -1;
  bool tty_;
};

// Reads back a file CsvLog wrote: each column by name (the whole run, also across a resume).
// A cell that is not a number is an atto::Error naming the file and the line.
std::map<std::string, std::vector<double>> read_csv_columns(const std::string& program, const std::string& path);

// Sum of squares of every parameter, in float64: two runs that print the same value to 17 digits
// hold the same weights (the resume tests compare it).
double weights_fingerprint(const nn::Module& model);

// Seconds since construction.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Reading data files: each returns the whole content / the lines, or throws atto::Error
// "[<program>] cannot open <path>: <reason>". data_error builds "[<program>] <path>:<line>: <what>".
std::string read_file(const std::string& program, const std::string& path);
std::vector<std::string> read_lines(const std::string& program, const std::string& path);
[[noreturn]] void data_error(const std::string& program, const std::string& path, int64_t line, const std::string& what);

// The folder holding the project's data/ (ATTO_DATA_DIR at build time; overridable by $ATTO_DATA_DIR).
std::string data_dir();

}  // namespace atto::examples
