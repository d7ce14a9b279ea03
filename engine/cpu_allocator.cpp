#include "engine/cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <mutex>
#include <new>
#include <unordered_map>

namespace mlens::engine {
namespace {

constexpr size_t kBigBlock = size_t{8} << 20;  // smaller requests go to LibTorch's default allocator
constexpr size_t kGranule = size_t{2} << 20;   // big blocks are whole huge pages

// Big blocks by size while cached, and the size of every big block in use. A DataPtr's context is its
// data pointer (LibTorch's raw_allocate requires it), so the deleter finds the size here.
class Cache {
 public:
  Cache() {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    limit_ = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) / 2 : size_t{1} << 32;
  }

  void* take(size_t n) {
    const size_t bytes = (n + kGranule - 1) / kGranule * kGranule;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // The smallest cached block that fits, if it wastes at most a quarter: a much larger block is
      // better kept for the request of its own size that will come.
      const auto it = free_.lower_bound(bytes);
      if (it != free_.end() && it->first <= bytes + bytes / 4) {
        void* data = it->second;
        live_[data] = it->first;
        cached_ -= it->first;
        free_.erase(it);
        ++stats_.reused_blocks;
        return data;
      }
      ++stats_.fresh_blocks;
    }
    void* data = map(bytes);
    if (!data) {
      release();  // the cache may hold what the kernel cannot give
      data = map(bytes);
      if (!data) throw std::bad_alloc();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    live_[data] = bytes;
    return data;
  }

  // False when `data` is not a big block of this cache.
  bool give_back(void* data) {
    size_t bytes = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto it = live_.find(data);
      if (it == live_.end()) return false;
      bytes = it->second;
      live_.erase(it);
      if (cached_ + bytes <= limit_) {
        cached_ += bytes;
        free_.emplace(bytes, data);
        return true;
      }
    }
    munmap(data, bytes);
    return true;
  }

  void release() {
    std::multimap<size_t, void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      cached_ = 0;
    }
    for (auto& [bytes, data] : blocks) munmap(data, bytes);
  }

  CpuAllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    CpuAllocatorStats s = stats_;
    s.cached_bytes = cached_;
    return s;
  }

 private:
  static void* map(size_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);  // a hint: refused or ignored where huge pages are off
#endif
    return p;
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  std::unordered_map<void*, size_t> live_;
  size_t cached_ = 0, limit_ = 0;
  CpuAllocatorStats stats_;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may be freed during static destruction
  return *c;
}

c10::DeleterFnPtr small_deleter = nullptr;

// Small blocks came from LibTorch's default allocator (whose context is also its data pointer).
void release(void* data) {
  if (!cache().give_back(data)) small_deleter(data);
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(c10::Allocator* small) : small_(small) {}

  c10::DataPtr allocate(size_t n) const override {
    if (n < kBigBlock) return small_->allocate(n);
    void* data = cache().take(n);
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

 private:
  c10::Allocator* small_;
};

}  // namespace

void use_caching_cpu_allocator() {
  static const bool installed = [] {
    // MLENS_CACHING_ALLOCATOR=0 keeps LibTorch's own allocator (to compare, or to rule this one out).
    const char* env = std::getenv("MLENS_CACHING_ALLOCATOR");
    if (env && std::string(env) == "0") return false;
    c10::Allocator* fallback = c10::GetDefaultCPUAllocator();
    small_deleter = fallback->raw_deleter();
    static CachingCpuAllocator allocator(fallback);
    c10::SetCPUAllocator(&allocator, /*priority=*/1);
    return true;
  }();
  (void)installed;
}

CpuAllocatorStats cpu_allocator_stats() { return cache().stats(); }

void release_cached_cpu_memory() { cache().release(); }

}  // namespace mlens::engine
