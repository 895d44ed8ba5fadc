// `sylva sample`: architectures drawn from a space by its priors, with the
// parameters and FLOPs of the network each one builds. Rows are printed as
// they are drawn, so `-n 100000` shows its first lines at once and holds no
// table in memory.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/random.h"
#include "cli/hand_over.h"
#include "cli/options.h"
#include "cli/verbs.h"
#include "evaluators/model_shape.h"
#if SYLVA_TORCH
#include "evaluators/train/model_tools.h"
#endif
#include "experiments/config.h"
#include "experiments/report.h"
#include "search/strategy.h"
#include "spaces/hparam_space.h"

namespace sylva::cli {
namespace {

// Prints rows one at a time in the layout experiments::render gives the whole
// table: csv and json row by row; `table` aligned to the widths of the header
// and the first kAlignRows rows, which are held back until then (a later,
// wider cell shifts only its own row), so that short runs print exactly what
// render() would. A write flushes stdout when kFlushEvery has passed since the
// last flush (the first write at once), and finish() does.
class RowPrinter {
 public:
  static constexpr size_t kAlignRows = 100;
  static constexpr std::chrono::milliseconds kFlushEvery{100};

  RowPrinter(std::vector<std::string> columns, std::string format)
      : columns_(std::move(columns)), format_(std::move(format)) {}

  // The format's error, before anything is printed.
  Status check() const { return experiments::render({columns_, {}}, format_).status(); }

  void add(std::vector<nlohmann::json> row) {
    if (format_ == "table") {
      if (!widths_.empty()) {
        write(table_line(row));
        return;
      }
      held_.push_back(std::move(row));
      if (held_.size() == kAlignRows) release();
      return;
    }
    const std::string one = experiments::render({columns_, {row}}, format_).value();
    if (format_ == "csv") {
      write(rows_ == 0 ? one : one.substr(one.find('\n') + 1));
    } else {  // json: "[\n" ELEMENT "\n]\n"; elements are joined by ",\n"
      write((rows_ == 0 ? "[\n" : ",\n") + one.substr(2, one.size() - 5));
    }
    ++rows_;
  }

  // Prints what is held and closes the output.
  void finish() {
    if (format_ == "table") {
      if (widths_.empty()) release();
    } else if (format_ == "json") {
      write(rows_ == 0 ? "[]\n" : "\n]\n");
    } else if (rows_ == 0) {
      write(experiments::render({columns_, {}}, format_).value());
    }
    std::fflush(stdout);
  }

 private:
  static std::string cell_text(const nlohmann::json& v) {
    if (v.is_null()) return "";
    if (v.is_number()) return experiments::format_number(v.get<double>());
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
  }

  // The header and the held rows as render() lays them out, and the widths
  // later rows are padded to.
  void release() {
    widths_.clear();
    for (const auto& c : columns_) widths_.push_back(c.size());
    for (const auto& row : held_) {
      for (size_t i = 0; i < row.size(); ++i) {
        widths_[i] = std::max(widths_[i], cell_text(row[i]).size());
      }
    }
    write(experiments::render({columns_, held_}, "table").value());
    held_.clear();
  }

  std::string table_line(const std::vector<nlohmann::json>& row) const {
    std::string l;
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string text = cell_text(row[i]);
      l += i + 1 == row.size() ? text : fmt::format("{:<{}}  ", text, widths_[i]);
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    return l + "\n";
  }

  void write(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    const auto now = std::chrono::steady_clock::now();
    if (!flushed_ || now - last_flush_ >= kFlushEvery) {
      std::fflush(stdout);
      flushed_ = true;
      last_flush_ = now;
    }
  }

  const std::vector<std::string> columns_;
  const std::string format_;
  size_t rows_ = 0;                                // csv and json rows printed
  std::vector<std::vector<nlohmann::json>> held_;  // table rows not printed yet
  std::vector<size_t> widths_;                     // table: empty until aligned
  bool flushed_ = false;
  std::chrono::steady_clock::time_point last_flush_;
};

int run_sample(int argc, char** argv) {
  Begun begun = begin_verb("sample", argc, argv);
  if (begun.exit_code >= 0) return begun.exit_code;
  auto& v = begun.options.values;
  if (!v.count("count")) v["count"] = "5";
  experiments::ExperimentConfig c;
  c.options = v;
  auto n = c.integer("count", 1);
  if (!n.is_ok()) return fail(n.status());
  auto seed = c.integer("seed", 0);
  if (!seed.is_ok()) return fail(seed.status());
  auto classes = c.integer("classes", 1);
  if (!classes.is_ok()) return fail(classes.status());
  auto shape = evaluators::parse_input_shape(v["input-shape"], classes.value());
  if (!shape.is_ok()) return fail(shape.status());
  if (!kWithTorch && v["space"].rfind("supernet:", 0) == 0) hand_over("a supernet space");
  auto space = make_space_with_hparams(v["space"], v["hparam"]);
  if (!space.is_ok()) return fail(space.status());
  SpaceTarget target{shape.value().channels, shape.value().height, shape.value().width,
                     shape.value().classes};
  auto max_nodes = c.integer_or("max-nodes", 1, -1);
  if (!max_nodes.is_ok()) return fail(max_nodes.status());
  auto max_params = c.integer_or("max-params", 1, -1);
  if (!max_params.is_ok()) return fail(max_params.status());
  auto max_flops = c.integer_or("max-flops", 1, -1);
  if (!max_flops.is_ok()) return fail(max_flops.status());
  target.max_nodes = max_nodes.value();
  target.max_params = max_params.value();
  target.max_flops = max_flops.value();
  auto retargeted = retarget_space(*space.value(), target);
  if (!retargeted.is_ok()) return fail(retargeted.status());
  if (retargeted.value()) space = std::move(retargeted);

  RowPrinter printer({"key", "canonical", "params", "flops"},
                     v.count("format") ? v["format"] : "table");
  if (Status format = printer.check(); !format.is_ok()) return fail(format);
  for (int64_t i = 0; i < n.value(); ++i) {
    Rng rng(mix_seed(static_cast<uint64_t>(seed.value()), static_cast<uint64_t>(i)));
    Architecture arch = search::sample_by_priors(*space.value(), rng);
    // Spaces that know their costs (supernet configurations: MACs as flops).
    const auto known = space.value()->known_metrics(arch.decisions);
    if (known.count("params") && known.count("flops")) {
      printer.add({arch.key, arch.canonical, static_cast<int64_t>(known.at("params")),
                   static_cast<int64_t>(known.at("flops"))});
      continue;
    }
    // The network is the inner space's (hyperparameters build nothing).
#if !SYLVA_TORCH
    // Nothing printed yet (a space knows its costs for every sample or none).
    hand_over("building networks to measure them");
#else
    const HparamSplit split = split_hparams(*space.value(), arch);
    auto cost = evaluators::measure_architecture(*split.space, split.arch, shape.value());
    if (!cost.is_ok()) {
      printer.finish();  // the rows drawn so far stay readable
      return fail(cost.status());
    }
    printer.add({arch.key, arch.canonical, cost.value().params, cost.value().flops});
#endif
  }
  printer.finish();
  return 0;
}

}  // namespace

void register_sample_verb() {
  register_verb({"sample",
                 "sample architectures from a space",
                 "usage: sylva sample --space S [--hparam NAME=V1,V2,...] [-n N] [--seed S] [-f "
                 "table|json|csv]",
                 accepts_names({"space", "max-nodes", "max-params", "max-flops", "seed", "format",
                                "count", "input-shape", "classes", "hparam"}),
                 run_sample,
                 /*listed=*/true,
                 {}});
}

}  // namespace sylva::cli
