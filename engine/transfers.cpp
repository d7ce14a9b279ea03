#include "engine/transfers.h"

#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <chrono>
#include <thread>

namespace mlens::engine {

std::vector<at::Tensor> Transfer::on_device() {
  if (done_) {
    const c10::impl::VirtualGuardImpl device(done_->device_type());
    const c10::Stream current = device.getStream(done_->device());
    done_->block(current);
    // The memory was allocated for the copy stream: without this, the allocator could hand it out again
    // once the copy stream is done, while `current` still reads it.
    for (const at::Tensor& t : tensors_) device.recordDataPtrOnStream(t.storage().data_ptr(), current);
    done_.reset();
  }
  return std::move(tensors_);
}

std::vector<at::Tensor> Transfer::on_host() {
  // c10's generic Event can be queried, not waited for; the copy of a map takes milliseconds.
  if (done_)
    while (!done_->query()) std::this_thread::sleep_for(std::chrono::microseconds(100));
  done_.reset();
  return std::move(tensors_);
}

Transfers::Transfers(at::Device device) : device_(device) {
  if (device.is_cpu()) return;
  const c10::impl::VirtualGuardImpl gpu(device.type());
  uploads_ = gpu.getStreamFromGlobalPool(device);
  downloads_ = gpu.getStreamFromGlobalPool(device);
}

void Transfers::make_current() const {
  if (!device_.is_cpu() && device_.has_index()) c10::impl::VirtualGuardImpl(device_.type()).setDevice(device_);
}

at::Tensor Transfers::host_tensor(at::IntArrayRef sizes, at::ScalarType dtype) const {
  return at::empty(sizes, at::TensorOptions().dtype(dtype).pinned_memory(!device_.is_cpu()));
}

Transfer Transfers::to_device(const std::vector<at::Tensor>& host) const {
  Transfer t;
  if (!uploads_) {
    for (const at::Tensor& h : host) t.tensors_.push_back(h.to(device_));  // the CPU: the same tensor
    return t;
  }
  // Allocated for, and copied on, the upload stream: its memory cannot be one that the computing stream still uses.
  const c10::StreamGuard on_uploads(*uploads_);
  for (const at::Tensor& h : host) t.tensors_.push_back(h.to(device_, /*non_blocking=*/true));
  t.done_.emplace(device_.type());
  t.done_->record(*uploads_);
  return t;
}

Transfer Transfers::to_host(const std::vector<at::Tensor>& on_device) const {
  Transfer t;
  if (!downloads_) {
    for (const at::Tensor& d : on_device) t.tensors_.push_back(d.to(at::kCPU));
    return t;
  }
  const c10::impl::VirtualGuardImpl device(device_.type());
  c10::Event computed(device_.type());
  computed.record(device.getStream(device_));
  computed.block(*downloads_);
  const c10::StreamGuard on_downloads(*downloads_);
  for (const at::Tensor& d : on_device) {
    at::Tensor h = host_tensor(d.sizes(), d.scalar_type());
    h.copy_(d, /*non_blocking=*/true);
    // The caller may drop `d` now: its memory must not be reused before the copy has read it.
    device.recordDataPtrOnStream(d.storage().data_ptr(), *downloads_);
    t.tensors_.push_back(std::move(h));
  }
  t.done_.emplace(device_.type());
  t.done_->record(*downloads_);
  return t;
}

}  // namespace mlens::engine
