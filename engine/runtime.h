// Runtime: the device, thread count and precision the engine computes with, as one value passed around
// (no global state beyond what LibTorch itself keeps).
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace mlens::engine {

struct Runtime {
  at::Device device{at::kCPU};
  at::ScalarType dtype = at::kFloat;
  int threads = 0;  // 0 = all cores

  // "cpu", "cuda", "cuda:N"; "float32" or "float64". Errors say what is available: a CUDA request on a
  // LibTorch without CUDA, or on a machine without a GPU, names both.
  static Runtime parse(const std::string& device, const std::string& dtype, int threads);

  // Sets LibTorch's intra-op thread count (Debian's LibTorch defaults to one thread otherwise), calls
  // keep_freed_memory() and installs the caching CPU allocator (engine/cpu_allocator.h).
  void activate() const;

  std::string device_name() const;  // "cpu", "cuda:0"
  std::string dtype_name() const;   // "float32", "float64"
  int thread_count() const;         // the effective number of threads
  // Bytes the device can still give: the kernel's MemAvailable for the CPU; for a GPU the driver's free
  // memory plus what LibTorch's caching allocator holds unused. 0 when unknown.
  int64_t available_memory() const;
  at::TensorOptions options() const { return at::TensorOptions().device(device).dtype(dtype); }
};

// Makes the C allocator keep freed large blocks for reuse instead of returning them to the kernel, in
// one arena for all threads (process-wide; glibc only). Volumes of 198³ are 31 MB each.
void keep_freed_memory();

}  // namespace mlens::engine
