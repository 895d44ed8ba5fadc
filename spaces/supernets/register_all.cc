// Registers every built-in supernet family and the `supernet:FILE` space
// scheme. A new family adds its register_NAME_family() call here.
#include <mutex>

#include "spaces/space.h"
#include "spaces/supernets/ofa/ofa.h"
#include "spaces/supernets/sorted/sorted.h"
#include "spaces/supernets/stitch/stitch.h"
#include "spaces/supernets/supernet.h"

namespace sylva {

void register_all_supernet_families() {
  static std::once_flag once;
  std::call_once(once, [] {
    ofa::register_ofa_family();
    sorted::register_sorted_family();
    stitch::register_stitch_family();
    register_space_scheme(
        {"supernet", "the configurations of a trained supernet file", read_supernet_spec});
  });
}

}  // namespace sylva
