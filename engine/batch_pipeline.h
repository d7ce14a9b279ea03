// The cohort's pipeline, with what each stage does left to its user: reader threads make items 0 … count−1
// in any order, the calling thread (the device's) computes them in batches, writer threads finish them.
//
//   readers ─(≤ 2·batch items)─▶ compute (the calling thread) ─(≤ 2·batch items)─▶ writers
//
// Batch b holds the items at positions [b·batch, (b+1)·batch), whatever order the readers deliver them in:
// a batch's results can differ from single ones in the last bits (a primitive may take another path for
// another batch size), so fixed batches keep the bytes reproducible. Readers take items at most two
// batches ahead of the batch being computed, so one slow item cannot let the others pile up behind it:
// between the readers and the end of the computation there are never more than 3·batch items, whatever
// the count and the number of readers (what engine/cohort.cpp's memory check counts). Readers and
// writers run at a lower CPU priority (nice +10, Linux: per thread), so they fill the cycles the device
// leaves idle instead of taking cycles from it.
#pragma once

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/bounded_queue.h"

namespace mlens::engine {

// Item: any type with a member `std::size_t index`, its position (what read() was given).
template <typename Item>
struct BatchPipeline {
  // Reader threads: item `index`. Must not throw (record a failure in the item instead).
  std::function<std::unique_ptr<Item>(std::size_t index)> read;
  // The calling thread: one batch, in index order. An exception stops the run and is rethrown by run().
  std::function<void(std::vector<std::unique_ptr<Item>>& batch)> compute;
  // Writer threads: one computed item. Must not throw.
  std::function<void(std::unique_ptr<Item> item)> write;
  int batch = 1, readers = 1, writers = 1;
  // Reader and writer threads call it first (optional): e.g. to make the device current for the thread.
  std::function<void()> thread_start;

  // Runs items 0 … count−1 through the stages; returns the seconds the calling thread waited for readers.
  double run(std::size_t count) const {
    const std::size_t size = static_cast<std::size_t>(std::max(1, batch));
    BoundedQueue<std::unique_ptr<Item>> loaded(2 * size), computed(2 * size);
    std::atomic<std::size_t> next{0};
    // Readers may take the items below `window_end`: the batch being computed and two more.
    std::mutex window_mutex;
    std::condition_variable window_moved;
    std::size_t window_end = 3 * size;
    bool stopped = false;
    const auto move_window = [&](std::size_t end, bool give_up) {
      std::lock_guard<std::mutex> lock(window_mutex);
      window_end = end;
      stopped = give_up;
      window_moved.notify_all();
    };
    std::vector<std::thread> reader_threads, writer_threads;
    for (int r = 0; r < std::max(1, readers); ++r)
      reader_threads.emplace_back([&] {
        start_thread();
        for (std::size_t k; (k = next++) < count;) {
          {
            std::unique_lock<std::mutex> lock(window_mutex);
            window_moved.wait(lock, [&] { return k < window_end || stopped; });
            if (stopped) return;
          }
          if (!loaded.push(read(k))) return;  // the calling thread gave up
        }
      });
    for (int w = 0; w < std::max(1, writers); ++w)
      writer_threads.emplace_back([&] {
        start_thread();
        while (auto item = computed.pop()) write(std::move(*item));
      });
    std::thread closer([&] {
      for (auto& t : reader_threads) t.join();
      loaded.close();
    });
    const auto stop = [&] {
      closer.join();
      computed.close();
      for (auto& t : writer_threads) t.join();
    };

    double waiting = 0;
    try {
      std::map<std::size_t, std::unique_ptr<Item>> arrived;
      for (std::size_t start = 0; start < count;) {
        const std::size_t end = std::min(count, start + size);
        // Every item before `start` has left `arrived`: the batch is complete when it holds end − start keys below `end`.
        while (static_cast<std::size_t>(std::distance(arrived.begin(), arrived.lower_bound(end))) < end - start) {
          const auto wait_start = std::chrono::steady_clock::now();
          auto item = loaded.pop();
          waiting += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
          if (!item) throw std::logic_error("the pipeline's readers stopped before delivering every item");
          const std::size_t index = (*item)->index;
          arrived.emplace(index, std::move(*item));
        }
        std::vector<std::unique_ptr<Item>> items;
        for (std::size_t k = start; k < end; ++k) {
          items.push_back(std::move(arrived.at(k)));
          arrived.erase(k);
        }
        start = end;
        compute(items);
        for (auto& item : items) computed.push(std::move(item));
        move_window(start + 3 * size, false);
      }
    } catch (...) {
      move_window(0, true);
      loaded.close();
      computed.close();
      stop();
      throw;
    }
    stop();
    return waiting;
  }

 private:
  void start_thread() const {
#ifdef __linux__
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
#endif
    if (thread_start) thread_start();
  }
};

}  // namespace mlens::engine
