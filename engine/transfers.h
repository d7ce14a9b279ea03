// Copies between host memory and a device that run beside the device's computation. An accelerator
// copies pageable host memory synchronously, through a staging buffer, on the stream that computes;
// from pinned (page-locked) memory and on a stream of their own, copies overlap the computation. In a
// cohort, readers upload subject k+1 and writers receive subject k−1 while the device computes k.
//
// Device-generic (c10's Stream and Event): a GPU gets two copy streams (uploads and downloads, so that
// neither waits for the other, and the GPU's copy engines serve both directions at once) and pinned
// memory; on the CPU a copy to the CPU is no copy and there is nothing to wait for, so the same calls run
// there unchanged.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>

#include <optional>
#include <vector>

namespace mlens::engine {

// Tensors being copied, and the event that marks the copy done. The side that uses them waits, once, and
// takes the tensors over (the Transfer is empty after): they are not to be read or written before, and
// they are released when the taker drops them. It may be handed to another thread, not shared.
class Transfer {
 public:
  Transfer() = default;

  // For tensors on the device: the calling thread's current stream waits for the copy (the host does
  // not), and the device's allocator keeps their memory until that stream is done with them.
  std::vector<at::Tensor> on_device();
  // For tensors in host memory: the host waits for the copy.
  std::vector<at::Tensor> on_host();

 private:
  friend class Transfers;
  std::vector<at::Tensor> tensors_;
  std::optional<c10::Event> done_;  // none: nothing to wait for
};

class Transfers {
 public:
  explicit Transfers(at::Device device);

  // Makes the device current for the calling thread. Threads that use a GPU other than the first call it
  // first: a thread starts on GPU 0, and switching back to it would create a context there.
  void make_current() const;
  // Host memory a copy starts from or lands in directly: pinned for a GPU, plain for the CPU.
  at::Tensor host_tensor(at::IntArrayRef sizes, at::ScalarType dtype) const;
  // Starts copying host tensors to the device. Any thread may call it.
  Transfer to_device(const std::vector<at::Tensor>& host) const;
  // Starts copying device tensors to host memory, after the work queued so far on the calling thread's
  // current stream (what computes them). The caller may drop its references at once.
  Transfer to_host(const std::vector<at::Tensor>& on_device) const;

 private:
  at::Device device_;
  std::optional<c10::Stream> uploads_, downloads_;  // a GPU's copy streams
};

}  // namespace mlens::engine
