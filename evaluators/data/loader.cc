#include "evaluators/data/loader.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cstring>

#include "base/random.h"
#include "evaluators/data/dataset.h"

namespace sylva::evaluators {
namespace {

// Keeps the augmentation stream apart from the order's.
constexpr uint64_t kAugmentStream = 0xa06e07ULL;

}  // namespace

std::vector<int64_t> BatchLoader::epoch_order(int64_t n, uint64_t seed, int epoch) {
  return fixed_permutation(n, mix_seed(seed, static_cast<uint64_t>(epoch)));
}

BatchLoader::BatchLoader(at::Tensor images, at::Tensor labels, LoaderOptions options)
    : images_(images.contiguous()),
      labels_(labels.contiguous()),
      options_(std::move(options)),
      affine_(pixel_affine(options_.mean, options_.stddev)) {
  thread_ = std::thread([this] { run(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

Batch BatchLoader::make(int epoch, int64_t step, const std::vector<int64_t>& order,
                        std::vector<uint8_t>& bytes, std::vector<uint8_t>& scratch,
                        Rng& rng) const {
  const int64_t b = options_.batch_size;
  const int64_t c = images_.size(1), h = images_.size(2), w = images_.size(3);
  const int64_t size = c * h * w;
  Batch out;
  out.epoch = epoch;
  out.step = step;
  out.index.assign(order.begin() + step * b, order.begin() + (step + 1) * b);
  auto float_options = at::TensorOptions().dtype(at::kFloat).pinned_memory(options_.pin);
  out.x = at::empty({b, c, h, w}, float_options);
  out.y = at::empty({b}, at::TensorOptions().dtype(at::kLong).pinned_memory(options_.pin));
  float* x = out.x.data_ptr<float>();
  int64_t* y = out.y.data_ptr<int64_t>();
  const int64_t* labels = labels_.data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) y[i] = labels[out.index[i]];
  if (images_.scalar_type() != at::kByte) {
    const float* src = images_.data_ptr<float>();
    for (int64_t i = 0; i < b; ++i) std::memcpy(x + i * size, src + out.index[i] * size, size * 4);
    return out;
  }
  // Gather the bytes, augment them, then standardise per channel.
  bytes.resize(static_cast<size_t>(b * size));
  const uint8_t* src = images_.data_ptr<uint8_t>();
  for (int64_t i = 0; i < b; ++i)
    std::memcpy(bytes.data() + i * size, src + out.index[i] * size, size);
  if (options_.augment.any())
    augment_images(options_.augment, bytes.data(), b, c, h, w, rng, scratch);
  const int64_t plane = h * w;
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t k = 0; k < c; ++k) {
      const uint8_t* p = bytes.data() + i * size + k * plane;
      float* q = x + i * size + k * plane;
      const float s = affine_.scale[k], t = affine_.shift[k];
      for (int64_t j = 0; j < plane; ++j) q[j] = static_cast<float>(p[j]) * s - t;
    }
  }
  return out;
}

void BatchLoader::run() {
  try {
    std::vector<uint8_t> bytes, scratch;
    const int64_t n = images_.size(0);
    for (int64_t e = 0; e < options_.epochs; ++e) {
      const int epoch = options_.first_epoch + static_cast<int>(e);
      const std::vector<int64_t> order = epoch_order(n, options_.seed, epoch);
      Rng rng(mix_seed(options_.seed ^ kAugmentStream, static_cast<uint64_t>(epoch)));
      for (int64_t s = 0; s < options_.steps; ++s) {
        {
          std::unique_lock<std::mutex> lock(mu_);
          changed_.wait(
              lock, [&] { return stop_ || static_cast<int>(ready_.size()) < options_.prefetch; });
          if (stop_) return;
        }
        Batch batch = make(epoch, s, order, bytes, scratch, rng);
        {
          std::lock_guard<std::mutex> lock(mu_);
          ready_.push_back(std::move(batch));
        }
        changed_.notify_all();
      }
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  changed_.notify_all();
}

bool BatchLoader::next(Batch& out) {
  std::unique_lock<std::mutex> lock(mu_);
  if (ready_.empty() && !done_) {
    const auto start = std::chrono::steady_clock::now();
    changed_.wait(lock, [&] { return !ready_.empty() || done_; });
    wait_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  if (ready_.empty()) {
    if (error_) std::rethrow_exception(error_);
    return false;
  }
  out = std::move(ready_.front());
  ready_.pop_front();
  lock.unlock();
  changed_.notify_all();
  return true;
}

}  // namespace sylva::evaluators
