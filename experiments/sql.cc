#include "experiments/sql.h"

#include <cstring>

namespace sylva::experiments::sql {

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

std::string expand(const std::string& sql, const std::map<std::string, std::string>& words) {
  std::string out;
  out.reserve(sql.size());
  for (size_t i = 0; i < sql.size(); ++i) {
    const size_t close = sql[i] == '{' ? sql.find('}', i) : std::string::npos;
    if (close == std::string::npos) {
      out += sql[i];
      continue;
    }
    auto it = words.find(sql.substr(i + 1, close - i - 1));
    if (it == words.end()) {
      throw std::logic_error("sql: unknown word " + sql.substr(i, close - i + 1) + " in " + sql);
    }
    out += it->second;
    i = close;
  }
  return out;
}

// The target for messages: a URL's password (user:PASSWORD@) or a
// password=... keyword replaced by ***.
std::string redact(const std::string& target) {
  std::string s = target;
  const size_t scheme = s.find("://");
  if (scheme != std::string::npos) {
    const size_t at = s.find('@', scheme);
    const size_t colon = s.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      s.replace(colon + 1, at - colon - 1, "***");
    }
  }
  const size_t pw = s.find("password=");
  if (pw != std::string::npos) {
    const size_t end = s.find_first_of(" &", pw);
    s.replace(pw + 9, (end == std::string::npos ? s.size() : end) - pw - 9, "***");
  }
  return s;
}

bool is_postgres(const std::string& target) {
  for (const char* prefix : {"postgresql://", "postgres://", "host=", "dbname="}) {
    if (target.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

StatusOr<std::unique_ptr<Connection>> connect(const std::string& target, bool read_only) {
  return is_postgres(target) ? connect_postgres(target) : connect_sqlite(target, read_only);
}

}  // namespace sylva::experiments::sql
