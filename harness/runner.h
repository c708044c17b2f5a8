#pragma once
// The runner: schedules (sample × mode × repeat) attempts not yet stored, with bounded
// concurrency, per-call deadlines, retries with backoff, cancellation and progress.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "harness/retry.h"
#include "harness/status.h"
#include "harness/types.h"
#include "reports/store.h"
#include "suites/suite.h"

namespace v4eval {

struct RunnerOptions {
  std::vector<Mode> modes{Mode::kNonThink};
  int repeats = 1;
  int concurrency = 8;
  int64_t max_tokens = 0;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<uint64_t> seed;  // repeat r uses seed + r, so repeats are distinct samples
  double attempt_timeout_s = 900;  // deadline handed to the backend for each call
  int max_retries = 4;             // extra tries for retryable errors
  double retry_base_s = 1.0;       // backoff: base * 2^k, capped, with jitter
  double retry_max_s = 60.0;
  bool use_cache = true;  // reuse a stored generation for the same request
  // Scale-out: only the samples with shard_of(suite, sample, shard_count) == shard_index (all
  // modes and repeats of a sample together). 0/1 = everything.
  int shard_index = 0;
  int shard_count = 1;
  enum class Progress { kAuto, kTty, kLines, kQuiet } progress = Progress::kAuto;
};

struct RunSummary {
  int64_t total = 0;          // attempts the run consists of
  int64_t already_done = 0;   // graded (or skipped) before this invocation
  int64_t graded_now = 0;
  int64_t errors_now = 0;     // attempts that ended as errors in this invocation
  int64_t skipped_now = 0;    // attempts the suite declined to send (Suite::skip_reason)
  int64_t from_cache = 0;
  int64_t backend_calls = 0;
  bool interrupted = false;
  Status store_failure;       // set when the store refused a write (disk full, ...)
};

// Hash identifying a request for the response cache (backend identity, prompt, mode, sampling,
// attempt identity).
std::string request_hash(const BackendInfo& backend, const std::string& prompt_hash,
                         const GenerationRequest& request);
std::string prompt_hash(const Messages& messages);

// The shard a sample belongs to among `count`: SHA-256 of "suite\nsample_id" mod count. The
// same on every machine and independent of data order, so shards run anywhere partition a run.
int shard_of(const std::string& suite, const std::string& sample_id, int count);

// Backends that implement AsyncBackend are driven without a thread per call (harness/
// async_caller.h); the others get `concurrency` threads each calling Backend::generate. Both
// paths have the same semantics: bounded attempts in progress, a fresh deadline per try,
// retries with backoff, abandoning on stop, one stored row per finished attempt.
class Runner {
 public:
  // `suites` must be loaded. `stop` is polled: once set, no new attempt starts; calls in flight
  // see it through CallContext::cancelled and are abandoned (not stored) if they end cancelled.
  Runner(Store& store, Backend& backend, std::vector<Suite*> suites, RunnerOptions options,
         const std::atomic<bool>* stop);

  RunSummary run(int64_t run_id);

 private:
  struct Task;
  struct Attempt;
  class Progress;
  void run_threads(int64_t run_id, const std::vector<Task>& tasks, RunSummary& summary);
  void run_async(AsyncBackend& backend, int64_t run_id, const std::vector<Task>& tasks,
                 RunSummary& summary);
  // One attempt: prepare (request, skip, cache; false when it needs nothing more), the call
  // (process: blocking, with retries), finish (grade, store, count).
  bool prepare(int64_t run_id, const Task& task, Attempt& attempt, RunSummary& summary);
  void finish(int64_t run_id, Attempt& attempt, RunSummary& summary);
  void process(int64_t run_id, const Task& task, RunSummary& summary);
  // Prompt hashes are computed once per sample (a 1M-token prompt is megabytes).
  const std::string& prompt_hash_of(size_t suite, size_t sample, const Messages& messages);
  // Sleeps up to `seconds`; true when the run was stopped meanwhile.
  bool wait_or_stop(double seconds);

  Store& store_;
  Backend& backend_;
  std::vector<Suite*> suites_;
  RunnerOptions options_;
  const std::atomic<bool>* stop_;
  BackendInfo backend_info_;
  Progress* progress_ = nullptr;
  std::atomic<bool> failed_{false};  // the store refused a write: stop scheduling
  std::mutex hash_mu_;
  std::map<std::pair<size_t, size_t>, std::string> prompt_hashes_;
};

}  // namespace v4eval
