#include "evaluators/supernet/schedules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/strings.h"
#include "evaluators/train/device.h"
#include "spaces/supernets/family.h"

namespace sylva::evaluators {
namespace {

// The logits of `net`'s active sub-network on the step's batch, in float32:
// the forward pass under bfloat16 autocast when the run asks for it, the
// losses and the backward pass outside it.
torch::Tensor logits_of(ScheduleStep& s, Supernet& net) {
  const AutocastGuard autocast(s.options.bf16, s.options.device);
  return net.forward(s.x).to(torch::kFloat);
}

// One configuration's cross-entropy on the labels, back-propagated.
void label_pass(ScheduleStep& s, const std::vector<int>& config) {
  s.net.activate(config);
  const torch::Tensor ce = torch::nn::functional::cross_entropy(logits_of(s, s.net), s.y);
  ce.backward();
  ++s.report.subnet_passes;
  s.report.last_loss = ce.item<double>();
}

// The largest network on the labels, then (when shrinking) the smallest and
// random ones distilled from it, their loss scaled by `scale`.
void sandwich_step(ScheduleStep& s, double scale) {
  s.net.activate(s.largest);
  const torch::Tensor logits = logits_of(s, s.net);
  const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, s.y);
  loss.backward();
  ++s.report.subnet_passes;
  s.report.last_loss = loss.item<double>();
  if (!s.phase.shrink) return;
  const double t = s.options.temperature;
  const torch::Tensor soft = torch::softmax(logits.detach() / t, 1);
  std::vector<std::vector<int>> subnets = {s.net.smallest()};
  for (int i = 0; i < s.options.random_subnets; ++i) subnets.push_back(s.net.sample("", s.rng));
  for (const auto& c : subnets) {
    s.net.activate(c);
    (distillation(logits_of(s, s.net), soft, t) * scale).backward();
    ++s.report.subnet_passes;
  }
}

// Families with several anchors (stitch) train only with the schedule that
// trains anchors; the others cannot follow it.
std::string needs_one_anchor(const Supernet& net, const std::string& schedule) {
  if (net.anchors().size() <= 1) return "";
  const SupernetFamily* family = find_supernet_family(net.family());
  return fmt::format(
      "family {} trains with --schedule {} (anchors, then their stitches), got "
      "--schedule {}",
      net.family(), family ? family->default_schedule : "stitch", schedule);
}

std::vector<Schedule> make_schedules() {
  std::vector<Schedule> out;
  out.push_back(
      {"progressive", "full, then elastic kernel, depth, expand; distilled from the full net",
       [](const SupernetTrainOptions&, int64_t step, int64_t total) {
         static const char* const names[] = {"full", "kernel", "depth", "expand"};
         const int q = std::min(3, static_cast<int>(step * 4 / total));
         return SchedulePhase{names[q], q > 0};
       },
       [](const Supernet& net) -> std::string {
         if (!net.has_phase("kernel")) {
           return fmt::format(
               "--schedule progressive shrinks kernels, depths and expand ratios (family ofa); "
               "family {} has none",
               net.family());
         }
         return needs_one_anchor(net, "progressive");
       },
       [](ScheduleStep& s) {
         if (!s.phase.shrink) return label_pass(s, s.largest);
         const double t = s.options.temperature;
         torch::Tensor soft;
         {
           torch::NoGradGuard no_grad;
           soft = torch::softmax(logits_of(s, *s.teacher) / t, 1);
         }
         for (int i = 0; i < s.options.random_subnets; ++i) {
           s.net.activate(s.net.sample(s.phase.name, s.rng));
           const torch::Tensor logits = logits_of(s, s.net);
           const torch::Tensor ce = torch::nn::functional::cross_entropy(logits, s.y);
           (ce + s.options.kd_ratio * distillation(logits, soft, t)).backward();
           ++s.report.subnet_passes;
           s.report.last_loss = ce.item<double>();
         }
       },
       /*teacher=*/true, /*min_random_subnets=*/1});
  out.push_back({"sandwich", "largest + smallest + random, in-place distillation",
                 [](const SupernetTrainOptions&, int64_t, int64_t) {
                   return SchedulePhase{"sandwich", true};
                 },
                 [](const Supernet& net) { return needs_one_anchor(net, "sandwich"); },
                 [](ScheduleStep& s) { sandwich_step(s, 1); }});
  out.push_back({"nested", "largest + random nested models on the labels: SortedNet, MatFormer",
                 [](const SupernetTrainOptions&, int64_t, int64_t) {
                   return SchedulePhase{"nested", true};
                 },
                 [](const Supernet& net) { return needs_one_anchor(net, "nested"); },
                 [](ScheduleStep& s) {
                   label_pass(s, s.largest);
                   // SortedNet / MatFormer: nested models on the labels alone.
                   for (int i = 0; i < s.options.random_subnets; ++i) {
                     s.net.activate(s.net.sample("nested", s.rng));
                     torch::nn::functional::cross_entropy(logits_of(s, s.net), s.y).backward();
                     ++s.report.subnet_passes;
                   }
                 }});
  out.push_back(
      {"deps", "largest alone until --shrink-start, then shrinking",
       [](const SupernetTrainOptions& o, int64_t step, int64_t total) {
         const double t = static_cast<double>(step) / static_cast<double>(total);
         return t < o.shrink_start ? SchedulePhase{"full"} : SchedulePhase{"shrink", true};
       },
       [](const Supernet& net) { return needs_one_anchor(net, "deps"); },
       [](ScheduleStep& s) {
         // Linear ramp of the sub-networks' scale from epsilon to 1.
         const double begin = std::ceil(s.options.shrink_start * static_cast<double>(s.total));
         const double t = (s.step - begin) / std::max(1.0, s.total - begin);
         sandwich_step(s, s.options.epsilon + (1 - s.options.epsilon) * std::clamp(t, 0.0, 1.0));
       }});
  out.push_back(
      {"stitch", "anchors alone until --shrink-start, then stitches",
       [](const SupernetTrainOptions& o, int64_t step, int64_t total) {
         const double t = static_cast<double>(step) / static_cast<double>(total);
         return t < o.shrink_start ? SchedulePhase{"anchors"} : SchedulePhase{"stitch", true};
       },
       [](const Supernet& net) -> std::string {
         if (net.anchors().size() > 1) return "";
         std::vector<std::string> fitting;
         for (const Schedule& other : schedules()) {
           if (other.name != "stitch" && other.unfit(net).empty()) fitting.push_back(other.name);
         }
         return fmt::format(
             "--schedule stitch trains the anchors of a stitch supernet; family {} takes {}",
             net.family(), join_words(fitting));
       },
       [](ScheduleStep& s) {
         // Anchors first, each on its own; then one configuration a step.
         if (!s.phase.shrink) {
           for (const auto& c : s.net.anchors()) label_pass(s, c);
         } else {
           label_pass(s, s.net.sample("", s.rng));
         }
       }});
  return out;
}

}  // namespace

const std::vector<Schedule>& schedules() {
  static const std::vector<Schedule> kSchedules = make_schedules();
  return kSchedules;
}

const Schedule* find_schedule(const std::string& name) {
  for (const Schedule& s : schedules()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const std::vector<OptionDef>& schedule_options() {
  static const SupernetTrainOptions d;
  static const std::vector<OptionDef> kOptions = {
      {"random-subnets",
       "random sub-networks per step (sandwich, deps: besides the largest and smallest)",
       std::to_string(d.random_subnets)},
      {"shrink-start", "deps: fraction of the steps that train the largest alone",
       fmt::format("{:g}", d.shrink_start)},
  };
  return kOptions;
}

torch::Tensor distillation(const torch::Tensor& logits, const torch::Tensor& teacher,
                           double temperature) {
  return -(teacher * torch::log_softmax(logits / temperature, 1)).sum(1).mean();
}

}  // namespace sylva::evaluators
