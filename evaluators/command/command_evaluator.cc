#include "evaluators/command/command_evaluator.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/strings.h"
#include "evaluators/command/child_process.h"
#include "evaluators/model_shape.h"
#include "evaluators/registry.h"

namespace sylva::evaluators {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::mutex& writer_mutex() {
  static auto* mu = new std::mutex;
  return *mu;
}
ModelWriter& model_writer() {
  static auto* w = new ModelWriter;
  return *w;
}

// A hyperparameter's value as JSON: a number when the whole text is one.
nlohmann::json typed_value(const std::string& text) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(v)) {
    int64_t i = 0;
    auto [iptr, iec] = std::from_chars(text.data(), text.data() + text.size(), i);
    if (iec == std::errc() && iptr == text.data() + text.size()) return i;
    return v;
  }
  return text;
}

// Output of one stream: the file in the trial directory (up to
// kLogFileLimit bytes) and the last kLogTail bytes in memory.
class LogSink {
 public:
  explicit LogSink(const fs::path& path) : file_(path, std::ios::binary) {}
  void add(const std::string& bytes) {
    if (bytes.empty()) return;
    if (written_ < kLogFileLimit) {
      const size_t n = std::min(bytes.size(), kLogFileLimit - written_);
      file_.write(bytes.data(), static_cast<std::streamsize>(n));
      written_ += n;
      if (written_ == kLogFileLimit) {
        file_ << "\n[sylva: output truncated here; the last " << kLogTail / 1024
              << " KiB are kept in the database]\n";
      }
      file_.flush();
    }
    tail_ += bytes;
    if (tail_.size() > 2 * kLogTail) tail_.erase(0, tail_.size() - kLogTail);
  }
  std::string tail() const {
    return tail_.size() > kLogTail ? tail_.substr(tail_.size() - kLogTail) : tail_;
  }

 private:
  std::ofstream file_;
  size_t written_ = 0;
  std::string tail_;
};

// Shell words whose meaning `exec` would change.
const std::set<std::string>& shell_words() {
  static const std::set<std::string> kWords = {
      "cd",   "exec",   "export", "set",  ".",      "eval", "if",    "for",   "while",
      "case", "true",   "false",  "echo", "printf", "exit", "test",  "read",  "command",
      "time", "ulimit", "umask",  "trap", "source", "!",    "unset", "alias", "until"};
  return kWords;
}

// The command's first word, when it is a plain program name or path (not a
// variable assignment, a builtin or shell syntax).
std::string program_of(const std::string& command) {
  const size_t b = command.find_first_not_of(" \t\n");
  if (b == std::string::npos) return "";
  const size_t e = command.find_first_of(" \t\n", b);
  const std::string word = command.substr(b, e == std::string::npos ? e : e - b);
  if (word.find_first_of("'\"$`\\;|&<>(){}*?[]~=#") != std::string::npos) return "";
  if (shell_words().count(word)) return "";
  return word;
}

// Whether `command` is one program with arguments, which exec can run in
// the shell's place.
bool plain_program(const std::string& command) {
  return !program_of(command).empty() && command.find_first_of(";&|<>()`\n") == std::string::npos;
}

// The last few non-empty lines of `text`, on one line.
std::string last_lines(const std::string& text, int count) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.size() > static_cast<size_t>(count)) lines.erase(lines.begin(), lines.end() - count);
  std::string out = join(lines, " | ");
  if (out.size() > 600) out = "..." + out.substr(out.size() - 597);
  return out;
}

// A report line longer than this is an error (a runaway writer), not a
// line to buffer forever.
constexpr size_t kMaxReportLine = 1 << 20;

// The metrics of one JSON object: numbers, booleans as 1/0, null as NaN
// (missing). Other values are an error naming the field; `skip` fields are
// the caller's.
Status metrics_of(const nlohmann::json& j, const std::set<std::string>& skip,
                  std::map<std::string, double>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    if (skip.count(key)) continue;
    if (v.is_number()) {
      out[key] = v.get<double>();
    } else if (v.is_boolean()) {
      out[key] = v.get<bool>() ? 1 : 0;
    } else if (v.is_null()) {
      out[key] = std::nan("");
    } else {
      return Status::invalid_argument(fmt::format("'{}' is not a number", key));
    }
  }
  return Status::ok();
}

// Reads the JSON lines a trial appends to its report file, as they come.
class ReportReader {
 public:
  explicit ReportReader(fs::path path) : path_(std::move(path)) {}

  struct Line {
    bool final = false;
    int step = 0;
    std::map<std::string, double> values;
  };

  // The complete lines added since the last call into `out` (and, with
  // `at_end`, a last line without its newline). A malformed line, a file
  // that shrank (rewritten with > instead of appended to) or a line past
  // kMaxReportLine is an error naming the file and line; the good lines
  // before it are in `out`.
  Status read(bool at_end, std::vector<Line>& out) {
    std::error_code ec;
    const auto size = fs::file_size(path_, ec);
    if (ec) return Status::ok();  // not written yet
    if (size < offset_) {
      return Status::at({path_.string(), line_number_},
                        "the report shrank: it was rewritten, not appended to (use >>)");
    }
    if (size == offset_) return Status::ok();
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0;
    while (true) {
      const size_t nl = chunk.find('\n', start);
      if (nl == std::string::npos) {
        if (chunk.size() - start > kMaxReportLine) {
          return Status::at({path_.string(), line_number_ + 1},
                            fmt::format("a line longer than {} bytes", kMaxReportLine));
        }
        if (!(at_end && start < chunk.size())) break;
      }
      const std::string text =
          chunk.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      ++line_number_;
      start = nl == std::string::npos ? chunk.size() : nl + 1;
      offset_ += text.size() + (nl == std::string::npos ? 0 : 1);
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      SYLVA_ASSIGN(line, parse(text));
      out.push_back(std::move(line));
    }
    return Status::ok();
  }

 private:
  StatusOr<Line> parse(const std::string& text) {
    auto where = [&](const std::string& what) {
      return Status::at({path_.string(), line_number_}, what);
    };
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const std::exception&) {
      std::string shown = text.size() > 80 ? text.substr(0, 77) + "..." : text;
      return where(fmt::format("not a JSON object: '{}'", shown));
    }
    if (!j.is_object()) return where("not a JSON object");
    Line line;
    if (j.contains("final")) {
      if (!j["final"].is_boolean()) return where("'final' must be true or false");
      line.final = j["final"].get<bool>();
    }
    if (j.contains("step")) {
      const auto& step = j["step"];
      if (!step.is_number_integer() || step.get<int64_t>() < 0 ||
          step.get<int64_t>() > std::numeric_limits<int>::max()) {
        return where("'step' must be an integer from 0 to 2147483647");
      }
      line.step = step.get<int>();
    }
    Status values = metrics_of(j, {"final", "step"}, line.values);
    if (!values.is_ok()) return where(values.message());
    if (!line.final && !j.contains("step")) {
      return where("a line needs \"step\" (an intermediate value) or \"final\": true");
    }
    return line;
  }

  const fs::path path_;
  size_t offset_ = 0;
  int line_number_ = 0;
};

class CommandEvaluator : public Evaluator {
 public:
  explicit CommandEvaluator(CommandOptions options) : options_(std::move(options)) {}

  SpaceTarget input() const override { return options_.input; }

  std::string slot_device(int slot) const override {
    if (options_.gpus.empty()) return "";
    return fmt::format("GPU {}", gpu_of(slot));
  }

  EvalResult evaluate(const Job& job, Reporter& reporter) override;

 private:
  // Slots go round the GPUs, so that K trials per GPU fill every GPU first.
  int gpu_of(int slot) const {
    return options_.gpus[static_cast<size_t>(slot) % options_.gpus.size()];
  }
  fs::path directory_of(const Job& job, int64_t epochs) const {
    std::string leaf = std::to_string(job.trial_number);
    if (epochs > 0) leaf += fmt::format("-e{}", epochs);
    return fs::path(options_.trial_root) /
           (job.experiment.empty() ? "experiment" : job.experiment) / leaf;
  }
  StatusOr<fs::path> fresh_directory(const Job& job) const;
  // The directory of the last run of the trial at `epochs` (a promotion's
  // previous rung).
  fs::path latest_attempt(const Job& job, int64_t epochs) const;
  Status write_trial(const Job& job, const fs::path& dir, bool with_model,
                     const std::string& model_error) const;

  const CommandOptions options_;
};

StatusOr<fs::path> CommandEvaluator::fresh_directory(const Job& job) const {
  const fs::path base = directory_of(job, job.epochs);
  std::error_code ec;
  fs::create_directories(base.parent_path(), ec);
  if (ec) {
    return Status::io_error(fmt::format("cannot create the trial directory {}: {}",
                                        base.parent_path().string(), ec.message()));
  }
  // Each run of a trial gets a directory of its own, made atomically: an
  // earlier attempt (its worker was lost, and may still be running) keeps
  // its own; a re-run is NUMBER.2, NUMBER.3, ...
  for (int attempt = 1;; ++attempt) {
    fs::path dir = base;
    if (attempt > 1) dir += fmt::format(".{}", attempt);
    if (fs::create_directory(dir, ec)) return dir;
    if (ec) {
      return Status::io_error(
          fmt::format("cannot create the trial directory {}: {}", dir.string(), ec.message()));
    }
  }
}

fs::path CommandEvaluator::latest_attempt(const Job& job, int64_t epochs) const {
  const fs::path base = directory_of(job, epochs);
  fs::path latest = base;
  std::error_code ec;
  for (int attempt = 2;; ++attempt) {
    fs::path dir = base;
    dir += fmt::format(".{}", attempt);
    if (!fs::exists(dir, ec)) return latest;
    latest = dir;
  }
}

Status CommandEvaluator::write_trial(const Job& job, const fs::path& dir, bool with_model,
                                     const std::string& model_error) const {
  nlohmann::json j;
  j["experiment"] = job.experiment;
  j["trial"] = job.trial_number;
  j["seed"] = job.seed;
  j["space"] = job.space ? job.space->name() : "";
  j["key"] = job.key.empty() ? job.arch.key : job.key;
  j["canonical"] = job.canonical.empty() ? job.arch.canonical : job.canonical;
  j["decisions"] = job.arch.decisions;
  j["labels"] = job.arch.labels;
  nlohmann::json hp = nlohmann::json::object();
  for (const HparamValue& h : job.hparams) hp[h.name] = typed_value(h.value);
  j["hyperparameters"] = hp;
  j["budget"] = job.epochs;
  j["previous_dir"] = job.previous_epochs > 0
                          ? nlohmann::json(latest_attempt(job, job.previous_epochs).string())
                          : nlohmann::json(nullptr);
  j["input_shape"] = {options_.input.channels, options_.input.height, options_.input.width};
  j["classes"] = options_.input.classes;
  j["model"] = with_model ? nlohmann::json("model.pt") : nlohmann::json(nullptr);
  if (!model_error.empty()) j["model_error"] = model_error;
  j["objective"] = job.objective;
  j["maximize"] = job.maximize;
  j["threads"] = job.threads;
  j["gpus"] = options_.gpus.empty() ? "" : std::to_string(gpu_of(job.slot));
  j["trial_dir"] = dir.string();
  j["report"] = (dir / "report.jsonl").string();
  j["stop_file"] = (dir / "stop").string();
  const fs::path path = dir / "trial.json";
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) return Status::io_error(fmt::format("cannot write {}", path.string()));
  return Status::ok();
}

EvalResult CommandEvaluator::evaluate(const Job& job, Reporter& reporter) {
  EvalResult result;
  auto fail = [&](std::string message) {
    result.state = TrialState::kFail;
    result.message = std::move(message);
    return result;
  };
  const auto start = Clock::now();
  auto made = fresh_directory(job);
  if (!made.is_ok()) return fail(made.status().message());
  const fs::path dir = made.value();

  ModelWriter writer;
  {
    std::lock_guard<std::mutex> lock(writer_mutex());
    writer = model_writer();
  }
  // A network the builder cannot make (a grammar of the script's own
  // primitives) is no reason to fail: the command gets "model": null and
  // the reason, and may build its own from trial.json.
  std::string model_error;
  bool with_model = options_.write_model && writer && job.space != nullptr;
  if (with_model) {
    Status written =
        writer(*job.space, job.arch, options_.input, job.seed, (dir / "model.pt").string());
    if (!written.is_ok()) {
      with_model = false;
      model_error = written.message();
    }
  }
  Status described = write_trial(job, dir, with_model, model_error);
  if (!described.is_ok()) return fail(described.message());

  ChildOptions child;
  // A single program replaces the shell (exec), so that its exit status and
  // the signal that killed it reach Sylva as they are, not as 128+N.
  child.command = plain_program(options_.command) ? "exec " + options_.command : options_.command;
  child.directory = dir.string();
  child.env = {
      "SYLVA_TRIAL_DIR=" + dir.string(),
      "SYLVA_TRIAL_JSON=" + (dir / "trial.json").string(),
      "SYLVA_REPORT=" + (dir / "report.jsonl").string(),
      "SYLVA_STOP_FILE=" + (dir / "stop").string(),
      fmt::format("SYLVA_TRIAL_NUMBER={}", job.trial_number),
      fmt::format("SYLVA_SEED={}", job.seed),
      fmt::format("SYLVA_BUDGET={}", job.epochs),
      fmt::format("SYLVA_THREADS={}", job.threads),
      fmt::format("OMP_NUM_THREADS={}", job.threads),
  };
  if (job.previous_epochs > 0) {
    child.env.push_back("SYLVA_PREVIOUS_DIR=" + latest_attempt(job, job.previous_epochs).string());
  }
  if (!options_.gpus.empty()) {
    child.env.push_back(fmt::format("CUDA_VISIBLE_DEVICES={}", gpu_of(job.slot)));
  }
  LogSink out_log(dir / "stdout.log"), err_log(dir / "stderr.log");
  ChildProcess process;
  Status started = process.start(child);
  if (!started.is_ok()) return fail(started.message());

  ReportReader report(dir / "report.jsonl");
  std::map<std::string, double> last;  // the last reported value of each metric
  std::map<std::string, double> final_metrics;
  bool have_final = false;
  std::string stopped;  // why Sylva stopped the command, if it did
  bool pruned = false;
  bool ended = false;  // the command has ended (on its own, or stopped)
  std::optional<Status> bad_report;
  Clock::time_point kill_at{};
  auto stop = [&](std::string why, bool prune) {
    // A command that ended on its own is judged by how it ended.
    if (ended || process.terminated()) return;
    stopped = std::move(why);
    pruned = prune;
    std::ofstream(dir / "stop") << stopped << "\n";
    process.terminate();
    kill_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(options_.kill_grace));
  };
  auto worse = [&](double v) {
    return job.maximize ? v < options_.reject_below : v > options_.reject_below;
  };
  auto take = [&](bool at_end) {
    if (bad_report) return;
    std::vector<ReportReader::Line> lines;
    // A partial last line is read only from a command that ended on its own
    // (one killed mid-write left half a line).
    Status read = report.read(at_end && !process.terminated(), lines);
    for (const ReportReader::Line& line : lines) {
      if (line.final) {
        have_final = true;
        for (const auto& [k, v] : line.values) final_metrics[k] = v;
        continue;
      }
      for (const auto& [k, v] : line.values) {
        last[k] = v;
        reporter.intermediate(line.step, k, v);
      }
      auto it = line.values.find(job.objective);
      if (options_.reject_after > 0 && it != line.values.end() &&
          line.step >= options_.reject_after && worse(it->second)) {
        stop(fmt::format("rejected at step {}: {} {:g} is {} --reject-below {:g}", line.step,
                         job.objective, it->second, job.maximize ? "below" : "above (minimised)",
                         options_.reject_below),
             true);
      }
    }
    if (!read.is_ok()) {
      bad_report = read;
      stop(read.message(), false);
      return;
    }
    if (reporter.should_stop()) stop(reporter.stop_reason(), true);
  };

  std::string out_chunk, err_chunk;
  auto wait = std::chrono::milliseconds(1);
  while (true) {
    out_chunk.clear();
    err_chunk.clear();
    ended = process.poll(wait, out_chunk, err_chunk);
    out_log.add(out_chunk);
    err_log.add(err_chunk);
    wait = std::min(wait * 2, std::chrono::milliseconds(20));
    if (!out_chunk.empty() || !err_chunk.empty()) wait = std::chrono::milliseconds(1);
    take(ended);
    if (ended) break;
    const std::chrono::duration<double> elapsed = Clock::now() - start;
    if (job.timeout_seconds > 0 && elapsed.count() > job.timeout_seconds) {
      stop(fmt::format("trial exceeded --trial-timeout of {:g} s", job.timeout_seconds), false);
    }
    if (process.terminated() && Clock::now() >= kill_at) process.kill();
  }
  result.artifacts["stdout"] = out_log.tail();
  result.artifacts["stderr"] = err_log.tail();

  if (!have_final && !bad_report) {
    const fs::path result_file = dir / "result.json";
    std::ifstream in(result_file);
    if (in) {
      try {
        nlohmann::json j = nlohmann::json::parse(in);
        if (!j.is_object()) throw std::runtime_error("not a JSON object");
        Status values = metrics_of(j, {}, final_metrics);
        if (!values.is_ok()) throw std::runtime_error(values.message());
        have_final = true;
      } catch (const std::exception& e) {
        bad_report = Status::invalid_argument(
            fmt::format("{}: not a JSON object of metrics: {}", result_file.string(),
                        std::string(e.what()).substr(0, std::string(e.what()).find('\n'))));
      }
    }
  }

  const ChildExit& exit = process.exit_status();
  const std::string stderr_tail = last_lines(err_log.tail(), 5);
  auto with_stderr = [&](std::string message) {
    if (!stderr_tail.empty()) message += "; stderr: " + stderr_tail;
    return message;
  };
  if (bad_report) return fail(with_stderr(bad_report->message()));
  if (pruned) {
    result.state = TrialState::kPruned;
    result.message = stopped;
    result.metrics = last;
    for (const auto& [k, v] : final_metrics) result.metrics[k] = v;
    return result;
  }
  if (!stopped.empty()) return fail(with_stderr(fmt::format("{} ({})", stopped, exit.describe())));
  if (!exit.exited || exit.code != 0) {
    return fail(with_stderr(fmt::format("command failed: {}", exit.describe())));
  }
  if (!have_final) {
    return fail(with_stderr(
        "command exited 0 but reported no final metrics (a {\"final\": true, ...} line in "
        "$SYLVA_REPORT, or result.json)"));
  }
  auto objective = final_metrics.find(job.objective);
  if (objective != final_metrics.end() && std::isnan(objective->second)) {
    return fail(fmt::format("the final {} is null (not a number)", job.objective));
  }
  result.metrics = final_metrics;
  return result;
}

bool executable_file(const fs::path& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
}

}  // namespace

void set_model_writer(ModelWriter writer) {
  std::lock_guard<std::mutex> lock(writer_mutex());
  model_writer() = std::move(writer);
}

StatusOr<std::vector<int>> parse_gpus(const std::string& text) {
  std::vector<int> out;
  if (text.empty()) return out;
  if (text == "all") {
    std::error_code ec;
    const fs::path dir = "/proc/driver/nvidia/gpus";
    int count = 0;
    if (fs::is_directory(dir, ec)) {
      for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
           it.increment(ec)) {
        ++count;
      }
    }
    if (count == 0) {
      return Status::invalid_argument(
          "--gpus all: no GPU found (/proc/driver/nvidia/gpus lists none); name them, e.g. "
          "--gpus 0,1");
    }
    for (int i = 0; i < count; ++i) out.push_back(i);
    return out;
  }
  std::set<int> seen;
  std::string rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string part = rest.substr(0, comma);
    int v = -1;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || v < 0) {
      return Status::invalid_argument(fmt::format(
          "--gpus expects GPU numbers separated by commas (e.g. 0,1) or 'all', got '{}' in '{}'",
          part, text));
    }
    if (!seen.insert(v).second) {
      return Status::invalid_argument(fmt::format("--gpus names GPU {} twice in '{}'", v, text));
    }
    out.push_back(v);
    if (comma == std::string::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

Status check_command(const std::string& command) {
  if (command.find_first_not_of(" \t\n") == std::string::npos) {
    return Status::invalid_argument("--command is empty");
  }
  // Shell syntax (a variable, quotes, an assignment, a builtin...): the shell judges.
  const std::string program = program_of(command);
  if (program.empty()) return Status::ok();
  if (program.find('/') != std::string::npos) {
    if (program[0] != '/') {
      return Status::invalid_argument(fmt::format(
          "--command: '{}' is a relative path, but the command runs in its trial directory; give "
          "an absolute path (e.g. $PWD/{})",
          program, program));
    }
    if (!executable_file(program)) {
      return Status::invalid_argument(
          fmt::format("--command: '{}' is not an executable file", program));
    }
    return Status::ok();
  }
  const char* path = getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string d; std::getline(dirs, d, ':');) {
    if (!d.empty() && executable_file(fs::path(d) / program)) return Status::ok();
  }
  return Status::invalid_argument(
      fmt::format("--command: '{}' is not found on PATH ({})", program, path ? path : ""));
}

StatusOr<std::unique_ptr<Evaluator>> make_command_evaluator(const CommandOptions& options) {
  SYLVA_RETURN_IF_ERROR(check_command(options.command));
  if (options.trial_root.empty()) {
    return Status::invalid_argument("--trial-dir: no directory for the trials");
  }
  if (options.trials_per_gpu < 1) {
    return Status::invalid_argument(
        fmt::format("--trials-per-gpu must be >= 1, got {}", options.trials_per_gpu));
  }
  if (!(options.kill_grace >= 0) || options.kill_grace > 86400) {
    return Status::invalid_argument(
        fmt::format("--kill-grace must be from 0 to 86400 seconds, got {:g}", options.kill_grace));
  }
  std::error_code ec;
  fs::create_directories(options.trial_root, ec);
  if (ec || !fs::is_directory(options.trial_root)) {
    return Status::invalid_argument(fmt::format("--trial-dir: cannot create directory '{}': {}",
                                                options.trial_root,
                                                ec ? ec.message() : "not a directory"));
  }
  return std::unique_ptr<Evaluator>(new CommandEvaluator(options));
}

void register_command_evaluator() {
  auto stored = [](std::string name, std::string help, std::string value, bool resumable = false) {
    return OptionDef{
        std::move(name),  std::move(help), std::move(value), OptionDef::kFilled, true, resumable, 0,
        OptionDef::kValue};
  };
  register_evaluator(
      {"command",
       "runs your program per trial (any language): trial.json and model.pt in, JSON lines out",
       /*trains=*/true,
       nullptr,
       [](const OptionReader& o) -> StatusOr<std::unique_ptr<Evaluator>> {
         CommandOptions c;
         c.command = o.text("command");
         if (c.command.empty()) {
           return Status::invalid_argument(
               "--evaluator command needs --command 'PROGRAM ARGS...' (run per trial in its "
               "directory)");
         }
         c.trial_root = o.text("trial-dir");
         SYLVA_ASSIGN(classes, o.integer("classes", 1));
         SYLVA_ASSIGN(shape, parse_input_shape(o.text("input-shape"), classes));
         c.input.channels = shape.channels;
         c.input.height = shape.height;
         c.input.width = shape.width;
         c.input.classes = shape.classes;
         SYLVA_ASSIGN(gpus, parse_gpus(o.text("gpus")));
         c.gpus = gpus;
         // Empty (not given): the defaults, so that these stay options of
         // this evaluator alone (see `exclusive` below).
         SYLVA_ASSIGN(per_gpu, o.integer_or("trials-per-gpu", 1, 1));
         c.trials_per_gpu = static_cast<int>(per_gpu);
         if (o.given("kill-grace")) {
           SYLVA_ASSIGN(grace, o.real("kill-grace", 0));
           c.kill_grace = grace;
         }
         const std::string model = o.given("model-file") ? o.text("model-file") : "yes";
         if (model != "yes" && model != "no") {
           return Status::invalid_argument(
               fmt::format("--model-file must be yes or no, got '{}'", model));
         }
         c.write_model = model == "yes";
         if (o.given("reject-after")) {
           SYLVA_ASSIGN(after, o.integer("reject-after", 0));
           SYLVA_ASSIGN(below, o.real("reject-below", -1e300));
           c.reject_after = after;
           c.reject_below = below;
         }
         if (!c.gpus.empty() && o.given("workers")) {
           SYLVA_ASSIGN(workers, o.integer("workers", 0));
           const int64_t slots = static_cast<int64_t>(c.gpus.size()) * c.trials_per_gpu;
           if (workers > slots) {
             return Status::invalid_argument(fmt::format(
                 "--workers {} is more than the GPU slots: --gpus {} x --trials-per-gpu {} = {}",
                 workers, o.text("gpus"), c.trials_per_gpu, slots));
           }
         }
         return make_command_evaluator(c);
       },
       {
           stored("command",
                  "the program that evaluates a trial, run by /bin/sh -c in the trial's "
                  "directory (README: The command evaluator)",
                  ""),
           stored("trial-dir",
                  "where trial directories go (EXPERIMENT/NUMBER/ under it); default DB.trials "
                  "beside an SQLite database",
                  ""),
           stored("input-shape", "C,H,W of the input (sample, command evaluator's model.pt)",
                  "1,28,28"),
           stored("classes", "classes of the classifier (sample, command evaluator's model.pt)",
                  "10"),
           stored("gpus",
                  "GPUs for the trials, e.g. 0,1,2,3 or all: each slot gets one through "
                  "CUDA_VISIBLE_DEVICES",
                  "", /*resumable=*/true),
           stored("trials-per-gpu", "concurrent trials on one GPU (with --gpus) [1]", "",
                  /*resumable=*/true),
           stored("kill-grace", "seconds between SIGTERM and SIGKILL when a trial is stopped [10]",
                  "",
                  /*resumable=*/true),
           stored("model-file",
                  "yes | no: write model.pt (the untrained candidate) per trial [yes]", ""),
       },
       {{"command", "it names the program the command evaluator runs"},
        {"trial-dir", "the command evaluator's trial directories"},
        {"gpus", "the command evaluator hands GPUs to its trials"},
        {"trials-per-gpu", "the command evaluator hands GPUs to its trials"},
        {"kill-grace", "the command evaluator stops its trials' processes"},
        {"model-file", "the command evaluator writes model.pt"}},
       {"reject-after", "reject-below", "proxy-batches", "proxy-batch-size"}});
}

}  // namespace sylva::evaluators
