// The proxy filter: each trial is the best-scored of --proxy-pool proposals
// of the wrapped strategy, the others are told back as failures under their
// own ask numbers, and a resume after a kill at any trial replays the same
// sequence without calling the proxy for the replayed trials.
#include "search/proxy_filter.h"

#include <gtest/gtest.h>

#include <map>

#include "base/random.h"

namespace sylva::search {
namespace {

constexpr const char* kToy = R"(%max-depth 4
net   -> block block
block -> op | block block [0.3]
op    -> "conv3x3" | "skip" | "none" | "conv1x1"
)";

// The proxy: more conv1x1 is better, a hash tie-breaker; counts its calls.
struct Proxy {
  int calls = 0;
  ProxyScore score() {
    return [this](const Architecture& a, uint64_t seed) -> StatusOr<double> {
      ++calls;
      double v = 0;
      for (const auto& p : a.primitives) v += p == "conv1x1";
      return v + static_cast<double>(mix_seed(a.hash, seed) >> 11) * 0x1.0p-60;
    };
  }
};

// What the wrapped strategy is told.
class Recording : public Strategy {
 public:
  explicit Recording(std::unique_ptr<Strategy> inner) : inner_(std::move(inner)) {}
  std::optional<Architecture> ask(int64_t number) override {
    auto a = inner_->ask(number);
    if (a) asked[number] = *a;
    return a;
  }
  void tell(const Observation& obs) override {
    told.push_back(obs);
    inner_->tell(obs);
  }
  void pending(const Architecture& arch) override { inner_->pending(arch); }
  std::map<int64_t, Architecture> asked;
  std::vector<Observation> told;

 private:
  std::unique_ptr<Strategy> inner_;
};

std::unique_ptr<Strategy> plain(const std::string& name, const Space& space) {
  StrategyContext ctx;
  ctx.space = &space;
  ctx.seed = 5;
  ctx.objectives = {{"score", true}};
  return make_strategy(name, ctx).value();
}

std::unique_ptr<Strategy> filtered(std::unique_ptr<Strategy> inner, Proxy& proxy, int pool = 4) {
  ProxyFilterOptions o;
  o.proxy = "conv1x1s";
  o.pool = pool;
  return make_proxy_filter(std::move(inner), o, proxy.score(), 9).value();
}

Observation observe(int64_t n, const Architecture& a) {
  Observation o;
  o.number = n;
  o.arch = a;
  o.ok = n % 7 != 3;
  if (o.ok) o.value = static_cast<double>(a.primitives.size() % 5);
  return o;
}

TEST(ProxyFilterTest, EvaluatesTheBestOfThePoolAndTellsTheRestBack) {
  auto space = space_from_source("toy", kToy).value();
  Proxy proxy;
  auto recording = std::make_unique<Recording>(plain("random", *space));
  Recording* inner = recording.get();
  auto s = filtered(std::move(recording), proxy);
  auto a = s->ask(2);
  ASSERT_TRUE(a.has_value());
  ASSERT_EQ(inner->asked.size(), 4u);
  EXPECT_EQ(inner->asked.begin()->first, 8);  // trial 2 asks 8, 9, 10, 11
  double best = -1;
  std::string best_key;
  for (const auto& [n, arch] : inner->asked) {
    const double v = proxy.score()(arch, mix_seed(9 ^ 0x9f0c5e5ab1e5ULL, 2)).value();
    if (v > best) best = v, best_key = arch.canonical;
  }
  EXPECT_EQ(a->canonical, best_key);
  ASSERT_EQ(inner->told.size(), 3u);
  for (const Observation& o : inner->told) {
    EXPECT_FALSE(o.ok);
    EXPECT_NE(o.arch.canonical, a->canonical);
    EXPECT_TRUE(o.metrics.count("conv1x1s"));
  }
  s->tell(observe(2, *a));
  ASSERT_EQ(inner->told.size(), 4u);
  EXPECT_EQ(inner->asked.at(inner->told.back().number).canonical, a->canonical);
}

TEST(ProxyFilterTest, ResumeAfterAKillAtAnyTrialReplaysTheSameSequence) {
  auto space = space_from_source("toy", kToy).value();
  for (const std::string name : {"random", "evolution", "mcts"}) {
    Proxy proxy;
    auto s = filtered(plain(name, *space), proxy);
    std::vector<Architecture> full;
    for (int n = 0; n < 40; ++n) {
      auto a = s->ask(n);
      ASSERT_TRUE(a.has_value());
      s->tell(observe(n, *a));
      full.push_back(*a);
    }
    for (int killed_at : {0, 1, 6, 20, 39}) {
      Proxy again;
      auto r = filtered(plain(name, *space), again);
      for (int n = 0; n < killed_at; ++n) r->tell(observe(n, full[n]));
      r->pending(full[killed_at]);
      EXPECT_EQ(again.calls, 0) << "the replay scores nothing";
      r->tell(observe(killed_at, full[killed_at]));
      for (int n = killed_at + 1; n < 40; ++n) {
        auto a = r->ask(n);
        ASSERT_TRUE(a.has_value());
        ASSERT_EQ(a->canonical, full[n].canonical)
            << name << " killed at " << killed_at << ", trial " << n;
        r->tell(observe(n, *a));
      }
    }
  }
}

TEST(ProxyFilterTest, AWarmUpScreensTheFirstTrialsOnlyAndResumesAlike) {
  auto space = space_from_source("toy", kToy).value();
  Proxy proxy;
  auto recording = std::make_unique<Recording>(plain("evolution", *space));
  Recording* inner = recording.get();
  ProxyFilterOptions o;
  o.proxy = "conv1x1s";
  o.pool = 4;
  o.trials = 3;
  auto s = make_proxy_filter(std::move(recording), o, proxy.score(), 9).value();
  std::vector<Architecture> full;
  for (int n = 0; n < 10; ++n) {
    full.push_back(*s->ask(n));
    s->tell(observe(n, full.back()));
    // Trials 0-2 score four proposals each; later ones are the strategy's
    // own (ask number n * 4), unscored, and nothing is told back for them.
    EXPECT_EQ(proxy.calls, 4 * std::min(n + 1, 3)) << n;
    if (n >= 3) {
      EXPECT_EQ(inner->asked.rbegin()->first, 4 * n);
      EXPECT_EQ(inner->asked.rbegin()->second.canonical, full.back().canonical);
    }
  }
  EXPECT_EQ(inner->asked.size(), 3u * 4 + 7);
  EXPECT_EQ(inner->told.size(), 3u * 3 + 10);  // rejected proposals, then each trial
  // A resumed filter replays the same sequence without scoring.
  Proxy again;
  ProxyFilterOptions same = o;
  auto r = make_proxy_filter(plain("evolution", *space), same, again.score(), 9).value();
  for (int n = 0; n < 6; ++n) r->tell(observe(n, full[n]));
  for (int n = 6; n < 10; ++n) {
    auto a = r->ask(n);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->canonical, full[n].canonical) << n;
    r->tell(observe(n, *a));
  }
  EXPECT_EQ(again.calls, 0);
  o.trials = -1;
  EXPECT_EQ(make_proxy_filter(plain("random", *space), o, proxy.score(), 1).status().message(),
            "--proxy-trials must be >= 0, got -1");
}

TEST(ProxyFilterTest, ThePoolIsChecked) {
  auto space = space_from_source("toy", kToy).value();
  Proxy proxy;
  ProxyFilterOptions o;
  o.pool = 0;
  EXPECT_EQ(make_proxy_filter(plain("random", *space), o, proxy.score(), 1).status().message(),
            "--proxy-pool must be >= 1, got 0");
}

}  // namespace
}  // namespace sylva::search
