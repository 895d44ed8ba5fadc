// WorkerPool: jobs run off the calling thread, all of them, `workers` at once.
#include "evaluators/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace sylva::evaluators {
namespace {

TEST(WorkerPool, RunsEveryJobOnWorkerThreadsUpToTheLimit) {
  for (int workers : {1, 2, 4}) {
    std::atomic<int> done{0}, now{0}, peak{0}, on_caller{0};
    const auto caller = std::this_thread::get_id();
    {
      WorkerPool pool(workers);
      for (int i = 0; i < 12; ++i) {
        pool.submit([&] {
          int n = ++now;
          int p = peak.load();
          while (n > p && !peak.compare_exchange_weak(p, n)) {
          }
          on_caller += std::this_thread::get_id() == caller;
          // Hold the slot until `workers` jobs have run at once (or 10 s
          // pass), so that a loaded machine's scheduling cannot hide a
          // pool that runs fewer at a time.
          for (int t = 0; t < 10000 && peak.load() < workers; ++t) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
          --now;
          ++done;
        });
      }
      pool.wait();
      EXPECT_EQ(done.load(), 12);
    }
    EXPECT_EQ(peak.load(), workers) << workers;
    EXPECT_EQ(on_caller.load(), 0);
  }
}

TEST(WorkerPool, HardwareThreadsIsPositive) { EXPECT_GE(hardware_threads(), 1); }

}  // namespace
}  // namespace sylva::evaluators
