#pragma once
// The Backend interface: how the harness talks to a model. Implementations: `replay` (recorded
// generations, for CI), later `openai`/`deepseek` (HTTP), `grpc`, `v4` (built-in engine).

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval {

struct BackendInfo {
  std::string kind;            // "replay", "openai", ...
  std::string model;           // model name as the backend reports it
  int64_t context_window = 0;  // tokens; 0 when unknown
  std::vector<Mode> modes;     // modes it can serve
  // Options that change what the model would answer (cache key, comparability); never secrets.
  std::string identity;
};

// Per-call limits the backend must honour.
struct CallContext {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  const std::atomic<bool>* cancelled = nullptr;  // set when the run is being stopped

  bool is_cancelled() const { return cancelled && cancelled->load(std::memory_order_relaxed); }
};

class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  virtual BackendInfo info() const = 0;

  // Produces one generation. Thread-safe: the runner calls it from many threads at once.
  // Expected failures never throw: they come back in Generation::error, classified as
  // retryable (infrastructure) or final. A generation cut by max_tokens is a real answer with
  // finish_reason "length", not an error.
  virtual Generation generate(const GenerationRequest& request, const CallContext& context) = 0;
};

// Creates the backend a spec names (`replay:file=...`). Errors say which option is wrong.
Result<std::unique_ptr<Backend>> make_backend(const Spec& spec);

}  // namespace v4eval
