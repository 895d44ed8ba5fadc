// The spaces tests rebuild supernet spaces from their spec lines, which the
// family registry does once the families are registered (the program does it
// at start-up, cli/register_all.cc).
#include "spaces/supernets/supernet.h"

namespace {
const bool kRegistered = (sylva::register_all_supernet_families(), true);
}  // namespace
