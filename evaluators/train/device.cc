#include "evaluators/train/device.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdlib>
#include <string>

namespace sylva::evaluators {
namespace {

// LibTorch 2.4 replaced the per-device autocast setters by ones taking the
// device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(bool cuda) {
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
}
void set_autocast(bool cuda, bool on) {
  const auto type = cuda ? at::kCUDA : at::kCPU;
  if (on) at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, on);
}
#else
bool autocast_enabled(bool cuda) {
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast(bool cuda, bool on) {
  if (cuda) {
    if (on) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(on);
  } else {
    if (on) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(on);
  }
}
#endif

}  // namespace

c10::Device DevicePlan::device_for_slot(int slot) const {
  if (!cuda) return c10::Device(c10::kCPU);
  const int i = index >= 0 ? index : (count > 0 ? slot % count : 0);
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i));
}

std::string DevicePlan::slot_name(int slot) const {
  if (!cuda) return "";
  return device_for_slot(slot).str();
}

StatusOr<DevicePlan> plan_device(const std::string& device, const std::string& precision,
                                 const std::string& channels_last) {
  DevicePlan plan;
  plan.text = device;
  const bool built = at::hasCUDA();
  const int count =
      built && torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  plan.count = count;
  auto no_gpu = [&] {
    return Status::invalid_argument(fmt::format(
        "--device {}: no CUDA GPU is available ({})", device,
        built ? "none is visible to this process" : "this LibTorch is built without CUDA"));
  };
  if (device == "cpu") {
    plan.cuda = false;
  } else if (device == "auto") {
    plan.cuda = count > 0;
  } else if (device == "cuda") {
    if (count == 0) return no_gpu();
    plan.cuda = true;
  } else if (device.rfind("cuda:", 0) == 0) {
    const std::string number = device.substr(5);
    char* end = nullptr;
    const long n = std::strtol(number.c_str(), &end, 10);
    if (number.empty() || *end != '\0' || n < 0) {
      return Status::invalid_argument(
          fmt::format("--device must be cpu, cuda, cuda:N or auto, got '{}'", device));
    }
    if (count == 0) return no_gpu();
    if (n >= count) {
      return Status::invalid_argument(fmt::format(
          "--device {}: this machine has {} GPU(s), cuda:0 to cuda:{}", device, count, count - 1));
    }
    plan.cuda = true;
    plan.index = static_cast<int>(n);
  } else {
    return Status::invalid_argument(
        fmt::format("--device must be cpu, cuda, cuda:N or auto, got '{}'", device));
  }
  if (precision == "bf16") {
    // LibTorch's CPU autocast leaves batch and layer norm in float32 while
    // feeding them bfloat16 (an error), and CPUs without AVX512-BF16 would
    // emulate it anyway: bf16 is a GPU setting.
    if (!plan.cuda) {
      return Status::invalid_argument(fmt::format(
          "--precision bf16 needs a CUDA device (--device {} trains on the CPU, in fp32)", device));
    }
    plan.bf16 = true;
  } else if (precision != "fp32") {
    return Status::invalid_argument(
        fmt::format("--precision must be fp32 or bf16, got '{}'", precision));
  }
  if (channels_last == "auto") {
    plan.channels_last = plan.cuda;
  } else if (channels_last == "on" || channels_last == "off") {
    plan.channels_last = channels_last == "on";
  } else {
    return Status::invalid_argument(
        fmt::format("--channels-last must be auto, on or off, got '{}'", channels_last));
  }
  if (plan.cuda) at::globalContext().setBenchmarkCuDNN(true);
  return plan;
}

AutocastGuard::AutocastGuard(bool on, const c10::Device& device)
    : on_(on), cuda_(device.is_cuda()) {
  if (!on_) return;
  was_enabled_ = autocast_enabled(cuda_);
  set_autocast(cuda_, true);
}

AutocastGuard::~AutocastGuard() {
  if (!on_) return;
  set_autocast(cuda_, was_enabled_);
  at::autocast::clear_cache();
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

}  // namespace sylva::evaluators
