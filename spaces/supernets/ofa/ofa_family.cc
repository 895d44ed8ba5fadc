// The once-for-all family: its adapter behind the Supernet interface and its
// registration.
#include <algorithm>

#include "spaces/supernets/family.h"
#include "spaces/supernets/ofa/ofa.h"
#include "spaces/supernets/ofa/ofa_space.h"
#include "spaces/supernets/supernet.h"

namespace sylva::ofa {
namespace {

class OfaSupernet : public FamilySupernet<OfaNet, OfaSpace, OfaConfig> {
 public:
  explicit OfaSupernet(OfaNet net) : FamilySupernet("ofa", std::move(net)) {}

  std::vector<int> largest() const override { return decisions(ofa::largest(net_->spec())); }
  std::vector<int> smallest() const override { return decisions(ofa::smallest(net_->spec())); }

  std::vector<int> sample(const std::string& phase, std::mt19937_64& rng) const override {
    const OfaSpec& spec = net_->spec();
    if (phase.empty() || phase == "nested") return decisions(random_config(spec, rng));
    // Progressive shrinking: the phase's dimensions (and those of the
    // phases before it) are elastic, the others largest; resolution always.
    return decisions(walk_config(spec, [&](char kind, const std::vector<int64_t>& values) {
      const bool elastic = kind == 'r' || kind == 'k' || (kind == 'd' && phase != "kernel") ||
                           (kind == 'e' && phase == "expand");
      if (!elastic) return *std::max_element(values.begin(), values.end());
      return values[std::uniform_int_distribution<size_t>(0, values.size() - 1)(rng)];
    }));
  }
  bool has_phase(const std::string& phase) const override {
    return phase.empty() || phase == "nested" || phase == "kernel" || phase == "depth" ||
           phase == "expand";
  }
  void recalibrate(const std::vector<torch::Tensor>& batches) override {
    net_->recalibrate(batches);
  }
  bool sort_channels() override {
    net_->sort_channels();
    return true;
  }
  std::unique_ptr<Supernet> copy() const override {
    return std::make_unique<OfaSupernet>(copy_supernet(net_));
  }
};

}  // namespace

void register_ofa_family() {
  register_supernet_family(
      {"ofa", "once-for-all", "sandwich",
       [](int64_t channels, int64_t size, int64_t classes) {
         OfaSpec s;
         s.in_channels = channels;
         s.classes = classes;
         s.resolutions = {std::max<int64_t>(8, size - 8), std::max<int64_t>(8, size - 4), size};
         return spec_text(s);
       },
       [](const std::string& name, const std::string& spec) {
         return family_space<OfaSpace>(name, spec, parse_spec);
       },
       [](const std::string& spec) -> StatusOr<std::unique_ptr<Supernet>> {
         SYLVA_ASSIGN(parsed, parse_spec(spec));
         return std::unique_ptr<Supernet>(std::make_unique<OfaSupernet>(OfaNet(parsed)));
       }});
}

}  // namespace sylva::ofa
