#include "experiments/views.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "base/strings.h"
#include "experiments/report.h"
#include "spaces/builders.h"
#include "spaces/hparam_space.h"

namespace sylva::experiments {
namespace {

using nlohmann::json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A number for the page, to 6 significant digits (JSON has no NaN: null).
json num(double v) {
  if (!std::isfinite(v)) return nullptr;
  if (std::fabs(v) < 1e15 && v == std::floor(v)) return static_cast<int64_t>(v);
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 6).ptr;
  double rounded = v;
  std::from_chars(buf, end, rounded);
  return rounded;
}

// Seconds, to a millisecond.
json secs(double v) {
  if (!std::isfinite(v)) return nullptr;
  return std::round(v * 1000) / 1000;
}

// Appends the '/'-separated parts of `key` to `out`, as views into it.
void split_view(const std::string& key, std::vector<std::string_view>& out) {
  const std::string_view k(key);
  size_t start = 0;
  while (true) {
    const size_t slash = k.find('/', start);
    out.push_back(k.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
}

std::string option_or(const ExperimentConfig& c, const std::string& name,
                      const std::string& fallback = "") {
  auto it = c.options.find(name);
  return it == c.options.end() || it->second.empty() ? fallback : it->second;
}

// The first objective's value of a finished trial, NaN if it has none.
double value_of(const TrialRow& t, const Objective& o) {
  auto it = t.metrics.find(o.metric);
  return it == t.metrics.end() ? kNaN : it->second;
}

bool better(double a, double b, bool maximize) { return maximize ? a > b : a < b; }

// The times of a trial relative to the experiment's start.
struct Clock {
  double origin = kNaN;
  double at(const std::string& iso) const { return parse_utc(iso) - origin; }
};

Clock clock_of(const ExperimentData& d) {
  Clock c;
  c.origin = parse_utc(d.row.created_at);
  // Trials are created in order: the first is the earliest.
  if (!d.trials.empty()) {
    const double created = parse_utc(d.trials.front().created_at);
    if (std::isfinite(created) && !(created >= c.origin)) c.origin = created;
  }
  return c;
}

// Each trial's start and end, read once for every view.
struct Times {
  Clock clock;
  std::vector<double> start, end;  // seconds since the experiment's start; NaN: none
};

Times times_of(const ExperimentData& d, size_t from = 0) {
  Times t;
  t.clock = clock_of(d);
  t.start.reserve(d.trials.size() - std::min(from, d.trials.size()));
  t.end.reserve(t.start.capacity());
  for (size_t i = from; i < d.trials.size(); ++i) {
    t.start.push_back(t.clock.at(d.trials[i].started_at));
    t.end.push_back(t.clock.at(d.trials[i].finished_at));
  }
  return t;
}

json summary_view(const ExperimentData& d, const std::vector<Objective>& objectives,
                  const Times& times) {
  json s;
  const ExperimentConfig& c = d.config;
  s["space"] = option_or(c, "space");
  s["strategy"] = option_or(c, "strategy");
  s["evaluator"] = option_or(c, "evaluator");
  s["budget"] = num(std::atof(option_or(c, "trials", "0").c_str()));
  s["seed"] = option_or(c, "seed");
  s["created"] = d.row.created_at;
  int64_t counts[5] = {0, 0, 0, 0, 0};
  double last = kNaN, busy = 0;
  for (size_t i = 0; i < d.trials.size(); ++i) {
    counts[static_cast<int>(d.trials[i].state)]++;
    const double end = times.end[i], start = times.start[i];
    if (std::isfinite(end) && !(end <= last)) last = end;
    if (std::isfinite(end) && std::isfinite(start)) busy += std::max(0.0, end - start);
  }
  std::map<std::string, int64_t> states;
  for (TrialState st : {TrialState::kComplete, TrialState::kPruned, TrialState::kFail,
                        TrialState::kRunning, TrialState::kWaiting}) {
    states[state_name(st)] = counts[static_cast<int>(st)];
  }
  s["states"] = states;
  s["trials"] = d.trials.size();
  s["seconds"] = secs(last);
  s["busy_seconds"] = secs(busy);
  std::set<std::string> labels;
  for (const WorkerRow& w : d.workers) labels.insert(w.label);
  s["workers"] = labels.size();
  json objs = json::array();
  for (const Objective& o : objectives)
    objs.push_back({{"name", o.metric}, {"maximize", o.maximize}});
  s["objectives"] = objs;
  const Objective& o = objectives.front();
  const TrialRow* best = nullptr;
  for (const TrialRow& t : d.trials) {
    if (t.state != TrialState::kComplete) continue;
    const double v = value_of(t, o);
    if (!std::isfinite(v)) continue;
    if (!best || better(v, value_of(*best, o), o.maximize)) best = &t;
  }
  if (best) {
    s["best"] = {
        {"number", best->number}, {"value", num(value_of(*best, o))}, {"key", best->arch_key}};
  }
  return s;
}

// Objective per finished trial in trial order, the best-so-far steps, and
// the failed and pruned trials; thinned to min and max per bin beyond
// `limit` points.
json history_view(const ExperimentData& d, const Objective& o, const Times& times, size_t limit) {
  struct Point {
    int64_t number;
    double t, y;
  };
  std::vector<Point> complete, pruned;
  json failed = json::array();
  json best = json::array();
  double best_value = kNaN;
  size_t failed_count = 0;
  for (size_t i = 0; i < d.trials.size(); ++i) {
    const TrialRow& t = d.trials[i];
    const double at = times.end[i];
    if (t.state == TrialState::kFail) {
      if (failed_count++ < limit) failed.push_back({t.number, secs(at)});
      continue;
    }
    if (t.state != TrialState::kComplete && t.state != TrialState::kPruned) continue;
    const double v = value_of(t, o);
    if (!std::isfinite(v)) continue;
    (t.state == TrialState::kComplete ? complete : pruned).push_back({t.number, at, v});
    if (t.state == TrialState::kComplete &&
        (!std::isfinite(best_value) || better(v, best_value, o.maximize))) {
      best_value = v;
      best.push_back({t.number, secs(at), num(v)});
    }
  }
  // Bins of consecutive points; each keeps its lowest and highest.
  auto thin = [&](const std::vector<Point>& pts, size_t cap) {
    json out = json::array();
    if (pts.size() <= cap) {
      for (const Point& p : pts) out.push_back({p.number, secs(p.t), num(p.y)});
      return out;
    }
    const size_t bins = std::max<size_t>(1, cap / 2);
    for (size_t b = 0; b < bins; ++b) {
      const size_t lo = b * pts.size() / bins, hi = (b + 1) * pts.size() / bins;
      if (lo >= hi) continue;
      size_t mn = lo, mx = lo;
      for (size_t i = lo; i < hi; ++i) {
        if (pts[i].y < pts[mn].y) mn = i;
        if (pts[i].y > pts[mx].y) mx = i;
      }
      for (size_t i : {std::min(mn, mx), std::max(mn, mx)}) {
        out.push_back({pts[i].number, secs(pts[i].t), num(pts[i].y)});
        if (mn == mx) break;
      }
    }
    return out;
  };
  json h;
  h["objective"] = o.metric;
  h["maximize"] = o.maximize;
  h["complete"] = thin(complete, limit);
  h["pruned"] = thin(pruned, limit / 2);
  h["failed"] = failed;
  h["best"] = best;
  // By wall time the record is another one: trials finish out of order.
  {
    std::vector<const Point*> by_time;
    for (const Point& p : complete) {
      if (std::isfinite(p.t)) by_time.push_back(&p);
    }
    std::stable_sort(by_time.begin(), by_time.end(),
                     [](const Point* a, const Point* b) { return a->t < b->t; });
    json steps = json::array();
    double record = kNaN;
    for (const Point* p : by_time) {
      if (std::isfinite(record) && !better(p->y, record, o.maximize)) continue;
      record = p->y;
      steps.push_back({p->number, secs(p->t), num(p->y)});
    }
    h["best_by_time"] = steps;
  }
  if (!d.trials.empty()) h["last"] = {d.trials.back().number};
  h["counts"] = {
      {"complete", complete.size()}, {"pruned", pruned.size()}, {"failed", failed_count}};
  std::vector<std::string> notes;
  if (complete.size() > limit) {
    notes.push_back(fmt::format(
        "{} completed trials shown as {} points: the lowest and highest of "
        "each run of {} consecutive trials",
        complete.size(), h["complete"].size(), (complete.size() + limit / 2 - 1) / (limit / 2)));
  }
  if (pruned.size() > limit / 2) {
    notes.push_back(
        fmt::format("{} pruned trials shown as {} points", pruned.size(), h["pruned"].size()));
  }
  if (failed_count > limit) {
    notes.push_back(fmt::format("the first {} of {} failed trials marked", limit, failed_count));
  }
  h["note"] = join(notes, "; ");
  return h;
}

// Learning curves of the metric the experiment optimises (else the first
// reported), the rungs of successive halving.
json curves_view(const ExperimentData& d, const Objective& o, const ViewLimits& limits) {
  json c;
  if (d.intermediates.empty()) return c;
  std::string metric;
  for (const IntermediateRow& r : d.intermediates) {
    if (r.name == o.metric) metric = o.metric;
  }
  if (metric.empty()) metric = d.intermediates.front().name;
  // Rows come by trial number, then step.
  struct Curve {
    int64_t number = 0;
    std::vector<std::pair<int, double>> points;
  };
  std::vector<Curve> curves;
  for (const IntermediateRow& r : d.intermediates) {
    if (r.name != metric || !std::isfinite(r.value)) continue;
    if (curves.empty() || curves.back().number != r.trial_number)
      curves.push_back({r.trial_number, {}});
    curves.back().points.push_back({r.step, r.value});
  }
  std::unordered_map<int64_t, const TrialRow*> by_number;
  for (const TrialRow& t : d.trials) by_number[t.number] = &t;
  // The best by their last value, then evenly spaced others.
  std::vector<size_t> order(curves.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<size_t> chosen;
  if (curves.size() <= limits.curves) {
    chosen = order;
  } else {
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const auto& pa = curves[a].points.back();
      const auto& pb = curves[b].points.back();
      if (pa.first != pb.first) return pa.first > pb.first;
      return better(pa.second, pb.second, o.maximize);
    });
    const size_t top = limits.curves / 2;
    std::set<size_t> picked(order.begin(), order.begin() + top);
    const size_t rest = limits.curves - top;
    for (size_t k = 0; k < rest; ++k) picked.insert(order[top + k * (order.size() - top) / rest]);
    chosen.assign(picked.begin(), picked.end());
  }
  json series = json::array();
  for (size_t i : chosen) {
    const Curve& cv = curves[i];
    auto it = by_number.find(cv.number);
    const std::string state = it == by_number.end() ? "" : state_name(it->second->state);
    json pts = json::array();
    const size_t n = cv.points.size(), cap = limits.curve_steps;
    for (size_t k = 0; k < n; ++k) {
      // Evenly spaced steps, always the last.
      if (n > cap && k + 1 != n && (k * cap / n) == ((k + 1) * cap / n)) continue;
      pts.push_back({cv.points[k].first, num(cv.points[k].second)});
    }
    series.push_back({{"number", cv.number}, {"state", state}, {"points", pts}});
  }
  c["metric"] = metric;
  c["series"] = series;
  c["total"] = curves.size();
  if (curves.size() > chosen.size()) {
    c["note"] = fmt::format(
        "{} of {} learning curves drawn: the {} that got furthest and best, "
        "and evenly spaced others",
        chosen.size(), curves.size(), limits.curves / 2);
  }
  json rungs = json::array();
  if (option_or(d.config, "fidelity", "none") == "epochs") {
    const double lo = std::atof(option_or(d.config, "min-epochs", "1").c_str());
    const double hi = std::atof(option_or(d.config, "max-epochs", "9").c_str());
    const double eta = std::atof(option_or(d.config, "eta", "3").c_str());
    if (lo >= 1 && hi >= lo && eta > 1) {
      for (double e = lo; e < hi * (1 + 1e-9); e *= eta) rungs.push_back(num(std::round(e)));
    }
  }
  c["rungs"] = rungs;
  return c;
}

// Points of the completed trials that have every objective, minimised.
struct Scored {
  std::vector<const TrialRow*> trials;
  std::vector<std::vector<double>> points;  // minimised coordinates
};

Scored scored(const ExperimentData& d, const std::vector<Objective>& objectives) {
  Scored s;
  for (const TrialRow& t : d.trials) {
    if (t.state != TrialState::kComplete) continue;
    std::vector<double> p;
    for (const Objective& o : objectives) {
      const double v = value_of(t, o);
      if (!std::isfinite(v)) break;
      p.push_back(o.maximize ? -v : v);
    }
    if (p.size() != objectives.size()) continue;
    s.trials.push_back(&t);
    s.points.push_back(std::move(p));
  }
  return s;
}

double shown(double minimised, const Objective& o) { return o.maximize ? -minimised : minimised; }

json pareto_view(const ExperimentData& d, const std::vector<Objective>& objectives,
                 const ViewLimits& limits) {
  const Scored s = scored(d, objectives);
  json p;
  p["objectives"] = {objectives[0].metric, objectives[1].metric};
  p["maximize"] = {objectives[0].maximize, objectives[1].maximize};
  std::vector<std::pair<double, double>> pts;
  for (const auto& v : s.points) pts.push_back({v[0], v[1]});
  const std::vector<size_t> front = front_2d(pts);
  std::vector<bool> on_front(pts.size(), false);
  for (size_t i : front) on_front[i] = true;
  auto mark = [&](size_t i) {
    return json{num(shown(pts[i].first, objectives[0])), num(shown(pts[i].second, objectives[1])),
                s.trials[i]->number};
  };
  json fj = json::array();
  for (size_t i : front) fj.push_back(mark(i));
  p["front"] = fj;
  // Dominated trials: all, or one per cell of a grid over their range.
  json dom = json::array();
  const size_t dominated = pts.size() - front.size();
  if (dominated <= limits.scatter_points) {
    for (size_t i = 0; i < pts.size(); ++i) {
      if (!on_front[i]) dom.push_back(mark(i));
    }
  } else {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (const auto& q : pts) {
      x0 = std::min(x0, q.first), x1 = std::max(x1, q.first);
      y0 = std::min(y0, q.second), y1 = std::max(y1, q.second);
    }
    const int side = static_cast<int>(std::sqrt(static_cast<double>(limits.scatter_points)));
    std::vector<bool> taken(static_cast<size_t>(side) * side, false);
    auto cell = [&](double v, double lo, double hi) {
      if (!(hi > lo)) return 0;
      return std::min(side - 1, static_cast<int>((v - lo) / (hi - lo) * side));
    };
    for (size_t i = 0; i < pts.size(); ++i) {
      if (on_front[i]) continue;
      const size_t c =
          static_cast<size_t>(cell(pts[i].first, x0, x1)) * side + cell(pts[i].second, y0, y1);
      if (taken[c]) continue;
      taken[c] = true;
      dom.push_back(mark(i));
    }
    p["note"] = fmt::format("{} dominated trials shown as {} points, one per cell of a {}x{} grid",
                            dominated, dom.size(), side, side);
  }
  p["dominated"] = dom;
  p["counts"] = {{"scored", pts.size()}, {"front", front.size()}, {"dominated", dominated}};
  // The hypervolume after each completed trial, at evenly spaced checkpoints.
  if (!pts.empty()) {
    std::pair<double, double> worst = pts[0], ideal = pts[0];
    for (const auto& q : pts) {
      worst = {std::max(worst.first, q.first), std::max(worst.second, q.second)};
      ideal = {std::min(ideal.first, q.first), std::min(ideal.second, q.second)};
    }
    // A reference a little worse than the worst seen, so that extremes count.
    // (A range of 0 still moves it: relative to the magnitude.)
    auto margin = [](double worst, double ideal) {
      return 0.01 * std::max(worst - ideal, 1e-6 * std::max(1.0, std::fabs(worst)));
    };
    const std::pair<double, double> ref = {worst.first + margin(worst.first, ideal.first),
                                           worst.second + margin(worst.second, ideal.second)};
    std::vector<size_t> checkpoints;
    const size_t n = pts.size(), k = std::min(n, limits.hypervolume_points);
    for (size_t i = 1; i <= k; ++i) checkpoints.push_back(i * n / k - 1);
    const std::vector<double> hv = hypervolume_2d_over(pts, ref, checkpoints);
    json curve = json::array();
    for (size_t i = 0; i < checkpoints.size(); ++i) {
      curve.push_back({s.trials[checkpoints[i]]->number, num(hv[i])});
    }
    p["hypervolume"] = curve;
    p["reference"] = {num(shown(ref.first, objectives[0])), num(shown(ref.second, objectives[1]))};
  }
  return p;
}

// Three or more objectives: the front first, then evenly spaced others, each
// a line over the objectives (and, for spaces of fixed decisions, the
// decisions as choice indices); every axis scaled to [0, 1] on the page.
json parallel_view(const ExperimentData& d, const std::vector<Objective>& objectives,
                   const ViewLimits& limits) {
  const Scored s = scored(d, objectives);
  // The front against the current front, among the kCandidates best by the
  // first objective: a point dominated by any other is dominated by one at
  // least as good on the first, so these are exactly the front's members
  // among them, in O(kCandidates * front).
  constexpr size_t kCandidates = 2000;
  std::vector<size_t> by_first(s.points.size());
  for (size_t i = 0; i < by_first.size(); ++i) by_first[i] = i;
  const size_t candidates = std::min(kCandidates, by_first.size());
  std::partial_sort(by_first.begin(), by_first.begin() + candidates, by_first.end(),
                    [&](size_t a, size_t b) {
                      return s.points[a] < s.points[b];  // lexicographic: ties broken on the rest
                    });
  std::vector<size_t> front;
  for (size_t c = 0; c < candidates; ++c) {
    const size_t i = by_first[c];
    auto dominated_by = [&](const std::vector<double>& a, const std::vector<double>& b) {
      bool strict = false;
      for (size_t k = 0; k < a.size(); ++k) {
        if (b[k] > a[k]) return false;
        strict |= b[k] < a[k];
      }
      return strict;
    };
    bool dominated = false;
    for (size_t f : front) {
      if (dominated_by(s.points[i], s.points[f])) {
        dominated = true;
        break;
      }
    }
    if (dominated) continue;
    front.erase(std::remove_if(front.begin(), front.end(),
                               [&](size_t f) { return dominated_by(s.points[f], s.points[i]); }),
                front.end());
    front.push_back(i);
  }
  std::set<size_t> chosen;
  for (size_t f : front) {
    if (chosen.size() >= limits.lines / 2) break;
    chosen.insert(f);
  }
  const size_t rest = limits.lines - chosen.size();
  if (s.points.size() <= limits.lines) {
    for (size_t i = 0; i < s.points.size(); ++i) chosen.insert(i);
  } else {
    for (size_t k = 0; k < rest; ++k) chosen.insert(k * s.points.size() / rest);
  }
  std::set<size_t> front_set(front.begin(), front.end());
  json axes = json::array();
  for (const Objective& o : objectives) axes.push_back(o.metric);
  // Decisions as axes when every key has the same number of parts.
  size_t parts = 0;
  bool fixed = !s.trials.empty();
  std::vector<std::string_view> labels;
  for (const TrialRow* t : s.trials) {
    labels.clear();
    split_view(t->arch_key, labels);
    if (parts == 0) parts = labels.size();
    fixed &= labels.size() == parts;
  }
  std::vector<std::map<std::string_view, int>> codes(fixed ? parts : 0);
  if (fixed && parts <= 12) {
    for (size_t k = 0; k < parts; ++k) axes.push_back(fmt::format("decision {}", k + 1));
  } else {
    fixed = false;
  }
  json lines = json::array();
  for (size_t i : chosen) {
    json values = json::array();
    for (size_t k = 0; k < objectives.size(); ++k)
      values.push_back(num(shown(s.points[i][k], objectives[k])));
    if (fixed) {
      labels.clear();
      split_view(s.trials[i]->arch_key, labels);
      for (size_t k = 0; k < parts; ++k) {
        auto [it, added] = codes[k].emplace(labels[k], static_cast<int>(codes[k].size()));
        values.push_back(it->second);
      }
    }
    lines.push_back(
        {{"number", s.trials[i]->number}, {"front", front_set.count(i) > 0}, {"values", values}});
  }
  json p;
  p["axes"] = axes;
  p["lines"] = lines;
  p["counts"] = {{"scored", s.points.size()}, {"front", front.size()}};
  if (s.points.size() > chosen.size()) {
    p["note"] =
        fmt::format("{} of {} trials drawn: {} of the front, evenly spaced others", chosen.size(),
                    s.points.size(), std::min(front.size(), limits.lines / 2));
  }
  p["hypervolume_note"] = "the hypervolume is drawn for two objectives";
  if (s.points.size() > kCandidates) {
    p["front_note"] =
        fmt::format("front marked among the {} best by {}", kCandidates, objectives[0].metric);
  }
  return p;
}

// A decision of many numeric values (a continuous hyperparameter: every
// trial its own lr) would explain all the variance with one group per trial:
// beyond kMaxGroups such values become kBins ranges of about equal counts,
// labelled "lo..hi".
void bin_numbers(std::vector<std::string>& labels, std::vector<int>& group) {
  constexpr size_t kMaxGroups = 12, kBins = 8;
  if (labels.size() <= kMaxGroups) return;
  std::vector<double> value(labels.size());
  for (size_t g = 0; g < labels.size(); ++g) {
    const char* begin = labels[g].data();
    const char* end = begin + labels[g].size();
    auto [ptr, ec] = std::from_chars(begin, end, value[g]);
    if (ec != std::errc() || ptr != end || !std::isfinite(value[g])) return;  // not numbers
  }
  std::vector<double> sorted;
  sorted.reserve(group.size());
  for (int g : group) sorted.push_back(value[g]);
  std::sort(sorted.begin(), sorted.end());
  // Upper edges at the quantiles; equal values stay in one bin.
  std::vector<double> edges;
  for (size_t b = 1; b < kBins; ++b) {
    const double q = sorted[b * sorted.size() / kBins];
    if (edges.empty() || q > edges.back()) edges.push_back(q);
  }
  auto bin_of = [&](double v) {
    return static_cast<int>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin() -
                            (std::binary_search(edges.begin(), edges.end(), v) ? 1 : 0));
  };
  const size_t bins = edges.size() + 1;
  std::vector<double> lo(bins, INFINITY), hi(bins, -INFINITY);
  for (int& g : group) {
    const double v = value[g];
    g = bin_of(v);
    lo[g] = std::min(lo[g], v), hi[g] = std::max(hi[g], v);
  }
  // Bins left empty are dropped, the rest renumbered in order.
  std::vector<int> renumber(bins, -1);
  labels.clear();
  for (size_t b = 0; b < bins; ++b) {
    if (!(lo[b] <= hi[b])) continue;
    renumber[b] = static_cast<int>(labels.size());
    labels.push_back(lo[b] == hi[b] ? fmt::format("{:.4g}", lo[b])
                                    : fmt::format("{:.4g}..{:.4g}", lo[b], hi[b]));
  }
  for (int& g : group) g = renumber[g];
}

// For each decision, how much of the objective's variance its choice
// explains, and the objective's mean and spread per choice. Spaces whose
// architectures have the same decisions: one decision per key position
// (named by its hyperparameter or its grammar rule); others (grammars of
// varying depth): whether a choice label appears in the architecture.
json importance_view(const ExperimentData& d, const Objective& o) {
  // The completed trials' values and key parts, flat: parts[offset[i] ..
  // offset[i + 1]) are trial i's (views into the trials' keys).
  std::vector<double> y;
  std::vector<std::string_view> parts;
  std::vector<size_t> offset = {0};
  const TrialRow* first = nullptr;
  for (const TrialRow& t : d.trials) {
    if (t.state != TrialState::kComplete) continue;
    const double v = value_of(t, o);
    if (!std::isfinite(v)) continue;
    if (!first) first = &t;
    y.push_back(v);
    split_view(t.arch_key, parts);
    offset.push_back(parts.size());
  }
  const size_t n = y.size();
  auto width = [&](size_t i) { return offset[i + 1] - offset[i]; };
  json imp;
  imp["objective"] = o.metric;
  imp["trials"] = n;
  json decisions = json::array();
  if (n < 2) {
    imp["decisions"] = decisions;
    return imp;
  }
  bool fixed = true;
  for (size_t i = 0; i < n; ++i) fixed &= width(i) == width(0);
  struct Feature {
    std::string name;
    std::vector<std::string> labels;  // of the groups
    std::vector<int> group;           // per trial
  };
  std::vector<Feature> features;
  if (fixed) {
    const size_t positions = width(0);
    // Names: a hyperparameter's, else the decision's rule in the space.
    std::vector<std::string> names(positions);
    std::vector<DecisionSlot> slots;
    auto space = space_from_source(option_or(d.config, "space"), d.config.space_source);
    if (space.is_ok()) {
      auto arch = space.value()->parse(first->arch_key);
      if (arch.is_ok()) slots = space.value()->slots(arch.value().decisions);
    }
    std::map<std::string, int> seen_kind;
    for (size_t k = 0; k < positions; ++k) {
      const std::string_view label = parts[k];
      const size_t eq = label.find('=');
      if (eq != std::string_view::npos && eq > 0) {
        names[k] = std::string(label.substr(0, eq));
      } else if (slots.size() == positions && !slots[k].kind.empty() &&
                 slots[k].kind != fmt::format("d{}", k)) {
        names[k] = fmt::format("{} {}", slots[k].kind, ++seen_kind[slots[k].kind]);
      } else {
        names[k] = fmt::format("decision {}", k + 1);
      }
    }
    for (size_t k = 0; k < positions; ++k) {
      Feature f{names[k], {}, std::vector<int>(n)};
      std::unordered_map<std::string_view, int> index;
      for (size_t i = 0; i < n; ++i) {
        std::string_view label = parts[offset[i] + k];
        const size_t eq = label.find('=');
        if (eq != std::string_view::npos && label.substr(0, eq) == names[k]) {
          label = label.substr(eq + 1);
        }
        auto [it, added] = index.emplace(label, static_cast<int>(f.labels.size()));
        if (added) f.labels.emplace_back(label);
        f.group[i] = it->second;
      }
      bin_numbers(f.labels, f.group);
      if (f.labels.size() > 1) features.push_back(std::move(f));
    }
    imp["kind"] = "decisions";
  } else {
    // Labels present in between 1% and 99% of the architectures.
    std::unordered_map<std::string_view, size_t> count;
    std::unordered_map<std::string_view, size_t> last_seen;  // label -> trial + 1
    for (size_t i = 0; i < n; ++i) {
      for (size_t p = offset[i]; p < offset[i + 1]; ++p) {
        size_t& seen = last_seen[parts[p]];
        if (seen == i + 1) continue;
        seen = i + 1;
        count[parts[p]]++;
      }
    }
    std::vector<std::string_view> labels;
    for (const auto& [l, c] : count) {
      if (c * 100 >= n && c * 100 <= 99 * n && c < n) labels.push_back(l);
    }
    std::sort(labels.begin(), labels.end());
    std::unordered_map<std::string_view, size_t> column;
    for (size_t i = 0; i < labels.size(); ++i) {
      column[labels[i]] = i;
      features.push_back({std::string(labels[i]), {"without", "with"}, std::vector<int>(n, 0)});
    }
    for (size_t i = 0; i < n; ++i) {
      for (size_t p = offset[i]; p < offset[i + 1]; ++p) {
        auto it = column.find(parts[p]);
        if (it != column.end()) features[it->second].group[i] = 1;
      }
    }
    imp["kind"] = "choices";
  }
  struct Scoredf {
    double share;
    json j;
  };
  std::vector<Scoredf> out;
  for (const Feature& f : features) {
    const int groups = static_cast<int>(f.labels.size());
    const double share = variance_share(y, f.group, groups);
    std::vector<double> sum(groups, 0), sq(groups, 0);
    std::vector<size_t> count(groups, 0);
    for (size_t i = 0; i < n; ++i) {
      sum[f.group[i]] += y[i];
      sq[f.group[i]] += y[i] * y[i];
      count[f.group[i]]++;
    }
    json choices = json::array();
    for (int g = 0; g < groups; ++g) {
      const double c = static_cast<double>(count[g]);
      const double mean = sum[g] / c;
      const double var = count[g] > 1 ? std::max(0.0, (sq[g] - c * mean * mean) / (c - 1)) : 0;
      choices.push_back({{"label", f.labels[g]},
                         {"mean", num(mean)},
                         {"sd", num(std::sqrt(var))},
                         {"count", count[g]}});
    }
    out.push_back({share, {{"name", f.name}, {"share", num(share)}, {"choices", choices}}});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Scoredf& a, const Scoredf& b) { return a.share > b.share; });
  const size_t keep = 30;
  for (size_t i = 0; i < out.size() && i < keep; ++i) decisions.push_back(out[i].j);
  if (out.size() > keep) {
    imp["note"] = fmt::format("the {} of {} choices that explain most", keep, out.size());
  }
  imp["decisions"] = decisions;
  return imp;
}

// Which trial ran where and when: one bar per trial on its worker's row
// (adjacent trials of a worker merged beyond the limit), and marks for
// failures and re-queues.
json timeline_view(const ExperimentData& d, const Times& times, const ViewLimits& limits,
                   double now) {
  const Clock& clock = times.clock;
  std::vector<std::string> labels;
  std::unordered_map<std::string, int> index;
  auto worker_index = [&](const std::string& label) {
    auto [it, added] = index.emplace(label, static_cast<int>(labels.size()));
    if (added) labels.push_back(label);
    return it->second;
  };
  for (const WorkerRow& w : d.workers) worker_index(w.label);
  double end_of_data = 0;
  for (double e : times.end) {
    if (std::isfinite(e)) end_of_data = std::max(end_of_data, e);
  }
  for (const EventRow& e : d.events) {
    const double at = clock.at(e.at);
    if (std::isfinite(at)) end_of_data = std::max(end_of_data, at);
  }
  const double open_end = std::isfinite(now) ? now - clock.origin : end_of_data;
  struct Bar {
    int worker;
    double start, end;
    int64_t number;
    std::string state;
  };
  std::vector<Bar> bars;
  for (size_t i = 0; i < d.trials.size(); ++i) {
    const TrialRow& t = d.trials[i];
    if (t.worker.empty()) continue;
    const double start = times.start[i];
    if (!std::isfinite(start)) continue;
    double end = times.end[i];
    if (!std::isfinite(end)) end = std::max(start, open_end);
    bars.push_back({worker_index(t.worker), start, end, t.number, state_name(t.state)});
  }
  json tl;
  json out = json::array();
  if (bars.size() <= limits.timeline_bars) {
    for (const Bar& b : bars)
      out.push_back({b.worker, secs(b.start), secs(b.end), b.number, b.state});
  } else {
    // Per worker, by start: runs closer than the span over the limit merge.
    std::stable_sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) {
      return a.worker != b.worker ? a.worker < b.worker : a.start < b.start;
    });
    double span = 0;
    for (const Bar& b : bars) span = std::max(span, b.end);
    const double gap = span / static_cast<double>(limits.timeline_bars) * labels.size();
    size_t merged = 0;
    for (size_t i = 0; i < bars.size();) {
      size_t j = i + 1;
      double end = bars[i].end;
      while (j < bars.size() && bars[j].worker == bars[i].worker && bars[j].start - end <= gap) {
        end = std::max(end, bars[j].end);
        ++j;
      }
      out.push_back({bars[i].worker, secs(bars[i].start), secs(end), bars[i].number,
                     j - i == 1 ? bars[i].state : fmt::format("{} trials", j - i)});
      merged += j - i > 1;
      i = j;
    }
    tl["note"] = fmt::format(
        "{} trials drawn as {} bars: a worker's trials closer than {:.3g} s "
        "merged",
        bars.size(), out.size(), gap);
  }
  json marks = json::array();
  size_t mark_count = 0;
  for (const EventRow& e : d.events) {
    if (e.event != "requeued" && e.event != "released" && e.event != "failed") continue;
    const double at = clock.at(e.at);
    if (!std::isfinite(at)) continue;
    if (mark_count++ >= limits.timeline_marks) continue;
    // A re-queue names the worker that held the trial ("worker LABEL lost
    // ...", or the label alone): a word of the message equal to a label.
    int w = -1;
    for (size_t start = 0; start < e.message.size() && w < 0;) {
      const size_t end = std::min(e.message.find_first_of(" ,;()", start), e.message.size());
      auto it = index.find(e.message.substr(start, end - start));
      if (it != index.end()) w = it->second;
      start = end + 1;
    }
    if (w < 0) {
      // Trials are by number.
      auto it = std::lower_bound(d.trials.begin(), d.trials.end(), e.trial_number,
                                 [](const TrialRow& t, int64_t n) { return t.number < n; });
      if (it != d.trials.end() && it->number == e.trial_number && !it->worker.empty()) {
        w = worker_index(it->worker);
      }
    }
    if (w < 0) continue;
    marks.push_back({w, secs(at), e.event, e.trial_number});
  }
  if (mark_count > limits.timeline_marks) {
    tl["marks_note"] =
        fmt::format("the first {} of {} events marked", limits.timeline_marks, mark_count);
  }
  tl["workers"] = labels;
  tl["bars"] = out;
  tl["marks"] = marks;
  tl["trials"] = bars.size();
  return tl;
}

// The best completed trials with what their drawing needs.
json best_view(const ExperimentData& d, const Objective& o, const ViewLimits& limits) {
  json b;
  const std::vector<TrialRow> top = ranked(d.trials, o, limits.best);
  json trials = json::array();
  for (const TrialRow& t : top) {
    json metrics = json::object();
    for (const auto& [k, v] : t.metrics) metrics[k] = num(v);
    trials.push_back({{"number", t.number},
                      {"value", num(value_of(t, o))},
                      {"key", t.arch_key},
                      {"canonical", t.arch_canonical},
                      {"metrics", metrics}});
  }
  b["trials"] = trials;
  // How the space builds a network: the drawing follows it.
  std::string builder = "tree";
  json stages = json::array();
  const std::string& source = d.config.space_source;
  if (is_supernet_source(source)) {
    builder = "supernet";
  } else {
    auto space = space_from_source(option_or(d.config, "space"), source);
    if (space.is_ok()) {
      const BuildSpec& spec = space.value()->build_spec();
      // As the builder's table says: mlp networks are drawn as a chain of
      // their layers, einspace's (and a builder without an entry) as a tree.
      const BuilderDef* def = find_builder(spec.builder);
      builder = def != nullptr ? def->drawing : "tree";
      for (int s : spec.stages) stages.push_back(s);
    }
  }
  b["builder"] = builder;
  b["stages"] = stages;
  return b;
}

// Limits every view can work with (a bin holds two points, a grid a cell).
ViewLimits sane(ViewLimits l) {
  l.history_points = std::max<size_t>(l.history_points, 4);
  l.scatter_points = std::max<size_t>(l.scatter_points, 1);
  l.curves = std::max<size_t>(l.curves, 2);
  l.curve_steps = std::max<size_t>(l.curve_steps, 2);
  l.lines = std::max<size_t>(l.lines, 2);
  l.timeline_bars = std::max<size_t>(l.timeline_bars, 1);
  l.hypervolume_points = std::max<size_t>(l.hypervolume_points, 1);
  l.comparison_points = std::max<size_t>(l.comparison_points, 1);
  l.best = std::max<size_t>(l.best, 1);
  return l;
}

}  // namespace

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

double parse_utc(const std::string& iso) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z
  if (iso.size() < 19 || iso[4] != '-' || iso[7] != '-' || (iso[10] != 'T' && iso[10] != ' ') ||
      iso[13] != ':' || iso[16] != ':') {
    return kNaN;
  }
  auto digits = [&](size_t at, size_t n, int& out) {
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (iso[i] < '0' || iso[i] > '9') return false;
      out = out * 10 + (iso[i] - '0');
    }
    return true;
  };
  int y, mo, da, h, mi, s;
  if (!digits(0, 4, y) || !digits(5, 2, mo) || !digits(8, 2, da) || !digits(11, 2, h) ||
      !digits(14, 2, mi) || !digits(17, 2, s)) {
    return kNaN;
  }
  double frac = 0;
  if (iso.size() > 20 && iso[19] == '.') {
    double scale = 0.1;
    for (size_t i = 20; i < iso.size() && iso[i] >= '0' && iso[i] <= '9'; ++i, scale /= 10) {
      frac += (iso[i] - '0') * scale;
    }
  }
  // Days from the civil date (Howard Hinnant's algorithm).
  y -= mo <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + da - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const double days = static_cast<double>(era) * 146097 + static_cast<double>(doe) - 719468;
  return days * 86400 + h * 3600 + mi * 60 + s + frac;
}

StatusOr<ExperimentData> load_experiment(Store& store, const ExperimentRow& row) {
  ExperimentData d;
  d.row = row;
  auto config = ExperimentConfig::from_json(row.config_json);
  if (!config.is_ok()) {
    return Status::corruption(
        fmt::format("experiment '{}': its stored configuration does not "
                    "read: {}",
                    row.name, config.status().message()));
  }
  d.config = std::move(config).value();
  d.trials = store.trials(row.id);
  d.intermediates = store.intermediates(row.id);
  d.events = store.events(row.id);
  d.workers = store.workers(row.id);
  return d;
}

json experiment_views(const ExperimentData& d, const ViewLimits& given, double now) {
  const ViewLimits limits = sane(given);
  json v;
  v["name"] = d.row.name;
  auto objectives = objectives_of(d.config);
  std::vector<Objective> objs =
      objectives.is_ok() ? objectives.value() : std::vector<Objective>{{"val_acc", true}};
  const Times times = times_of(d);
  v["summary"] = summary_view(d, objs, times);
  v["history"] = history_view(d, objs.front(), times, limits.history_points);
  v["curves"] = curves_view(d, objs.front(), limits);
  if (objs.size() == 2) v["pareto"] = pareto_view(d, objs, limits);
  if (objs.size() > 2) v["parallel"] = parallel_view(d, objs, limits);
  v["importance"] = importance_view(d, objs.front());
  v["timeline"] = timeline_view(d, times, limits, now);
  v["best"] = best_view(d, objs.front(), limits);
  return v;
}

json trial_columns(const ExperimentData& d, int64_t first) {
  json c;
  std::vector<std::string_view> labels;
  std::unordered_map<std::string_view, int> label_index;
  std::vector<std::string_view> parts;
  std::vector<std::string> workers;
  std::unordered_map<std::string, int> worker_index;
  std::set<std::string> metric_names;
  // Trials are by number.
  const size_t from = static_cast<size_t>(
      std::lower_bound(d.trials.begin(), d.trials.end(), first,
                       [](const TrialRow& t, int64_t n) { return t.number < n; }) -
      d.trials.begin());
  std::vector<const TrialRow*> rows;
  rows.reserve(d.trials.size() - from);
  for (size_t i = from; i < d.trials.size(); ++i) {
    rows.push_back(&d.trials[i]);
    for (const auto& [k, v] : d.trials[i].metrics) metric_names.insert(k);
  }
  // val_acc and test_acc first, as in `sylva trials`.
  std::vector<std::string> names;
  for (const char* n : {"val_acc", "test_acc"}) {
    if (metric_names.erase(n)) names.push_back(n);
  }
  names.insert(names.end(), metric_names.begin(), metric_names.end());
  json number = json::array(), state = json::array(), key = json::array(), started = json::array(),
       seconds = json::array(), worker = json::array(), retries = json::array();
  json messages = json::object();
  std::map<std::string, json> metrics;
  for (const auto& n : names) metrics[n] = json::array();
  const Times times = times_of(d, from);
  for (size_t r = 0; r < rows.size(); ++r) {
    const TrialRow* t = rows[r];
    number.push_back(t->number);
    state.push_back(static_cast<int>(t->state));
    std::string code;
    parts.clear();
    split_view(t->arch_key, parts);
    for (const std::string_view part : parts) {
      auto [it, added] = label_index.emplace(part, static_cast<int>(labels.size()));
      if (added) labels.push_back(part);
      if (!code.empty()) code += '.';
      char buf[16];
      code.append(buf, std::to_chars(buf, buf + sizeof buf, it->second).ptr);
    }
    key.push_back(code);
    const double s = times.start[r], e = times.end[r];
    started.push_back(secs(s));
    seconds.push_back(secs(std::isfinite(s) && std::isfinite(e) ? e - s : kNaN));
    if (t->worker.empty()) {
      worker.push_back(-1);
    } else {
      auto [it, added] = worker_index.emplace(t->worker, static_cast<int>(workers.size()));
      if (added) workers.push_back(t->worker);
      worker.push_back(it->second);
    }
    retries.push_back(t->retries);
    for (const auto& n : names) {
      auto it = t->metrics.find(n);
      metrics[n].push_back(it == t->metrics.end() ? json(nullptr) : num(it->second));
    }
    if (!t->message.empty()) messages[std::to_string(t->number)] = t->message;
  }
  json states = json::array();
  for (TrialState s : {TrialState::kWaiting, TrialState::kRunning, TrialState::kComplete,
                       TrialState::kPruned, TrialState::kFail}) {
    states.push_back(state_name(s));
  }
  c["first"] = first;
  c["count"] = rows.size();
  c["states"] = states;
  json label_list = json::array();
  for (const std::string_view l : labels) label_list.push_back(std::string(l));
  c["labels"] = label_list;
  c["number"] = number;
  c["state"] = state;
  c["key"] = key;
  c["metric_names"] = names;
  c["metrics"] = metrics;
  c["started"] = started;
  c["seconds"] = seconds;
  c["workers"] = workers;
  c["worker"] = worker;
  c["retries"] = retries;
  c["messages"] = messages;
  return c;
}

json comparison_view(const std::vector<const ExperimentData*>& experiments,
                     const ViewLimits& given) {
  const ViewLimits limits = sane(given);
  struct Curve {
    std::string name, group;
    Objective objective;
    std::vector<std::pair<int64_t, double>> steps;  // (trials finished, best so far)
    int64_t length = 0;
  };
  std::vector<Curve> curves;
  for (const ExperimentData* d : experiments) {
    auto objectives = objectives_of(d->config);
    if (!objectives.is_ok()) continue;
    Curve c{d->row.name, "", objectives.value().front(), {}, 0};
    // Experiments alike but for the seed share a group.
    json options = d->config.options;
    options.erase("seed");
    c.group = options.dump() + "\n" + d->config.space_source;
    double best = kNaN;
    for (const TrialRow& t : d->trials) {
      if (!is_finished(t.state)) continue;
      ++c.length;
      if (t.state != TrialState::kComplete) continue;
      const double v = value_of(t, c.objective);
      if (!std::isfinite(v)) continue;
      if (!std::isfinite(best) || better(v, best, c.objective.maximize)) {
        best = v;
        c.steps.push_back({c.length, v});
      }
    }
    curves.push_back(std::move(c));
  }
  // Best so far after `n` finished trials.
  auto at = [](const Curve& c, int64_t n) {
    auto it = std::upper_bound(c.steps.begin(), c.steps.end(), std::make_pair(n, INFINITY),
                               [](const auto& a, const auto& b) { return a.first < b.first; });
    return it == c.steps.begin() ? kNaN : std::prev(it)->second;
  };
  json out;
  json series = json::array();
  std::map<std::string, std::vector<const Curve*>> by_metric;
  for (const Curve& c : curves) {
    by_metric[c.objective.metric + (c.objective.maximize ? ":max" : ":min")].push_back(&c);
  }
  for (const auto& [metric, members] : by_metric) {
    json group_series = json::array();
    for (const Curve* c : members) {
      json pts = json::array();
      // The improvements, thinned to the limit, and the end of the run.
      const size_t n = c->steps.size(), cap = limits.comparison_points;
      for (size_t k = 0; k < n; ++k) {
        if (n > cap && k + 1 != n && (k * cap / n) == ((k + 1) * cap / n)) continue;
        pts.push_back({c->steps[k].first, num(c->steps[k].second)});
      }
      if (n > 0 && c->steps.back().first < c->length)
        pts.push_back({c->length, num(c->steps.back().second)});
      group_series.push_back({{"name", c->name}, {"points", pts}});
    }
    // Seed groups of two or more: mean and spread on a common grid.
    json bands = json::array();
    std::map<std::string, std::vector<const Curve*>> seeds;
    for (const Curve* c : members) seeds[c->group].push_back(c);
    for (const auto& [group, runs] : seeds) {
      if (runs.size() < 2) continue;
      int64_t len = std::numeric_limits<int64_t>::max();
      for (const Curve* c : runs) len = std::min(len, c->length);
      if (len < 1) continue;
      json mean = json::array(), lo = json::array(), hi = json::array();
      const int64_t k = std::min<int64_t>(len, static_cast<int64_t>(limits.comparison_points));
      for (int64_t i = 1; i <= k; ++i) {
        const int64_t x = i * len / k;
        double sum = 0, mn = INFINITY, mx = -INFINITY;
        int have = 0;
        for (const Curve* c : runs) {
          const double v = at(*c, x);
          if (!std::isfinite(v)) continue;
          sum += v, mn = std::min(mn, v), mx = std::max(mx, v), ++have;
        }
        if (have < static_cast<int>(runs.size())) continue;
        mean.push_back({x, num(sum / have)});
        lo.push_back({x, num(mn)});
        hi.push_back({x, num(mx)});
      }
      std::vector<std::string> names;
      for (const Curve* c : runs) names.push_back(c->name);
      bands.push_back({{"names", names}, {"mean", mean}, {"min", lo}, {"max", hi}});
    }
    const Objective& o = members.front()->objective;
    series.push_back({{"objective", o.metric},
                      {"maximize", o.maximize},
                      {"series", group_series},
                      {"seeds", bands}});
  }
  out["plots"] = series;
  return out;
}

json report_model(const std::vector<const ExperimentData*>& experiments,
                  const std::string& database, const ViewLimits& limits) {
  json m;
  m["generated"] = utc_now();
  m["database"] = database;
  json list = json::array();
  for (const ExperimentData* d : experiments) {
    json v = experiment_views(*d, limits);
    v["trials"] = trial_columns(*d);
    list.push_back(std::move(v));
  }
  m["experiments"] = std::move(list);
  m["comparison"] = comparison_view(experiments, limits);
  return m;
}

std::vector<size_t> front_2d(const std::vector<std::pair<double, double>>& points) {
  std::vector<size_t> order(points.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (points[a].first != points[b].first) return points[a].first < points[b].first;
    if (points[a].second != points[b].second) return points[a].second < points[b].second;
    return a < b;
  });
  std::vector<size_t> front;
  double best_second = INFINITY;
  for (size_t i : order) {
    // A point equal on the first coordinate but worse on the second is
    // dominated; one equal to the last member on both is not (two trials
    // with the same values are both on the front, as `sylva best --pareto`
    // lists them).
    if (points[i].second < best_second || (!front.empty() && points[i] == points[front.back()])) {
      front.push_back(i);
      best_second = points[i].second;
    }
  }
  return front;
}

std::vector<double> hypervolume_2d_over(const std::vector<std::pair<double, double>>& points,
                                        std::pair<double, double> ref,
                                        const std::vector<size_t>& checkpoints) {
  // The front as first -> second, first ascending, second descending.
  std::map<double, double> front;
  std::vector<double> out;
  size_t next = 0;
  for (size_t i = 0; i < points.size() && next < checkpoints.size(); ++i) {
    const auto [x, y] = points[i];
    if (x < ref.first && y < ref.second) {
      // Dominated (or equalled) by the member with the largest first <= x?
      auto it = front.upper_bound(x);
      const bool dominated = it != front.begin() && std::prev(it)->second <= y;
      if (!dominated) {
        // Members it dominates: first >= x, second >= y; they follow it.
        auto from = front.lower_bound(x);
        auto to = from;
        while (to != front.end() && to->second >= y) ++to;
        front.erase(from, to);
        front[x] = y;
      }
    }
    while (next < checkpoints.size() && checkpoints[next] == i) {
      double area = 0;
      for (auto it = front.begin(); it != front.end(); ++it) {
        auto after = std::next(it);
        const double right = after == front.end() ? ref.first : after->first;
        area += (right - it->first) * (ref.second - it->second);
      }
      out.push_back(area);
      ++next;
    }
  }
  while (out.size() < checkpoints.size()) out.push_back(out.empty() ? 0 : out.back());
  return out;
}

double variance_share(const std::vector<double>& y, const std::vector<int>& group, int groups) {
  if (y.empty()) return 0;
  double mean = 0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(y.size());
  std::vector<double> sum(groups, 0);
  std::vector<size_t> n(groups, 0);
  double total = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    total += (y[i] - mean) * (y[i] - mean);
    sum[group[i]] += y[i];
    n[group[i]]++;
  }
  if (!(total > 0)) return 0;
  double between = 0;
  for (int g = 0; g < groups; ++g) {
    if (n[g] == 0) continue;
    const double m = sum[g] / static_cast<double>(n[g]);
    between += static_cast<double>(n[g]) * (m - mean) * (m - mean);
  }
  return std::min(1.0, between / total);
}

std::string script_safe(const json& value) {
  const std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size() + text.size() / 50);
  for (char c : text) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace sylva::experiments
