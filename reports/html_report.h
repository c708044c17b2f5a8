#pragma once
// `v4eval report --html FILE`: one self-contained HTML file (no network at view time: styles,
// script and data inlined). The data travels as zlib-compressed, base64-encoded JSON chunks
// that the page inflates lazily (DecompressionStream): a summary chunk up front (runs, metrics,
// comparisons, one compact row per attempt), transcripts and prompts in chunks of a few hundred
// attempts opened only when a transcript is shown or a text search needs them. Lists are
// virtualised, so 10^5 attempts stay fast.

#include <string>
#include <vector>

#include "harness/status.h"
#include "reports/comparison.h"
#include "reports/run_data.h"
#include "reports/store.h"

namespace v4eval {

struct HtmlRun {
  const RunData* data = nullptr;  // with attempts (load_run_data(..., keep_attempts = true))
  Store* store = nullptr;         // where its prompts are read from
  std::vector<ShardRecord> shards;
};

struct HtmlOptions {
  std::string title = "v4eval report";
  std::string generator;             // "v4eval 0.1.0 (git ...)"
  size_t prompt_full_bytes = 16384;  // prompts up to this size are embedded whole (folded in view)
  size_t prompt_summary_bytes = 6144;  // larger ones are summarised to about this much
  size_t text_bytes = 32768;         // answer / reasoning beyond this keep head and tail
  size_t chunk_attempts = 256;       // attempts per transcript chunk
  int zlib_level = 6;                // 1 fastest .. 9 smallest
};

struct HtmlStats {
  size_t bytes = 0;        // file size
  size_t chunks = 0;       // compressed chunks
  size_t raw_bytes = 0;    // JSON before compression
  size_t attempts = 0;
  size_t prompts = 0;
};

// Writes the report to `path` (via a temporary file renamed into place). `comparisons` are
// precomputed run-vs-run and mode-vs-mode comparisons shown in the overview and the diff view.
Result<HtmlStats> write_html_report(const std::string& path, const std::vector<HtmlRun>& runs,
                                    const std::vector<Comparison>& comparisons,
                                    const HtmlOptions& options);

// The pieces, exposed for tests: zlib (RFC 1950) compression and base64.
std::string zlib_compress(const std::string& data, int level = 6);
std::string base64_encode(const std::string& data);

}  // namespace v4eval
