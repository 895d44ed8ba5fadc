// WorkerPool: runs evaluation jobs on a TBB arena of `workers` threads.
//
// submit() never blocks and never runs the job on the calling thread, so the
// experiment loop stays free to write results while workers train. Jobs must
// not throw (wrap them: a trial's exception becomes its FAIL result). The
// destructor waits for every submitted job. submit()/wait() are called from
// one thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

#include "base/thread_annotations.h"

namespace sylva::evaluators {

class WorkerPool {
 public:
  explicit WorkerPool(int workers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int workers() const { return workers_; }
  void submit(std::function<void()> job);
  // Blocks until every submitted job has returned.
  void wait();

 private:
  struct Impl;
  const int workers_;
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
  std::condition_variable done_;
  int in_flight_ GUARDED_BY(mu_) = 0;
};

// Hardware threads available to this process.
int hardware_threads();

}  // namespace sylva::evaluators
