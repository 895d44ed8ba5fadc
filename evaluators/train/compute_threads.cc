#include "evaluators/train/compute_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>

namespace sylva::evaluators {

void set_compute_threads(int threads) {
  threads = std::max(1, threads);
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
  // OpenBLAS keeps its own pool; found at run time since the BLAS behind
  // libblas.so.3 is chosen by the system's alternatives.
  using SetThreads = void (*)(int);
  static SetThreads openblas =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas) openblas(threads);
}

}  // namespace sylva::evaluators
