#include "evaluators/table_evaluator.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

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

// Parses a whole field as a double (locale-independent); empty is kMissing.
std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return kMissing;
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (*begin == '+') ++begin;
  double value = 0;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
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
  // Strip a UTF-8 byte-order mark from the first column name.
  if (header[0].rfind("\xEF\xBB\xBF", 0) == 0) header[0] = header[0].substr(3);

  const std::string columns_text = join(header, ", ");
  size_t key_column = header.size();
  std::vector<std::string> columns;  // all but key
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "key") {
      key_column = i;
    } else {
      columns.push_back(header[i]);
    }
  }
  if (key_column == header.size()) {
    return Status::invalid_argument(
        fmt::format("{}: no 'key' column in the header (columns: {})", path, columns_text));
  }
  if (!options.metric.empty() && options.metric != "key" &&
      std::find(columns.begin(), columns.end(), options.metric) == columns.end()) {
    return Status::invalid_argument(fmt::format("{}: metric '{}' is not a column (columns: {})",
                                                path, options.metric, columns_text));
  }
  if (options.metric == "key") {
    return Status::invalid_argument(fmt::format("{}: metric 'key' is not numeric", path));
  }

  std::unordered_map<std::string, size_t> rows;
  std::unordered_map<std::string, int> first_line;
  std::vector<double> values;
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
      return Status::at({path, line_number},
                        fmt::format("duplicate key '{}' (first on line {})", key, it->second));
    }
    for (size_t i = 0; i < header.size(); ++i) {
      if (i == key_column) continue;
      auto value = parse_number((*fields)[i]);
      if (!value) {
        return Status::at({path, line_number}, fmt::format("column '{}': '{}' is not a number",
                                                           header[i], (*fields)[i]));
      }
      values.push_back(*value);
    }
    rows.emplace(key, rows.size());
  }
  if (in.bad()) return Status::io_error(fmt::format("{}: read error", path));

  auto evaluator = std::make_unique<TableEvaluator>(path, options.metric, std::move(columns),
                                                    std::move(rows), std::move(values));
  evaluator->set_delay_ms(options.delay_ms);
  return std::unique_ptr<Evaluator>(std::move(evaluator));
}

void register_table_evaluator() {
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
       {}});
}

}  // namespace sylva::evaluators
