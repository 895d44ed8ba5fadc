// Status and StatusOr: expected failures (bad grammar, unknown op, trial not
// found, a busy database) are values that callers handle; broken invariants
// throw. Modelled on LevelDB's Status: a code says what kind of failure it
// is, so that the CLI derives its exit code from it (exit_code(): usage
// errors 2, the rest 1) instead of choosing one at each call site; an
// optional location names where in an input file it is. Thread-compatible:
// a value may be copied across threads.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace sylva {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // a bad option, value or input file: the user's to fix (exit 2)
  kNotFound,            // no such experiment, trial, file or key (exit 2)
  kAlreadyExists,       // an experiment of that name exists (exit 2)
  kIOError,             // a read, write or connection failed
  kCorruption,          // stored data that cannot be what it claims
  kBusy,                // the database is locked
  kFailedPrecondition,  // the state does not allow it (a checkpoint of another run)
};

// Where in an input a failure is: "FILE:LINE:COL" (column 0: none), or
// "FILE, column COL" for one-line inputs (line 0), e.g. "canonical form".
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status invalid_argument(std::string what) {
    return Status(StatusCode::kInvalidArgument, std::move(what));
  }
  static Status not_found(std::string what) {
    return Status(StatusCode::kNotFound, std::move(what));
  }
  static Status already_exists(std::string what) {
    return Status(StatusCode::kAlreadyExists, std::move(what));
  }
  static Status io_error(std::string what) { return Status(StatusCode::kIOError, std::move(what)); }
  static Status corruption(std::string what) {
    return Status(StatusCode::kCorruption, std::move(what));
  }
  static Status busy(std::string what) { return Status(StatusCode::kBusy, std::move(what)); }
  static Status failed_precondition(std::string what) {
    return Status(StatusCode::kFailedPrecondition, std::move(what));
  }
  // An invalid argument at a place of an input file.
  static Status at(SourceLocation where, std::string what) {
    Status s(StatusCode::kInvalidArgument, std::move(what));
    s.location_ = std::move(where);
    return s;
  }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // What failed, without the location.
  const std::string& what() const { return what_; }
  const std::optional<SourceLocation>& location() const { return location_; }
  // The whole line: the location, then what failed.
  std::string message() const;

  // The same failure with another code or another message (the location kept).
  Status with_code(StatusCode code) const {
    Status s = *this;
    s.code_ = code;
    return s;
  }
  // `prefix` + what (e.g. "--space " + "'x' is not a readable supernet file").
  Status prefixed(const std::string& prefix) const {
    Status s = *this;
    s.what_ = prefix + what_;
    return s;
  }

 private:
  Status(StatusCode code, std::string what) : code_(code), what_(std::move(what)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string what_;
  std::optional<SourceLocation> location_;
};

// The process exit code for a failure, one rule for every verb: 2 for usage
// errors (a bad option or value, or a database, experiment, trial or file
// named on the command line that is not there, a name already taken), 1 for
// what fails while doing valid work (I/O, a damaged database, a run in which
// nothing completed); 0 for ok.
int exit_code(const Status& status);

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

}  // namespace sylva

// Declares `var` from a StatusOr expression, returning its Status on error.
#define SYLVA_ASSIGN(var, expr)                    \
  auto var##_or = (expr);                          \
  if (!var##_or.is_ok()) return var##_or.status(); \
  auto var = std::move(var##_or).value()

// Returns the Status of `expr` when it is an error.
#define SYLVA_RETURN_IF_ERROR(expr)                   \
  do {                                                \
    ::sylva::Status sylva_status_ = (expr);           \
    if (!sylva_status_.is_ok()) return sylva_status_; \
  } while (0)
