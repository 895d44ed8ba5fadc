#include "cli/register_all.h"

#include <mutex>

#include "cli/verbs.h"
#include "evaluators/command/command_evaluator.h"
#include "evaluators/registry.h"
#include "search/strategy.h"
#if SYLVA_TORCH
#include "evaluators/proxy/proxy_evaluator.h"
#include "evaluators/supernet/supernet_evaluator.h"
#include "evaluators/train/model_tools.h"
#include "evaluators/train/train_evaluator.h"
#include "spaces/supernets/supernet.h"
#endif

namespace sylva::cli {

void register_all() {
  static std::once_flag once;
  std::call_once(once, [] {
    search::register_all_strategies();
    // A new evaluator adds its line here (one that needs LibTorch, in the
    // SYLVA_TORCH part: `sylva` hands its commands to sylva-torch).
    evaluators::register_stub_evaluator();
    evaluators::register_table_evaluator();
#if SYLVA_TORCH
    evaluators::register_train_evaluator();
    evaluators::register_supernet_evaluator();
#endif
    evaluators::register_command_evaluator();
#if SYLVA_TORCH
    evaluators::register_proxy_evaluator();
    // The command evaluator's model.pt: a supernet's configuration with its
    // weights, any other space's candidate untrained.
    evaluators::set_model_writer([](const Space& space, const Architecture& arch,
                                    const SpaceTarget& input, uint64_t seed,
                                    const std::string& path) {
      if (space.name().rfind("supernet:", 0) == 0) {
        return evaluators::write_subnet_model(space.name().substr(9), arch, path);
      }
      return evaluators::write_untrained_torchscript(
          space, arch, {input.channels, input.height, input.width, input.classes}, seed, path);
    });
    register_all_supernet_families();
#endif
    // The verbs, in the order `sylva` lists them when one is unknown.
    register_search_verbs();
    register_report_verbs();
    register_report_page_verbs();
    register_export_verb();
    register_logs_verb();
    register_sample_verb();
#if SYLVA_TORCH
    register_supernet_verbs();
#endif
  });
}

}  // namespace sylva::cli
