// Builds the LibTorch network of an einspace architecture (Ericsson et al.,
// NeurIPS 2024) from its canonical bracket form (spaces/bracket.h). The
// structure is read from the children, not the rule names, so user grammars
// may name their rules freely:
//   [X op]                   an op node (labels as in einspace_ops.h)
//   [X node]                 a pass-through
//   [X M M]                  sequential
//   [X B M A], [X B M M A]   branch: B is clone{n} or group{n}_dim{d}; a
//                            single M is built once per branch (independent
//                            weights, the reference's deep copies), else one
//                            M per branch
//   [X P M R]                route: P and R unary ops; col2im only as the R
//                            of a route whose P is im2col
// Shapes are tracked with einspace_shapes.h while building, so an invalid
// tree is a Status naming the node (rule, column) and the shapes, and a
// network that built runs. As in einspace there is no stem; the head
// averages an im output [C, H, W] over H, W and a col output [S, D] over D,
// then a Linear maps C (or S) to the classes. Implemented in
// einspace_network.cc; not thread-safe (one network per thread).
#pragma once

#include <memory>
#include <string>

#include "spaces/nets/network.h"

namespace sylva {

struct EinspaceBuildOptions {
  // route(im2col k s p, linear N, col2im) runs as one Conv2d(C, N, k, s, p)
  // with bias: the same function and parameter count, several times faster.
  bool fuse = true;
};

StatusOr<std::shared_ptr<NetworkImpl>> build_einspace_network(const std::string& canonical,
                                                              const InputShape& input,
                                                              const EinspaceBuildOptions& opt = {});

}  // namespace sylva
