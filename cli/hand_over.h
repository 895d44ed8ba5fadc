// The `sylva` program comes in two builds of the same sources: `sylva`,
// which needs no LibTorch and so starts in milliseconds (LibTorch's 291
// shared libraries take about half a second to load), and `sylva-torch`
// beside it, which has everything. `sylva` runs the verbs, spaces and
// evaluators it has (the table, the stub and the command evaluator, the
// reports, the dashboard) and hands every other command, unchanged, to
// `sylva-torch` before it has written anything: the same process (exec), so
// its pid, signals and exit code are the command's.
#pragma once

#include <map>
#include <string>

namespace sylva::cli {

// True in `sylva-torch`.
constexpr bool kWithTorch = SYLVA_TORCH != 0;

// Keeps main()'s arguments for hand_over().
void remember_arguments(int argc, char** argv);

// In `sylva`: runs the remembered command in `sylva-torch` (next to this
// program) and does not return; prints why and exits 1 if it cannot.
// `why` says what needed LibTorch (for SYLVA_DEBUG_HAND_OVER).
[[noreturn]] void hand_over(const std::string& why);

// In `sylva`: what of an experiment's settings needs sylva-torch (an
// evaluator this build lacks, a supernet space, a proxy filter, the command
// evaluator's model.pt), or "" (always "" in `sylva-torch`). The options
// are the experiment's, given or stored.
std::string torch_need(const std::map<std::string, std::string>& options);

}  // namespace sylva::cli
