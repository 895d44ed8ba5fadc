// Names of the primitive operations a grammar may use (torch-free view of the
// op registry implemented in spaces/ops.cc).
#pragma once

#include <string>
#include <vector>

namespace sylva {

// All registered op names, sorted.
std::vector<std::string> op_names();

bool is_op(const std::string& name);

}  // namespace sylva
