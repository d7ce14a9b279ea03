// The cohort's pipeline (engine/batch_pipeline.h) and its queue (engine/bounded_queue.h), without files or
// a model: what the stages see, in which order and how many at a time.
#include "testing.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/batch_pipeline.h"
#include "engine/bounded_queue.h"

using namespace mlens;

TEST_CASE("the pipeline's queue bounds what waits, drains after close and releases waiting producers", "[cohort]") {
  engine::BoundedQueue<int> q(2);
  CHECK(q.push(1));
  CHECK(q.push(2));
  std::atomic<bool> third_in{false};
  std::thread producer([&] {
    CHECK(q.push(3));  // blocks until a slot frees
    third_in = true;
    CHECK_FALSE(q.push(4));  // blocks until close, then gives up
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(third_in);
  CHECK(q.pop() == 1);
  while (!third_in) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.close();
  producer.join();
  CHECK(q.pop() == 2);
  CHECK(q.try_pop() == 3);
  CHECK_FALSE(q.pop().has_value());
}

TEST_CASE("the pipeline forms batches of consecutive items whatever order the readers deliver them in", "[cohort]") {
  struct Item {
    std::size_t index = 0;
  };
  for (const int readers : {1, 3})
    for (const int batch : {1, 4}) {
      engine::BatchPipeline<Item> p;
      p.batch = batch;
      p.readers = readers;
      p.writers = 2;
      std::vector<std::vector<std::size_t>> batches;  // the calling thread only
      std::mutex written_mutex;
      std::vector<std::size_t> written;
      p.read = [](std::size_t k) {
        // Late items first: odd indices take longer, so readers deliver out of order.
        std::this_thread::sleep_for(std::chrono::milliseconds(k % 2 ? 3 : 0));
        auto item = std::make_unique<Item>();
        item->index = k;
        return item;
      };
      p.compute = [&](std::vector<std::unique_ptr<Item>>& items) {
        batches.emplace_back();
        for (const auto& i : items) batches.back().push_back(i->index);
      };
      p.write = [&](std::unique_ptr<Item> item) {
        std::lock_guard<std::mutex> lock(written_mutex);
        written.push_back(item->index);
      };
      const double waited = p.run(10);
      CHECK(waited >= 0);
      std::vector<std::vector<std::size_t>> expected;
      for (std::size_t k = 0; k < 10; ++k) {
        if (k % static_cast<std::size_t>(batch) == 0) expected.emplace_back();
        expected.back().push_back(k);
      }
      CHECK(batches == expected);  // the last batch of 4 holds the 2 left
      std::sort(written.begin(), written.end());
      CHECK(written == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    }
  // A slow item does not let the readers run ahead: no more than the batch being computed and two more
  // are between the readers and the end of the computation.
  engine::BatchPipeline<Item> slow;
  slow.batch = 2;
  slow.readers = 4;
  std::atomic<int> in_flight{0}, most{0};
  slow.read = [&](std::size_t k) {
    if (k % 6 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int now = ++in_flight;
    for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    auto item = std::make_unique<Item>();
    item->index = k;
    return item;
  };
  slow.compute = [&](std::vector<std::unique_ptr<Item>>& items) { in_flight -= static_cast<int>(items.size()); };
  slow.write = [](std::unique_ptr<Item>) {};
  slow.run(30);
  CHECK(most <= 6);
  CHECK(most >= 2);

  // A failing computation stops the run: readers and writers return and the error reaches the caller.
  engine::BatchPipeline<Item> failing;
  failing.readers = 2;
  failing.read = [](std::size_t k) { auto item = std::make_unique<Item>(); item->index = k; return item; };
  failing.compute = [](std::vector<std::unique_ptr<Item>>& items) {
    if (items[0]->index == 3) throw std::runtime_error("the device failed");
  };
  std::atomic<int> written{0};
  failing.write = [&](std::unique_ptr<Item>) { ++written; };
  CHECK_THROWS_WITH(failing.run(1000), "the device failed");
  CHECK(written <= 3);
}
