// Where the built-in trainer runs a trial, and at what precision:
// `--device cpu|cuda|cuda:N|auto` and `--precision fp32|bf16`,
// `--channels-last auto|on|off`.
//
// cuda: slot s of this process (Job::slot) trains on GPU s mod the GPU
// count, so `--workers 4` on a 4-GPU machine runs one trial per GPU;
// cuda:N puts every slot on GPU N; auto is cuda when a GPU is there, else
// cpu. A CUDA device on a machine (or a LibTorch build) without one is one
// clear error before the first trial. Networks are initialised on the CPU
// from the trial's generator and then moved, so a trial's weights do not
// depend on the device count. bf16 runs the forward pass under LibTorch's
// autocast (matrix products and convolutions in bfloat16, reductions and
// the loss in float32) on a GPU; on the CPU it is refused (LibTorch's CPU
// autocast feeds bfloat16 to norms that take float32 only). Channels-last (NHWC)
// weights and inputs are the default on CUDA (cuDNN's fast layout; its
// autotuner is on too); on the CPU the default is the contiguous layout.
#pragma once

#include <c10/core/Device.h>

#include <string>

#include "base/status.h"

namespace sylva::evaluators {

struct DevicePlan {
  std::string text = "cpu";  // as given
  bool cuda = false;
  int index = -1;  // cuda:N; -1: by slot
  int count = 0;   // GPUs visible
  bool bf16 = false;
  bool channels_last = false;

  c10::Device device_for_slot(int slot) const;
  // "cuda:1" or "" on the CPU (Evaluator::slot_device).
  std::string slot_name(int slot) const;
};

// Reads --device, --precision and --channels-last and checks them against
// the machine: "--device cuda: no CUDA GPU is available (this LibTorch is
// built without CUDA)".
StatusOr<DevicePlan> plan_device(const std::string& device, const std::string& precision,
                                 const std::string& channels_last);

// Autocast to bfloat16 on `device` for the calling thread while alive
// (nothing when `on` is false).
class AutocastGuard {
 public:
  AutocastGuard(bool on, const c10::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool on_;
  bool cuda_;
  bool was_enabled_ = false;
};

// Waits for the device's queued work (CUDA), so that wall times are true.
void synchronize(const c10::Device& device);

}  // namespace sylva::evaluators
