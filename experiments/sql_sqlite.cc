// The SQLite driver of sql.h: WAL mode, a long busy timeout and BEGIN
// IMMEDIATE for writes, so that several processes share one file without
// "database is locked".
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "experiments/sql.h"

namespace sylva::experiments::sql {
namespace {

const std::map<std::string, std::string>& sqlite_words() {
  static const std::map<std::string, std::string> words = {
      {"id", "INTEGER PRIMARY KEY"},
      {"int", "INTEGER"},
      {"real", "REAL"},
      {"blob", "BLOB"},
      {"skip_locked", ""},  // BEGIN IMMEDIATE already serialises claims
      {"without_rowid", "WITHOUT ROWID"},
      {"now", "strftime('%Y-%m-%dT%H:%M:%fZ','now')"},
      {"ago", "strftime('%Y-%m-%dT%H:%M:%fZ','now',(0.0 - ?) || ' seconds')"},
  };
  return words;
}

[[noreturn]] void fail(sqlite3* db, const std::string& context) {
  throw Error(sqlite3_errmsg(db), context);
}

class SqliteQuery final : public Query {
 public:
  SqliteQuery(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) fail(db, sql);
  }
  ~SqliteQuery() override { sqlite3_finalize(stmt_); }

  void bind_int(int i, int64_t v) override { check(sqlite3_bind_int64(stmt_, i, v)); }
  void bind_real(int i, double v) override {
    check(std::isnan(v) ? sqlite3_bind_null(stmt_, i) : sqlite3_bind_double(stmt_, i, v));
  }
  void bind_text(int i, const std::string& v) override {
    check(sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void bind_blob(int i, const std::string& v) override {
    // data() is never null, so an empty string binds a zero-length blob, not NULL.
    check(sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_STATIC));
  }
  bool step() override {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
      changes_ = sqlite3_changes(db_);
      return false;
    }
    fail(db_, sqlite3_sql(stmt_));
  }
  void reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t changes() const override { return changes_; }
  int64_t col_int(int c) const override { return sqlite3_column_int64(stmt_, c); }
  double col_real(int c) const override {
    if (col_null(c)) return std::numeric_limits<double>::quiet_NaN();
    return sqlite3_column_double(stmt_, c);
  }
  std::string col_text(int c) const override {
    const unsigned char* p = sqlite3_column_text(stmt_, c);
    if (!p) return {};
    return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, c));
  }
  std::string col_blob(int c) const override {
    const void* p = sqlite3_column_blob(stmt_, c);
    int n = sqlite3_column_bytes(stmt_, c);  // after column_blob, as sqlite documents
    if (!p || n == 0) return {};
    return std::string(static_cast<const char*>(p), n);
  }
  bool col_null(int c) const override { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, sqlite3_sql(stmt_));
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int64_t changes_ = 0;
};

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteConnection() override { sqlite3_close_v2(db_); }

  std::unique_ptr<Query> prepare(const std::string& sql) override {
    return std::make_unique<SqliteQuery>(db_, expand(sql, sqlite_words()));
  }
  void exec(const std::string& sql) override {
    const std::string text = expand(sql, sqlite_words());
    char* err = nullptr;
    if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string message = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      throw Error(message, text);
    }
  }
  // IMMEDIATE takes the write lock up front (waiting under busy_timeout), so
  // a writer never fails mid-transaction on a read-to-write upgrade.
  void begin(Mode mode) override { exec(mode == kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"); }
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }
  bool has_table(const std::string& name) override {
    SqliteQuery q(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    q.bind_text(1, name);
    q.step();
    return q.col_int(0) > 0;
  }
  int64_t table_count() override {
    SqliteQuery q(db_, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'");
    q.step();
    return q.col_int(0);
  }
  const std::string& where() const override { return path_; }

 private:
  sqlite3* db_;  // owned
  std::string path_;
};

}  // namespace

StatusOr<std::unique_ptr<Connection>> connect_sqlite(const std::string& path) {
  // RETURNING and INSERT ... SELECT ... ON CONFLICT need 3.35 (Debian 12 has 3.40).
  if (sqlite3_libversion_number() < 3035000) {
    return Status::failed_precondition(std::string("SQLite ") + sqlite3_libversion() +
                                       " is too old for sylva's store: 3.35 or newer is needed");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Status::io_error("cannot open database " + path + ": " + why);
  }
  auto c = std::make_unique<SqliteConnection>(db, path);
  sqlite3_extended_result_codes(db, 1);
  // Writers wait for each other (BEGIN IMMEDIATE) instead of failing: a
  // minute covers many worker processes finishing trials at once.
  sqlite3_busy_timeout(db, 60000);
  try {
    c->exec("PRAGMA foreign_keys = ON");
    if (!path.empty() && path != ":memory:") {
      // WAL: readers never block the writer and a killed process loses no
      // committed transaction; NORMAL sync is durable against process crashes.
      // Switching a new file to WAL needs it alone for a moment: another
      // connection opening the same file at once makes the switch return
      // busy without calling the busy handler, so it is retried (up to the
      // busy timeout) rather than failing the second process.
      for (int attempt = 0;; ++attempt) {
        try {
          c->prepare("PRAGMA journal_mode = WAL")->step();
          break;
        } catch (const Error&) {
          if ((sqlite3_errcode(db) & 0xff) != SQLITE_BUSY || attempt >= 6000) throw;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      c->exec("PRAGMA synchronous = NORMAL");
    }
    c->table_count();  // sqlite reads the file lazily: "not a database" surfaces here
  } catch (const Error& e) {
    return Status::io_error("cannot open database " + path + ": " + e.driver_message());
  }
  return StatusOr<std::unique_ptr<Connection>>(std::unique_ptr<Connection>(std::move(c)));
}

}  // namespace sylva::experiments::sql
