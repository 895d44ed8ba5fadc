#include "experiments/stored_files.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "base/strings.h"

namespace sylva::experiments {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSupernetPrefix = "supernet:";

// The path an option names, "" when it names no file (a built-in space).
std::string path_in(const std::string& option, const std::string& value) {
  if (option == "space") {
    return value.rfind(kSupernetPrefix, 0) == 0 ? value.substr(std::string(kSupernetPrefix).size())
                                                : "";
  }
  return value;
}

std::string with_path(const std::string& option, const std::string& value,
                      const std::string& path) {
  return option == "space" ? kSupernetPrefix + path : path;
}

std::string head_hash(const fs::path& file, size_t bytes) {
  std::ifstream in(file, std::ios::binary);
  std::string head(bytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(bytes));
  head.resize(static_cast<size_t>(in.gcount()));
  return hash_hex(fnv1a64(head));
}

// "size:hash" of a file, or of a folder's regular files; "" when unreadable.
std::string fingerprint(const fs::path& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    const auto size = fs::file_size(path, ec);
    if (ec) return "";
    return fmt::format("{}:{}", size, head_hash(path, 64 * 1024));
  }
  if (!fs::is_directory(path, ec)) return "";
  std::vector<std::string> entries;
  uintmax_t total = 0;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    std::error_code size_ec;
    if (!e.is_regular_file(size_ec)) continue;
    const auto size = e.file_size(size_ec);
    if (size_ec) continue;
    total += size;
    entries.push_back(
        fmt::format("{}/{}/{}", e.path().filename().string(), size, head_hash(e.path(), 4096)));
  }
  if (ec) return "";
  std::sort(entries.begin(), entries.end());
  return fmt::format("{}:{}", total, hash_hex(fnv1a64(join(entries, "\n"))));
}

const std::vector<std::string>& file_options() {
  static const std::vector<std::string> kOptions = {"table", "dataset", "space"};
  return kOptions;
}

}  // namespace

void anchor_files(ExperimentConfig& config) {
  for (const std::string& option : file_options()) {
    auto it = config.options.find(option);
    if (it == config.options.end()) continue;
    const std::string path = path_in(option, it->second);
    if (path.empty()) continue;
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;
    const fs::path absolute = fs::absolute(path, ec).lexically_normal();
    if (ec) continue;
    it->second = with_path(option, it->second, absolute.string());
    const std::string print = fingerprint(absolute);
    if (!print.empty()) config.files[option] = print;
  }
}

Status check_files(const ExperimentConfig& config, const std::string& verb,
                   const std::string& name) {
  for (const auto& [option, stored] : config.files) {
    auto it = config.options.find(option);
    if (it == config.options.end()) continue;
    const std::string path = path_in(option, it->second);
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      return Status::not_found(fmt::format(
          "{}: --{} '{}' that experiment '{}' was made with is gone (moved or deleted); put it "
          "back there to continue",
          verb, option, path, name));
    }
    const std::string now = fingerprint(path);
    if (now != stored) {
      return Status::failed_precondition(fmt::format(
          "{}: --{} '{}' changed since experiment '{}' was made (size and first bytes {} then, "
          "{} now); its trials would mix two versions: restore it, or start a new experiment",
          verb, option, path, name, stored, now.empty() ? "unreadable" : now));
    }
  }
  return Status::ok();
}

}  // namespace sylva::experiments
