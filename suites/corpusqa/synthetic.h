#pragma once
// Synthetic CorpusQA-format items (there is no real CorpusQA data offline), built as the
// benchmark is (arXiv 2601.14952): a corpus of company reports whose key figures form a table,
// and questions answered by SQL-like aggregation over that table (filter, average, multi-step).

#include <cstdint>
#include <string>

#include "harness/types.h"

namespace v4eval::corpusqa {

struct SyntheticOptions {
  int64_t target_tokens = 128000;  // o200k size of the prompt (±10%)
  uint64_t seed = 0;
  std::string difficulty;  // easy | medium | hard; empty: chosen from the seed
};

// One row: {id: "financial_en_synth_<seed>", prompt: [system, user], question, answer,
// difficulty, n_documents}. The user message follows the paper's App. C template (# Document i,
// # Question, # Output requirements, answer format examples). Deterministic in the options.
Json make_synthetic_row(const SyntheticOptions& options);

}  // namespace v4eval::corpusqa
