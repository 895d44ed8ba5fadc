// A small chain space for tests that train: nine architectures of two
// layers on an 8-channel stem, so that training takes seconds.
#pragma once

namespace sylva::testing {

constexpr const char* kSmallGrammar = R"(%builder chain
%stem 8
%stages 1 1
net -> layer layer
layer -> "conv3x3" | "mbconv_e3_k3" | "identity"
)";

}  // namespace sylva::testing
