#include "cli/hand_over.h"

#include <fmt/format.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "evaluators/registry.h"

namespace sylva::cli {
namespace {

std::vector<char*>& arguments() {
  static auto* a = new std::vector<char*>;
  return *a;
}

// The directory of the running program.
std::string own_directory() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string p(path, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

}  // namespace

void remember_arguments(int argc, char** argv) { arguments().assign(argv, argv + argc); }

void hand_over(const std::string& why) {
  if (kWithTorch) {  // cannot happen: sylva-torch has everything
    fmt::print(stderr, "sylva: internal error: hand-over from sylva-torch ({})\n", why);
    std::exit(1);
  }
  if (std::getenv("SYLVA_DEBUG_HAND_OVER")) fmt::print(stderr, "sylva: to sylva-torch: {}\n", why);
  const std::string target = own_directory() + "/sylva-torch";
  std::vector<char*> args = arguments();
  args.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  execv(target.c_str(), args.data());
  fmt::print(stderr, "sylva: cannot run {} (needed for {}): {}\n", target, why,
             std::strerror(errno));
  std::exit(1);
}

std::string torch_need(const std::map<std::string, std::string>& options) {
  if (kWithTorch) return "";
  auto get = [&](const char* key) {
    auto it = options.find(key);
    return it == options.end() ? std::string() : it->second;
  };
  const std::string evaluator = get("evaluator");
  if (!evaluators::find_evaluator(evaluator).is_ok()) return "evaluator " + evaluator;
  if (get("space").rfind("supernet:", 0) == 0) return "space " + get("space");
  if (!get("proxy-filter").empty()) return "proxy filter " + get("proxy-filter");
  if (evaluator == "command" && get("model-file") != "no")
    return "the command evaluator's model.pt";
  return "";
}

}  // namespace sylva::cli
