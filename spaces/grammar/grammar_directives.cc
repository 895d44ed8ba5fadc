#include <fmt/format.h>

#include <cstdlib>
#include <sstream>

#include "base/strings.h"
#include "spaces/builders.h"
#include "spaces/grammar/grammar_parser.h"

namespace sylva::grammar_internal {

std::vector<std::string> Parser::split_words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s.substr(0, s.find('#')));
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

Status Parser::parse_int(const std::string& word, int lineno, size_t col, const std::string& what,
                         int lo, int hi, int* out) const {
  int64_t v = 0;
  Status s = parse_int64(word, lineno, col, what, lo, hi, &v);
  *out = static_cast<int>(v);
  return s;
}

Status Parser::parse_int64(const std::string& word, int lineno, size_t col, const std::string& what,
                           int64_t lo, int64_t hi, int64_t* out) const {
  char* stop = nullptr;
  long long v = std::strtoll(word.c_str(), &stop, 10);
  if (word.empty() || *stop != '\0' || v < lo) {
    return error(lineno, static_cast<int>(col),
                 fmt::format("%{} expects an integer >= {}, got '{}'", what, lo, quote_cut(word)));
  }
  // Checked before anything is sized by it (strtoll saturates on overflow).
  if (v > hi) {
    return error(lineno, static_cast<int>(col),
                 fmt::format("%{} {} is more than the limit of {}", what, quote_cut(word), hi));
  }
  *out = v;
  return Status::ok();
}

Status Parser::parse_directive(const std::string& rest, int lineno, size_t col) {
  auto words = split_words(rest);
  if (words.empty())
    return error(lineno, static_cast<int>(col), "expected a directive name after '%'");
  const std::string& d = words[0];
  auto need = [&](size_t n) -> Status {
    if (words.size() - 1 != n) {
      return error(lineno, static_cast<int>(col),
                   fmt::format("%{} takes {} value(s), got {}", d, n, words.size() - 1));
    }
    return Status::ok();
  };
  Status s;
  if (d == "builder") {
    if (!(s = need(1)).is_ok()) return s;
    if (!find_builder(words[1])) {
      std::vector<std::string> quoted;
      for (const std::string& name : builder_names()) quoted.push_back("'" + name + "'");
      return error(
          lineno, static_cast<int>(col),
          fmt::format("%builder must be {}, got '{}'", join_words(quoted), quote_cut(words[1])));
    }
    g_.build.builder = words[1];
    builder_line_ = lineno;
  } else if (d == "stem") {
    if (!(s = need(1)).is_ok()) return s;
    width_line_ = lineno;
    return parse_int(words[1], lineno, col, d, 1, grammar_limits::kChannels,
                     &g_.build.stem_channels);
  } else if (d == "head") {
    if (!(s = need(1)).is_ok()) return s;
    width_line_ = lineno;
    return parse_int(words[1], lineno, col, d, 0, grammar_limits::kChannels,
                     &g_.build.head_channels);
  } else if (d == "cells") {
    if (!(s = need(1)).is_ok()) return s;
    return parse_int(words[1], lineno, col, d, 1, grammar_limits::kCells,
                     &g_.build.cells_per_stage);
  } else if (d == "max-depth") {
    if (!(s = need(1)).is_ok()) return s;
    return parse_int(words[1], lineno, col, d, 1, grammar_limits::kMaxDepth, &g_.max_depth);
  } else if (d == "stages") {
    if (words.size() < 2)
      return error(lineno, static_cast<int>(col), "%stages needs at least one count");
    width_line_ = lineno;
    g_.build.stages.clear();
    int64_t sum = 0;
    for (size_t i = 1; i < words.size(); ++i) {
      int v = 0;
      if (!(s = parse_int(words[i], lineno, col, d, 1, grammar_limits::kLayers, &v)).is_ok())
        return s;
      sum += v;
      g_.build.stages.push_back(v);
    }
    if (sum > grammar_limits::kLayers) {
      return error(lineno, static_cast<int>(col),
                   fmt::format("%stages sum to {} layers, more than the limit of {}", sum,
                               grammar_limits::kLayers));
    }
  } else if (d == "state") {
    if (!(s = need(1)).is_ok()) return s;
    if (words[1] != "tensor") {
      return error(lineno, static_cast<int>(col),
                   fmt::format("%state must be 'tensor', got '{}'", quote_cut(words[1])));
    }
    g_.typed = true;
  } else if (d == "input") {
    if (!(s = need(3)).is_ok()) return s;
    for (int i = 0; i < 3; ++i) {
      const int64_t hi = i == 0 ? grammar_limits::kChannels : grammar_limits::kInputSide;
      if (!(s = parse_int64(words[i + 1], lineno, col, d, 1, hi, &g_.input[i])).is_ok()) {
        return s;
      }
    }
  } else if (d == "classes") {
    if (!(s = need(1)).is_ok()) return s;
    return parse_int64(words[1], lineno, col, d, 1, grammar_limits::kClasses, &g_.classes);
  } else if (d == "max-nodes") {
    if (!(s = need(1)).is_ok()) return s;
    return parse_int64(words[1], lineno, col, d, 0, int64_t{1} << 40, &g_.max_nodes);
  } else if (d == "max-params") {
    if (!(s = need(1)).is_ok()) return s;
    return parse_int64(words[1], lineno, col, d, 0, int64_t{1} << 40, &g_.max_params);
  } else if (d == "max-activation") {
    if (!(s = need(1)).is_ok()) return s;
    return parse_int64(words[1], lineno, col, d, 0, int64_t{1} << 40, &g_.max_activation);
  } else if (d == "max-memory") {
    if (!(s = need(1)).is_ok()) return s;
    return parse_int64(words[1], lineno, col, d, 0, int64_t{1} << 50, &g_.max_memory);
  } else {
    return error(lineno, static_cast<int>(col),
                 fmt::format("unknown directive '%{}' (known: builder, stem, stages, head, "
                             "cells, max-depth, state, input, classes, max-nodes, max-params, "
                             "max-activation, max-memory)",
                             quote_cut(d)));
  }
  return Status::ok();
}

}  // namespace sylva::grammar_internal
