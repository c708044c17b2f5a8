#pragma once
// The Backend interface: how the harness talks to a model. Implementations: `replay` (recorded
// generations, for CI), later `openai`/`deepseek` (HTTP), `grpc`, `v4` (built-in engine).

#include <atomic>
#include <chrono>
#include <functional>
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
  // AsyncBackend only, optional: where the backend may run the heavier part of completing a
  // call (parsing the response, deciding a retry) instead of its own I/O thread, which then only
  // moves bytes. Empty: the backend's own thread.
  std::function<void(std::function<void()>)> executor;

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

// Receives one finished generation (see AsyncBackend).
using GenerationCallback = std::function<void(Generation&&)>;

// The optional extension a Backend implements when it can keep many calls in flight without a
// thread per call (its own I/O thread does the waiting). The runner uses it when offered (found
// with dynamic_cast), and the thread-per-call generate() otherwise.
class AsyncBackend {
 public:
  virtual ~AsyncBackend() = default;
  // Starts what generate(request, context) would do and returns at once (`request` is read
  // before it returns, not later). `on_done` runs exactly once with the generation (same error
  // contract as generate), on a thread the backend chooses (often its I/O thread, or the
  // calling thread when the call ends at once), so it must not block: queue the result and
  // return. `context.cancelled` must stay valid until then. Thread-safe.
  virtual void generate_async(const GenerationRequest& request, const CallContext& context,
                              GenerationCallback on_done) = 0;
};

// Creates the backend a spec names (`replay:file=...`). Errors say which option is wrong.
Result<std::unique_ptr<Backend>> make_backend(const Spec& spec);

}  // namespace v4eval
