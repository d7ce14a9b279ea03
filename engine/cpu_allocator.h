// A caching allocator for LibTorch's CPU tensors.
//
// A 198³ MRInet allocates and frees hundreds of MB per layer. Memory the process has not touched yet
// costs a page fault per 4 KiB page, and on the project's virtual machines a fault costs ~4 µs: 0.2 s
// per 200 MB, more than the layer's arithmetic. glibc does not reuse freed big blocks reliably (a
// small allocation placed after a freed block pins the heap, and the next big block is carved from
// untouched memory), so every explanation paid those faults again (docs/performance.md). This
// allocator keeps freed blocks of ≥ 8 MiB and hands them out again for requests of about their size,
// so each is faulted in once per process; new big blocks are advised as transparent huge pages where
// the kernel offers them (one fault per 2 MiB instead of per 4 KiB). Smaller requests go to
// LibTorch's default allocator.
//
// The cache holds at most half the machine's memory; it never holds more than the process's peak
// use, since only blocks that were in use are cached.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mlens::engine {

// Installs the allocator for every CPU tensor allocated from now on (process-wide, idempotent).
// Runtime::activate() calls it.
void use_caching_cpu_allocator();

struct CpuAllocatorStats {
  int64_t fresh_blocks = 0;   // big blocks obtained from the kernel
  int64_t reused_blocks = 0;  // big requests served from the cache
  size_t cached_bytes = 0;    // freed big blocks waiting for reuse
};
CpuAllocatorStats cpu_allocator_stats();

// Returns every cached block to the kernel (e.g. before a phase that needs the memory elsewhere).
void release_cached_cpu_memory();

}  // namespace mlens::engine
