// Runtime: the device, thread count and precision the engine computes with, as one value passed around
// (no global state beyond what LibTorch itself keeps).
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace mlens::engine {

// Speed bought with exactness, only when asked for (exact float32 is the default): TF32 lets cuDNN and
// cuBLAS round float32 operands to TensorFloat-32's 10-bit mantissa on a GPU's tensor cores (no effect
// on the CPU); BF16 computes in bfloat16 (8-bit mantissa) throughout. `mlens validate` prints the error
// either makes against exact float32.
enum class FastMath { None, TF32, BF16 };

struct Runtime {
  at::Device device{at::kCPU};
  at::ScalarType dtype = at::kFloat;  // kBFloat16 under FastMath::BF16
  FastMath fast_math = FastMath::None;
  int threads = 0;  // 0 = all cores

  // "cpu", "cuda", "cuda:N"; "float32" or "float64"; "none", "tf32" or "bf16" (with float32 only). Errors
  // say what is available: a CUDA request on a LibTorch without CUDA, or on a machine without a GPU,
  // names both.
  static Runtime parse(const std::string& device, const std::string& dtype, int threads,
                       const std::string& fast_math = "none");

  // Sets LibTorch's intra-op thread count (Debian's LibTorch defaults to one thread otherwise), TF32 in
  // cuDNN and cuBLAS on only under FastMath::TF32 (LibTorch allows it in cuDNN by default), calls
  // keep_freed_memory() and installs the caching CPU allocator (engine/cpu_allocator.h).
  void activate() const;

  std::string device_name() const;  // "cpu", "cuda:0"
  // What the numbers are computed in: "float32", "float64", "tf32" or "bfloat16" (records and sidecars).
  std::string dtype_name() const;
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
