// Registers every family of things the `sylva` program looks up by name:
// strategies, evaluators, supernet families and space schemes. Each family's
// entries are declared next to their code; this is the one list that links
// them all in (static libraries drop objects nothing references).
#pragma once

namespace sylva::cli {

void register_all();

}  // namespace sylva::cli
