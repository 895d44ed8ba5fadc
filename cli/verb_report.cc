// `sylva report`: one self-contained HTML file of an experiment's (or
// several experiments') plots, from the database alone; `sylva dashboard`:
// the same views served live over HTTP while searches run.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/hand_over.h"
#include "cli/options.h"
#include "cli/verbs.h"
#include "experiments/dashboard.h"
#include "experiments/html_report.h"
#include "experiments/store.h"
#include "experiments/views.h"

namespace sylva::cli {
namespace {

using experiments::ExperimentData;
using experiments::Store;

// Writes `text` to `path` through a temporary file beside it, so that a
// failed write leaves no half report behind.
Status write_file(const std::string& path, const std::string& text) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::io_error(fmt::format("report: cannot write '{}'", path));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      return Status::io_error(fmt::format("report: writing '{}' failed (disk full?)", path));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::io_error(fmt::format("report: cannot write '{}'", path));
  }
  return Status::ok();
}

int run_report(int argc, char** argv) {
  Begun begun = begin_verb("report", argc, argv);
  if (begun.exit_code >= 0) return begun.exit_code;
  auto& v = begun.options.values;
  const auto start = std::chrono::steady_clock::now();
  const std::string out = begun.options.given.count("out") ? v["out"] : "report.html";
  std::error_code ec;
  if (out.empty()) return fail(Status::invalid_argument("report: --out needs a file name"));
  if (std::filesystem::is_directory(out, ec)) {
    return fail(Status::invalid_argument(fmt::format(
        "report: --out '{}' is a directory; give a file, e.g. {}/report.html", out, out)));
  }
  auto store = open_existing("report", v["db"], Store::Access::kReadOnly);
  if (!store.is_ok()) return fail(store.status());
  // The experiments named, in the order given, or all of them.
  std::vector<experiments::ExperimentRow> rows;
  if (begun.options.lists.count("name")) {
    for (const std::string& name : begun.options.lists["name"]) {
      auto row = store.value()->find_experiment(name);
      if (!row.is_ok()) {
        return fail(Status::not_found(fmt::format("report: {} (see `sylva status --db {}`)",
                                                  row.status().message(), v["db"])));
      }
      rows.push_back(std::move(row).value());
    }
  } else {
    rows = store.value()->experiments();
    if (rows.empty()) {
      return fail(Status::not_found(fmt::format("report: database '{}' holds no experiment yet",
                                                experiments::database_for_display(v["db"]))));
    }
  }
  std::vector<ExperimentData> data;
  size_t trials = 0;
  for (const auto& row : rows) {
    auto d = experiments::load_experiment(*store.value(), row);
    if (!d.is_ok()) return fail(d.status());
    trials += d.value().trials.size();
    data.push_back(std::move(d).value());
  }
  std::vector<const ExperimentData*> pointers;
  for (const auto& d : data) pointers.push_back(&d);
  const std::string page = experiments::report_page(
      experiments::report_model(pointers, experiments::database_for_display(v["db"])));
  const Status written = write_file(out, page);
  if (!written.is_ok()) return fail(written);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("wrote {} ({} experiment{}, {} trials, {:.1f} MB) in {:.2f} s\n", out, rows.size(),
             rows.size() == 1 ? "" : "s", trials, page.size() / 1e6, seconds);
  return 0;
}

int run_dashboard(int argc, char** argv) {
  Begun begun = begin_verb("dashboard", argc, argv);
  if (begun.exit_code >= 0) return begun.exit_code;
  auto& v = begun.options.values;
  OptionReader reader(v);
  auto port = reader.integer("port", 0);
  if (!port.is_ok()) return fail(port.status());
  if (port.value() > 65535) {
    return fail(Status::invalid_argument(
        fmt::format("dashboard: --port must be at most 65535, got {}", port.value())));
  }
  auto refresh = reader.integer("refresh-ms", 100);
  if (!refresh.is_ok()) return fail(refresh.status());
  if (v["bind"].empty())
    return fail(Status::invalid_argument("dashboard: --bind needs an address"));
  // It runs for hours and follows experiments made after it started, of any
  // evaluator: sylva-torch serves it.
  if (!kWithTorch) hand_over("the dashboard");
  // Reads what exists: an SQLite file must be there already.
  auto store = open_existing("dashboard", v["db"], Store::Access::kReadOnly);
  if (!store.is_ok()) return fail(store.status());
  experiments::DashboardOptions options;
  options.database = v["db"];
  options.bind = v["bind"];
  options.port = static_cast<int>(port.value());
  options.interval_ms = static_cast<int>(refresh.value());
  std::unique_ptr<experiments::Dashboard> dashboard =
      experiments::Dashboard::open(options, std::move(store).value());
  // Ctrl-C and SIGTERM stop the server from a thread of their own (the
  // server's stop() is not for a signal handler).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  experiments::Dashboard* server = dashboard.get();
  std::atomic<bool> signalled{false};
  std::thread waiter([&signals, &signalled, server] {
    int sig = 0;
    sigwait(&signals, &sig);
    signalled = true;
    server->stop();
  });
  const std::string shown =
      options.bind.find(':') != std::string::npos ? "[" + options.bind + "]" : options.bind;
  const Status served = server->serve([&](int bound) {
    fmt::print("dashboard of {} on http://{}:{}/ (read-only; Ctrl-C stops it)\n",
               experiments::database_for_display(options.database), shown, bound);
    if (options.bind != "127.0.0.1" && options.bind != "localhost" && options.bind != "::1") {
      fmt::print("note: --bind {} lets other machines read this database's experiments\n",
                 options.bind);
    }
    std::fflush(stdout);
  });
  // The waiter ends on a signal: when the server stopped by itself (it
  // could not bind, or failed), it is sent one.
  if (!signalled) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!served.is_ok()) return fail(served);
  return 0;
}

}  // namespace

void register_report_page_verbs() {
  register_verb({"report",
                 "an HTML report of experiments (plots, best architectures, trials), one file",
                 "usage: sylva report [--db FILE] [--name NAME ...] [--out report.html]",
                 accepts_names({"name", "db", "out"}),
                 run_report,
                 /*listed=*/true,
                 {},
                 /*repeated=*/{"name"}});
  register_verb(
      {"dashboard",
       "the report's views live over HTTP while searches run (read-only)",
       "usage: sylva dashboard [--db FILE] [--port 8080] [--bind 127.0.0.1] [--refresh-ms 2000]",
       accepts_names({"db", "port", "bind", "refresh-ms"}),
       run_dashboard,
       /*listed=*/true,
       {}});
}

}  // namespace sylva::cli
