// The verbs of the `sylva` program, one file each; each returns the process
// exit code and reports failures as one line on stderr.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "experiments/store.h"

namespace sylva::cli {

int run_search(int argc, char** argv);    // verb_search.cc
int run_resume(int argc, char** argv);    // verb_search.cc
int run_worker(int argc, char** argv);    // verb_search.cc
int run_status(int argc, char** argv);    // verb_reports.cc
int run_trials(int argc, char** argv);    // verb_reports.cc
int run_best(int argc, char** argv);      // verb_reports.cc
int run_export(int argc, char** argv);    // verb_export.cc
int run_sample(int argc, char** argv);    // verb_sample.cc
int run_supernet(int argc, char** argv);  // verb_supernet.cc

// Prints "sylva: <message>" on stderr and returns the exit code for it.
int fail(const Status& status, int code = 1);

// Opens the database of existing experiments: an SQLite file must exist
// ("VERB: database 'X' does not exist"); reports, resume, export and
// workers never create one. PostgreSQL URLs are opened as they are.
StatusOr<std::unique_ptr<experiments::Store>> open_existing(const std::string& verb,
                                                            const std::string& db);

}  // namespace sylva::cli
