#pragma once
// The runner's path for an AsyncBackend: many model calls in flight without a thread per call.
// A call gets the runner's rules (a fresh deadline per try, retries of retryable errors with
// harness/retry.h's backoff, abandoned once the run is stopped); what follows a call (grading,
// storing, starting the next attempt) runs on a small pool of worker threads that grows only
// while its jobs block (a judge model, a sandbox), up to a ceiling.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "backends/backend.h"

namespace v4eval {

struct CallOutcome {
  Generation generation;  // the last try's (meaningless when abandoned)
  int tries = 0;          // backend calls made
  // The run was stopped: the last try ended with an error after the stop, or the stop came
  // during a backoff wait. The attempt is not stored (it is redone on resume).
  bool abandoned = false;
};

class AsyncCaller {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    double attempt_timeout_s = 900;  // deadline of each try
    int max_retries = 4;             // extra tries for retryable errors
    double retry_base_s = 1.0;
    double retry_max_s = 60.0;
    int max_workers = 8;  // ceiling of the worker pool
  };

  // `stop` (may be null) is polled; it is also each call's CallContext::cancelled.
  AsyncCaller(AsyncBackend& backend, Options options, const std::atomic<bool>* stop);
  // Joins the threads. Every call must have ended (its `then` run) before.
  ~AsyncCaller();
  AsyncCaller(const AsyncCaller&) = delete;
  AsyncCaller& operator=(const AsyncCaller&) = delete;

  using Then = std::function<void(CallOutcome&&)>;
  // Calls the backend with `request` (retrying as above), then runs `then` on a worker thread.
  void call(GenerationRequest request, Then then);
  // Runs `job` on a worker thread.
  void post(std::function<void()> job);

  int workers() const;  // threads in the pool now

 private:
  struct State;
  void try_once(std::shared_ptr<State> state);
  void on_generation(std::shared_ptr<State> state, Generation g);
  void worker_loop();
  void clock_loop();  // backoff timers, the stop flag, pool growth
  void spawn_locked(int n);
  bool stopped() const { return stop_ && stop_->load(std::memory_order_relaxed); }

  AsyncBackend& backend_;
  Options options_;
  const std::atomic<bool>* stop_;

  // Worker pool.
  struct Job {
    Clock::time_point queued;
    std::function<void()> fn;
  };
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Job> jobs_;
  std::vector<std::thread> workers_;
  int idle_ = 0;
  uint64_t started_jobs_ = 0;
  bool shutting_down_ = false;

  // Backoff timers.
  struct Timer {
    Clock::time_point when;
    uint64_t seq;
    std::shared_ptr<State> state;
    bool operator>(const Timer& o) const { return when != o.when ? when > o.when : seq > o.seq; }
  };
  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t timer_seq_ = 0;
  bool clock_stopping_ = false;
  std::thread clock_;
};

}  // namespace v4eval
