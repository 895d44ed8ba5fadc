// The `stitch` family (SN-Net): its adapter behind the Supernet interface
// and its registration.
#include "spaces/supernets/family.h"
#include "spaces/supernets/stitch/stitch.h"
#include "spaces/supernets/supernet.h"

namespace sylva::stitch {
namespace {

class StitchSupernet : public FamilySupernet<StitchNet, StitchSpace, StitchConfig> {
 public:
  explicit StitchSupernet(StitchNet net) : FamilySupernet("stitch", std::move(net)) {}

  std::vector<int> largest() const override { return anchor(net_->spec().dims.size() - 1); }
  std::vector<int> smallest() const override { return anchor(0); }
  std::vector<std::vector<int>> anchors() const override {
    std::vector<std::vector<int>> out;
    for (size_t k = 0; k < net_->spec().dims.size(); ++k) out.push_back(anchor(k));
    return out;
  }
  std::vector<int> sample(const std::string& phase, std::mt19937_64& rng) const override {
    (void)phase;
    const std::vector<StitchConfig> all = all_configs(net_->spec());
    return decisions(all[std::uniform_int_distribution<size_t>(0, all.size() - 1)(rng)]);
  }
  bool has_phase(const std::string& phase) const override { return phase.empty(); }
  void recalibrate(const std::vector<torch::Tensor>& batches) override {
    recalibrate_batch_norm(
        *net_, [&](const torch::Tensor& x) { net_->forward(x); }, batches);
  }
  void begin_phase(const std::string& phase, const torch::Tensor& images) override {
    if (phase == "stitch") net_->fit_stitches(images);
  }
  std::vector<std::vector<int>> sweep() const override {
    std::vector<std::vector<int>> out;
    for (const StitchConfig& c : all_configs(net_->spec())) {
      auto d = space_.decisions(c);
      if (d.is_ok() && space_.make(d.value()).is_ok()) out.push_back(d.value());
    }
    return out;
  }
  std::unique_ptr<Supernet> copy() const override {
    StitchNet twin(net_->spec());
    copy_weights(*net_, *twin);
    return std::make_unique<StitchSupernet>(twin);
  }

 private:
  std::vector<int> anchor(size_t k) const {
    const int a = static_cast<int>(k);
    return decisions({a, a, 0});
  }
};

}  // namespace

std::unique_ptr<Supernet> make_stitch_supernet(const StitchSpec& spec) {
  return std::make_unique<StitchSupernet>(StitchNet(spec));
}

void register_stitch_family() {
  register_supernet_family({"stitch", "stitchable anchors", "stitch",
                            [](int64_t channels, int64_t size, int64_t classes) {
                              StitchSpec s;
                              s.in_channels = channels;
                              s.classes = classes;
                              s.size = size;
                              return spec_text(s);
                            },
                            [](const std::string& name, const std::string& spec) {
                              return family_space<StitchSpace>(name, spec, parse_spec);
                            },
                            [](const std::string& spec) -> StatusOr<std::unique_ptr<Supernet>> {
                              SYLVA_ASSIGN(parsed, parse_spec(spec));
                              return make_stitch_supernet(parsed);
                            }});
}

}  // namespace sylva::stitch
