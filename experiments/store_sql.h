// Thin RAII wrappers over the sqlite3 C API, private to the Store
// implementation (store.cc, store_schema.cc, store_artifacts.cc).
//
// Every SQL text is a constant; user values only ever travel as bound
// parameters. Any sqlite error throws sql::Error (a std::runtime_error)
// carrying sqlite's message and the statement, because after open() an SQL error means a bug or
// a broken disk, not something the caller can handle. open() catches these and
// turns them into a Status.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>

// The current time as ISO-8601 UTC with milliseconds, computed by SQLite so
// that every writer shares one clock format.
#define SYLVA_SQL_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

namespace sylva::experiments::sql {

// What every helper below throws: what() has sqlite's message and the
// statement; sqlite_message() has sqlite's message alone, for open()'s Status.
class Error : public std::runtime_error {
 public:
  Error(const std::string& sqlite_message, const std::string& context)
      : std::runtime_error("sqlite: " + sqlite_message + " (in " + context + ")"),
        sqlite_message_(sqlite_message) {}
  const std::string& sqlite_message() const { return sqlite_message_; }

 private:
  std::string sqlite_message_;
};

// Throws Error with sqlite's current error message on `db`.
[[noreturn]] void fail(sqlite3* db, const std::string& context);

// Runs constant SQL with no parameters (DDL, PRAGMA, BEGIN/COMMIT).
void exec(sqlite3* db, const char* sql);

// Seeds are uint64 but SQLite integers are signed 64-bit: store the same bits.
int64_t to_sql(uint64_t v);
uint64_t from_sql(int64_t v);

// One prepared statement. Parameters are 1-based, columns 0-based, as in
// sqlite. Text is copied when bound; blobs (weights can be large) are not, so
// a bound blob must outlive the last step().
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind_int(int i, int64_t v);
  // NaN is stored as NULL (SQLite would do so anyway); read back as NaN.
  Stmt& bind_real(int i, double v);
  Stmt& bind_text(int i, const std::string& v);
  Stmt& bind_blob(int i, const std::string& v);

  // Advances; true while a row is available.
  bool step();
  // Steps a statement that returns no rows.
  void run();
  // Makes the statement ready to run again with new bindings.
  void reset();

  int64_t col_int(int c) const;
  double col_real(int c) const;       // NULL reads as NaN
  std::string col_text(int c) const;  // NULL reads as ""
  std::string col_blob(int c) const;
  bool col_null(int c) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE (write) or BEGIN DEFERRED (a consistent read snapshot);
// rolls back on destruction unless commit() was called, so an exception
// halfway through a state change leaves the database as it was.
class Transaction {
 public:
  enum Mode { kWrite, kRead };
  explicit Transaction(sqlite3* db, Mode mode = kWrite);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();

 private:
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace sylva::experiments::sql
