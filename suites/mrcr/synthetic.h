#pragma once
// Synthetic rows in the exact schema of HF openai/mrcr (suites.md §5), for tests and offline
// runs: there is no real MRCR data offline. A row is a long multi-turn conversation of
// "write a {format} about {topic}" requests with deterministic filler prose, in which one
// request (the needle) occurs n_needles times; the last user turn asks for the k-th of them.

#include <cstdint>

#include "harness/types.h"

namespace v4eval::mrcr {

struct SyntheticOptions {
  int n_needles = 2;             // the official sets use 2, 4 and 8; 1..64 accepted
  int64_t target_tokens = 6000;  // o200k_base tokens of all message contents plus the answer
  uint64_t seed = 0;
};

// One row with the official fields: prompt (a JSON *string* of [{role, content}, ...]),
// answer (random_string_to_prepend + the k-th needle reply), random_string_to_prepend
// (10 alphanumerics), n_needles, desired_msg_index (index in the message list of the
// assistant reply that is the answer), total_messages, n_chars (characters of all message
// contents) and date_added ("MM-DD-YYYY").
// Deterministic: the same options give the same bytes. The size lands within about ±10 % of
// target_tokens for 4K..1M tokens (a calibrated chars-per-token estimate, no tokenizer);
// a 1M-token row takes well under a second. Throws std::invalid_argument when n_needles is
// outside 1..64 or target_tokens < 1 (programmer errors).
Json make_synthetic_row(const SyntheticOptions& options);

}  // namespace v4eval::mrcr
