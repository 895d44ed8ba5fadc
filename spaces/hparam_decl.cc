// Parsing of hyperparameter declarations: `%hparam NAME = VALUES` lines of a
// space's source and `--hparam NAME=VALUES` options share one value-list
// parser, which reports the 0-based offset of what it refuses; the callers
// turn it into a file:line:col location or a message naming the option.
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>

#include "base/strings.h"
#include "spaces/hparam_space.h"

namespace sylva {
namespace {

// What the parser refuses and where (0-based offset into its text).
struct Refusal {
  size_t at = 0;
  std::string what;
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::optional<double> number(const std::string& text) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (begin != end && *begin == '+') ++begin;
  double v = 0;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || ptr != end || begin == end || !std::isfinite(v)) return std::nullopt;
  return v;
}

// [begin, end) of `text` without blanks at either end.
std::pair<size_t, size_t> trimmed(const std::string& text, size_t begin, size_t end) {
  while (begin < end && is_blank(text[begin])) ++begin;
  while (end > begin && is_blank(text[end - 1])) --end;
  return {begin, end};
}

// Why `value` is not a value label, or "" when it is one; `*at` is set to the
// offset of the offending character.
std::string bad_value(const std::string& value, size_t* at) {
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    *at = i;
    if (is_blank(c)) {
      return fmt::format("value '{}' contains white space (values are separated by '|' or ',')",
                         value);
    }
    if (std::string("/|,=#()").find(c) != std::string::npos) {
      return fmt::format("value '{}' may not contain '{}'", value, c);
    }
  }
  return "";
}

// The values of `log(a, b, n)` or `linear(a, b, n)` at [begin, end) of
// `text` (the whole item, blanks trimmed; `open` is its '(').
std::optional<Refusal> generate(const std::string& text, size_t begin, size_t open, size_t end,
                                std::vector<std::pair<std::string, size_t>>* out) {
  const auto [nb, ne] = trimmed(text, begin, open);
  const std::string fn = text.substr(nb, ne - nb);
  if (fn != "log" && fn != "linear") {
    return Refusal{nb, fmt::format("unknown generator '{}' (log or linear)", fn)};
  }
  if (text[end - 1] != ')') {
    return Refusal{end - 1, fmt::format("{}(a, b, n) must end with ')'", fn)};
  }
  std::vector<std::pair<size_t, size_t>> args;
  size_t from = open + 1;
  for (size_t i = open + 1; i < end; ++i) {
    if (text[i] == ',' || i == end - 1) {
      args.push_back(trimmed(text, from, i));
      from = i + 1;
    }
  }
  if (args.size() != 3) {
    return Refusal{open, fmt::format("{}(a, b, n) takes 3 arguments, got {}", fn, args.size())};
  }
  double v[3];
  const char* names[3] = {"a", "b", "n"};
  for (int k = 0; k < 3; ++k) {
    const std::string arg = text.substr(args[k].first, args[k].second - args[k].first);
    auto parsed = number(arg);
    if (!parsed) {
      return Refusal{args[k].first,
                     fmt::format("{}(a, b, n): {} must be a number, got '{}'", fn, names[k], arg)};
    }
    v[k] = *parsed;
    if (fn == "log" && k < 2 && !(v[k] > 0)) {
      return Refusal{args[k].first,
                     fmt::format("log(a, b, n): {} must be > 0, got '{}'", names[k], arg)};
    }
  }
  const double n = v[2];
  if (n != std::floor(n) || n < 2 || n > 1000) {
    return Refusal{args[2].first,
                   fmt::format("{}(a, b, n): n must be an integer in [2, 1000], got '{}'", fn,
                               text.substr(args[2].first, args[2].second - args[2].first))};
  }
  const int count = static_cast<int>(n);
  std::set<std::string> seen;
  for (int i = 0; i < count; ++i) {
    const double t = static_cast<double>(i) / (count - 1);
    double x = 0;
    if (i == 0) {
      x = v[0];
    } else if (i == count - 1) {
      x = v[1];
    } else if (fn == "log") {
      x = std::exp(std::log(v[0]) + t * (std::log(v[1]) - std::log(v[0])));
    } else {
      x = v[0] + t * (v[1] - v[0]);
    }
    std::string label = fn == "log" ? fmt::format("{:.3g}", x) : fmt::format("{:.6g}", x);
    if (label == "-0") label = "0";
    if (!seen.insert(label).second) {
      return Refusal{
          open, fmt::format("{}({}) gives '{}' twice once written with {} significant "
                            "digits",
                            fn, text.substr(open + 1, end - open - 2), label, fn == "log" ? 3 : 6)};
    }
    out->push_back({label, nb});
  }
  return std::nullopt;
}

// The values at [begin, end) of `text`, separated by '|' or ',' outside
// parentheses.
std::optional<Refusal> parse_values(const std::string& text, size_t begin, size_t end,
                                    std::vector<std::string>* values) {
  std::vector<std::pair<size_t, size_t>> items;  // [begin, end) of each, blanks included
  size_t item = begin;
  size_t open = std::string::npos;  // the '(' of the generator being read
  for (size_t i = begin; i < end; ++i) {
    const char c = text[i];
    if (c == '(') {
      if (open != std::string::npos) return Refusal{i, "nested '('"};
      open = i;
    } else if (c == ')') {
      if (open == std::string::npos) return Refusal{i, "')' without '('"};
      open = std::string::npos;
    } else if ((c == '|' || c == ',') && open == std::string::npos) {
      items.push_back({item, i});
      item = i + 1;
    }
  }
  if (open != std::string::npos) return Refusal{open, "'(' without ')'"};
  items.push_back({item, end});
  if (items.size() == 1 && trimmed(text, begin, end).first == end) {
    return Refusal{end,
                   "expected values after '=' (V1 | V2 | ..., log(a, b, n) or "
                   "linear(a, b, n))"};
  }
  std::vector<std::pair<std::string, size_t>> found;  // value, offset of its item
  for (size_t k = 0; k < items.size(); ++k) {
    const auto [b, e] = trimmed(text, items[k].first, items[k].second);
    if (b == e) {
      // At the separator next to the empty item.
      return Refusal{k + 1 < items.size() ? items[k].second : items[k].first - 1, "empty value"};
    }
    const size_t paren = text.find('(', b);
    if (paren < e) {
      auto refused = generate(text, b, paren, e, &found);
      if (refused) return refused;
      continue;
    }
    const std::string value = text.substr(b, e - b);
    size_t at = 0;
    const std::string why = bad_value(value, &at);
    if (!why.empty()) return Refusal{b + at, why};
    found.push_back({value, b});
  }
  std::set<std::string> seen;
  for (const auto& [value, at] : found) {
    if (!seen.insert(value).second) {
      return Refusal{at, fmt::format("value '{}' is given twice", value)};
    }
    values->push_back(value);
  }
  return std::nullopt;
}

}  // namespace

StatusOr<HparamDecl> parse_hparam_decl(const std::string& line_text, const std::string& file,
                                       int line) {
  auto at = [&](size_t offset, std::string what) {
    return Status::at({file, line, static_cast<int>(offset) + 1}, std::move(what));
  };
  static const std::string kDirective = "%hparam";
  size_t pos = 0;
  while (pos < line_text.size() && is_blank(line_text[pos])) ++pos;
  if (line_text.compare(pos, kDirective.size(), kDirective) != 0) {
    return at(pos, "expected %hparam");
  }
  pos += kDirective.size();
  // A comment runs to the end of the line.
  const size_t end = std::min(line_text.find('#'), line_text.size());
  if (pos < end && !is_blank(line_text[pos])) {
    return at(pos, "expected a blank after %hparam");
  }
  while (pos < end && is_blank(line_text[pos])) ++pos;
  const size_t name_at = pos;
  while (pos < end && !is_blank(line_text[pos]) && line_text[pos] != '=') ++pos;
  HparamDecl decl;
  decl.name = line_text.substr(name_at, pos - name_at);
  if (decl.name.empty()) {
    return at(name_at, "expected a hyperparameter name: %hparam NAME = V1 | V2 | ...");
  }
  if (!is_identifier(decl.name)) {
    return at(name_at, fmt::format("'{}' is not a hyperparameter name (letters, digits and '_', "
                                   "not starting with a digit)",
                                   decl.name));
  }
  while (pos < end && is_blank(line_text[pos])) ++pos;
  if (pos >= end || line_text[pos] != '=') {
    return at(pos, fmt::format("expected '=' after '{}': %hparam {} = V1 | V2 | ...", decl.name,
                               decl.name));
  }
  auto refused = parse_values(line_text, pos + 1, end, &decl.values);
  if (refused) return at(refused->at, refused->what);
  return decl;
}

StatusOr<HparamDecl> parse_hparam_option(const std::string& value) {
  auto refuse = [&](const std::string& what) {
    return Status::invalid_argument(fmt::format("--hparam '{}': {}", value, what));
  };
  const size_t eq = value.find('=');
  if (eq == std::string::npos) return refuse("expected NAME=V1,V2,...");
  HparamDecl decl;
  decl.name = value.substr(0, eq);
  if (!is_identifier(decl.name)) {
    return refuse(fmt::format(
        "'{}' is not a hyperparameter name (letters, digits and '_', not starting with a digit)",
        decl.name));
  }
  auto refused = parse_values(value, eq + 1, value.size(), &decl.values);
  if (refused) return refuse(refused->what);
  return decl;
}

StatusOr<std::vector<HparamDecl>> parse_hparam_options(const std::string& joined) {
  std::vector<HparamDecl> out;
  if (joined.empty()) return out;
  // Items split at ',' outside parentheses; one holding '=' starts a declaration.
  std::vector<std::string> groups;
  int depth = 0;
  size_t item = 0;
  for (size_t i = 0; i <= joined.size(); ++i) {
    const char c = i < joined.size() ? joined[i] : ',';
    depth += c == '(' ? 1 : c == ')' ? -1 : 0;
    if (c != ',' || depth > 0) continue;
    const std::string part = joined.substr(item, i - item);
    if (part.find('=') != std::string::npos || groups.empty()) {
      groups.push_back(part);
    } else {
      groups.back() += "," + part;
    }
    item = i + 1;
  }
  for (const std::string& g : groups) {
    SYLVA_ASSIGN(decl, parse_hparam_option(g));
    for (const HparamDecl& seen : out) {
      if (seen.name == decl.name) {
        return Status::invalid_argument(fmt::format("--hparam '{}' is given twice", decl.name));
      }
    }
    out.push_back(std::move(decl));
  }
  return out;
}

std::string hparam_line(const HparamDecl& decl) {
  return fmt::format("%hparam {} = {}", decl.name, join(decl.values, " | "));
}

std::vector<std::string> hparam_names_of_source(const std::string& source) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start < source.size()) {
    size_t nl = source.find('\n', start);
    if (nl == std::string::npos) nl = source.size();
    const std::string line = source.substr(start, nl - start);
    start = nl + 1;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line.compare(first, 7, "%hparam") != 0) continue;
    auto decl = parse_hparam_decl(line, "", 0);
    if (decl.is_ok()) names.push_back(decl.value().name);
  }
  return names;
}

}  // namespace sylva
