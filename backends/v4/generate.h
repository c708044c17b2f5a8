#pragma once
// Token generation on a v4::Sequence: greedy or temperature/top-p sampling with a seeded
// std::mt19937_64, stopping on EOS, on stop strings (the text is decoded incrementally with the
// tokenizer), at max_tokens or at the end of the context window.

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "backends/v4/model.h"
#include "backends/v4/tokenizer.h"
#include "harness/status.h"

namespace v4eval::v4 {

struct SamplingOptions {
  int64_t max_tokens = 256;   // generated tokens at most (EOS included)
  double temperature = 0.0;   // <= 0: greedy
  double top_p = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;  // the text ends before the first occurrence of any
  int64_t prefill_chunk = 2048;   // prompt tokens per prefill call
};

struct GenerateOutput {
  std::vector<uint32_t> tokens;  // generated ids, EOS excluded
  std::string text;              // decoded tokens, cut before a stop string
  std::string finish_reason;     // "stop" (EOS or stop string) or "length"
  bool eos = false;              // generation ended with EOS (counted as a generated token)
  double prefill_ms = 0;         // prompt processing up to the first token
  double decode_ms = 0;
};

// Polled between prefill chunks and decode steps; a non-ok status aborts generation with it.
using AbortCheck = std::function<Status()>;

// Resets `seq`, prefills `prompt` and generates. Errors: the prompt is empty or longer than the
// context window (InvalidArgument), or the abort check's status.
Result<GenerateOutput> generate_tokens(Sequence& seq, const Tokenizer& tokenizer,
                                       std::span<const uint32_t> prompt,
                                       const SamplingOptions& options,
                                       const AbortCheck& abort = {});

}  // namespace v4eval::v4
