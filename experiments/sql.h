// A small SQL layer with two drivers, SQLite (sql_sqlite.cc) and PostgreSQL
// through libpq (sql_postgres.cc), private to the Store implementation.
//
// The Store's statements are written once: '?' placeholders (numbered for
// PostgreSQL by its driver) and a few {words} that each dialect spells its
// own way (see expand()). Every SQL text is a constant; user values only ever
// travel as bound parameters. Any driver error throws sql::Error (a
// std::runtime_error) carrying the driver's message and the statement,
// because after open() an SQL error means a bug, a broken disk or a lost
// server, not something the caller can handle. open() catches these and
// turns them into a Status.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "base/status.h"

namespace sylva::experiments::sql {

// What() has the driver's message and the statement; driver_message() the
// message alone, for open()'s Status.
class Error : public std::runtime_error {
 public:
  Error(const std::string& driver_message, const std::string& context)
      : std::runtime_error(driver_message + " (in " + context.substr(0, 120) + ")"),
        driver_message_(driver_message) {}
  const std::string& driver_message() const { return driver_message_; }

 private:
  std::string driver_message_;
};

// Seeds are uint64 but SQL integers are signed 64-bit: store the same bits.
int64_t to_sql(uint64_t v);
uint64_t from_sql(int64_t v);

// One statement of a driver. Parameters are 1-based, columns 0-based.
class Query {
 public:
  virtual ~Query() = default;
  virtual void bind_int(int i, int64_t v) = 0;
  virtual void bind_real(int i, double v) = 0;  // NaN binds NULL
  virtual void bind_text(int i, const std::string& v) = 0;
  virtual void bind_blob(int i, const std::string& v) = 0;
  // Runs the statement on the first call after binding; true while a row is
  // available.
  virtual bool step() = 0;
  virtual void reset() = 0;             // ready to run again with new bindings
  virtual int64_t changes() const = 0;  // rows the last run inserted, updated or deleted
  virtual int64_t col_int(int c) const = 0;
  virtual double col_real(int c) const = 0;       // NULL reads as NaN
  virtual std::string col_text(int c) const = 0;  // NULL reads as ""
  virtual std::string col_blob(int c) const = 0;
  virtual bool col_null(int c) const = 0;
};

// One connection. Not thread-safe.
class Connection {
 public:
  virtual ~Connection() = default;
  // `sql` may hold '?' placeholders and {words}.
  virtual std::unique_ptr<Query> prepare(const std::string& sql) = 0;
  // Runs statements without parameters (DDL), several separated by ';'.
  virtual void exec(const std::string& sql) = 0;
  // kWrite: a transaction that writes (SQLite takes the write lock up
  // front); kRead: one consistent snapshot.
  enum Mode { kWrite, kRead };
  virtual void begin(Mode mode) = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  // Waits until no other transaction holds `key` and holds it until this
  // transaction ends (PostgreSQL advisory locks; SQLite's write lock already
  // excludes every other writer).
  virtual void lock_transaction(int64_t key) {}
  // A lock held for the life of the connection, released by the server when
  // the process dies (PostgreSQL advisory locks); false if another holds it
  // or the driver has no such lock (SQLite: leases in the database serve).
  virtual bool try_session_lock(int64_t key) { return false; }
  virtual void session_unlock(int64_t key) {}
  virtual bool has_session_locks() const { return false; }
  // Whether a WITH clause may hold an INSERT, UPDATE or DELETE (PostgreSQL),
  // so that dependent writes go to a server in one round trip.
  virtual bool writes_in_with() const { return false; }
  // Refreshes the planner's statistics of the tables that grow with an
  // experiment (PostgreSQL's ANALYZE, which autovacuum runs only about once
  // a minute: plans made while the tables were nearly empty pick any index
  // that starts with the experiment and scan all its trials once they have
  // grown). SQLite plans without them.
  virtual void refresh_statistics() {}
  virtual bool has_table(const std::string& name) = 0;
  virtual int64_t table_count() = 0;  // tables of any kind in the database
  // The first problem PRAGMA quick_check finds, "" when the file is sound
  // (and on drivers whose server keeps its own integrity).
  virtual std::string integrity_problem() { return ""; }
  // A private, writable in-memory copy of the database (SQLite), so that a
  // read-only file of an older schema can be migrated and read without
  // being written; nullptr where the driver cannot.
  virtual std::unique_ptr<Connection> copy_in_memory() { return nullptr; }
  // Where the database is, for messages (a URL without its password).
  virtual const std::string& where() const = 0;

  // A batch: the Transactions made while one is open share one database
  // transaction, begun by the first of them (a read one, turned into a
  // write one by the first write: its reads needed no atomicity with what
  // follows) and committed when the batch ends or is flushed, so that many
  // changes pay for one commit. A Transaction left without commit inside
  // a batch undoes nothing (each leaves early only before it wrote); an
  // exception out of the batch rolls the whole of it back.
  void batch_begin() { ++batch_depth_; }
  void batch_end(bool commit_it) {
    if (--batch_depth_ > 0) return;
    if (commit_it) {
      flush();
    } else if (batch_open_ != kNone) {
      batch_open_ = kNone;
      rollback();
    }
  }
  // Commits what the batch wrote so far; the batch goes on.
  void flush() {
    if (batch_open_ == kNone) return;
    batch_open_ = kNone;
    commit();
  }

 private:
  friend class Transaction;
  enum Open { kNone, kReading, kWriting };
  // A Transaction's begin inside a batch; true if it began nothing.
  bool batched_begin(Mode mode) {
    if (batch_depth_ == 0) return false;
    if (batch_open_ == kWriting || (batch_open_ == kReading && mode == kRead)) return true;
    if (batch_open_ == kReading) commit();
    begin(mode);
    batch_open_ = mode == kWrite ? kWriting : kReading;
    return true;
  }
  int batch_depth_ = 0;
  Open batch_open_ = kNone;
};

// Replaces each {word} of `sql` by its spelling in `words`; an unknown word
// is a bug (std::logic_error). The words the Store uses:
//   {id}            an auto-numbered 64-bit primary key
//   {int} {real} {blob}  64-bit integer, double, bytes
//   {without_rowid} SQLite's clustered-table clause; nothing elsewhere
//   {skip_locked}   after a SELECT in a write transaction: lock the rows
//                   read, skipping rows another transaction has locked
//                   (PostgreSQL; SQLite's write lock already excludes others)
//   {now}           the current time as ISO-8601 UTC text with milliseconds,
//                   by the database's clock
//   {ago}           the same, minus a bound number of seconds (one '?')
std::string expand(const std::string& sql, const std::map<std::string, std::string>& words);

// Opens a driver: "postgresql://..." or "postgres://..." (or a libpq
// "key=value" string starting with "host=" or "dbname=") is PostgreSQL,
// anything else an SQLite file (":memory:" a private in-memory database).
// With `read_only`, an SQLite file is opened without writing anything to it
// or beside it (a read-only directory, a WAL file whose -shm cannot be made).
StatusOr<std::unique_ptr<Connection>> connect(const std::string& target, bool read_only = false);
bool is_postgres(const std::string& target);
// The target for messages: a URL's password (user:PASSWORD@) or a
// password=... keyword replaced by ***.
std::string redact(const std::string& target);
StatusOr<std::unique_ptr<Connection>> connect_sqlite(const std::string& path, bool read_only);
StatusOr<std::unique_ptr<Connection>> connect_postgres(const std::string& url);

// A statement with chaining binds, as the Store writes them.
class Stmt {
 public:
  Stmt(Connection& c, const std::string& sql) : q_(c.prepare(sql)) {}
  Stmt& bind_int(int i, int64_t v) {
    q_->bind_int(i, v);
    return *this;
  }
  Stmt& bind_real(int i, double v) {
    q_->bind_real(i, v);
    return *this;
  }
  Stmt& bind_text(int i, const std::string& v) {
    q_->bind_text(i, v);
    return *this;
  }
  // The bytes are not copied: a bound blob must outlive the last step().
  Stmt& bind_blob(int i, const std::string& v) {
    q_->bind_blob(i, v);
    return *this;
  }
  bool step() { return q_->step(); }
  void run() {
    while (q_->step()) {
    }
  }
  void reset() { q_->reset(); }
  int64_t changes() const { return q_->changes(); }
  int64_t col_int(int c) const { return q_->col_int(c); }
  double col_real(int c) const { return q_->col_real(c); }
  std::string col_text(int c) const { return q_->col_text(c); }
  std::string col_blob(int c) const { return q_->col_blob(c); }
  bool col_null(int c) const { return q_->col_null(c); }

 private:
  std::unique_ptr<Query> q_;
};

// Begins on construction; rolls back on destruction unless commit() was
// called, so an exception halfway through a state change leaves the database
// as it was.
class Transaction {
 public:
  explicit Transaction(Connection& c, Connection::Mode mode = Connection::kWrite)
      : c_(c), batched_(c.batched_begin(mode)) {
    if (!batched_) c_.begin(mode);
  }
  ~Transaction() {
    if (!done_ && !batched_) c_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    if (!batched_) c_.commit();
    done_ = true;
  }

 private:
  Connection& c_;
  const bool batched_;  // part of the connection's batch: it commits
  bool done_ = false;
};

}  // namespace sylva::experiments::sql
