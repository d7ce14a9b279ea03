#include "engine/runtime.h"

#include "engine/cpu_allocator.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#ifdef MLENS_CUDA_LIBTORCH
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

#include <fstream>
#include <limits>
#include <stdexcept>
#include <thread>

namespace mlens::engine {

Runtime Runtime::parse(const std::string& device, const std::string& dtype, int threads, const std::string& fast_math) {
  Runtime r;
  if (device == "cpu") {
    r.device = at::Device(at::kCPU);
  } else if (device.rfind("cuda", 0) == 0) {
    if (!at::hasCUDA())
      throw std::invalid_argument("--device " + device + ": this LibTorch build has no CUDA support "
                                  "(build mlens against an official CUDA LibTorch with -DTorch_DIR=...)");
    try {
      r.device = at::Device(device);
    } catch (const c10::Error&) {
      throw std::invalid_argument("--device " + device + ": expected cpu, cuda or cuda:N");
    }
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    const int64_t index = r.device.has_index() ? r.device.index() : 0;
    if (index >= count)
      throw std::invalid_argument("--device " + device + ": only " + std::to_string(count) + " CUDA device(s) visible");
    r.device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  } else {
    throw std::invalid_argument("--device " + device + ": expected cpu, cuda or cuda:N");
  }
  if (dtype == "float32")
    r.dtype = at::kFloat;
  else if (dtype == "float64")
    r.dtype = at::kDouble;
  else
    throw std::invalid_argument("--dtype " + dtype + ": expected float32 or float64");
  if (fast_math == "tf32")
    r.fast_math = FastMath::TF32;
  else if (fast_math == "bf16")
    r.fast_math = FastMath::BF16;
  else if (fast_math != "none")
    throw std::invalid_argument("--fast-math " + fast_math + ": expected none, tf32 or bf16");
  if (r.fast_math != FastMath::None && r.dtype != at::kFloat)
    throw std::invalid_argument("--fast-math " + fast_math + " trades float32's exactness for speed; it does not go with --dtype " + dtype);
  if (r.fast_math == FastMath::BF16) r.dtype = at::kBFloat16;
  if (threads < 0) throw std::invalid_argument("--threads must be >= 0 (0 = all cores)");
  r.threads = threads;
  return r;
}

int Runtime::thread_count() const {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

int64_t Runtime::available_memory() const {
  if (device.is_cuda()) {
#ifdef MLENS_CUDA_LIBTORCH
    const c10::cuda::CUDAGuard guard(device.index());
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) return 0;
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return static_cast<int64_t>(free) + stats.reserved_bytes[0].current - stats.allocated_bytes[0].current;
#else
    return 0;
#endif
  }
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return 0;
}

void Runtime::activate() const {
  at::set_num_threads(thread_count());
  at::globalContext().setAllowTF32CuDNN(fast_math == FastMath::TF32);
  at::globalContext().setAllowTF32CuBLAS(fast_math == FastMath::TF32);
  keep_freed_memory();
  use_caching_cpu_allocator();
}

void keep_freed_memory() {
#ifdef __GLIBC__
  // glibc serves every block above 32 MiB with its own mmap and returns it to the kernel on free, so each
  // big buffer (a 198³ volume is 31 MB) was page-faulted in afresh, at ~4 µs per 4 KiB page on the
  // project's machines (docs/performance.md). Serving large blocks from the heap and never trimming it
  // lets freed buffers be reused at once.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  // One arena for all threads: a thread's own arena lives in 64 MB heaps that glibc unmaps as soon as
  // they empty, so a cohort's reader and writer threads faulted in every 31 MB volume anew (bench/cohort:
  // 3× the page faults, 20 % more CPU). LibTorch's big tensors bypass malloc (engine/cpu_allocator.h).
  mallopt(M_ARENA_MAX, 1);
#endif
}

std::string Runtime::device_name() const { return device.str(); }

std::string Runtime::dtype_name() const {
  if (fast_math == FastMath::TF32) return "tf32";
  if (dtype == at::kBFloat16) return "bfloat16";
  return dtype == at::kDouble ? "float64" : "float32";
}

}  // namespace mlens::engine
