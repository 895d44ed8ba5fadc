// The `sorted` family (SortedNet, MatFormer): its adapter behind the
// Supernet interface and its registration.
#include <algorithm>

#include "spaces/supernets/family.h"
#include "spaces/supernets/sorted/sorted.h"
#include "spaces/supernets/supernet.h"

namespace sylva::sorted {
namespace {

int64_t most(const std::vector<int64_t>& v) { return *std::max_element(v.begin(), v.end()); }
int64_t least(const std::vector<int64_t>& v) { return *std::min_element(v.begin(), v.end()); }

class SortedSupernet : public FamilySupernet<SortedNet, SortedSpace, SortedConfig> {
 public:
  explicit SortedSupernet(SortedNet net) : FamilySupernet("sorted", std::move(net)) {}

  std::vector<int> largest() const override {
    return decisions(nested(most(spec().depths), most(spec().widths)));
  }
  std::vector<int> smallest() const override {
    return decisions(nested(least(spec().depths), least(spec().widths)));
  }
  std::vector<int> sample(const std::string& phase, std::mt19937_64& rng) const override {
    auto pick = [&](const std::vector<int64_t>& v) {
      return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
    };
    const int64_t depth = pick(spec().depths);
    if (phase == "nested") return decisions(nested(depth, pick(spec().widths)));
    // Mix'n'Match: every block its own width.
    SortedConfig c{depth, {}};
    for (int64_t l = 0; l < depth; ++l) c.width.push_back(pick(spec().widths));
    return decisions(c);
  }
  bool has_phase(const std::string& phase) const override {
    return phase.empty() || phase == "nested";
  }
  std::vector<std::vector<int>> sweep() const override {
    std::vector<std::vector<int>> out;
    for (const SortedConfig& c : ladder(spec())) {
      if (space_.make(decisions(c)).is_ok()) out.push_back(decisions(c));
    }
    return out;
  }
  void recalibrate(const std::vector<torch::Tensor>& batches) override {
    recalibrate_batch_norm(
        *net_, [&](const torch::Tensor& x) { net_->forward(x); }, batches);
  }
  std::unique_ptr<Supernet> copy() const override {
    SortedNet twin(spec());
    copy_weights(*net_, *twin);
    return std::make_unique<SortedSupernet>(twin);
  }

 private:
  const SortedSpec& spec() const { return net_->spec(); }
};

}  // namespace

std::unique_ptr<Supernet> make_sorted_supernet(const SortedSpec& spec) {
  return std::make_unique<SortedSupernet>(SortedNet(spec));
}

void register_sorted_family() {
  register_supernet_family({"sorted", "nested depth and FFN width", "nested",
                            [](int64_t channels, int64_t size, int64_t classes) {
                              SortedSpec s;
                              s.in_channels = channels;
                              s.classes = classes;
                              s.size = size;
                              return spec_text(s);
                            },
                            [](const std::string& name, const std::string& spec) {
                              return family_space<SortedSpace>(name, spec, parse_spec);
                            },
                            [](const std::string& spec) -> StatusOr<std::unique_ptr<Supernet>> {
                              SYLVA_ASSIGN(parsed, parse_spec(spec));
                              return make_sorted_supernet(parsed);
                            }});
}

}  // namespace sylva::sorted
