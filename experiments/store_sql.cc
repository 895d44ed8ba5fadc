#include "experiments/store_sql.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace sylva::experiments::sql {

void fail(sqlite3* db, const std::string& context) { throw Error(sqlite3_errmsg(db), context); }

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    throw Error(message, std::string(sql).substr(0, 80));
  }
}

int64_t to_sql(uint64_t v) {
  int64_t s;
  std::memcpy(&s, &v, sizeof s);
  return s;
}

uint64_t from_sql(int64_t v) {
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

Stmt::Stmt(sqlite3* db, const char* sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail(db, sql);
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt& Stmt::bind_int(int i, int64_t v) {
  if (sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK) fail(db_, sqlite3_sql(stmt_));
  return *this;
}

Stmt& Stmt::bind_real(int i, double v) {
  int rc = std::isnan(v) ? sqlite3_bind_null(stmt_, i) : sqlite3_bind_double(stmt_, i, v);
  if (rc != SQLITE_OK) fail(db_, sqlite3_sql(stmt_));
  return *this;
}

Stmt& Stmt::bind_text(int i, const std::string& v) {
  if (sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8) !=
      SQLITE_OK) {
    fail(db_, sqlite3_sql(stmt_));
  }
  return *this;
}

Stmt& Stmt::bind_blob(int i, const std::string& v) {
  // data() is never null, so an empty string binds a zero-length blob, not NULL.
  if (sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_STATIC) != SQLITE_OK) {
    fail(db_, sqlite3_sql(stmt_));
  }
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, sqlite3_sql(stmt_));
}

void Stmt::run() {
  while (step()) {
  }
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::col_int(int c) const { return sqlite3_column_int64(stmt_, c); }

double Stmt::col_real(int c) const {
  if (col_null(c)) return std::numeric_limits<double>::quiet_NaN();
  return sqlite3_column_double(stmt_, c);
}

std::string Stmt::col_text(int c) const {
  const unsigned char* p = sqlite3_column_text(stmt_, c);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, c));
}

std::string Stmt::col_blob(int c) const {
  const void* p = sqlite3_column_blob(stmt_, c);
  int n = sqlite3_column_bytes(stmt_, c);  // after column_blob, as sqlite documents
  if (!p || n == 0) return {};
  return std::string(static_cast<const char*>(p), n);
}

bool Stmt::col_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }

Transaction::Transaction(sqlite3* db, Mode mode) : db_(db) {
  // IMMEDIATE takes the write lock up front (waiting under busy_timeout), so
  // a writer never fails mid-transaction on a read-to-write upgrade.
  exec(db, mode == kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  exec(db_, "COMMIT");
  done_ = true;
}

}  // namespace sylva::experiments::sql
