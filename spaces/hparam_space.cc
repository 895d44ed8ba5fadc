// HparamSpace: the hyperparameter decisions come first, each its own slot
// with a uniform prior, then the inner space's decisions, shifted. The
// architecture it makes is the inner one with "name=value/" parts in front of
// its key and canonical form.
#include "spaces/hparam_space.h"

#include <fmt/format.h>

#include <stdexcept>

#include "base/strings.h"

namespace sylva {

class HparamSpace::Cursor : public SpaceCursor {
 public:
  explicit Cursor(const HparamSpace& space) : space_(space) {
    if (space_.hparams_.empty()) inner_ = space_.inner_->cursor();
  }
  const std::vector<Choice>& choices() const override {
    return inner_ ? inner_->choices() : space_.choices_[decisions_.size()];
  }
  void choose(int index) override {
    if (inner_) {
      inner_->choose(index);
      decisions_.push_back(index);
      return;
    }
    const auto& ch = space_.choices_[decisions_.size()];
    if (index < 0 || index >= static_cast<int>(ch.size())) {
      throw std::invalid_argument(fmt::format("choice {} of {} at hyperparameter '{}'", index,
                                              ch.size(), space_.hparams_[decisions_.size()].name));
    }
    decisions_.push_back(index);
    if (decisions_.size() == space_.hparams_.size()) inner_ = space_.inner_->cursor();
  }
  bool rejoin(const std::vector<int>& rest) override { return inner_ && inner_->rejoin(rest); }
  const std::vector<int>& decisions() const override { return decisions_; }
  bool subtree_closed(int index) const override {
    const int n = static_cast<int>(space_.hparams_.size());
    if (index < n) return index < static_cast<int>(decisions_.size());
    return inner_ && inner_->subtree_closed(index - n);
  }
  size_t choice_count() const override {
    return inner_ ? inner_->choice_count() : space_.choices_[decisions_.size()].size();
  }

 private:
  const HparamSpace& space_;
  std::unique_ptr<SpaceCursor> inner_;  // once the hyperparameters are chosen
  std::vector<int> decisions_;          // all of them, hyperparameters first
};

HparamSpace::HparamSpace(std::unique_ptr<Space> inner, std::vector<HparamDecl> hparams,
                         std::string source)
    : inner_(std::move(inner)), hparams_(std::move(hparams)), source_(std::move(source)) {
  const bool given = !source_.empty();
  for (const HparamDecl& h : hparams_) {
    std::vector<std::string> labels;
    for (const std::string& v : h.values) labels.push_back(h.name + "=" + v);
    choices_.push_back(uniform_choices(labels, [](size_t) { return true; }));
    if (!given) source_ += hparam_line(h) + "\n";
  }
  if (!given) source_ += inner_->source();
}

StatusOr<std::unique_ptr<HparamSpace>> HparamSpace::make(std::unique_ptr<Space> inner,
                                                         std::vector<HparamDecl> hparams,
                                                         std::string source) {
  if (!inner) throw std::invalid_argument("HparamSpace::make: no inner space");
  for (size_t i = 0; i < hparams.size(); ++i) {
    const HparamDecl& h = hparams[i];
    // Each must read back from its own %hparam line, as source() writes it.
    auto again = parse_hparam_decl(hparam_line(h), "", 0);
    if (!again.is_ok() || again.value().name != h.name || again.value().values != h.values) {
      return Status::invalid_argument(
          fmt::format("hyperparameter '{}' = {}: {}", h.name, join(h.values, " | "),
                      again.is_ok() ? "values must be plain labels" : again.status().what()));
    }
    for (size_t j = 0; j < i; ++j) {
      if (hparams[j].name == h.name) {
        return Status::invalid_argument(
            fmt::format("hyperparameter '{}' is declared twice", h.name));
      }
    }
  }
  return std::unique_ptr<HparamSpace>(
      new HparamSpace(std::move(inner), std::move(hparams), std::move(source)));
}

void HparamSpace::check_prefix(const std::vector<int>& decisions) const {
  for (size_t i = 0; i < decisions.size() && i < hparams_.size(); ++i) {
    if (decisions[i] < 0 || decisions[i] >= static_cast<int>(hparams_[i].values.size())) {
      throw std::invalid_argument(fmt::format("choice {} of {} at hyperparameter '{}'",
                                              decisions[i], hparams_[i].values.size(),
                                              hparams_[i].name));
    }
  }
}

std::vector<int> HparamSpace::inner_decisions(const std::vector<int>& decisions) const {
  if (decisions.size() <= hparams_.size()) return {};
  return std::vector<int>(decisions.begin() + static_cast<ptrdiff_t>(hparams_.size()),
                          decisions.end());
}

std::vector<Choice> HparamSpace::choices(const std::vector<int>& prefix) const {
  check_prefix(prefix);
  if (prefix.size() < hparams_.size()) return choices_[prefix.size()];
  return inner_->choices(inner_decisions(prefix));
}

namespace {

// The searched architecture: `chosen` hyperparameter labels in front of the
// inner architecture.
Architecture wrapped(const std::vector<int>& hparam_decisions,
                     const std::vector<std::string>& hparam_labels, Architecture inner) {
  Architecture a;
  a.decisions = hparam_decisions;
  a.decisions.insert(a.decisions.end(), inner.decisions.begin(), inner.decisions.end());
  a.labels = hparam_labels;
  a.labels.insert(a.labels.end(), inner.labels.begin(), inner.labels.end());
  a.primitives = std::move(inner.primitives);
  const std::string prefix = join(hparam_labels, "/");
  const std::string sep = prefix.empty() ? "" : "/";
  a.key = inner.key.empty() ? prefix : prefix + sep + inner.key;
  a.canonical = prefix + sep + inner.canonical;
  a.hash = fnv1a64(a.canonical);
  return a;
}

}  // namespace

StatusOr<Architecture> HparamSpace::make(const std::vector<int>& decisions) const {
  if (decisions.size() < hparams_.size()) {
    return Status::invalid_argument(
        fmt::format("{} decisions, but the {} hyperparameters of space '{}' come first",
                    decisions.size(), hparams_.size(), name()));
  }
  std::vector<int> chosen;
  std::vector<std::string> labels;
  for (size_t i = 0; i < hparams_.size(); ++i) {
    const int d = decisions[i];
    if (d < 0 || d >= static_cast<int>(hparams_[i].values.size())) {
      return Status::invalid_argument(fmt::format("choice {} of {} at hyperparameter '{}'", d,
                                                  hparams_[i].values.size(), hparams_[i].name));
    }
    chosen.push_back(d);
    labels.push_back(choices_[i][static_cast<size_t>(d)].label);
  }
  SYLVA_ASSIGN(inner, inner_->make(inner_decisions(decisions)));
  return wrapped(chosen, labels, std::move(inner));
}

StatusOr<Architecture> HparamSpace::parse(const std::string& text) const {
  size_t pos = text.find_first_not_of(" \t\r\n");
  if (pos == std::string::npos) pos = text.size();
  std::vector<int> chosen;
  std::vector<std::string> labels;
  for (const HparamDecl& h : hparams_) {
    const size_t slash = text.find('/', pos);
    const std::string part = text.substr(pos, slash == std::string::npos ? slash : slash - pos);
    const std::string want = h.name + "=";
    if (part.compare(0, want.size(), want) != 0) {
      std::vector<std::string> names;
      for (const HparamDecl& d : hparams_) names.push_back(d.name + "=VALUE");
      return Status::invalid_argument(
          fmt::format("'{}': expected '{}' next (architectures of '{}' begin with {}/)",
                      quote_cut(text), want + "VALUE", name(), join(names, "/")));
    }
    const std::string value = part.substr(want.size());
    int found = -1;
    for (size_t v = 0; v < h.values.size(); ++v) {
      if (h.values[v] == value) found = static_cast<int>(v);
    }
    if (found < 0) {
      return Status::invalid_argument(fmt::format("'{}': hyperparameter {} is one of {}, got '{}'",
                                                  quote_cut(text), h.name, join(h.values, " | "),
                                                  quote_cut(value)));
    }
    chosen.push_back(found);
    labels.push_back(h.name + "=" + value);
    pos = slash == std::string::npos ? text.size() : slash + 1;
  }
  const std::string rest = text.substr(pos);
  if (rest.find_first_not_of(" \t\r\n") == std::string::npos) {
    if (!inner_->choices({}).empty()) {
      return Status::invalid_argument(fmt::format(
          "'{}' ends after its hyperparameters; the architecture follows them", quote_cut(text)));
    }
    SYLVA_ASSIGN(inner, inner_->make({}));
    return wrapped(chosen, labels, std::move(inner));
  }
  SYLVA_ASSIGN(inner, inner_->parse(rest));
  return wrapped(chosen, labels, std::move(inner));
}

std::vector<DecisionSlot> HparamSpace::slots(const std::vector<int>& decisions) const {
  std::vector<DecisionSlot> out;
  for (size_t i = 0; i < hparams_.size() && i < decisions.size(); ++i) {
    out.push_back({"hparam:" + hparams_[i].name, static_cast<int>(i) + 1});
  }
  if (decisions.size() <= hparams_.size()) return out;
  const int n = static_cast<int>(hparams_.size());
  for (DecisionSlot s : inner_->slots(inner_decisions(decisions))) {
    s.end += n;
    out.push_back(std::move(s));
  }
  return out;
}

bool HparamSpace::subtree_closed(const std::vector<int>& prefix, int index) const {
  const int n = static_cast<int>(hparams_.size());
  if (index < n) return index < static_cast<int>(prefix.size());
  return inner_->subtree_closed(inner_decisions(prefix), index - n);
}

std::unique_ptr<SpaceCursor> HparamSpace::cursor() const { return std::make_unique<Cursor>(*this); }

std::vector<double> HparamSpace::encode(const std::vector<int>& decisions) const {
  check_prefix(decisions);
  std::vector<double> out;
  for (size_t i = 0; i < hparams_.size(); ++i) {
    const size_t at = out.size();
    out.resize(at + hparams_[i].values.size(), 0.0);
    if (i < decisions.size()) out[at + static_cast<size_t>(decisions[i])] = 1;
  }
  const std::vector<double> inner = inner_->encode(inner_decisions(decisions));
  out.insert(out.end(), inner.begin(), inner.end());
  return out;
}

std::map<std::string, double> HparamSpace::known_metrics(const std::vector<int>& decisions) const {
  if (decisions.size() < hparams_.size()) return {};
  return inner_->known_metrics(inner_decisions(decisions));
}

const HparamSpace* as_hparam_space(const Space& space) {
  return dynamic_cast<const HparamSpace*>(&space);
}

HparamSplit split_hparams(const Space& space, const Architecture& arch) {
  const HparamSpace* h = as_hparam_space(space);
  if (!h) return {&space, arch, {}};
  const size_t n = h->hparams().size();
  if (arch.decisions.size() < n) {
    throw std::invalid_argument(
        fmt::format("split_hparams: architecture '{}' has no decisions "
                    "for the hyperparameters of '{}'",
                    arch.key, space.name()));
  }
  HparamSplit out;
  out.space = &h->inner();
  for (size_t i = 0; i < n; ++i) {
    const HparamDecl& d = h->hparams()[i];
    const int chosen = arch.decisions[i];
    if (chosen < 0 || chosen >= static_cast<int>(d.values.size())) {
      throw std::invalid_argument(
          fmt::format("split_hparams: choice {} of {} at hyperparameter '{}'", chosen,
                      d.values.size(), d.name));
    }
    out.hparams.push_back({d.name, d.values[static_cast<size_t>(chosen)]});
  }
  auto inner = h->inner().make(
      std::vector<int>(arch.decisions.begin() + static_cast<ptrdiff_t>(n), arch.decisions.end()));
  if (!inner.is_ok()) {
    throw std::invalid_argument(fmt::format("split_hparams: architecture '{}' of '{}': {}",
                                            arch.key, space.name(), inner.status().message()));
  }
  out.arch = std::move(inner).value();
  return out;
}

StatusOr<std::unique_ptr<Space>> add_hparams(std::unique_ptr<Space> space,
                                             std::vector<HparamDecl> extra) {
  if (extra.empty()) return space;
  if (auto* wrapper = dynamic_cast<HparamSpace*>(space.get())) {
    for (const HparamDecl& e : extra) {
      for (const HparamDecl& own : wrapper->hparams_) {
        if (own.name == e.name) {
          return Status::invalid_argument(fmt::format(
              "--hparam {} is declared by space '{}' too (%hparam {} = {}); declare it in one "
              "place",
              e.name, wrapper->name(), own.name, join(own.values, " | ")));
        }
      }
    }
    std::vector<HparamDecl> all = wrapper->hparams_;
    all.insert(all.end(), extra.begin(), extra.end());
    std::unique_ptr<Space> inner = std::move(wrapper->inner_);
    SYLVA_ASSIGN(extended, HparamSpace::make(std::move(inner), std::move(all)));
    return std::unique_ptr<Space>(std::move(extended));
  }
  SYLVA_ASSIGN(wrapped, HparamSpace::make(std::move(space), std::move(extra)));
  return std::unique_ptr<Space>(std::move(wrapped));
}

StatusOr<std::unique_ptr<Space>> make_space_with_hparams(const std::string& name_or_path,
                                                         const std::string& hparam_option) {
  SYLVA_ASSIGN(extra, parse_hparam_options(hparam_option));
  SYLVA_ASSIGN(space, make_space(name_or_path));
  return add_hparams(std::move(space), std::move(extra));
}

}  // namespace sylva
