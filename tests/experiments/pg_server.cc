#include "tests/experiments/pg_server.h"

#include <fmt/format.h>
#include <glob.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace sylva::testing {
namespace {

// The newest /usr/lib/postgresql/N/bin, or "" when none is installed.
std::string server_bin() {
  glob_t g;
  std::vector<std::string> found;
  if (glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) found.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  if (found.empty()) return "";
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    return std::atoi(a.c_str() + 20) < std::atoi(b.c_str() + 20);  // after /usr/lib/postgresql/
  });
  return found.back().substr(0, found.back().size() - std::string("/postgres").size());
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string PgServer::run_as() const { return geteuid() == 0 ? "runuser -u postgres -- " : ""; }

PgServer::PgServer(const std::string& password) : password_(password) {
  bin_ = server_bin();
  if (bin_.empty()) {
    error_ = "no PostgreSQL server under /usr/lib/postgresql (scripts/install-deps.sh installs it)";
    return;
  }
  char tmpl[] = "/tmp/sylva-pg-XXXXXX";
  if (!mkdtemp(tmpl)) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = tmpl;
  if (geteuid() == 0) {
    const passwd* pg = getpwnam("postgres");
    if (!pg || chown(dir_.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
      error_ = "running as root needs the postgres user to own " + dir_;
      return;
    }
  }
  std::string auth = "-A trust";
  if (!password_.empty()) {
    std::ofstream(dir_ + "/pwfile") << password_ << "\n";
    auth = fmt::format("-A scram-sha-256 --pwfile={}/pwfile", dir_);
  }
  const std::string initdb =
      fmt::format("{}{}/initdb -D {}/data {} -U sylva --no-sync > {}/initdb.log 2>&1", run_as(),
                  bin_, dir_, auth, dir_);
  if (std::system(initdb.c_str()) != 0) {
    error_ = "initdb failed: " + slurp(dir_ + "/initdb.log");
    return;
  }
  // Unix socket in the directory only; fsync off: a test cluster is thrown away.
  const std::string start = fmt::format(
      "{}{}/pg_ctl -D {}/data -l {}/server.log -w -t 60 -o \"-k {} -c listen_addresses='' -F\" "
      "start > /dev/null 2>&1",
      run_as(), bin_, dir_, dir_, dir_);
  if (std::system(start.c_str()) != 0) {
    error_ = "the server did not start: " + slurp(dir_ + "/server.log");
    return;
  }
  started_ = true;
}

PgServer::~PgServer() {
  if (started_) {
    std::system(fmt::format("{}{}/pg_ctl -D {}/data -m immediate -w stop > /dev/null 2>&1",
                            run_as(), bin_, dir_)
                    .c_str());
  }
  if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
}

std::string PgServer::conninfo(const std::string& database) const {
  return fmt::format("host={} port=5432 user=sylva dbname={}{}", dir_, database,
                     password_.empty() ? "" : " password=" + password_);
}

std::string PgServer::url(const std::string& database) const {
  return fmt::format("postgresql://sylva{}@/{}?host={}", password_.empty() ? "" : ":" + password_,
                     database, dir_);
}

std::string PgServer::create_database() {
  const std::string name = "sylva_" + std::to_string(++databases_);
  PGconn* conn = PQconnectdb(conninfo().c_str());
  bool ok = PQstatus(conn) == CONNECTION_OK;
  if (ok) {
    PGresult* r = PQexec(conn, ("CREATE DATABASE " + name).c_str());
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
  }
  PQfinish(conn);
  return ok ? url(name) : "";
}

}  // namespace sylva::testing
