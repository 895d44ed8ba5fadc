// The registry of weight-sharing supernet families (ofa, sorted, stitch, ...):
// one entry per family, declared next to its code (the family's
// register_NAME_family() in its folder) and registered by
// register_all_supernet_families() (spaces/supernets/register_all.cc). Every
// list of families the user sees (--family's help, "one of ..." errors, the
// spaces a stored spec rebuilds) is read from here.
//
// This header is torch-free: the Space core rebuilds a family's
// configuration space from its spec line through it. `make` builds the
// LibTorch network (spaces/supernets/supernet.h), so only code that links
// the supernet library calls it. Registration happens at start-up, before
// any look-up; look-ups are then safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "spaces/space.h"

namespace sylva {

class Supernet;  // spaces/supernets/supernet.h

struct SupernetFamily {
  std::string name;  // also the first word of its spec lines
  std::string help;  // one line
  // The training schedule `supernet train` uses when none is given.
  std::string default_schedule;
  // The spec of a fresh supernet for images of `channels` x `size` x `size`
  // and `classes` classes: the family's default architecture.
  std::function<std::string(int64_t channels, int64_t size, int64_t classes)> spec_for;
  // The configurations of a spec line as a Space named `name` (budgets checked).
  std::function<StatusOr<std::unique_ptr<Space>>(const std::string& name, const std::string& spec)>
      space;
  // A fresh supernet (random weights) of a spec line.
  std::function<StatusOr<std::unique_ptr<Supernet>>(const std::string& spec)> make;
};

void register_supernet_family(SupernetFamily family);

// SupernetFamily::space for a family whose Space is built from its parsed
// spec: parse, construct, check that the smallest configuration fits.
template <typename FamilySpace, typename Parse>
StatusOr<std::unique_ptr<Space>> family_space(const std::string& name, const std::string& spec,
                                              Parse parse) {
  auto parsed = parse(spec);
  if (!parsed.is_ok()) return parsed.status();
  auto space = std::make_unique<FamilySpace>(name, parsed.value());
  Status budgets = space->check_budgets();
  if (!budgets.is_ok()) return budgets;
  return std::unique_ptr<Space>(std::move(space));
}

// The family named `name`, or nullptr.
const SupernetFamily* find_supernet_family(const std::string& name);
// The family whose spec `source` is (its first word names it), or nullptr.
const SupernetFamily* supernet_family_of_source(const std::string& source);
// The family named `name`, or "supernet family 'X' is unknown (families: ...)".
StatusOr<const SupernetFamily*> supernet_family(const std::string& name);
// In registration order.
std::vector<std::string> supernet_family_names();

}  // namespace sylva
