// Hyperparameters as decisions: a space wrapped so that its first decisions
// choose hyperparameter values (`%hparam lr = 0.01 | 0.03 | 0.1` in a space's
// source, `--hparam lr=0.01,0.03` on the command line), followed by the inner
// space's decisions. Strategies see them like any other decision; labels are
// "name=value", so the key reads "lr=0.03/optimizer=sgd/<inner key>" and the
// canonical form "lr=0.03/optimizer=sgd/<inner canonical>".
//
// The wrapper's source() is the `%hparam` lines followed by the inner
// source, so space_from_source() rebuilds it (it strips `%hparam` lines
// before building the inner space). Torch-free; immutable and thread-safe
// like every Space.
//
// spaces/hparam_decl.cc implements the parsing of declarations
// (parse_hparam_decl, parse_hparam_option(s), hparam_names_of_source);
// spaces/hparam_space.cc the wrapper, split_hparams and add_hparams.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "spaces/space.h"

namespace sylva {

// One hyperparameter: its name and the value labels it may take.
struct HparamDecl {
  std::string name;
  std::vector<std::string> values;  // as written or generated ("0.01", "sgd", "3.16e-05")
};

// One chosen value.
struct HparamValue {
  std::string name;
  std::string value;
};

// Parses the text after `%hparam` ("lr = 0.01 | 0.03", "wd = log(1e-5, 1e-2, 7)",
// "width = linear(16, 64, 4)"); values separated by '|' or ','. Errors are
// Status::at({file, line, col}, ...) at the offending column (col 1-based in
// the whole line `line_text`).
//
// Names are identifiers ([A-Za-z_][A-Za-z0-9_]*). Values are non-empty and
// hold none of '/', '|', ',', '=', '#' or white space; a value given twice is
// an error. `log(a, b, n)` stands for n log-spaced values from a to b (a, b >
// 0, n >= 2) written with 3 significant digits, `linear(a, b, n)` for n evenly
// spaced ones with 6 (linear(16, 64, 4) is 16 | 32 | 48 | 64); generated
// values that coincide after formatting are an error. '#' starts a comment.
StatusOr<HparamDecl> parse_hparam_decl(const std::string& line_text, const std::string& file,
                                       int line);
// Parses one `--hparam NAME=V1,V2,...` value; errors name the option.
StatusOr<HparamDecl> parse_hparam_option(const std::string& value);
// Parses the stored value of a repeated --hparam (the values joined by ','):
// an item holding '=' starts the next hyperparameter. Empty: none.
StatusOr<std::vector<HparamDecl>> parse_hparam_options(const std::string& joined);

// The `%hparam` line that declares `decl` (no newline).
std::string hparam_line(const HparamDecl& decl);

class HparamSpace : public Space {
 public:
  // Builds the wrapper; a name declared twice or a malformed name or value
  // is an error. `source`: the text it was built from (space_from_source, so
  // that source() gives it back as it was); empty: the `%hparam` lines, then
  // the inner source.
  static StatusOr<std::unique_ptr<HparamSpace>> make(std::unique_ptr<Space> inner,
                                                     std::vector<HparamDecl> hparams,
                                                     std::string source = "");
  const Space& inner() const { return *inner_; }
  const std::vector<HparamDecl>& hparams() const { return hparams_; }

  // The inner space's name and build spec.
  const std::string& name() const override { return inner_->name(); }
  // One decision per hyperparameter (uniform prior), then the inner space's.
  std::vector<Choice> choices(const std::vector<int>& prefix) const override;
  StatusOr<Architecture> make(const std::vector<int>& decisions) const override;
  // The canonical form or the key: the leading "name=value/" parts in
  // declaration order, then the inner space's form.
  StatusOr<Architecture> parse(const std::string& text) const override;
  // Each hyperparameter decision is a slot of kind "hparam:NAME" of its own;
  // the inner slots follow.
  std::vector<DecisionSlot> slots(const std::vector<int>& decisions) const override;
  bool subtree_closed(const std::vector<int>& prefix, int index) const override;
  // The hyperparameter decisions, then the inner space's cursor.
  std::unique_ptr<SpaceCursor> cursor() const override;
  // A one-hot per hyperparameter, then the inner encoding.
  std::vector<double> encode(const std::vector<int>& decisions) const override;
  std::map<std::string, double> known_metrics(const std::vector<int>& decisions) const override;
  const BuildSpec& build_spec() const override { return inner_->build_spec(); }
  // As built from, or one `%hparam` line per hyperparameter, then the inner source.
  const std::string& source() const override { return source_; }

 private:
  HparamSpace(std::unique_ptr<Space> inner, std::vector<HparamDecl> hparams, std::string source);
  // Checks the hyperparameter decisions of `decisions` (as far as it goes).
  void check_prefix(const std::vector<int>& decisions) const;
  std::vector<int> inner_decisions(const std::vector<int>& decisions) const;
  friend StatusOr<std::unique_ptr<Space>> add_hparams(std::unique_ptr<Space> space,
                                                      std::vector<HparamDecl> extra);

  class Cursor;
  // Constant after construction.
  std::unique_ptr<Space> inner_;
  std::vector<HparamDecl> hparams_;
  std::vector<std::vector<Choice>> choices_;  // per hyperparameter
  std::string source_;
};

// `space` if it is an HparamSpace, else nullptr.
const HparamSpace* as_hparam_space(const Space& space);

// What an evaluator builds from a searched architecture: the inner space and
// architecture, and the chosen hyperparameters (empty for a space without).
// `arch` must be an architecture of `space` (anything else throws
// std::invalid_argument).
struct HparamSplit {
  const Space* space = nullptr;
  Architecture arch;
  std::vector<HparamValue> hparams;
};
HparamSplit split_hparams(const Space& space, const Architecture& arch);

// The hyperparameter names declared in a stored space source (its `%hparam`
// lines), cheaply, without building the space: the reports' columns.
std::vector<std::string> hparam_names_of_source(const std::string& source);

// `space` with the command line's hyperparameters `extra` added after its
// own: wrapped, or its wrapper extended. A name the space declares already
// is an error naming both places. No `extra`: `space` unchanged.
StatusOr<std::unique_ptr<Space>> add_hparams(std::unique_ptr<Space> space,
                                             std::vector<HparamDecl> extra);

// make_space(name_or_path) with the hyperparameters of a stored --hparam
// value (parse_hparam_options) added: what `search` and `sample` build.
StatusOr<std::unique_ptr<Space>> make_space_with_hparams(const std::string& name_or_path,
                                                         const std::string& hparam_option);

}  // namespace sylva
