#include "evaluators/table_evaluator.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/strings.h"
#include "evaluators/proxy_scorer.h"
#include "evaluators/registry.h"
#include "fmt/format.h"
#include "spaces/architecture.h"

namespace sylva::evaluators {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Splits one CSV line; double-quoted fields may hold commas and "" escapes.
// Returns nullopt on an unterminated quote.
std::optional<std::vector<std::string>> split_csv(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c != '"') {
        field += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(trim(field));
      field.clear();
    } else {
      field += c;
    }
  }
  if (quoted) return std::nullopt;
  fields.push_back(trim(field));
  return fields;
}

// What a cell holds.
enum class Cell { kEmpty, kNumber, kNotFinite, kText };

// Parses a whole field as a double (locale-independent): kNumber with
// `*value` set, kEmpty, kNotFinite for inf, nan and values out of a
// double's range in any spelling from_chars reads, kText otherwise.
Cell parse_cell(const std::string& text, double* value) {
  if (text.empty()) return Cell::kEmpty;
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (*begin == '+' && end - begin > 1 && begin[1] != '-' && begin[1] != '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, *value);
  if (ptr != end || (ec != std::errc() && ec != std::errc::result_out_of_range)) return Cell::kText;
  if (ec == std::errc::result_out_of_range || !std::isfinite(*value)) return Cell::kNotFinite;
  return Cell::kNumber;
}

class TableEvaluator : public Evaluator {
 public:
  TableEvaluator(std::string path, std::string metric, std::vector<std::string> columns,
                 std::unordered_map<std::string, size_t> rows, std::vector<double> values)
      : path_(std::move(path)),
        metric_(std::move(metric)),
        columns_(std::move(columns)),
        rows_(std::move(rows)),
        values_(std::move(values)) {}

  void set_delay_ms(int ms) { delay_ms_ = ms; }
  bool instant() const override { return delay_ms_ == 0; }

  EvalResult evaluate(const Job& job, Reporter& reporter) override {
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    EvalResult result;
    // The searched key (hyperparameters included) first, then the network's.
    auto it = job.key.empty() ? rows_.end() : rows_.find(job.key);
    if (it == rows_.end()) it = rows_.find(job.arch.key);
    if (it == rows_.end()) {
      result.state = TrialState::kFail;
      result.message = job.key.empty() || job.key == job.arch.key
                           ? fmt::format("key '{}' not in table {}", job.arch.key, path_)
                           : fmt::format("neither key '{}' nor '{}' is in table {}", job.key,
                                         job.arch.key, path_);
      return result;
    }
    const double* row = &values_[it->second * columns_.size()];
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (!std::isnan(row[c])) result.metrics.emplace(columns_[c], row[c]);
    }
    if (!metric_.empty() && result.metrics.count(metric_) == 0) {
      result.state = TrialState::kFail;
      result.message =
          fmt::format("key '{}' has no value for '{}' in table {}", job.arch.key, metric_, path_);
    }
    return result;
  }

 private:
  // Constant after construction.
  const std::string path_;
  int delay_ms_ = 0;
  const std::string metric_;
  const std::vector<std::string> columns_;              // numeric columns, without `key`
  const std::unordered_map<std::string, size_t> rows_;  // key -> row index
  const std::vector<double> values_;  // row-major, columns_.size() per row; NaN: missing
};

}  // namespace

StatusOr<std::unique_ptr<Evaluator>> make_table_evaluator(const TableOptions& options) {
  const std::string& path = options.path;
  if (path.empty()) return Status::invalid_argument("--table: no CSV path given");
  std::ifstream in(path);
  if (!in) return Status::invalid_argument(fmt::format("cannot open table {}", path));

  std::string line;
  int line_number = 0;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    auto fields = split_csv(line);
    if (!fields) return Status::at({path, line_number}, "unterminated quote");
    header = std::move(*fields);
    break;
  }
  if (header.empty())
    return Status::invalid_argument(fmt::format("{}: empty table, no header", path));
  const int header_line = line_number;
  // Strip a UTF-8 byte-order mark from the first column name.
  if (header[0].rfind("\xEF\xBB\xBF", 0) == 0) header[0] = header[0].substr(3);

  const std::string columns_text = quote_cut(join(header, ", "), 300);
  std::unordered_map<std::string, size_t> column_of;  // named columns
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty()) continue;  // unnamed: never a metric
    auto [it, inserted] = column_of.emplace(header[i], i);
    if (!inserted) {
      return Status::at({path, header_line},
                        fmt::format("duplicate column '{}' (columns {} and {})",
                                    quote_cut(header[i]), it->second + 1, i + 1));
    }
  }
  auto key_it = column_of.find("key");
  if (key_it == column_of.end()) {
    return Status::invalid_argument(
        fmt::format("{}: no 'key' column in the header (columns: {})", path, columns_text));
  }
  const size_t key_column = key_it->second;
  // The columns the search reads must be there and numeric.
  std::vector<bool> used(header.size(), false);
  std::vector<std::string> wanted = {options.metric};
  wanted.insert(wanted.end(), options.objectives.begin(), options.objectives.end());
  for (size_t w = 0; w < wanted.size(); ++w) {
    const std::string& name = wanted[w];
    if (name.empty()) continue;
    const char* what = w == 0 ? "metric" : "objective";
    if (name == "key") {
      return Status::invalid_argument(fmt::format("{}: {} 'key' is not numeric", path, what));
    }
    auto it = column_of.find(name);
    if (it == column_of.end()) {
      return Status::invalid_argument(fmt::format("{}: {} '{}' is not a column (columns: {})", path,
                                                  what, quote_cut(name), columns_text));
    }
    used[it->second] = true;
  }

  // Every column but the key is read as numbers; an unused one with a cell
  // that is not a finite number is a text column and never reported.
  std::vector<bool> numeric(header.size(), true);
  numeric[key_column] = false;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty()) numeric[i] = false;
  }
  std::unordered_map<std::string, size_t> rows;
  std::unordered_map<std::string, int> first_line;
  std::vector<double> cells;  // row-major, header.size() per row; NaN: empty or text
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    auto fields = split_csv(line);
    if (!fields) return Status::at({path, line_number}, "unterminated quote");
    if (fields->size() != header.size()) {
      return Status::at({path, line_number},
                        fmt::format("{} fields, the header has {}", fields->size(), header.size()));
    }
    const std::string& key = (*fields)[key_column];
    auto [it, inserted] = first_line.emplace(key, line_number);
    if (!inserted) {
      return Status::at({path, line_number}, fmt::format("duplicate key '{}' (first on line {})",
                                                         quote_cut(key), it->second));
    }
    for (size_t i = 0; i < header.size(); ++i) {
      double value = kMissing;
      const Cell cell = numeric[i] ? parse_cell((*fields)[i], &value) : Cell::kText;
      if (cell != Cell::kNumber) value = kMissing;
      if (used[i] && cell == Cell::kText) {
        return Status::at({path, line_number},
                          fmt::format("column '{}': '{}' is not a number", quote_cut(header[i]),
                                      quote_cut((*fields)[i])));
      }
      if (used[i] && cell == Cell::kNotFinite) {
        return Status::at({path, line_number},
                          fmt::format("column '{}': '{}' is not a finite number",
                                      quote_cut(header[i]), quote_cut((*fields)[i])));
      }
      if (cell == Cell::kText || cell == Cell::kNotFinite) numeric[i] = false;
      cells.push_back(value);
    }
    rows.emplace(key, rows.size());
  }
  if (in.bad()) return Status::io_error(fmt::format("{}: read error", path));
  if (rows.empty()) {
    return Status::at({path, header_line}, "the table has a header but no rows");
  }

  // Keep the numeric columns only.
  std::vector<std::string> columns;
  std::vector<size_t> kept;
  for (size_t i = 0; i < header.size(); ++i) {
    if (!numeric[i]) continue;
    columns.push_back(header[i]);
    kept.push_back(i);
  }
  std::vector<double> values;
  values.reserve(rows.size() * kept.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t i : kept) values.push_back(cells[r * header.size() + i]);
  }
  cells = {};
  auto evaluator = std::make_unique<TableEvaluator>(path, options.metric, std::move(columns),
                                                    std::move(rows), std::move(values));
  evaluator->set_delay_ms(options.delay_ms);
  return std::unique_ptr<Evaluator>(std::move(evaluator));
}

void register_table_evaluator() {
  register_table_proxy_scorer();  // --proxy-filter params|flops: the table's columns
  register_evaluator(
      {"table",
       "metrics looked up by key in a CSV (tabular NAS benchmarks)",
       /*trains=*/false,
       [](const OptionReader& o) -> StatusOr<std::string> {
         if (o.text("metric").empty()) {
           return Status::invalid_argument("--evaluator table needs --metric COLUMN");
         }
         return o.text("metric");
       },
       [](const OptionReader& o) -> StatusOr<std::unique_ptr<Evaluator>> {
         TableOptions t;
         t.path = o.text("table");
         t.metric = o.text("metric");
         // "metric[:max|min],..." (experiments/config.h): the columns named.
         if (o.given("objective")) {
           std::istringstream items(o.text("objective"));
           for (std::string item; std::getline(items, item, ',');) {
             const std::string name = item.substr(0, item.find(':'));
             if (!name.empty() && name != t.metric) t.objectives.push_back(name);
           }
         }
         if (t.path.empty())
           return Status::invalid_argument("--evaluator table needs --table PATH");
         if (t.metric.empty())
           return Status::invalid_argument("--evaluator table needs --metric COLUMN");
         SYLVA_ASSIGN(delay, o.integer("stub-delay-ms", 0));
         t.delay_ms = static_cast<int>(delay);
         return make_table_evaluator(t);
       },
       {{"table", "CSV with a key column (evaluator table)", "", OptionDef::kFilled, true},
        {"metric", "CSV column to optimise (evaluator table)", "", OptionDef::kFilled, true}},
       {},
       {"stub-delay-ms"}});
}

}  // namespace sylva::evaluators
