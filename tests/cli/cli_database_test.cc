// Databases as users keep them (issue list "Nothing slips through", 3 and 7):
// an archive in a read-only directory reads with every reporting verb, also
// with the -wal a killed writer left behind, and writes nothing there; a
// damaged file is refused by every verb with one line, and left as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "tests/cli/cli_fixture.h"

namespace sylva::testing {
namespace {

namespace fs = std::filesystem;

std::set<std::string> listing(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

TEST_F(CliTest, AReadOnlyArchiveReadsWithEveryReportingVerb) {
  const std::string table = " --space nas-bench-macro --evaluator table --table " + kTable +
                            " --metric test_acc_mean --seed 2";
  ASSERT_EQ(run("search --name done --db " + db_ + table + " --trials 12").code, 0);
  // A second experiment killed mid-way: its last trials are in the -wal.
  start_and_kill({"search", "--name", "killed", "--db", db_, "--space", "nas-bench-macro",
                  "--evaluator", "table", "--table", kTable, "--metric", "test_acc_mean",
                  "--trials", "400", "--stub-delay-ms", "20", "--seed", "3"},
                 "killed", 5);
  ASSERT_TRUE(fs::exists(db_ + "-wal"));
  ASSERT_GT(fs::file_size(db_ + "-wal"), 0u);
  fs::remove(db_ + "-shm");  // as after a copy to an archive: no index beside it
  // Readers cannot write the directory: another user where the tests run
  // as root (who could write anyway), else the directory made read-only.
  const std::string as_reader =
      geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  const std::string archive = dir_ + "/archive";
  fs::create_directory(archive);
  fs::rename(db_, archive + "/s.db");
  fs::rename(db_ + "-wal", archive + "/s.db-wal");
  const std::string db = archive + "/s.db";
  chmod(db.c_str(), 0444);
  chmod((db + "-wal").c_str(), 0444);
  chmod(dir_.c_str(), 0755);
  chmod(archive.c_str(), 0555);
  const std::set<std::string> before = listing(archive);
  auto reader = [&](const std::string& args) {
    // run() prefixes the binary; a reader runs it through setpriv.
    return as_reader.empty() ? run(args) : run_prefixed(as_reader, args);
  };
  Output status = reader("status --db " + db);
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("done"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("killed"), std::string::npos) << status.out;
  Output rows = reader("trials --name done --db " + db + " -f csv");
  ASSERT_EQ(rows.code, 0) << rows.err;
  EXPECT_EQ(std::count(rows.out.begin(), rows.out.end(), '\n'), 1 + 12) << rows.out;
  Output killed = reader("trials --name killed --db " + db + " -f csv");
  ASSERT_EQ(killed.code, 0) << killed.err;
  Output best = reader("best --name done --db " + db);
  ASSERT_EQ(best.code, 0) << best.err;
  Output exported = reader("export --name done --db " + db + " --trial best --format json --out " +
                           (as_reader.empty() ? dir_ : std::string("/tmp")) + "/best-" +
                           fs::path(dir_).filename().string() + ".json");
  EXPECT_EQ(exported.code, 0) << exported.err;
  std::remove(("/tmp/best-" + fs::path(dir_).filename().string() + ".json").c_str());
  EXPECT_EQ(listing(archive), before) << "a reader wrote beside the database";
  // What the readers saw of the killed experiment is what a writer recovers
  // from the -wal: no committed trial hidden.
  chmod(archive.c_str(), 0755);
  chmod(db.c_str(), 0644);
  Output recovered = run("trials --name killed --db " + db + " -f csv");
  ASSERT_EQ(recovered.code, 0) << recovered.err;
  EXPECT_EQ(killed.out, recovered.out);
  EXPECT_GE(std::count(killed.out.begin(), killed.out.end(), 'C'), 5);
}

TEST_F(CliTest, ADamagedDatabaseIsRefusedByEveryVerbAndLeftAsItWas) {
  ASSERT_EQ(run("search --name e --db " + db_ + " --space nas-bench-macro --evaluator table " +
                "--table " + kTable + " --metric test_acc_mean --trials 300 --seed 1")
                .code,
            0);
  const auto size = fs::file_size(db_);
  ASSERT_GT(size, 60000u);
  {
    // 20 KB of noise in the middle of the file.
    std::fstream f(db_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    std::mt19937 rng(20);
    for (int i = 0; i < 20 * 1024; ++i) f.put(static_cast<char>(rng() & 0xff));
  }
  const std::string damaged = slurp(db_);
  for (const std::string& args :
       {"status --db " + db_, "trials --name e --db " + db_, "best --name e --db " + db_,
        "export --name e --db " + db_ + " --trial best --format json --out " + dir_ + "/x.json",
        "search --name new --db " + db_ + " --evaluator stub --trials 3",
        "resume --name e --db " + db_ + " --trials 400", "worker --name e --db " + db_}) {
    Output o = run(args);
    expect_one_line_error(o, "database " + db_ + " is damaged (PRAGMA quick_check: ");
    EXPECT_EQ(o.code, 1) << args;
    EXPECT_EQ(slurp(db_), damaged) << args << " changed the file";
  }
  EXPECT_FALSE(fs::exists(dir_ + "/x.json"));
}

}  // namespace
}  // namespace sylva::testing
