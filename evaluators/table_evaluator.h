// The `table` evaluator: looks an architecture's metrics up in a CSV file, as
// tabular NAS benchmarks (NAS-Bench-Macro, NAS-Bench-201 exports) publish them.
//
// The CSV has a header row with a `key` column holding Architecture::key and
// other columns (double-quoted fields may hold commas). The columns the
// search reads, the metric and the other objectives, must hold finite numbers
// (an empty cell is a missing value, left out of the metrics); another column
// holding anything else (a description, an arch string, inf or nan) is text
// and never a metric, as is a column without a name. evaluate() returns every
// present value of the numeric columns of the key's row as a metric, or state
// kFail with "key 'K' not in table PATH". A space with
// hyperparameters looks the searched key (Job::key, "lr=0.1/...") up first,
// then the network's (Job::arch.key), so a plain benchmark table serves it. The whole file is
// read at construction; afterwards the evaluator is read-only, so concurrent
// evaluate() calls are safe, and a lookup takes microseconds. No torch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "evaluators/evaluator.h"

namespace sylva::evaluators {

struct TableOptions {
  // CSV file with a `key` column.
  std::string path;
  // Column the search optimises; must be in the header. Empty: not checked.
  std::string metric;
  // Further columns the search reads (its other objectives, e.g. params for
  // params:min); each must be in the header and numeric.
  std::vector<std::string> objectives = {};
  // Milliseconds each lookup takes, to stand in for training in tests of
  // scheduling and of workers on many processes.
  int delay_ms = 0;
};

// Reads and validates the table. Errors: missing file, no `key` column,
// `metric` or an objective not in the header (the message lists the columns),
// and, each with PATH:LINE, a duplicate column name, a row with the wrong
// number of fields, a value of the metric or an objective that is not a
// finite number, a duplicate key (naming its first line too), a header
// without rows.
StatusOr<std::unique_ptr<Evaluator>> make_table_evaluator(const TableOptions& options);

}  // namespace sylva::evaluators
