// Status and StatusOr: expected failures (bad grammar, unknown op, trial not
// found) are values that callers handle; broken invariants throw. Modelled on
// LevelDB's Status. Thread-compatible: a value may be copied across threads.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace sylva {

class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }

  bool is_ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

// Holds either a value or a failed Status.
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.is_ok()) throw std::logic_error("StatusOr built from an ok Status");
  }

  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const T& value() const& {
    if (!value_) throw std::logic_error("StatusOr::value on error: " + status_.message());
    return *value_;
  }
  T& value() & {
    if (!value_) throw std::logic_error("StatusOr::value on error: " + status_.message());
    return *value_;
  }
  // By value, so that `f().value().member` in a range-for never dangles.
  T value() && {
    if (!value_) throw std::logic_error("StatusOr::value on error: " + status_.message());
    return std::move(*value_);
  }

 private:
  Status status_;
  std::optional<T> value_;
};

// Thrown at a boundary (cli/) to turn a failed Status into one line on stderr.
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sylva

// Declares `var` from a StatusOr expression, returning its Status on error.
#define SYLVA_ASSIGN(var, expr)                    \
  auto var##_or = (expr);                          \
  if (!var##_or.is_ok()) return var##_or.status(); \
  auto var = std::move(var##_or).value()
