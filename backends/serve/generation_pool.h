#pragma once
// The threads on which `v4eval serve` runs Backend::generate (which blocks): at most
// `max_inflight` calls at once, refusing more rather than queueing without bound, with
// cancellation per job and a graceful shutdown. Front-ends (HTTP, gRPC) only submit jobs and
// react to their callbacks, so their own threads never block on a model.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "backends/serve/streaming_backend.h"

namespace v4eval::serve {

class GenerationPool {
 public:
  using Clock = std::chrono::steady_clock;
  struct Job {
    GenerationRequest request;
    Clock::time_point deadline = Clock::time_point::max();
    // Set by the front-end when its client goes away; the pool sets it at forced shutdown.
    std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
    DeltaSink on_delta;                         // may be empty; must not block
    std::function<void(Generation&&)> on_done;  // exactly once, on a pool thread
  };

  GenerationPool(Backend& backend, int max_inflight);
  ~GenerationPool();  // shutdown(0)
  GenerationPool(const GenerationPool&) = delete;
  GenerationPool& operator=(const GenerationPool&) = delete;

  // False when `max_inflight` jobs are already running or the pool is shutting down.
  bool submit(Job job);

  // Refuses new jobs, lets running ones finish for up to `grace`, then cancels the rest
  // (through CallContext) and waits for them. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

  int inflight() const;
  int max_inflight() const { return max_inflight_; }
  Backend& backend() { return backend_; }

 private:
  void worker();

  Backend& backend_;
  StreamingBackend* streaming_;  // the same object when it can stream, else null
  const int max_inflight_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_;
  std::deque<Job> queue_;
  std::set<std::shared_ptr<std::atomic<bool>>> running_;  // cancellation flags of running jobs
  int busy_ = 0;                                          // queued + running
  bool stopping_ = false;
  bool joined_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace v4eval::serve
