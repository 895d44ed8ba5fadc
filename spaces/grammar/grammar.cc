#include "spaces/grammar/grammar.h"

#include "spaces/grammar/grammar_parser.h"

namespace sylva {

StatusOr<Grammar> parse_grammar(const std::string& text, const std::string& source_name) {
  return grammar_internal::Parser(text, source_name).parse();
}

}  // namespace sylva
