#include "experiments/dashboard.h"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

#include "base/thread_annotations.h"
#include "experiments/html_report.h"
#include "experiments/store.h"
#include "experiments/views.h"

namespace sylva::experiments {
namespace {

// What a page that is only read may do: run its own inline script and
// style, fetch from this server, nothing from elsewhere.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:";

// One experiment as of a refresh: never changed once published.
struct Entry {
  std::shared_ptr<const ExperimentData> data;
  std::string version;        // its counts and latest finish when read
  std::string last_finished;  // the latest finished_at when read
  std::string views;          // experiment_views, serialised
  std::string trials;         // trial_columns from trial 0, serialised
  // Each read that changed it: (sequence number, lowest trial number read
  // again), the latest kKeptChanges, so that a page that last merged the
  // table at sequence S is sent every trial changed since.
  int64_t seq = 0;
  std::vector<std::pair<int64_t, int64_t>> changes;
};
constexpr size_t kKeptChanges = 256;

// Everything the requests answer from.
struct Snapshot {
  std::string list;        // /api/experiments
  std::string comparison;  // /api/comparison
  std::map<std::string, std::shared_ptr<const Entry>> entries;
};

// The first trial number not finished, from which the next read starts.
int64_t settled_of(const ExperimentData& d) {
  for (const TrialRow& t : d.trials) {
    if (!is_finished(t.state)) return t.number;
  }
  return d.trials.empty() ? 0 : d.trials.back().number + 1;
}

}  // namespace

struct Dashboard::State {
  DashboardOptions options;
  std::string page;
  httplib::Server server;

  // The refresher's own: the database and the experiments as last read.
  std::mutex refresh_mu;
  std::unique_ptr<Store> store GUARDED_BY(refresh_mu);
  std::map<std::string, std::shared_ptr<const Entry>> read GUARDED_BY(refresh_mu);

  int64_t seq GUARDED_BY(refresh_mu) = 0;  // of the reads that changed an experiment

  std::mutex snapshot_mu;
  std::shared_ptr<const Snapshot> snapshot GUARDED_BY(snapshot_mu) = std::make_shared<Snapshot>();

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping GUARDED_BY(stop_mu) = false;  // the server has returned
  std::atomic<bool> stop_requested{false};    // stop() was called

  std::shared_ptr<const Snapshot> latest() {
    std::lock_guard<std::mutex> lock(snapshot_mu);
    return snapshot;
  }

  // The experiment read again from where its previous read left off: a
  // copy, since requests may still hold the previous one.
  // Trials from `from` on (0 or no `before`: everything).
  StatusOr<std::shared_ptr<ExperimentData>> reread(const ExperimentRow& row, const Entry* before,
                                                   int64_t from)
      EXCLUSIVE_LOCKS_REQUIRED(refresh_mu) {
    if (!before || from <= 0) {
      SYLVA_ASSIGN(data, load_experiment(*store, row));
      return std::make_shared<ExperimentData>(std::move(data));
    }
    auto d = std::make_shared<ExperimentData>(*before->data);
    std::vector<TrialRow> fresh = store->trials_from(row.id, from);
    auto cut = std::lower_bound(d->trials.begin(), d->trials.end(), from,
                                [](const TrialRow& t, int64_t n) { return t.number < n; });
    d->trials.erase(cut, d->trials.end());
    d->trials.insert(d->trials.end(), std::make_move_iterator(fresh.begin()),
                     std::make_move_iterator(fresh.end()));
    std::vector<IntermediateRow> curves = store->intermediates_from(row.id, from);
    auto icut =
        std::lower_bound(d->intermediates.begin(), d->intermediates.end(), from,
                         [](const IntermediateRow& r, int64_t n) { return r.trial_number < n; });
    d->intermediates.erase(icut, d->intermediates.end());
    d->intermediates.insert(d->intermediates.end(), curves.begin(), curves.end());
    d->events = store->events(row.id);
    d->workers = store->workers(row.id);
    if (row.config_json != d->row.config_json) {
      // resume --trials N changed the stored budget.
      auto config = ExperimentConfig::from_json(row.config_json);
      if (config.is_ok()) d->config = std::move(config).value();
    }
    d->row = row;
    return d;
  }

  Status refresh() {
    std::lock_guard<std::mutex> lock(refresh_mu);
    nlohmann::json list = nlohmann::json::array();
    std::map<std::string, std::shared_ptr<const Entry>> now;
    std::string problem;
    try {
      for (const ExperimentRow& e : store->experiments()) {
        auto it = read.find(e.name);
        const Entry* before = it == read.end() ? nullptr : it->second.get();
        if (before && before->data->row.id != e.id) before = nullptr;  // made again
        const TrialCounts c = store->counts(e.id, 60);
        const ChangeMarks marks = store->change_marks(e.id, before ? before->last_finished : "");
        const std::string version =
            fmt::format("{}.{}.{}.{}.{}.{}.{}", e.id, c.total, c.waiting, c.running, c.failed,
                        marks.complete, marks.last_finished);
        if (before && before->version == version) {
          now[e.name] = it->second;
        } else {
          // From the first trial not finished at the previous read, or a
          // lower one that changed since: a trial promoted by successive
          // halving runs again and finishes again.
          int64_t from = 0;
          if (before) {
            from = settled_of(*before->data);
            for (int64_t n : {marks.first_unfinished, marks.first_finished_since}) {
              if (n >= 0) from = std::min(from, n);
            }
          }
          auto data = reread(e, before, from);
          if (!data.is_ok()) {
            problem = data.status().message();
            if (before) now[e.name] = it->second;
            continue;
          }
          auto entry = std::make_shared<Entry>();
          entry->version = version;
          entry->last_finished = marks.last_finished;
          entry->seq = ++seq;
          entry->views = script_safe(experiment_views(*data.value()));
          nlohmann::json columns = trial_columns(*data.value(), 0);
          columns["seq"] = entry->seq;
          entry->trials = script_safe(columns);
          entry->data = std::move(data).value();
          if (before) entry->changes = before->changes;
          entry->changes.push_back({entry->seq, from});
          if (entry->changes.size() > kKeptChanges) {
            entry->changes.erase(entry->changes.begin(),
                                 entry->changes.end() - static_cast<int64_t>(kKeptChanges));
          }
          now[e.name] = std::move(entry);
        }
        list.push_back({{"name", e.name}, {"version", version}, {"id", e.id}, {"trials", c.total}});
      }
    } catch (const std::exception& e) {
      problem = e.what();
    }
    if (!problem.empty()) {
      // What this read did not reach stays as the last read left it.
      for (const auto& [name, entry] : read) {
        if (now.count(name)) continue;
        now[name] = entry;
        list.push_back({{"name", name},
                        {"version", entry->version},
                        {"id", entry->data->row.id},
                        {"trials", entry->data->trials.size()}});
      }
    }
    std::vector<const ExperimentData*> all;
    for (const auto& [name, entry] : now) all.push_back(entry->data.get());
    auto next = std::make_shared<Snapshot>();
    next->entries = now;
    next->comparison = script_safe(comparison_view(all));
    nlohmann::json body = {{"database", database_for_display(options.database)},
                           {"generated", utc_now()},
                           {"experiments", list}};
    if (!problem.empty()) body["problem"] = problem;
    next->list = script_safe(body);
    read = std::move(now);
    {
      std::lock_guard<std::mutex> published(snapshot_mu);
      snapshot = std::move(next);
    }
    return problem.empty() ? Status::ok() : Status::io_error("dashboard: " + problem);
  }

  Reply handle(const std::string& path, const std::string& name, int64_t from, int64_t seen) {
    auto json_reply = [](std::string body) {
      return Reply{200, "application/json", std::move(body)};
    };
    auto error = [](int status, const std::string& message) {
      return Reply{status, "application/json",
                   nlohmann::json{{"error", message}}.dump(
                       -1, ' ', false, nlohmann::json::error_handler_t::replace)};
    };
    if (path == "/" || path == "/index.html") return Reply{200, "text/html; charset=utf-8", page};
    const std::shared_ptr<const Snapshot> s = latest();
    if (path == "/api/experiments") return json_reply(s->list);
    if (path == "/api/comparison") return json_reply(s->comparison);
    if (path == "/api/model") {
      std::vector<const ExperimentData*> all;
      for (const auto& [n, entry] : s->entries) all.push_back(entry->data.get());
      return json_reply(script_safe(report_model(all, database_for_display(options.database))));
    }
    if (path == "/api/views" || path == "/api/trials") {
      if (name.empty()) return error(400, "give the experiment: ?name=NAME");
      auto it = s->entries.find(name);
      if (it == s->entries.end()) return error(404, "no experiment named '" + name + "'");
      const Entry& e = *it->second;
      if (path == "/api/views") return json_reply(e.views);
      // A page that merged the table at read `seen` also needs what those
      // after it read again below `from`.
      if (seen >= 0) {
        if (seen > e.seq || e.changes.empty() || e.changes.front().first > seen + 1) {
          from = 0;  // another server's numbers, or older than those kept
        }
        for (const auto& [at, lowest] : e.changes) {
          if (at > seen) from = std::min(from, lowest);
        }
      }
      if (from <= 0 && seen < 0) return json_reply(e.trials);
      nlohmann::json columns = trial_columns(*e.data, std::max<int64_t>(from, 0));
      columns["seq"] = e.seq;
      return json_reply(script_safe(columns));
    }
    return error(404, "no such page: " + path);
  }
};

Dashboard::Dashboard(std::unique_ptr<State> state) : state_(std::move(state)) {}
Dashboard::~Dashboard() = default;

StatusOr<std::unique_ptr<Dashboard>> Dashboard::open(const DashboardOptions& options) {
  auto store = Store::open(options.database, Store::Access::kReadOnly);
  if (!store.is_ok()) return store.status();
  return open(options, std::move(store).value());
}

std::unique_ptr<Dashboard> Dashboard::open(const DashboardOptions& options,
                                           std::unique_ptr<Store> store) {
  auto state = std::make_unique<State>();
  state->options = options;
  {
    std::lock_guard<std::mutex> lock(state->refresh_mu);
    state->store = std::move(store);
  }
  state->page = dashboard_page(options.interval_ms);
  {
    // Until the first refresh: no experiments.
    auto empty = std::make_shared<Snapshot>();
    empty->list = script_safe({{"database", database_for_display(options.database)},
                               {"generated", utc_now()},
                               {"experiments", nlohmann::json::array()}});
    empty->comparison = R"({"plots":[]})";
    std::lock_guard<std::mutex> lock(state->snapshot_mu);
    state->snapshot = std::move(empty);
  }
  return std::unique_ptr<Dashboard>(new Dashboard(std::move(state)));
}

Status Dashboard::refresh() { return state_->refresh(); }

Dashboard::Reply Dashboard::get(const std::string& path, const std::string& name, int64_t from,
                                int64_t seen) {
  return state_->handle(path, name, from, seen);
}

Status Dashboard::serve(const std::function<void(int port)>& listening) {
  State& s = *state_;
  auto answer = [&s](const httplib::Request& req, httplib::Response& res) {
    int64_t numbers[2] = {0, -1};  // from, seen
    const char* params[2] = {"from", "seen"};
    for (int i = 0; i < 2; ++i) {
      if (!req.has_param(params[i])) continue;
      try {
        numbers[i] = std::stoll(req.get_param_value(params[i]));
      } catch (const std::exception&) {
        res.status = 400;
        res.set_content(fmt::format(R"({{"error":"{} must be a number"}})", params[i]),
                        "application/json");
        return;
      }
    }
    Reply r = s.handle(req.path, req.has_param("name") ? req.get_param_value("name") : "",
                       numbers[0], numbers[1]);
    res.status = r.status;
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Security-Policy", kPolicy);
    res.set_content(r.body, r.type.c_str());
  };
  s.server.Get(R"(/.*)", answer);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a
  // second dashboard on the same port would share it instead of failing.
  s.server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  int port = s.options.port;
  if (port == 0) {
    port = s.server.bind_to_any_port(s.options.bind);
    if (port < 0) {
      return Status::io_error(fmt::format("dashboard: cannot listen on {}", s.options.bind));
    }
  } else if (!s.server.bind_to_port(s.options.bind, port)) {
    return Status::io_error(
        fmt::format("dashboard: cannot listen on {}:{} (in use? choose another with --port)",
                    s.options.bind, port));
  }
  // The first read before the first request; a database that cannot be
  // read now is refused.
  SYLVA_RETURN_IF_ERROR(s.refresh());
  std::thread refresher([&s] {
    std::unique_lock<std::mutex> lock(s.stop_mu);
    while (!s.stop_cv.wait_for(lock, std::chrono::milliseconds(s.options.interval_ms),
                               [&s]() EXCLUSIVE_LOCKS_REQUIRED(s.stop_mu) { return s.stopping; })) {
      lock.unlock();
      // A stop() that came before the server ran stopped nothing.
      if (s.stop_requested && s.server.is_running()) s.server.stop();
      s.refresh();  // a failure is reported to the page, which keeps the last views
      lock.lock();
    }
  });
  listening(port);
  const bool listened = s.stop_requested || s.server.listen_after_bind();
  {
    std::lock_guard<std::mutex> lock(s.stop_mu);
    s.stopping = true;
  }
  s.stop_cv.notify_all();
  refresher.join();
  if (!listened && !s.stop_requested) {
    return Status::io_error(
        fmt::format("dashboard: the server on {}:{} stopped unexpectedly", s.options.bind, port));
  }
  return Status::ok();
}

void Dashboard::stop() {
  state_->stop_requested = true;
  state_->server.stop();
}

}  // namespace sylva::experiments
