// Progress of a running search. On a terminal: one live line (finished/total,
// running, failed, best so far, elapsed, ETA) redrawn in place. In a pipe: one
// log line per finished trial.
#pragma once

#include <cstdio>
#include <string>

#include "experiments/run_options.h"

namespace sylva::cli {

class Progress {
 public:
  Progress(FILE* out, bool live, std::string objective, int64_t already_finished);
  void update(const experiments::RunEvent& e);
  // Ends the live line.
  void finish();

 private:
  FILE* out_;
  bool live_;
  std::string objective_;
  int64_t start_finished_;
  bool drawn_ = false;
};

std::string format_duration(double seconds);

}  // namespace sylva::cli
