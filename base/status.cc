#include "base/status.h"

#include <fmt/format.h>

namespace sylva {

std::string Status::message() const {
  if (!location_) return what_;
  const SourceLocation& l = *location_;
  if (l.line > 0 && l.column > 0)
    return fmt::format("{}:{}:{}: {}", l.file, l.line, l.column, what_);
  if (l.line > 0) return fmt::format("{}:{}: {}", l.file, l.line, what_);
  if (l.column > 0) return fmt::format("{}, column {}: {}", l.file, l.column, what_);
  return fmt::format("{}: {}", l.file, what_);
}

int exit_code(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists:
      return 2;
    default:
      return 1;
  }
}

}  // namespace sylva
