#include "evaluators/worker_pool.h"

#include <sched.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <thread>

namespace sylva::evaluators {

struct WorkerPool::Impl {
  // TBB's default allows hardware_concurrency - 1 workers; the arena needs
  // `workers` of them while the loop thread waits on results.
  tbb::global_control control;
  tbb::task_arena arena;
  explicit Impl(int workers)
      : control(tbb::global_control::max_allowed_parallelism,
                std::max<size_t>(workers + 1, tbb::global_control::active_value(
                                                  tbb::global_control::max_allowed_parallelism))),
        arena(workers, /*reserved_for_masters=*/0) {}
};

WorkerPool::WorkerPool(int workers)
    : workers_(std::max(1, workers)), impl_(std::make_unique<Impl>(std::max(1, workers))) {}

WorkerPool::~WorkerPool() { wait(); }

void WorkerPool::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }
  impl_->arena.enqueue([this, job = std::move(job)] {
    job();
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    done_.notify_all();
  });
}

void WorkerPool::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return in_flight_ == 0; });
}

int hardware_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace sylva::evaluators
