// The SQLite driver of sql.h: WAL mode, a long busy timeout and BEGIN
// IMMEDIATE for writes, so that several processes share one file without
// "database is locked".
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <system_error>
#include <thread>
#include <unordered_map>

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
      {"latest", "max"},    // of two values that are not NULL
      {"without_rowid", "WITHOUT ROWID"},
      {"now", "strftime('%Y-%m-%dT%H:%M:%fZ','now')"},
      {"ago", "strftime('%Y-%m-%dT%H:%M:%fZ','now',(0.0 - ?) || ' seconds')"},
  };
  return words;
}

[[noreturn]] void fail(sqlite3* db, const std::string& context) {
  throw Error(sqlite3_errmsg(db), context);
}

// A connection's prepared statements, idle ones kept by their text: the
// experiment loop runs the same few statements thousands of times a second,
// and preparing one costs as much as running it. A statement in use is
// taken out; one whose text is in use already is prepared afresh (and
// finalized after use if the cache has one idle by then).
class StatementCache {
 public:
  ~StatementCache() { clear(); }
  sqlite3_stmt* take(const std::string& text) {
    auto it = idle_.find(text);
    if (it == idle_.end()) return nullptr;
    sqlite3_stmt* stmt = it->second;
    idle_.erase(it);
    return stmt;
  }
  void give_back(const std::string& text, sqlite3_stmt* stmt) {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (!idle_.emplace(text, stmt).second) sqlite3_finalize(stmt);
  }
  void clear() {
    for (auto& [text, stmt] : idle_) sqlite3_finalize(stmt);
    idle_.clear();
  }

 private:
  std::unordered_map<std::string, sqlite3_stmt*> idle_;
};

class SqliteQuery final : public Query {
 public:
  SqliteQuery(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) fail(db, sql);
  }
  // A statement of `cache`, given back to it when the query ends.
  SqliteQuery(sqlite3* db, sqlite3_stmt* stmt, StatementCache* cache, std::string text)
      : db_(db), stmt_(stmt), cache_(cache), text_(std::move(text)) {}
  ~SqliteQuery() override {
    if (cache_) {
      cache_->give_back(text_, stmt_);
    } else {
      sqlite3_finalize(stmt_);
    }
  }

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
  StatementCache* cache_ = nullptr;  // where stmt_ goes back, or null: finalize
  std::string text_;                 // its key there (the unexpanded text)
  int64_t changes_ = 0;
};

class SqliteConnection final : public Connection {
 public:
  // `scratch`: a private directory holding a copy of the database, removed
  // with the connection.
  SqliteConnection(sqlite3* db, std::string path, std::string scratch = "")
      : db_(db), path_(std::move(path)), scratch_(std::move(scratch)) {}
  ~SqliteConnection() override {
    cache_.clear();
    sqlite3_close_v2(db_);
    if (!scratch_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_, ignored);
    }
  }

  std::string integrity_problem() override {
    try {
      SqliteQuery check(db_, "PRAGMA quick_check(1)");
      if (!check.step()) return "quick_check returned nothing";
      // "*** in database main ***\nPage 39: ...": the first line that says
      // what is wrong.
      std::string first = check.col_text(0);
      if (first == "ok") return "";
      std::string line;
      for (size_t at = 0; at < first.size();) {
        size_t end = first.find('\n', at);
        if (end == std::string::npos) end = first.size();
        line = first.substr(at, end - at);
        if (line.rfind("***", 0) != 0 && !line.empty()) break;
        at = end + 1;
      }
      return line;
    } catch (const Error& e) {
      return e.driver_message();
    }
  }

  std::unique_ptr<Connection> copy_in_memory() override {
    sqlite3* memory = nullptr;
    if (sqlite3_open(":memory:", &memory) != SQLITE_OK) {
      sqlite3_close(memory);
      return nullptr;
    }
    sqlite3_backup* backup = sqlite3_backup_init(memory, "main", db_, "main");
    const bool copied = backup && sqlite3_backup_step(backup, -1) == SQLITE_DONE;
    if (backup) sqlite3_backup_finish(backup);
    if (!copied) {
      sqlite3_close(memory);
      return nullptr;
    }
    return std::make_unique<SqliteConnection>(memory, path_);
  }

  std::unique_ptr<Query> prepare(const std::string& sql) override {
    sqlite3_stmt* stmt = cache_.take(sql);
    if (!stmt) {
      const std::string text = expand(sql, sqlite_words());
      if (sqlite3_prepare_v2(db_, text.c_str(), -1, &stmt, nullptr) != SQLITE_OK) fail(db_, text);
    }
    return std::make_unique<SqliteQuery>(db_, stmt, &cache_, sql);
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
  // Prepared once (the cache), not parsed at every transaction.
  void begin(Mode mode) override {
    prepare(mode == kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")->step();
  }
  void commit() override { prepare("COMMIT")->step(); }
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
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_;  // owned
  std::string path_;
  std::string scratch_;
  StatementCache cache_;  // statements of prepare(), kept between uses
};

std::string fmt_hex(unsigned char ch) {
  static const char kDigits[] = "0123456789ABCDEF";
  return std::string{'%', kDigits[ch >> 4], kDigits[ch & 15]};
}

// `path` as an SQLite URI with `query` ("immutable=1").
std::string file_uri(const std::string& path, const std::string& query) {
  std::string uri = "file:";
  for (unsigned char ch : path) {
    if (ch == '%' || ch == '?' || ch == '#' || ch < 0x20) {
      uri += fmt_hex(ch);
    } else {
      uri += static_cast<char>(ch);
    }
  }
  return uri + "?" + query;
}

Status open_handle(const std::string& name, int flags, const std::string& path, sqlite3** db) {
  int rc = sqlite3_open_v2(name.c_str(), db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc);
    sqlite3_close_v2(*db);
    *db = nullptr;
    return Status::io_error("cannot open database " + path + ": " + why);
  }
  sqlite3_extended_result_codes(*db, 1);
  return Status::ok();
}

// A read-only connection: the file as it is, without creating anything
// beside it. A WAL database needs its -shm index: where that cannot be made
// (a read-only directory), a file without a pending -wal is read immutable;
// one with a -wal left by a killed writer is copied, with its -wal, to a
// private directory and read there, so that its last transactions are seen.
StatusOr<std::unique_ptr<SqliteConnection>> open_read_only(const std::string& path) {
  sqlite3* db = nullptr;
  SYLVA_RETURN_IF_ERROR(open_handle(path, SQLITE_OPEN_READONLY, path, &db));
  auto c = std::make_unique<SqliteConnection>(db, path);
  try {
    c->table_count();
    return c;
  } catch (const Error& e) {
    const int code = sqlite3_extended_errcode(db);
    if ((code & 0xff) != SQLITE_CANTOPEN && (code & 0xff) != SQLITE_READONLY) {
      return Status::io_error("cannot open database " + path + ": " + e.driver_message());
    }
  }
  c.reset();
  std::error_code ec;
  const std::string wal = path + "-wal";
  if (std::filesystem::exists(wal, ec) && std::filesystem::file_size(wal, ec) > 0 && !ec) {
    std::string scratch = (std::filesystem::temp_directory_path(ec) / "sylva-ro-XXXXXX").string();
    if (!mkdtemp(scratch.data())) {
      return Status::io_error("cannot read database " + path +
                              " read-only: its -wal needs a private copy, and no temporary "
                              "directory could be made");
    }
    const std::string copy = scratch + "/copy.db";
    std::filesystem::copy_file(path, copy, ec);
    if (!ec) std::filesystem::copy_file(wal, copy + "-wal", ec);
    if (ec) {
      std::filesystem::remove_all(scratch, ec);
      return Status::io_error("cannot copy database " + path + " to read it: " + ec.message());
    }
    SYLVA_RETURN_IF_ERROR(open_handle(copy, SQLITE_OPEN_READWRITE, path, &db));
    return std::make_unique<SqliteConnection>(db, path, scratch);
  }
  db = nullptr;
  SYLVA_RETURN_IF_ERROR(open_handle(file_uri(path, "immutable=1"),
                                    SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, path, &db));
  return std::make_unique<SqliteConnection>(db, path);
}

}  // namespace

StatusOr<std::unique_ptr<Connection>> connect_sqlite(const std::string& path, bool read_only) {
  // RETURNING and INSERT ... SELECT ... ON CONFLICT need 3.35 (Debian 12 has 3.40).
  if (sqlite3_libversion_number() < 3035000) {
    return Status::failed_precondition(std::string("SQLite ") + sqlite3_libversion() +
                                       " is too old for sylva's store: 3.35 or newer is needed");
  }
  if (read_only && path != ":memory:") {
    SYLVA_ASSIGN(c, open_read_only(path));
    sqlite3_busy_timeout(c->handle(), 60000);
    return StatusOr<std::unique_ptr<Connection>>(std::unique_ptr<Connection>(std::move(c)));
  }
  sqlite3* db = nullptr;
  SYLVA_RETURN_IF_ERROR(open_handle(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, path, &db));
  auto c = std::make_unique<SqliteConnection>(db, path);
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
