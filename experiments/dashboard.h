// `sylva dashboard`: the report's views served live over HTTP (cpp-httplib)
// from a database that searches are writing, read-only, on loopback unless
// told otherwise. The page (html_report.h) polls api/experiments and fetches
// an experiment's views and the new part of its trials table when its trials
// change:
//
//   GET /                      the page
//   GET /api/experiments       {database, generated, experiments: [{name, version, trials}]}
//   GET /api/views?name=N      experiment_views (views.h)
//   GET /api/trials?name=N&from=K[&seen=S]   trial_columns from trial K, and
//                              from any lower one read again since read S; "seq"
//   GET /api/comparison        comparison_view of every experiment
//   GET /api/model             report_model: what `sylva report` inlines
//
// A thread of the server reads the database every interval: for each
// experiment whose counts changed, only the trials from the first one that
// was not finished at its previous read, and then computes the views and the
// whole trials table once, for every request until the next change. Requests
// never touch the database: they answer from the latest of these snapshots,
// so that they take the same few milliseconds at 100,000 trials as at 100
// (the views can be one interval behind the database).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "experiments/store.h"

namespace sylva::experiments {

struct DashboardOptions {
  std::string database;
  std::string bind = "127.0.0.1";
  int port = 8080;  // 0: any free port
  int interval_ms = 2000;
};

class Dashboard {
 public:
  // Opens the database read-only; an error names it.
  static StatusOr<std::unique_ptr<Dashboard>> open(const DashboardOptions& options);
  // The same on a Store opened read-only already.
  static std::unique_ptr<Dashboard> open(const DashboardOptions& options,
                                         std::unique_ptr<Store> store);
  ~Dashboard();

  // Reads what changed in the database and recomputes the views of the
  // experiments it touched; serve() does this every interval.
  Status refresh();

  // Binds (an error names the address), refreshes once, and serves until
  // stop(), refreshing every interval; calls `listening(port)` once bound.
  Status serve(const std::function<void(int port)>& listening);
  // From any thread.
  void stop();

  // The answer to GET `path` (with its query) from the latest refresh, as
  // the server gives it: the status code, content type and body. For tests
  // and benchmarks.
  struct Reply {
    int status = 200;
    std::string type, body;
  };
  // For /api/trials: from trial `from`, and, when `seen` (a table's "seq")
  // is given, from every lower trial read again since that read.
  Reply get(const std::string& path, const std::string& name = "", int64_t from = 0,
            int64_t seen = -1);

 private:
  struct State;
  explicit Dashboard(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sylva::experiments
