#include "cli/options.h"

#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <sstream>

namespace po = boost::program_options;

namespace sylva::cli {
namespace {

constexpr unsigned kReports = kStatus | kTrials | kBest;
constexpr unsigned kNamed = kSearch | kResume | kTrials | kBest | kExport | kStatus | kWorker;

}  // namespace

const std::vector<OptionDef>& option_table() {
  static const std::vector<OptionDef> kTable = {
      {"config", 0, nullptr, kSearch | kResume, false, false,
       "INI file of options (key = value, same names); the command line wins"},
      {"name", 0, nullptr, kNamed, false, false, "experiment name"},
      {"db", 0, "sylva.db", kNamed, false, false,
       "SQLite database file, or PostgreSQL URL postgresql://USER[:PASSWORD]@HOST[:PORT]/DB"},
      {"space", 0, "nas-bench-macro", kSearch | kSample | kSupernetSelect, true, false,
       "built-in space (einspace, nas-bench-macro, nb201), grammar file, or supernet:FILE"},
      {"max-nodes", 0, "", kSearch | kSample, true, false,
       "typed grammars: most derivation-tree nodes of a network [the grammar's %max-nodes]"},
      {"max-params", 0, "", kSearch | kSample | kSupernetSelect, true, false,
       "typed grammars and supernet spaces: most parameters of a network at the dataset's "
       "input [the grammar's %max-params]"},
      {"max-latency-ms", 0, "", kSearch, true, false,
       "--evaluator supernet: a configuration whose standalone network takes longer per image "
       "(batch 1, one thread, median of 11 runs) fails with its measured latency"},
      {"max-flops", 0, "", kSearch | kSample | kSupernetSelect, true, false,
       "supernet spaces: most multiply-accumulates per image of a configuration"},
      {"strategy", 0, "random", kSearch, true, false,
       "search engine: random | evolution | mcts | nsga2"},
      {"population", 0, "", kSearch, true, false, "evolution: population size [16]; nsga2 [20]"},
      {"sample-size", 0, "", kSearch, true, false, "evolution: tournament size [4]"},
      {"crossover-prob", 0, "", kSearch, true, false,
       "evolution, nsga2: probability of a subtree crossover before mutating [0; nsga2 0.5]"},
      {"uct-c", 0, "", kSearch, true, false, "mcts: UCT exploration constant [0.5]"},
      {"predictor", 0, "", kSearch, true, false,
       "predictor-assisted search: ridge | mlp, fitted on the real results; the engine runs "
       "against it and its best proposals are evaluated for real"},
      {"predictor-warmup", 0, "10", kSearch, true, false,
       "predictor: real evaluations before the first fit"},
      {"predictor-steps", 0, "500", kSearch, true, false,
       "predictor: predicted evaluations per round"},
      {"predictor-batch", 0, "5", kSearch, true, false, "predictor: real evaluations per round"},
      {"init", 0, "", kSearch, true, false,
       "file of architectures (canonical form or key, one per line) evaluated first"},
      {"evaluator", 0, "train", kSearch, true, false,
       "train | table | stub | supernet (--space supernet:FILE)"},
      {"trials", 0, "20", kSearch | kResume, true, true,
       "finished trials to reach (global, across resumes)"},
      {"workers", 0, "1", kSearch | kResume | kWorker, true, true,
       "concurrent evaluations of this process; search and resume: 0 coordinates only, for "
       "`sylva worker` processes to evaluate"},
      {"threads-per-worker", 0, "0", kSearch | kResume | kWorker, true, true,
       "intra-op threads per worker; 0: cores / workers"},
      {"seed", 0, "0", kSearch | kSample | kSupernet, true, false, "experiment seed"},
      {"trial-timeout", 0, "0", kSearch | kResume, true, true,
       "seconds before a trial is stopped and marked FAIL; 0: none"},
      {"heartbeat-timeout", 0, "60", kSearch | kResume, true, true,
       "seconds without a heartbeat (by the database's clock) before a running trial is taken "
       "back from its worker and re-queued"},
      {"max-retries", 0, "3", kSearch | kResume, true, true,
       "times a trial is re-queued after its worker was lost; then it is FAIL"},
      {"keep-weights", 0, "3", kSearch, true, false, "keep trained weights of the best K trials"},
      {"objective", 0, "", kSearch, true, false,
       "metric[:max|min] to optimise, once per objective (nsga2: several); default val_acc "
       "(train) or --metric (table)"},
      {"dataset", 0, "", kSearch | kSupernet | kSupernetSelect, true, false,
       "folder of MNIST-format IDX files (.gz or plain); default Fashion-MNIST"},
      {"epochs", 0, "1", kSearch | kSupernet, true, false, "training epochs per trial"},
      {"train-samples", 0, "0", kSearch | kSupernet, true, false,
       "training images per trial; 0: all"},
      {"val-samples", 0, "5000", kSearch | kSupernet | kSupernetSelect, true, false,
       "images held out of training for val_acc"},
      {"calibration-samples", 0, "1000", kSearch | kSupernetSelect, true, false,
       "supernet evaluator and sweep: training images (after the validation ones) that "
       "recalibrate batch norm per configuration"},
      {"test-samples", 0, "0", kSearch | kSupernetSelect, true, false,
       "test images for test_acc; 0: all"},
      {"batch-size", 0, "128", kSearch | kSupernet, true, false, "mini-batch size"},
      {"lr", 0, "0.05", kSearch | kSupernet, true, false, "peak learning rate (cosine schedule)"},
      {"optimizer", 0, "sgd", kSearch, true, false, "sgd (momentum 0.9) | adamw"},
      {"weight-decay", 0, "-1", kSearch, true, false,
       "weight decay; -1: the optimizer's default (sgd 5e-4, adamw 0.05)"},
      {"fidelity", 0, "none", kSearch, true, false,
       "none | epochs: successive halving (ASHA) over training epochs"},
      {"min-epochs", 0, "1", kSearch, true, false, "successive halving: epochs of the first rung"},
      {"max-epochs", 0, "9", kSearch, true, false, "successive halving: epochs of the top rung"},
      {"eta", 0, "3", kSearch, true, false,
       "successive halving: 1/eta of each rung is promoted, budgets grow eta-fold"},
      {"reject-below", 0, "0", kSearch, true, false,
       "early rejection: stop a candidate whose val_acc (%) is below this after --reject-after "
       "steps; it is PRUNED"},
      {"reject-after", 0, "0", kSearch, true, false,
       "early rejection: training steps before the check"},
      {"table", 0, "", kSearch, true, false, "CSV with a key column (evaluator table)"},
      {"metric", 0, "", kSearch, true, false, "CSV column to optimise (evaluator table)"},
      {"stub-delay-ms", 0, "0", kSearch, true, false,
       "milliseconds each stub or table evaluation takes (stands in for training)"},
      {"format", 'f', nullptr, kReports | kExport | kSample | kSupernetSelect, false, false,
       "table | json | csv (reports); json | torchscript (export)"},
      {"count", 'n', nullptr, kBest | kSample, false, false, "how many (best: 1, sample: 5)"},
      {"pareto", 0, nullptr, kBest, false, false,
       "list the Pareto front of the experiment's objectives instead"},
      {"trial", 0, "best", kExport, false, false, "best or a trial number"},
      {"out", 0, nullptr, kExport | kSupernet, false, false, "output file"},
      {"family", 0, "ofa", kSupernet, false, false,
       "supernet family: ofa (once-for-all) | sorted (nested depth and FFN width) | stitch "
       "(stitchable anchors)"},
      {"schedule", 0, "", kSupernet, false, false,
       "supernet training: progressive (full, then elastic kernel, depth, expand; distilled "
       "from the full net) | sandwich (largest + smallest + random, in-place distillation) | "
       "nested (largest + random nested models on the labels: SortedNet, MatFormer) | deps "
       "(largest alone until --shrink-start, then shrinking) | stitch (anchors alone until "
       "--shrink-start, then stitches) [ofa: sandwich, sorted: nested, stitch: stitch]"},
      {"random-subnets", 0, "2", kSupernet, false, false,
       "random sub-networks per step (sandwich, deps: besides the largest and smallest)"},
      {"checkpoint-every", 0, "10", kSupernet, false, false,
       "steps between checkpoints (OUT.ckpt; a rerun of the same command resumes from it)"},
      {"shrink-start", 0, "0.5", kSupernet, false, false,
       "deps: fraction of the steps that train the largest alone"},
      {"input-shape", 0, "1,28,28", kSample, false, false, "C,H,W of the input (sample)"},
      {"classes", 0, "10", kSample, false, false, "classes of the classifier (sample)"},
  };
  return kTable;
}

namespace {

po::options_description describe(Verb verb, bool for_config_file) {
  po::options_description desc("Options");
  for (const auto& o : option_table()) {
    if (!(o.verbs & verb)) continue;
    if (for_config_file && std::string(o.name) == "config") continue;
    std::string names = o.name;
    if (o.short_name && !for_config_file) names += std::string(",") + o.short_name;
    std::string help = o.help;
    if (o.default_value && *o.default_value) help += fmt::format(" [{}]", o.default_value);
    if (std::string(o.name) == "objective") {
      // Repeatable: one --objective per objective (nsga2), joined by ','.
      desc.add_options()(names.c_str(), po::value<std::vector<std::string>>()->composing(),
                         help.c_str());
    } else if (std::string(o.name) == "pareto") {  // a flag
      desc.add_options()(names.c_str(),
                         po::value<std::string>()->zero_tokens()->implicit_value("1"),
                         help.c_str());
    } else {
      desc.add_options()(names.c_str(), po::value<std::string>(), help.c_str());
    }
  }
  if (!for_config_file) desc.add_options()("help,h", "show this help");
  return desc;
}

}  // namespace

std::string options_help(Verb verb) {
  std::ostringstream out;
  out << describe(verb, false);
  return out.str();
}

StatusOr<ParsedOptions> parse_options(Verb verb, const std::string& verb_name, int argc,
                                      char** argv) {
  ParsedOptions parsed;
  // A known option given to the wrong verb gets a precise message.
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) continue;
    std::string key =
        arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
    for (const auto& o : option_table()) {
      if (key != o.name || (o.verbs & verb)) continue;
      if (verb == kResume && o.stored) {
        return Status::error(fmt::format(
            "resume: --{} is fixed when the experiment is created; resume accepts --trials, "
            "--workers, --threads-per-worker, --trial-timeout, --heartbeat-timeout and "
            "--max-retries",
            key));
      }
      return Status::error(
          fmt::format("{}: option '--{}' does not apply to {}", verb_name, key, verb_name));
    }
  }
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(describe(verb, false)).run(), vm);
  } catch (const po::error& e) {
    return Status::error(fmt::format("{}: {}", verb_name, e.what()));
  }
  if (vm.count("help")) {
    parsed.help = true;
    return parsed;
  }
  if (vm.count("config")) {
    std::string path = vm["config"].as<std::string>();
    std::ifstream in(path);
    if (!in) return Status::error(fmt::format("--config: cannot read '{}'", path));
    try {
      po::store(po::parse_config_file(in, describe(verb, true), /*allow_unregistered=*/false), vm);
    } catch (const po::error& e) {
      return Status::error(fmt::format("{}: {}", path, e.what()));
    }
  }
  for (const auto& o : option_table()) {
    if (!(o.verbs & verb)) continue;
    if (vm.count(o.name) && std::string(o.name) == "objective") {
      std::string joined;
      for (const auto& v : vm[o.name].as<std::vector<std::string>>()) {
        joined += (joined.empty() ? "" : ",") + v;
      }
      parsed.values[o.name] = joined;
      parsed.given.insert(o.name);
    } else if (vm.count(o.name)) {
      parsed.values[o.name] = vm[o.name].as<std::string>();
      parsed.given.insert(o.name);
    } else if (o.default_value) {
      parsed.values[o.name] = o.default_value;
    }
  }
  return parsed;
}

}  // namespace sylva::cli
