// The PostgreSQL driver of sql.h, on libpq. Statements are prepared once per
// connection and run with PQexecPrepared (parameters as text, bytes as
// binary; results as text).
// Transactions that write run at READ COMMITTED, the Store's claims use
// FOR UPDATE SKIP LOCKED; read snapshots run at REPEATABLE READ.
#include <libpq-fe.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <unordered_map>
#include <vector>

#include "experiments/sql.h"

namespace sylva::experiments::sql {
namespace {

// ISO-8601 UTC text with milliseconds, like SQLite's strftime.
#define SYLVA_PG_ISO "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"

const std::map<std::string, std::string>& pg_words() {
  static const std::map<std::string, std::string> words = {
      {"id", "BIGSERIAL PRIMARY KEY"},
      {"int", "BIGINT"},
      {"real", "DOUBLE PRECISION"},
      {"blob", "BYTEA"},
      {"skip_locked", "FOR UPDATE SKIP LOCKED"},
      {"latest", "greatest"},
      {"without_rowid", ""},
      {"now", "to_char(clock_timestamp() AT TIME ZONE 'UTC', " SYLVA_PG_ISO ")"},
      {"ago",
       "to_char((clock_timestamp() - CAST(? AS DOUBLE PRECISION) * interval '1 second') AT TIME "
       "ZONE 'UTC', " SYLVA_PG_ISO ")"},
  };
  return words;
}

// '?' outside quotes becomes $1, $2, ...
std::string number_placeholders(const std::string& sql) {
  std::string out;
  int n = 0;
  char quote = 0;
  for (char ch : sql) {
    if (quote) {
      if (ch == quote) quote = 0;
    } else if (ch == '\'' || ch == '"') {
      quote = ch;
    } else if (ch == '?') {
      out += "$" + std::to_string(++n);
      continue;
    }
    out += ch;
  }
  return out;
}

std::string first_line(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() { PQclear(r_); }
  PgResult(const PgResult&) = delete;
  PgResult(PgResult&& o) noexcept { std::swap(r_, o.r_); }
  PgResult& operator=(PgResult&& o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  PGresult* get() const { return r_; }

 private:
  PGresult* r_ = nullptr;
};

// Throws Error unless `r` succeeded.
void check(PGconn* conn, const PgResult& r, const std::string& sql) {
  const ExecStatusType s = PQresultStatus(r.get());
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return;
  const char* why = r.get() ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn);
  throw Error("postgresql: " + first_line(why && *why ? why : PQerrorMessage(conn)), sql);
}

// Runs prepared statement `name` with its parameters. A `begin` not yet
// sent ("BEGIN ...", see PgConnection::begin) goes with it in one pipeline:
// one round trip for both. Clears `begin`.
PgResult run_prepared(PGconn* conn, std::string& begin, const std::string& name, int n,
                      const char* const* values, const int* lengths, const int* formats) {
  if (begin.empty()) {
    return PgResult(PQexecPrepared(conn, name.c_str(), n, values, lengths, formats, 0));
  }
  const std::string sent = std::move(begin);
  begin.clear();
  if (!PQenterPipelineMode(conn)) {
    check(conn, PgResult(PQexec(conn, sent.c_str())), sent);
    return PgResult(PQexecPrepared(conn, name.c_str(), n, values, lengths, formats, 0));
  }
  const bool queued =
      PQsendQueryParams(conn, sent.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) &&
      PQsendQueryPrepared(conn, name.c_str(), n, values, lengths, formats, 0) &&
      PQpipelineSync(conn);
  // Each query's result, then a null; then the sync's.
  auto next = [conn] {
    PgResult r(PQgetResult(conn));
    while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
    return r;
  };
  PgResult began, result;
  if (queued) {
    began = next();
    result = next();
    PgResult(PQgetResult(conn));  // PGRES_PIPELINE_SYNC
  }
  PQexitPipelineMode(conn);
  if (!queued) throw Error("postgresql: " + first_line(PQerrorMessage(conn)), sent);
  check(conn, began, sent);
  return result;
}

class PgQuery final : public Query {
 public:
  // `name`: the statement prepared on the connection for `sql`; `begin`:
  // the connection's transaction start not yet sent.
  PgQuery(PGconn* conn, const std::string& sql, const std::string& name, std::string& begin)
      : conn_(conn), sql_(sql), name_(name), begin_(begin) {}

  void bind_int(int i, int64_t v) override { set(i, std::to_string(v), 0); }
  void bind_real(int i, double v) override {
    if (std::isnan(v)) {
      slot(i) = Param{};
      return;
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", v);
    set(i, text, 0);
  }
  void bind_text(int i, const std::string& v) override { set(i, v, 0); }
  void bind_blob(int i, const std::string& v) override {
    Param& p = slot(i);
    p = Param{};
    p.set = true;
    p.blob = &v;
    p.format = 1;
  }
  bool step() override {
    if (!ran_) execute();
    return ++row_ < PQntuples(result_.get());
  }
  void reset() override {
    result_ = PgResult();
    params_.clear();
    ran_ = false;
    row_ = -1;
  }
  int64_t changes() const override {
    const char* n = PQcmdTuples(result_.get());
    return n && *n ? std::atoll(n) : 0;
  }
  int64_t col_int(int c) const override { return std::atoll(value(c)); }
  double col_real(int c) const override {
    if (col_null(c)) return std::numeric_limits<double>::quiet_NaN();
    return std::strtod(value(c), nullptr);
  }
  std::string col_text(int c) const override {
    return std::string(value(c), PQgetlength(result_.get(), row_, c));
  }
  // bytea comes as text "\x0a1b...".
  std::string col_blob(int c) const override {
    const char* hex = value(c);
    const int n = PQgetlength(result_.get(), row_, c);
    std::string out;
    if (n < 2) return out;
    out.reserve((n - 2) / 2);
    auto nibble = [](char h) { return h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10; };
    for (int i = 2; i + 1 < n; i += 2) {
      out += static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
    }
    return out;
  }
  bool col_null(int c) const override { return PQgetisnull(result_.get(), row_, c); }

 private:
  struct Param {
    bool set = false;  // unset or NaN: NULL
    std::string text;
    const std::string* blob = nullptr;
    int format = 0;
  };
  Param& slot(int i) {
    if (static_cast<int>(params_.size()) < i) params_.resize(i);
    return params_[i - 1];
  }
  void set(int i, std::string text, int format) {
    Param& p = slot(i);
    p = Param{};
    p.set = true;
    p.text = std::move(text);
    p.format = format;
  }
  const char* value(int c) const { return PQgetvalue(result_.get(), row_, c); }
  void execute() {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const Param& p : params_) {
      if (!p.set) {
        values.push_back(nullptr);
      } else if (p.blob) {
        values.push_back(p.blob->data());
      } else {
        values.push_back(p.text.c_str());
      }
      lengths.push_back(p.blob ? static_cast<int>(p.blob->size()) : 0);
      formats.push_back(p.format);
    }
    result_ = run_prepared(conn_, begin_, name_, static_cast<int>(values.size()), values.data(),
                           lengths.data(), formats.data());
    check(conn_, result_, sql_);
    ran_ = true;
    row_ = -1;
  }

  PGconn* conn_;
  const std::string& sql_;   // the connection's copy, for messages
  const std::string& name_;  // the prepared statement's
  std::string& begin_;       // the connection's
  std::vector<Param> params_;
  PgResult result_;
  bool ran_ = false;
  int row_ = -1;
};

class PgConnection final : public Connection {
 public:
  PgConnection(PGconn* conn, std::string where) : conn_(conn), where_(std::move(where)) {}
  ~PgConnection() override { PQfinish(conn_); }

  // Each text is prepared once per connection (PQprepare: parsed and
  // planned by the server once, not at every run).
  std::unique_ptr<Query> prepare(const std::string& sql) override {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      Prepared p;
      p.text = number_placeholders(expand(sql, pg_words()));
      p.name = "sylva_" + std::to_string(prepared_.size());
      check(conn_, PgResult(PQprepare(conn_, p.name.c_str(), p.text.c_str(), 0, nullptr)), p.text);
      it = prepared_.emplace(sql, std::move(p)).first;
    }
    return std::make_unique<PgQuery>(conn_, it->second.text, it->second.name, begin_);
  }
  void exec(const std::string& sql) override {
    // A pending BEGIN goes first in the same simple query.
    const std::string text = (begin_.empty() ? "" : begin_ + "; ") + expand(sql, pg_words());
    begin_.clear();
    check(conn_, PgResult(PQexec(conn_, text.c_str())), text);
  }
  // The BEGIN waits for the transaction's first statement and travels with
  // it (a round trip less a transaction; a snapshot starts at the first
  // statement all the same). A transaction that ran nothing costs nothing.
  void begin(Mode mode) override {
    begin_ = mode == kWrite ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ";
  }
  void commit() override {
    if (!begin_.empty()) {
      begin_.clear();
      return;
    }
    exec("COMMIT");
  }
  void rollback() noexcept override {
    if (!begin_.empty()) {
      begin_.clear();
      return;
    }
    PQclear(PQexec(conn_, "ROLLBACK"));
  }
  void lock_transaction(int64_t key) override {
    auto q = prepare("SELECT pg_advisory_xact_lock(?)");
    q->bind_int(1, key);
    q->step();
  }
  bool try_session_lock(int64_t key) override {
    auto q = prepare("SELECT pg_try_advisory_lock(?)");
    q->bind_int(1, key);
    q->step();
    return q->col_text(0) == "t";
  }
  void session_unlock(int64_t key) override {
    auto q = prepare("SELECT pg_advisory_unlock(?)");
    q->bind_int(1, key);
    q->step();
  }
  bool has_session_locks() const override { return true; }
  bool writes_in_with() const override { return true; }
  void refresh_statistics() override {
    exec("ANALYZE trials, trial_metrics, trial_intermediate, trial_heartbeats, workers");
  }
  bool has_table(const std::string& name) override {
    auto q = prepare(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?");
    q->bind_text(1, name);
    q->step();
    return q->col_int(0) > 0;
  }
  int64_t table_count() override {
    auto q = prepare("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()");
    q->step();
    return q->col_int(0);
  }
  const std::string& where() const override { return where_; }

 private:
  struct Prepared {
    std::string text;  // as the server has it
    std::string name;
  };
  PGconn* conn_;  // owned
  std::string where_;
  std::string begin_;  // a transaction's start, sent with its first statement
  std::unordered_map<std::string, Prepared> prepared_;  // by the Store's text
};

}  // namespace

StatusOr<std::unique_ptr<Connection>> connect_postgres(const std::string& url) {
  const std::string where = redact(url);
  // Defaults first: the URL's own settings (expanded from dbname) win.
  // Keepalives let the server notice a dead host and free its locks.
  const char* keys[] = {"connect_timeout",
                        "application_name",
                        "keepalives_idle",
                        "keepalives_interval",
                        "keepalives_count",
                        "dbname",
                        nullptr};
  const char* values[] = {"10", "sylva", "30", "10", "3", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!conn || PQstatus(conn) != CONNECTION_OK) {
    std::string why = conn ? first_line(PQerrorMessage(conn)) : "out of memory";
    PQfinish(conn);
    return Status::io_error("cannot connect to PostgreSQL at " + where + ": " + why);
  }
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  auto c = std::make_unique<PgConnection>(conn, where);
  try {
    c->exec("SET client_min_messages = warning");
  } catch (const Error& e) {
    return Status::io_error("cannot use PostgreSQL at " + where + ": " + e.driver_message());
  }
  return StatusOr<std::unique_ptr<Connection>>(std::unique_ptr<Connection>(std::move(c)));
}

}  // namespace sylva::experiments::sql
