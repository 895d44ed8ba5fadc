#include "evaluators/worker_pool.h"

#include <dlfcn.h>
#include <sched.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <torch/torch.h>

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

void set_compute_threads(int threads) {
  threads = std::max(1, threads);
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
  // OpenBLAS keeps its own pool; found at run time since the BLAS behind
  // libblas.so.3 is chosen by the system's alternatives.
  using SetThreads = void (*)(int);
  static SetThreads openblas =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas) openblas(threads);
}

}  // namespace sylva::evaluators
