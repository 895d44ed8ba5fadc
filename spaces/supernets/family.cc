#include "spaces/supernets/family.h"

#include <fmt/format.h>

#include "base/strings.h"

namespace sylva {
namespace {

std::vector<SupernetFamily>& families() {
  static auto* r = new std::vector<SupernetFamily>;
  return *r;
}

}  // namespace

void register_supernet_family(SupernetFamily family) {
  for (SupernetFamily& f : families()) {
    if (f.name == family.name) {
      f = std::move(family);
      return;
    }
  }
  families().push_back(std::move(family));
}

const SupernetFamily* find_supernet_family(const std::string& name) {
  for (const SupernetFamily& f : families()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const SupernetFamily* supernet_family_of_source(const std::string& source) {
  const size_t space = source.find(' ');
  if (space == std::string::npos) return nullptr;
  return find_supernet_family(source.substr(0, space));
}

StatusOr<const SupernetFamily*> supernet_family(const std::string& name) {
  if (const SupernetFamily* f = find_supernet_family(name)) return f;
  return Status::invalid_argument(fmt::format("supernet family '{}' is unknown (families: {})",
                                              name, join(supernet_family_names(), ", ")));
}

std::vector<std::string> supernet_family_names() {
  std::vector<std::string> names;
  for (const SupernetFamily& f : families()) names.push_back(f.name);
  return names;
}

}  // namespace sylva
