// The batch loader of the built-in trainer: a thread of its own prepares the
// next batches (gather, augment, convert to standardised float) while the
// current one trains, and next() hands them over in order.
//
// Epoch e (1-based) visits the examples in the order of
// fixed_permutation(n, mix_seed(seed, e)) in batches of `batch_size`,
// `steps` per epoch (a last partial batch is dropped: steps x batch_size
// examples per epoch, each at most once), and augments them with an Rng
// seeded from (seed, e): a trial's batches are fixed by its seed, whatever
// the thread timing. The loader thread uses no LibTorch parallelism, so it
// takes one core at most and never competes for the trial's intra-op
// threads.
#pragma once

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "evaluators/data/augment.h"
#include "evaluators/data/dataset.h"

namespace sylva::evaluators {

struct LoaderOptions {
  int64_t batch_size = 128;
  int64_t steps = 0;   // batches per epoch, >= 1
  int64_t epochs = 1;  // epochs to deliver
  int first_epoch = 1;
  AugmentSpec augment;  // fitted (fit_augment); image data only
  uint64_t seed = 0;
  int prefetch = 4;  // batches prepared ahead
  bool pin = false;  // page-locked batches (CUDA builds only)
  // Per channel, of pixels scaled to [0, 1]; uint8 images only.
  std::vector<double> mean, stddev;
};

struct Batch {
  int epoch = 0;               // 1-based
  int64_t step = 0;            // 0-based within the epoch
  at::Tensor x;                // float [B, C, H, W]
  at::Tensor y;                // int64 [B]
  std::vector<int64_t> index;  // rows of the source, in batch order
};

class BatchLoader {
 public:
  // `images` uint8 [N, C, H, W] (normalised here) or float [N, F, 1, 1]
  // (passed as they are), `labels` int64 [N]; both are only read.
  BatchLoader(at::Tensor images, at::Tensor labels, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch; false after the last one.
  bool next(Batch& out);
  // Seconds next() has waited for the loader thread so far.
  double wait_seconds() const { return wait_seconds_; }
  // The order of epoch `epoch` (what the loader visits).
  static std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int epoch);

 private:
  void run();
  // `bytes` and `scratch` are reused from batch to batch.
  Batch make(int epoch, int64_t step, const std::vector<int64_t>& order,
             std::vector<uint8_t>& bytes, std::vector<uint8_t>& scratch, Rng& rng) const;

  const at::Tensor images_, labels_;
  const LoaderOptions options_;
  const PixelAffine affine_;  // from options_.mean and stddev
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  bool stop_ = false;
  bool done_ = false;
  std::exception_ptr error_;
  double wait_seconds_ = 0;
  std::thread thread_;
};

}  // namespace sylva::evaluators
