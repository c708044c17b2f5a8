#include "backends/v4/generate.h"

#include <algorithm>
#include <random>

#include "kernels/ops.h"

namespace v4eval::v4 {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// u in [0, 1) with 53 random bits: the same on every platform (generate_canonical is not).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

Result<GenerateOutput> generate_tokens(Sequence& seq, const Tokenizer& tokenizer,
                                       std::span<const uint32_t> prompt,
                                       const SamplingOptions& options, const AbortCheck& abort) {
  const Model& model = seq.model();
  if (prompt.empty()) return InvalidArgument("v4 generate: empty prompt");
  const auto n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt > model.max_context())
    return InvalidArgument("v4 generate: the prompt has " + std::to_string(n_prompt) +
                           " tokens, more than the context window of " +
                           std::to_string(model.max_context()) + " tokens");
  seq.reset();
  GenerateOutput out;
  const auto t0 = std::chrono::steady_clock::now();
  Logits logits;
  const int64_t chunk = std::max<int64_t>(1, options.prefill_chunk);
  for (int64_t at = 0; at < n_prompt; at += chunk) {
    if (abort) {
      if (Status s = abort(); !s.ok()) return s;
    }
    const int64_t n = std::min(chunk, n_prompt - at);
    auto r = seq.prefill(prompt.subspan(static_cast<size_t>(at), static_cast<size_t>(n)),
                         LogitRows::kLast);
    if (!r.ok()) return r.status();
    logits = std::move(r).value();
  }
  out.prefill_ms = ms_since(t0);
  const auto t1 = std::chrono::steady_clock::now();

  std::mt19937_64 rng(options.seed);
  const auto eos = static_cast<uint32_t>(model.config().eos_token_id);
  size_t longest_stop = 0;
  for (const std::string& s : options.stop) longest_stop = std::max(longest_stop, s.size());
  out.finish_reason = "length";
  while (static_cast<int64_t>(out.tokens.size()) < options.max_tokens) {
    const double u = options.temperature > 0 ? uniform01(rng) : 0.0;
    const auto id = static_cast<uint32_t>(kernels::sample_token(
        logits.row(logits.rows - 1), logits.vocab, static_cast<float>(options.temperature),
        static_cast<float>(options.top_p), u));
    if (id == eos) {
      out.finish_reason = "stop";
      out.eos = true;
      break;
    }
    out.tokens.push_back(id);
    const size_t before = out.text.size();
    out.text += tokenizer.decode(std::span<const uint32_t>(&id, 1));
    // A stop string can only end inside the new bytes: search from where it could start.
    bool stopped = false;
    const size_t from = before >= longest_stop ? before - longest_stop + 1 : 0;
    size_t cut = std::string::npos;
    for (const std::string& s : options.stop) {
      if (s.empty()) continue;
      size_t at = out.text.find(s, from);
      if (at != std::string::npos) cut = std::min(cut, at);
    }
    if (cut != std::string::npos) {
      out.text.resize(cut);
      out.finish_reason = "stop";
      stopped = true;
    }
    if (stopped || static_cast<int64_t>(out.tokens.size()) >= options.max_tokens) break;
    if (seq.length() >= model.max_context()) break;  // "length": the window is full
    if (abort) {
      if (Status s = abort(); !s.ok()) return s;
    }
    auto r = seq.decode(id);
    if (!r.ok()) return r.status();
    logits = std::move(r).value();
  }
  out.decode_ms = ms_since(t1);
  return out;
}

}  // namespace v4eval::v4
