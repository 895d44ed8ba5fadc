#include "experiments/dashboard.h"

#include <fmt/format.h>
#include <httplib.h>

#include <ctime>
#include <map>
#include <mutex>

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

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

// An experiment's data as last read, and where to read on from.
struct Cached {
  ExperimentData data;
  int64_t settled = 0;  // trials below this number were finished at the last read
  std::string version;  // of the counts when `views` was computed
  std::string views;    // experiment_views, serialised
};

}  // namespace

struct Dashboard::State {
  DashboardOptions options;
  std::mutex mu;
  std::unique_ptr<Store> store GUARDED_BY(mu);
  std::map<std::string, Cached> cache GUARDED_BY(mu);
  httplib::Server server;
  std::string page;

  // The experiment's counts as one string that changes when a trial is
  // added, starts, finishes or is re-queued.
  std::string version_of(int64_t id) EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const TrialCounts c = store->counts(id, 60);
    return fmt::format("{}.{}.{}.{}", c.total, c.waiting, c.running, c.failed);
  }

  // Reads what changed since the last read of experiment `name`.
  StatusOr<Cached*> refresh(const std::string& name) EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto row = store->find_experiment(name);
    if (!row.is_ok()) return row.status();
    auto it = cache.find(name);
    if (it == cache.end() || it->second.data.row.id != row.value().id) {
      auto data = load_experiment(*store, row.value());
      if (!data.is_ok()) return data.status();
      it = cache.insert_or_assign(name, Cached{std::move(data).value(), 0, "", ""}).first;
    } else {
      Cached& c = it->second;
      ExperimentData& d = c.data;
      std::vector<TrialRow> fresh = store->trials_from(d.row.id, c.settled);
      auto cut = std::lower_bound(d.trials.begin(), d.trials.end(), c.settled,
                                  [](const TrialRow& t, int64_t n) { return t.number < n; });
      d.trials.erase(cut, d.trials.end());
      d.trials.insert(d.trials.end(), std::make_move_iterator(fresh.begin()),
                      std::make_move_iterator(fresh.end()));
      std::vector<IntermediateRow> curves = store->intermediates_from(d.row.id, c.settled);
      auto icut = std::lower_bound(
          d.intermediates.begin(), d.intermediates.end(), c.settled,
          [](const IntermediateRow& r, int64_t n) { return r.trial_number < n; });
      d.intermediates.erase(icut, d.intermediates.end());
      d.intermediates.insert(d.intermediates.end(), curves.begin(), curves.end());
      d.events = store->events(d.row.id);
      d.workers = store->workers(d.row.id);
    }
    Cached& c = it->second;
    c.settled = c.data.trials.empty() ? 0 : c.data.trials.back().number + 1;
    for (const TrialRow& t : c.data.trials) {
      if (!is_finished(t.state)) {
        c.settled = t.number;
        break;
      }
    }
    return &c;
  }

  Reply handle(const std::string& path, const std::string& name, int64_t from) {
    auto json_reply = [](std::string body) { return Reply{200, "application/json", std::move(body)}; };
    auto error = [](int status, const std::string& message) {
      return Reply{status, "application/json", nlohmann::json{{"error", message}}.dump()};
    };
    if (path == "/" || path == "/index.html") return Reply{200, "text/html; charset=utf-8", page};
    std::lock_guard<std::mutex> lock(mu);
    try {
      if (path == "/api/experiments") {
        nlohmann::json list = nlohmann::json::array();
        for (const ExperimentRow& e : store->experiments()) {
          const TrialCounts c = store->counts(e.id, 60);
          list.push_back({{"name", e.name}, {"version", version_of(e.id)}, {"trials", c.total}});
        }
        return json_reply(script_safe(nlohmann::json{{"database", database_for_display(options.database)},
                                                     {"generated", utc_now()},
                                                     {"experiments", list}}));
      }
      if (path == "/api/comparison" || path == "/api/model") {
        std::vector<const ExperimentData*> all;
        for (const ExperimentRow& e : store->experiments()) {
          auto c = refresh(e.name);
          if (!c.is_ok()) return error(500, c.status().message());
          all.push_back(&c.value()->data);
        }
        if (path == "/api/comparison") return json_reply(script_safe(comparison_view(all)));
        return json_reply(script_safe(report_model(all, database_for_display(options.database))));
      }
      if (path == "/api/views" || path == "/api/trials") {
        if (name.empty()) return error(400, "give the experiment: ?name=NAME");
        auto c = refresh(name);
        if (!c.is_ok()) return error(404, c.status().message());
        Cached& cached = *c.value();
        if (path == "/api/trials") return json_reply(script_safe(trial_columns(cached.data, from)));
        const std::string version = version_of(cached.data.row.id);
        if (cached.version != version || cached.views.empty()) {
          cached.views = script_safe(experiment_views(cached.data, {}, std::nan("")));
          cached.version = version;
        }
        return json_reply(cached.views);
      }
    } catch (const std::exception& e) {
      return error(500, e.what());
    }
    return error(404, "no such page: " + path);
  }
};

Dashboard::Dashboard(std::unique_ptr<State> state) : state_(std::move(state)) {}
Dashboard::~Dashboard() = default;

StatusOr<std::unique_ptr<Dashboard>> Dashboard::open(const DashboardOptions& options) {
  auto store = Store::open(options.database, Store::Access::kReadOnly);
  if (!store.is_ok()) return store.status();
  auto state = std::make_unique<State>();
  state->options = options;
  {
    std::lock_guard<std::mutex> lock(state->mu);
    state->store = std::move(store).value();
  }
  state->page = dashboard_page(options.interval_ms);
  return std::unique_ptr<Dashboard>(new Dashboard(std::move(state)));
}

Dashboard::Reply Dashboard::get(const std::string& path, const std::string& name, int64_t from) {
  return state_->handle(path, name, from);
}

Status Dashboard::serve(const std::function<void(int port)>& listening) {
  State& s = *state_;
  auto answer = [&s](const httplib::Request& req, httplib::Response& res) {
    int64_t from = 0;
    if (req.has_param("from")) {
      try {
        from = std::stoll(req.get_param_value("from"));
      } catch (const std::exception&) {
        res.status = 400;
        res.set_content(R"({"error":"from must be a trial number"})", "application/json");
        return;
      }
    }
    Reply r = s.handle(req.path, req.has_param("name") ? req.get_param_value("name") : "", from);
    res.status = r.status;
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Security-Policy", kPolicy);
    res.set_content(r.body, r.type.c_str());
  };
  s.server.Get(R"(/.*)", answer);
  int port = s.options.port;
  if (port == 0) {
    port = s.server.bind_to_any_port(s.options.bind);
    if (port < 0) {
      return Status::io_error(fmt::format("dashboard: cannot listen on {}", s.options.bind));
    }
  } else if (!s.server.bind_to_port(s.options.bind, port)) {
    return Status::io_error(fmt::format(
        "dashboard: cannot listen on {}:{} (in use? choose another with --port)", s.options.bind,
        port));
  }
  listening(port);
  if (!s.server.listen_after_bind() && s.server.is_running()) {
    return Status::io_error("dashboard: the server stopped unexpectedly");
  }
  return Status::ok();
}

void Dashboard::stop() { state_->server.stop(); }

}  // namespace sylva::experiments
