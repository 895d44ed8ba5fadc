#include "tests/experiments/store_fixture.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <regex>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace sylva::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string base = ::testing::TempDir();
  if (base.empty() || base.back() != '/') base += '/';
  std::string tmpl = base + "sylva_store_XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::unique_ptr<experiments::Store> must_open(const std::string& path) {
  StatusOr<std::unique_ptr<experiments::Store>> s = experiments::Store::open(path);
  if (!s.is_ok()) throw std::runtime_error(s.status().message());
  return std::move(s).value();
}

std::vector<std::vector<std::string>> raw_query(const std::string& path, const char* query) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("raw open");
  std::vector<std::vector<std::string>> rows;
  auto collect = [](void* out, int n, char** values, char**) {
    auto* r = static_cast<std::vector<std::vector<std::string>>*>(out);
    r->emplace_back();
    for (int i = 0; i < n; ++i) r->back().push_back(values[i] ? values[i] : "NULL");
    return 0;
  };
  char* err = nullptr;
  int rc = sqlite3_exec(db, query, collect, &rows, &err);
  std::string message = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error("raw query: " + message);
  return rows;
}

bool is_iso_utc_ms(const std::string& t) {
  static const std::regex re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  return std::regex_match(t, re);
}

std::map<std::string, double> metrics_for(int64_t i) {
  return {{"accuracy", 0.5 + i / 1024.0}, {"params", 1000.0 * i + 7}};
}

uint64_t seed_for(int64_t i) { return 0xFFFFFFFFFFFFFFFFull - static_cast<uint64_t>(i) * 7919; }

PgServer* StoreBackendTest::pg_ = nullptr;

void StoreBackendTest::SetUpTestSuite() {
  if (!pg_) pg_ = new PgServer();
}

void StoreBackendTest::TearDownTestSuite() {
  delete pg_;
  pg_ = nullptr;
}

void StoreBackendTest::SetUp() {
  if (GetParam() == "postgresql") {
    ASSERT_TRUE(pg_->ok()) << pg_->error();
    where_ = pg_->create_database();
    ASSERT_FALSE(where_.empty());
  } else {
    where_ = dir_.file("s.db");
  }
}

// The TEST_Ps of StoreBackendTest are spread over several files; they are
// instantiated once, here.
INSTANTIATE_TEST_SUITE_P(Backends, StoreBackendTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace sylva::testing
