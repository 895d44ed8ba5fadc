// A throwaway PostgreSQL server for tests: initdb in a temporary directory,
// the server listening only on a Unix socket there (no TCP), stopped and
// removed when the object goes. PostgreSQL refuses to run as root, so as
// root (CI) initdb and the server run as the `postgres` user that Debian's
// package creates. Every test gets its own cluster.
#pragma once

#include <string>

namespace sylva::testing {

class PgServer {
 public:
  // Starts the server; ok() says whether it came up (error() says why not).
  // With a password, user sylva must give it (scram-sha-256); else trust.
  explicit PgServer(const std::string& password = "");
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // libpq connection string of database `postgres`, user `sylva` (trust).
  std::string conninfo(const std::string& database = "postgres") const;
  // postgresql:// URL of the same.
  std::string url(const std::string& database = "postgres") const;
  // Creates an empty database (sylva_1, sylva_2, ...) and returns its URL;
  // "" on failure.
  std::string create_database();

 private:
  std::string run_as() const;

  std::string dir_, bin_, error_, password_;
  bool started_ = false;
  int databases_ = 0;
};

}  // namespace sylva::testing
