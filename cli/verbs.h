// The verbs of the `sylva` program, one file each; each registers its
// VerbDef (cli/verb.h) from a register_*_verbs() function that
// cli/register_all.cc calls. A verb returns the process exit code and
// reports failures as one line on stderr.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "experiments/config.h"
#include "experiments/store.h"

namespace sylva::cli {

void register_search_verbs();       // verb_search.cc: search, resume, worker
void register_report_verbs();       // verb_reports.cc: status, trials, best
void register_report_page_verbs();  // verb_report.cc: report, dashboard
void register_export_verb();        // verb_export.cc
void register_logs_verb();          // verb_logs.cc
void register_sample_verb();        // verb_sample.cc
void register_supernet_verbs();     // verb_supernet.cc: supernet train | select | sweep

// Prints "sylva: <message>" on stderr and returns the exit code its code
// calls for (exit_code(): usage errors 2, the rest 1).
int fail(const Status& status);

// Opens the database of existing experiments: an SQLite file must exist
// ("VERB: database 'X' does not exist"); reports, resume, export and
// workers never create one. PostgreSQL URLs are opened as they are. The
// verbs that only read open with Access::kReadOnly.
StatusOr<std::unique_ptr<experiments::Store>> open_existing(const std::string& verb,
                                                            const std::string& db,
                                                            experiments::Store::Access access);

// An existing experiment of a database, for the verbs that read one.
struct OpenedExperiment {
  std::unique_ptr<experiments::Store> store;
  experiments::ExperimentRow row;
  experiments::ExperimentConfig config;  // as stored
};
StatusOr<OpenedExperiment> open_experiment(const std::string& verb, const std::string& db,
                                           const std::string& name,
                                           experiments::Store::Access access);

}  // namespace sylva::cli
