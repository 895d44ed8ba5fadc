// CSV tables: a header line, numeric feature columns and one label column.
// Fields are separated by commas; a field may be double-quoted ("" inside
// for a quote). Blank lines are skipped; '\r' line ends are accepted.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "base/strings.h"
#include "evaluators/data/dataset.h"
#include "evaluators/data/formats.h"

namespace sylva::evaluators::data_internal {
namespace {

namespace fs = std::filesystem;

// The fields of one line; false when a quote is not closed.
bool split_fields(const std::string& line, std::vector<std::string>& out) {
  out.clear();
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(field);
      field.clear();
    } else {
      field += c;
    }
  }
  out.push_back(field);
  for (std::string& f : out) {
    while (!f.empty() && (f.back() == ' ' || f.back() == '\t')) f.pop_back();
    size_t b = 0;
    while (b < f.size() && (f[b] == ' ' || f[b] == '\t')) ++b;
    f.erase(0, b);
  }
  return !quoted;
}

bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return errno == 0 && end == text.c_str() + text.size() && std::isfinite(out);
}

struct Table {
  std::string path;
  std::vector<std::string> header;
  std::vector<float> features;      // row-major, header.size() - 1 per row
  std::vector<std::string> labels;  // one per row
};

StatusOr<Table> read_table(const std::string& path, const std::string& target,
                           int64_t& target_column) {
  SYLVA_ASSIGN(text, read_file(path));
  Table t;
  t.path = path;
  std::vector<std::string> fields;
  size_t start = 0;
  int line_number = 0;
  int64_t columns = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    start = nl + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (!split_fields(line, fields)) {
      return Status::invalid_argument(
          fmt::format("{}:{}: a quoted field is not closed", path, line_number));
    }
    if (t.header.empty()) {
      t.header = fields;
      columns = static_cast<int64_t>(fields.size());
      if (columns < 2) {
        return Status::invalid_argument(fmt::format(
            "{}:{}: the header names {} column; a table needs a label and at least one feature",
            path, line_number, columns));
      }
      if (target_column < 0) {
        if (target.empty()) {
          target_column = columns - 1;
        } else {
          auto it = std::find(fields.begin(), fields.end(), target);
          if (it == fields.end()) {
            return Status::invalid_argument(
                fmt::format("{}:{}: --target '{}' is not a column (the header has {})", path,
                            line_number, target, join(fields, ", ")));
          }
          target_column = it - fields.begin();
        }
      }
      continue;
    }
    if (static_cast<int64_t>(fields.size()) != columns) {
      return Status::invalid_argument(fmt::format("{}:{}: {} fields, but the header has {}", path,
                                                  line_number, fields.size(), columns));
    }
    for (int64_t c = 0; c < columns; ++c) {
      if (c == target_column) continue;
      double v = 0;
      if (!parse_number(fields[c], v)) {
        return Status::invalid_argument(fmt::format("{}:{}: column '{}' is not a number: '{}'",
                                                    path, line_number, t.header[c],
                                                    quote_cut(fields[c])));
      }
      t.features.push_back(static_cast<float>(v));
    }
    if (fields[target_column].empty()) {
      return Status::invalid_argument(fmt::format("{}:{}: the label (column '{}') is empty", path,
                                                  line_number, t.header[target_column]));
    }
    t.labels.push_back(fields[target_column]);
  }
  if (t.header.empty()) return Status::invalid_argument(fmt::format("{}: empty", path));
  if (t.labels.empty()) {
    return Status::invalid_argument(fmt::format("{}: a header and no rows", path));
  }
  return t;
}

at::Tensor features_of(const Table& t) {
  const int64_t n = static_cast<int64_t>(t.labels.size());
  const int64_t f = static_cast<int64_t>(t.header.size()) - 1;
  return at::tensor(t.features, at::kFloat).view({n, f, 1, 1}).contiguous();
}

// Label values in order: numerically when every one is a number.
std::vector<std::string> classes_of(const std::vector<std::string>& labels) {
  std::vector<std::string> names = labels;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  bool numeric = true;
  for (const std::string& n : names) {
    double v = 0;
    numeric = numeric && parse_number(n, v);
  }
  if (numeric) {
    std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return std::strtod(a.c_str(), nullptr) < std::strtod(b.c_str(), nullptr);
    });
  }
  return names;
}

}  // namespace

bool looks_like_csv(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) return fs::is_regular_file(p / "train.csv", ec);
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".csv";
}

StatusOr<Dataset> load_csv(const DataOptions& options) {
  std::error_code ec;
  const fs::path p(options.path);
  std::string train_path = options.path, test_path;
  if (fs::is_directory(p, ec)) {
    train_path = (p / "train.csv").string();
    if (!fs::is_regular_file(train_path, ec)) {
      return Status::invalid_argument(fmt::format("{}: no train.csv", options.path));
    }
    if (fs::is_regular_file(p / "test.csv", ec)) test_path = (p / "test.csv").string();
  }
  int64_t target_column = -1;
  SYLVA_ASSIGN(train, read_table(train_path, options.target, target_column));
  Dataset out;
  out.class_names = classes_of(train.labels);
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < out.class_names.size(); ++i) index[out.class_names[i]] = i;
  auto labels_of = [&](const Table& t) -> StatusOr<at::Tensor> {
    std::vector<int64_t> y;
    for (const std::string& l : t.labels) {
      auto it = index.find(l);
      if (it == index.end()) {
        return Status::invalid_argument(fmt::format("{}: label '{}' is not among the labels of {}",
                                                    t.path, quote_cut(l), train_path));
      }
      y.push_back(it->second);
    }
    return at::tensor(y, at::kLong);
  };
  out.train_images = features_of(train);
  SYLVA_ASSIGN(train_y, labels_of(train));
  out.train_labels = train_y;
  if (!test_path.empty()) {
    SYLVA_ASSIGN(test, read_table(test_path, options.target, target_column));
    if (test.header != train.header) {
      return Status::invalid_argument(
          fmt::format("{}:1: the header differs from {}'s", test_path, train_path));
    }
    out.test_images = features_of(test);
    SYLVA_ASSIGN(test_y, labels_of(test));
    out.test_labels = test_y;
  }
  out.classes = static_cast<int64_t>(out.class_names.size());
  return out;
}

}  // namespace sylva::evaluators::data_internal
