// The `table` evaluator: looks an architecture's metrics up in a CSV file, as
// tabular NAS benchmarks (NAS-Bench-Macro, NAS-Bench-201 exports) publish them.
//
// The CSV has a header row with a `key` column holding Architecture::key and
// numeric columns (an empty cell is a missing value, left out of the metrics).
// evaluate() returns every present numeric column of the key's row as a
// metric, or state kFail with "key 'K' not in table PATH". A space with
// hyperparameters looks the searched key (Job::key, "lr=0.1/...") up first,
// then the network's (Job::arch.key), so a plain benchmark table serves it. The whole file is
// read at construction; afterwards the evaluator is read-only, so concurrent
// evaluate() calls are safe, and a lookup takes microseconds. No torch.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "evaluators/evaluator.h"

namespace sylva::evaluators {

struct TableOptions {
  // CSV file with a `key` column.
  std::string path;
  // Column the search optimises; must be in the header. Empty: not checked.
  std::string metric;
  // Milliseconds each lookup takes, to stand in for training in tests of
  // scheduling and of workers on many processes.
  int delay_ms = 0;
};

// Reads and validates the table. Errors: missing file, no `key` column,
// `metric` not in the header (the message lists the columns), a row with the
// wrong number of fields, a non-numeric value, a duplicate key (each with
// PATH:LINE).
StatusOr<std::unique_ptr<Evaluator>> make_table_evaluator(const TableOptions& options);

}  // namespace sylva::evaluators
