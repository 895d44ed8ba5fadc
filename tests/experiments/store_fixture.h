// Helpers shared by the Store tests (store_test.cc, store_schema_test.cc,
// store_crash_test.cc, store_workers_test.cc): a temporary directory, a raw
// look at what Store wrote, the metrics and seeds test trials finish with, and
// StoreBackendTest, which runs each of its tests on both backends. Defined in
// store_fixture.cc, which also instantiates StoreBackendTest as `Backends`.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "experiments/store.h"
#include "tests/experiments/pg_server.h"

namespace sylva::testing {

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Store::open that throws the status message when it fails.
std::unique_ptr<experiments::Store> must_open(const std::string& path);

// Rows of a query run with the raw C API, to look at what Store wrote.
std::vector<std::vector<std::string>> raw_query(const std::string& path, const char* query);

// Whether `t` reads like 2024-01-02T03:04:05.678Z.
bool is_iso_utc_ms(const std::string& t);

// The metrics a test trial `i` finishes with.
std::map<std::string, double> metrics_for(int64_t i);

// The seed of test trial `i`: near 2^64, so seeds above INT64_MAX round-trip.
uint64_t seed_for(int64_t i);

// The same behaviour from both backends: a fresh SQLite file, or a fresh
// database on one PostgreSQL server shared by the suite.
class StoreBackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  std::unique_ptr<experiments::Store> open() { return must_open(where_); }

  static PgServer* pg_;
  TempDir dir_;
  std::string where_;
};

}  // namespace sylva::testing
