// The test harness's PostgreSQL: a private server on a Unix socket that
// libpq reaches, answering queries, gone with the object.
#include "tests/experiments/pg_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <string>

namespace sylva::testing {
namespace {

TEST(PgServer, StartsAnswersAndStops) {
  std::string socket_dir;
  {
    PgServer server;
    ASSERT_TRUE(server.ok()) << server.error();
    PGconn* conn = PQconnectdb(server.conninfo().c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    PGresult* r = PQexec(conn, "SELECT 6 * 7, current_user");
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    EXPECT_EQ(std::string(PQgetvalue(r, 0, 0)), "42");
    EXPECT_EQ(std::string(PQgetvalue(r, 0, 1)), "sylva");
    PQclear(r);
    PQfinish(conn);
    // The URL form reaches the same server.
    PGconn* by_url = PQconnectdb(server.url().c_str());
    EXPECT_EQ(PQstatus(by_url), CONNECTION_OK) << PQerrorMessage(by_url);
    socket_dir = PQhost(by_url);
    PQfinish(by_url);
  }
  // Stopped and removed.
  EXPECT_NE(access(socket_dir.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace sylva::testing
