// nn/safetensors.h -- the safetensors checkpoint format (Hugging Face): save_safetensors /
// load_safetensors for float32, float64, int64 and bool tensors, plus string metadata.
//
// The format: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON
//   {"__metadata__": {"k": "v"}, "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
// (padded with spaces to a multiple of 8 bytes, as the reference writer does), then the data
// buffer: each tensor's raw little-endian bytes in C order, data_offsets relative to the buffer's
// start. Tensors tile the buffer exactly: sorted by offset, each begins where the previous ends,
// the last ends at the end of the file. dtypes: F32, F64, I64, BOOL (one byte, 0 or 1).
//
// save_safetensors writes the tensors in the StateDict's order, from any layout or device. It
// checks everything first, writes a temporary file in the target's directory, fsyncs it and renames
// it over the target: a failed save leaves no temporary behind and the previous file untouched.
// load_safetensors returns CPU tensors that own their memory, in file (= data offset) order. A
// truncated, corrupt or inconsistent file is an atto::Error naming the file and what is wrong.
#pragma once
#include <map>
#include <string>

#include "nn/state_dict.h"

namespace atto {

struct SafetensorsFile {
  StateDict tensors;
  std::map<std::string, std::string> metadata;
};

void save_safetensors(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata = {});
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace atto
