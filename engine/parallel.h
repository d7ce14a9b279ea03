// Independent jobs on a few threads: f(i) for every i in [0, n), handed out in order to `jobs` threads
// (the calling thread is one of them). The first exception stops handing out work and is rethrown
// after every thread has finished; `done(k)` is called after each finished job (from any thread).
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mlens::engine {

inline void parallel_for(int n, int jobs, const std::function<void(int)>& f, const std::function<void(int done)>& done = {}) {
  std::atomic<int> next{0}, finished{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  const auto work = [&] {
    for (int i; (i = next++) < n;) {
      try {
        f(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = n;
      }
      if (done) done(++finished);
    }
  };
  std::vector<std::thread> threads;
  for (int j = 1; j < std::min(std::max(1, jobs), std::max(1, n)); ++j) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace mlens::engine
