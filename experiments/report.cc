#include "experiments/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "base/strings.h"
#include "experiments/views.h"
#include "search/pareto.h"

namespace sylva::experiments {
namespace {

std::string cell_text(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_number()) return format_number(v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

}  // namespace

std::string format_number(double v) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  if (std::fabs(v) < 1e15 && v == std::floor(v)) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{:.6g}", v);
}

StatusOr<std::string> render(const Table& table, const std::string& format) {
  std::string out;
  if (format == "json") {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& row : table.rows) {
      nlohmann::json obj = nlohmann::json::object();
      for (size_t i = 0; i < table.columns.size(); ++i) {
        if (!row[i].is_null()) obj[table.columns[i]] = row[i];
      }
      arr.push_back(obj);
    }
    return arr.dump(2) + "\n";
  }
  if (format == "csv") {
    std::vector<std::string> header;
    for (const auto& c : table.columns) header.push_back(csv_escape(c));
    out += join(header, ",") + "\n";
    for (const auto& row : table.rows) {
      std::vector<std::string> cells;
      for (const auto& v : row) cells.push_back(csv_escape(cell_text(v)));
      out += join(cells, ",") + "\n";
    }
    return out;
  }
  if (format == "table") {
    std::vector<size_t> width;
    for (const auto& c : table.columns) width.push_back(c.size());
    std::vector<std::vector<std::string>> text;
    for (const auto& row : table.rows) {
      text.emplace_back();
      for (size_t i = 0; i < row.size(); ++i) {
        text.back().push_back(cell_text(row[i]));
        width[i] = std::max(width[i], text.back().back().size());
      }
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string l;
      for (size_t i = 0; i < cells.size(); ++i) {
        bool last = i + 1 == cells.size();
        l += last ? cells[i] : fmt::format("{:<{}}  ", cells[i], width[i]);
      }
      while (!l.empty() && l.back() == ' ') l.pop_back();
      return l + "\n";
    };
    out += line(table.columns);
    for (const auto& row : text) out += line(row);
    return out;
  }
  return Status::invalid_argument(
      fmt::format("--format must be table, json or csv, got '{}'", quote_cut(format)));
}

namespace {

// The value of hyperparameter `names[i]` in each leading "name=value/" part of
// `key`, null where the part is not that hyperparameter's.
std::vector<nlohmann::json> hparam_cells(const std::string& key,
                                         const std::vector<std::string>& names) {
  std::vector<nlohmann::json> out;
  size_t pos = 0;
  for (const std::string& name : names) {
    const size_t slash = key.find('/', pos);
    const std::string part =
        pos > key.size() ? "" : key.substr(pos, slash == std::string::npos ? slash : slash - pos);
    if (part.compare(0, name.size() + 1, name + "=") != 0) {
      out.resize(names.size());
      return out;
    }
    out.push_back(part.substr(name.size() + 1));
    pos = slash == std::string::npos ? key.size() + 1 : slash + 1;
  }
  return out;
}

}  // namespace

Table trials_table(const std::vector<TrialRow>& trials,
                   const std::vector<std::string>& hparam_names) {
  std::set<std::string> names;
  for (const auto& t : trials)
    for (const auto& [name, v] : t.metrics) names.insert(name);
  std::vector<std::string> metric_cols;
  for (const char* first : {"val_acc", "test_acc"}) {
    if (names.erase(first)) metric_cols.push_back(first);
  }
  metric_cols.insert(metric_cols.end(), names.begin(), names.end());
  Table table;
  table.columns = {"number", "state", "key"};
  table.columns.insert(table.columns.end(), hparam_names.begin(), hparam_names.end());
  table.columns.insert(table.columns.end(), metric_cols.begin(), metric_cols.end());
  table.columns.push_back("message");
  for (const auto& t : trials) {
    std::vector<nlohmann::json> row = {t.number, evaluators::state_name(t.state), t.arch_key};
    for (auto& cell : hparam_cells(t.arch_key, hparam_names)) row.push_back(std::move(cell));
    for (const auto& m : metric_cols) {
      auto it = t.metrics.find(m);
      row.push_back(it == t.metrics.end() ? nlohmann::json() : number_or_null(it->second));
    }
    row.push_back(t.message.empty() ? nlohmann::json() : nlohmann::json(t.message));
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::vector<TrialRow> ranked(const std::vector<TrialRow>& trials, const Objective& objective,
                             size_t limit) {
  // (value, position): ties keep the trials' order; only the rows kept are
  // copied.
  std::vector<std::pair<double, size_t>> order;
  for (size_t i = 0; i < trials.size(); ++i) {
    const TrialRow& t = trials[i];
    auto it = t.metrics.find(objective.metric);
    if (t.state == TrialState::kComplete && it != t.metrics.end() && std::isfinite(it->second)) {
      order.push_back({objective.maximize ? -it->second : it->second, i});
    }
  }
  const size_t keep = std::min(limit, order.size());
  std::partial_sort(order.begin(), order.begin() + keep, order.end());
  std::vector<TrialRow> out;
  out.reserve(keep);
  for (size_t k = 0; k < keep; ++k) out.push_back(trials[order[k].second]);
  return out;
}

namespace {

// best_table's layout for trials already chosen and ordered.
Table ranked_table(const std::vector<TrialRow>& best,
                   const std::vector<std::string>& hparam_names) {
  Table table = trials_table(best, hparam_names);
  table.columns.insert(table.columns.begin(), "rank");
  table.columns.pop_back();  // message: always empty for COMPLETE trials
  table.columns.push_back("canonical");
  for (size_t i = 0; i < best.size(); ++i) {
    auto& row = table.rows[i];
    row.insert(row.begin(), static_cast<int64_t>(i + 1));
    row.back() = best[i].arch_canonical;
  }
  return table;
}

}  // namespace

Table best_table(const std::vector<TrialRow>& trials, const Objective& objective, int64_t count,
                 const std::vector<std::string>& hparam_names) {
  std::vector<TrialRow> best = ranked(trials, objective, static_cast<size_t>(count));
  return ranked_table(best, hparam_names);
}

Table pareto_table(const std::vector<TrialRow>& trials, const std::vector<Objective>& objectives,
                   const std::vector<std::string>& hparam_names) {
  std::vector<TrialRow> candidates;
  std::vector<std::vector<double>> points;
  for (const auto& t : ranked(trials, objectives.front())) {
    std::vector<double> p;
    for (const Objective& o : objectives) {
      auto it = t.metrics.find(o.metric);
      if (it == t.metrics.end() || !std::isfinite(it->second)) break;
      p.push_back(o.maximize ? it->second : -it->second);
    }
    if (p.size() != objectives.size()) continue;
    candidates.push_back(t);
    points.push_back(std::move(p));
  }
  // Two objectives: the front by sorting (views.h), O(n log n); more: the
  // non-dominated sort.
  std::vector<bool> on_front(candidates.size(), false);
  if (objectives.size() == 2) {
    std::vector<std::pair<double, double>> minimised;
    for (const auto& p : points) minimised.push_back({-p[0], -p[1]});
    for (size_t i : front_2d(minimised)) on_front[i] = true;
  } else {
    const std::vector<int> ranks = search::pareto_ranks(points);
    for (size_t i = 0; i < candidates.size(); ++i) on_front[i] = ranks[i] == 0;
  }
  std::vector<TrialRow> front;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (on_front[i]) front.push_back(candidates[i]);
  }
  return ranked_table(front, hparam_names);
}

Table status_table(Store& store, const std::vector<ExperimentRow>& experiments) {
  Table table;
  table.columns = {"name",   "created", "space",   "strategy", "evaluator", "budget", "complete",
                   "pruned", "fail",    "running", "waiting",  "objective", "best"};
  for (const auto& e : experiments) {
    auto config = ExperimentConfig::from_json(e.config_json);
    std::vector<TrialRow> trials = store.trials(e.id);
    int64_t counts[5] = {0, 0, 0, 0, 0};
    for (const auto& t : trials) counts[static_cast<int>(t.state)]++;
    std::vector<nlohmann::json> row = {e.name, e.created_at};
    if (config.is_ok()) {
      const auto& c = config.value();
      auto objectives = objectives_of(c);
      row.push_back(c.text("space"));
      row.push_back(c.text("strategy"));
      row.push_back(c.text("evaluator"));
      auto budget = c.integer("trials", 1);
      row.push_back(budget.is_ok() ? nlohmann::json(budget.value())
                                   : nlohmann::json(c.text("trials")));
      for (TrialState s : {TrialState::kComplete, TrialState::kPruned, TrialState::kFail,
                           TrialState::kRunning, TrialState::kWaiting}) {
        row.push_back(counts[static_cast<int>(s)]);
      }
      if (objectives.is_ok()) {
        std::vector<std::string> names;
        for (const auto& o : objectives.value())
          names.push_back(o.metric + (o.maximize ? ":max" : ":min"));
        row.push_back(join(names, ","));
        const auto& o = objectives.value().front();
        auto best = ranked(trials, o, 1);
        row.push_back(best.empty() ? nlohmann::json()
                                   : nlohmann::json(best[0].metrics.at(o.metric)));
      } else {
        row.push_back(nullptr);
        row.push_back(nullptr);
      }
    } else {
      row.resize(table.columns.size());
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

Table workers_table(const std::vector<WorkerRow>& workers) {
  Table table;
  table.columns = {"worker",  "host",           "pid",    "state", "slots", "coordinator",
                   "started", "last_heartbeat", "running"};
  for (const WorkerRow& w : workers) {
    std::vector<std::string> numbers;
    for (size_t i = 0; i < w.running.size(); ++i) {
      const std::string device = i < w.running_devices.size() ? w.running_devices[i] : "";
      numbers.push_back(std::to_string(w.running[i]) + (device.empty() ? "" : " (" + device + ")"));
    }
    table.rows.push_back({w.label, w.host, w.pid, w.state, w.slots, w.leader ? "yes" : "",
                          w.started_at, w.seen_at, join(numbers, ", ")});
  }
  return table;
}

std::string data_line(const std::string& data_json) {
  if (data_json.empty()) return "";
  try {
    const auto j = nlohmann::json::parse(data_json);
    auto numbers = [](const nlohmann::json& list) {
      std::vector<std::string> out;
      // A table's hundreds of columns: the first few and the count.
      for (const auto& v : list) {
        if (out.size() == 6 && list.size() > 8) {
          out.push_back(fmt::format("... ({} columns)", list.size()));
          break;
        }
        out.push_back(fmt::format("{:.3f}", v.get<double>()));
      }
      return join(out, " ");
    };
    const auto shape = j.at("shape");
    const bool table = j.value("format", "") == "csv";
    const std::string dims =
        table ? fmt::format("{} features", shape.at(0).get<int64_t>())
              : fmt::format("{}x{}x{}", shape.at(0).get<int64_t>(), shape.at(1).get<int64_t>(),
                            shape.at(2).get<int64_t>());
    return fmt::format(
        "data: {} {}: {} train, {} test{}, {}, {} classes; mean {}, std {}", j.value("format", ""),
        j.value("path", ""), j.value("train", int64_t{0}), j.value("test", int64_t{0}),
        j.value("test_held_out", false) ? " (held out)" : "", dims, j.value("classes", int64_t{0}),
        numbers(j.at("mean")), numbers(j.at("stddev")));
  } catch (const std::exception& e) {
    return fmt::format("data: unreadable ({})", e.what());
  }
}

}  // namespace sylva::experiments
