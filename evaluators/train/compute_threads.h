// The intra-op threads of a LibTorch evaluation.
#pragma once

namespace sylva::evaluators {

// Sets the intra-op threads of LibTorch (and OpenBLAS, when it is the BLAS in
// use) for the calling thread's work.
void set_compute_threads(int threads);

}  // namespace sylva::evaluators
