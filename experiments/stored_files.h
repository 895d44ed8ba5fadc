// The files an experiment reads after it is made (the table evaluator's
// --table, the train evaluator's --dataset folder, a supernet space's
// checkpoint): stored as absolute, normalised paths, so that resume, export
// and workers started from another directory find them, with a fingerprint
// of each (its size and a hash of its first 64 KiB; for a folder, of its
// files' names, sizes and first 4 KiB) that tells a file changed since.
#pragma once

#include <string>

#include "base/status.h"
#include "experiments/config.h"

namespace sylva::experiments {

// Makes the file options of a new experiment absolute and records their
// fingerprints in `config.files`. A path that does not exist is left as
// given (building the experiment reports it).
void anchor_files(ExperimentConfig& config);

// Whether the files experiment `name` was made with are still there and
// unchanged: a file gone or changed is one line saying which and what to do.
Status check_files(const ExperimentConfig& config, const std::string& verb,
                   const std::string& name);

}  // namespace sylva::experiments
