#include "cli/progress.h"

#include <fmt/format.h>

#include <cmath>

#include "experiments/report.h"

namespace sylva::cli {

std::string format_duration(double seconds) {
  int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}

Progress::Progress(FILE* out, bool live, std::string objective, int64_t already_finished)
    : out_(out), live_(live), objective_(std::move(objective)), start_finished_(already_finished) {}

void Progress::update(const experiments::RunEvent& e) {
  std::string best = e.best ? fmt::format("{} {}", objective_, experiments::format_number(*e.best))
                            : std::string("-");
  if (!live_) {
    if (!e.trial) return;
    const auto& t = *e.trial;
    std::string metrics;
    for (const auto& [name, v] : t.metrics)
      metrics += fmt::format(" {}={}", name, experiments::format_number(v));
    // Keys of large grammar trees run to thousands of characters; `sylva
    // trials` prints them whole.
    constexpr size_t kKeyChars = 100;
    const std::string key =
        t.arch_key.size() <= kKeyChars ? t.arch_key : t.arch_key.substr(0, kKeyChars - 3) + "...";
    fmt::print(out_, "[{}/{}] trial {} {} {}{}{}  best {}\n", e.finished, e.total, t.number,
               evaluators::state_name(t.state), key, metrics,
               t.message.empty() ? "" : "  (" + t.message + ")", best);
    std::fflush(out_);
    return;
  }
  int64_t done_here = e.finished - start_finished_;
  std::string eta = "--:--";
  if (done_here > 0 && e.finished < e.total) {
    eta =
        format_duration(e.elapsed_seconds / done_here * static_cast<double>(e.total - e.finished));
  }
  fmt::print(out_, "\r\x1b[K{}/{} finished  {} running  {} failed  best {}  {}  ETA {}", e.finished,
             e.total, e.running, e.failed, best, format_duration(e.elapsed_seconds), eta);
  std::fflush(out_);
  drawn_ = true;
}

void Progress::finish() {
  if (live_ && drawn_) fmt::print(out_, "\n");
  std::fflush(out_);
}

}  // namespace sylva::cli
