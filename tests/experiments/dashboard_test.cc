// The dashboard's refresher on both backends: it reads an experiment again
// from the first trial that was not finished, so a trial that was running at
// one refresh and finished before the next shows, and the answers come from
// the latest refresh; unknown experiments and pages are 404s.
#include "experiments/dashboard.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "experiments/config.h"
#include "spaces/space.h"
#include "tests/experiments/store_fixture.h"

namespace sylva::experiments {
namespace {

using nlohmann::json;
using testing::StoreBackendTest;

std::string config_json(const std::string& seed) {
  ExperimentConfig c;
  c.options = {{"space", "nas-bench-macro"}, {"evaluator", "stub"}, {"strategy", "random"},
               {"objective", "val_acc:max"}, {"trials", "10"},      {"seed", seed}};
  c.space_source = make_space("nas-bench-macro").value()->source();
  return c.to_json();
}

std::string key(int i) {
  const char* ops[] = {"identity", "mbconv_e3_k3", "mbconv_e6_k5"};
  std::string k;
  for (int layer = 0; layer < 8; ++layer) k += std::string(layer ? "/" : "") + ops[(i + layer) % 3];
  return k;
}

json get(Dashboard& d, const std::string& path, const std::string& name = "", int64_t from = 0,
         int64_t seen = -1) {
  Dashboard::Reply r = d.get(path, name, from, seen);
  EXPECT_EQ(r.status, 200) << path << ": " << r.body;
  EXPECT_EQ(r.type, "application/json");
  return json::parse(r.body);
}

TEST_P(StoreBackendTest, TheDashboardReadsOnFromTheFirstUnfinishedTrial) {
  auto store = open();
  const int64_t e = store->create_experiment("e", config_json("1")).value();
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(store->add_trial(e, i, "h", key(i), "[net]", i));
  for (int i = 0; i < 3; ++i) {
    store->set_running(ids[i], "w:1.1");
    ASSERT_TRUE(store->finish_trial(ids[i], TrialState::kComplete, "", {{"val_acc", 50.0 + i}}));
  }
  store->set_running(ids[3], "w:1.1");  // running; 4 waits

  DashboardOptions options;
  options.database = where_;
  auto dashboard = Dashboard::open(options);
  ASSERT_TRUE(dashboard.is_ok()) << dashboard.status().message();
  Dashboard& d = *dashboard.value();
  // Before the first refresh there is nothing to show, and no error.
  EXPECT_EQ(get(d, "/api/experiments")["experiments"].size(), 0u);
  ASSERT_TRUE(d.refresh().is_ok());
  json list = get(d, "/api/experiments");
  ASSERT_EQ(list["experiments"].size(), 1u);
  EXPECT_EQ(list["experiments"][0]["name"], "e");
  EXPECT_EQ(list["experiments"][0]["trials"], 5);
  const std::string version = list["experiments"][0]["version"];
  json views = get(d, "/api/views", "e");
  EXPECT_EQ(views["history"]["complete"].size(), 3u);
  EXPECT_EQ(views["summary"]["states"]["RUNNING"], 1);
  EXPECT_EQ(views["summary"]["best"]["value"], 52);

  // Trial 3 finishes best, 4 fails, 5 is added and finishes.
  ASSERT_TRUE(store->finish_trial(ids[3], TrialState::kComplete, "", {{"val_acc", 99.0}}));
  store->set_running(ids[4], "w:1.1");
  ASSERT_TRUE(store->finish_trial(ids[4], TrialState::kFail, "out of memory", {}));
  const int64_t five = store->add_trial(e, 5, "h", key(5), "[net]", 5);
  store->set_running(five, "w:1.1");
  ASSERT_TRUE(store->finish_trial(five, TrialState::kComplete, "", {{"val_acc", 60.0}}));
  // Answers stay those of the last refresh until the next.
  EXPECT_EQ(get(d, "/api/views", "e")["history"]["complete"].size(), 3u);
  ASSERT_TRUE(d.refresh().is_ok());
  list = get(d, "/api/experiments");
  EXPECT_NE(list["experiments"][0]["version"], version);
  EXPECT_EQ(list["experiments"][0]["trials"], 6);
  views = get(d, "/api/views", "e");
  EXPECT_EQ(views["history"]["complete"].size(), 5u);
  EXPECT_EQ(views["history"]["failed"].size(), 1u);
  EXPECT_EQ(views["summary"]["best"]["number"], 3);
  EXPECT_EQ(views["summary"]["best"]["value"], 99);
  // The table from 0 (the page's first load) and from trial 3 (its next).
  json all = get(d, "/api/trials", "e", 0);
  EXPECT_EQ(all["count"], 6);
  json tail = get(d, "/api/trials", "e", 3);
  ASSERT_EQ(tail["count"], 3);
  EXPECT_EQ(tail["number"], (json{3, 4, 5}));
  EXPECT_EQ(tail["messages"]["4"], "out of memory");
  EXPECT_EQ(tail["metrics"]["val_acc"][0], 99);

  // A second experiment alike but for the seed: compared, with a seed band.
  const int64_t f = store->create_experiment("f", config_json("2")).value();
  for (int i = 0; i < 3; ++i) {
    const int64_t id = store->add_trial(f, i, "h", key(i + 1), "[net]", i);
    store->set_running(id, "w:2.1");
    ASSERT_TRUE(store->finish_trial(id, TrialState::kComplete, "", {{"val_acc", 40.0 + i}}));
  }
  ASSERT_TRUE(d.refresh().is_ok());
  EXPECT_EQ(get(d, "/api/experiments")["experiments"].size(), 2u);
  json comparison = get(d, "/api/comparison");
  ASSERT_EQ(comparison["plots"].size(), 1u);
  EXPECT_EQ(comparison["plots"][0]["series"].size(), 2u);
  EXPECT_EQ(comparison["plots"][0]["seeds"].size(), 1u);
  json model = get(d, "/api/model");
  EXPECT_EQ(model["experiments"].size(), 2u);

  // Successive halving promotes trial 1 (PRUNED, below every unfinished
  // trial): it runs again and finishes COMPLETE between two reads. A page
  // that merged the table at the previous read gets it back.
  const int64_t seen = get(d, "/api/trials", "e", 0)["seq"];
  ASSERT_TRUE(store->finish_trial(ids[1], TrialState::kPruned, "", {{"val_acc", 51.0}}));
  ASSERT_TRUE(d.refresh().is_ok());
  const int64_t pruned_seen = get(d, "/api/trials", "e", 0)["seq"];
  EXPECT_GT(pruned_seen, seen);
  store->set_running(ids[1], "w:1.1");
  ASSERT_TRUE(store->finish_trial(ids[1], TrialState::kComplete, "", {{"val_acc", 100.0}}));
  ASSERT_TRUE(d.refresh().is_ok());
  views = get(d, "/api/views", "e");
  EXPECT_EQ(views["summary"]["best"]["number"], 1);
  EXPECT_EQ(views["summary"]["best"]["value"], 100);
  json changed = get(d, "/api/trials", "e", 6, pruned_seen);
  EXPECT_EQ(changed["first"], 1);
  EXPECT_EQ(changed["metrics"]["val_acc"][0], 100);
  // Up to date: only from where the page asks.
  EXPECT_EQ(get(d, "/api/trials", "e", 6, changed["seq"])["count"], 0);

  // What is not there.
  EXPECT_EQ(d.get("/api/views", "nobody").status, 404);
  EXPECT_EQ(d.get("/api/views").status, 400);
  EXPECT_EQ(d.get("/api/shutdown").status, 404);
  EXPECT_EQ(d.get("/").type, "text/html; charset=utf-8");
}

}  // namespace
}  // namespace sylva::experiments
