#pragma once
// Admission control for a remote model server: an adaptive concurrency limit (AIMD: halved on
// a 429, grown by one per limit's worth of successes) and optional requests-per-minute and
// tokens-per-minute budgets. Callers block in acquire() until they may send.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "harness/status.h"

namespace v4eval::openai {

class Admission {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    int max_inflight = 256;          // ceiling of the adaptive limit
    double requests_per_minute = 0;  // 0: no budget
    double tokens_per_minute = 0;    // 0: no budget
    int min_inflight = 1;
  };
  // What a finished request teaches the limit.
  enum class Outcome { kOk, kRateLimited, kFailed };

  struct Ticket {
    uint64_t epoch = 0;            // the limit's epoch when the request started
    int64_t estimated_tokens = 0;  // charged to the token budget up front
    bool valid = false;
  };

  // `now` is injectable for tests.
  explicit Admission(Options options, std::function<Clock::time_point()> now = Clock::now);

  // Waits for a free slot and budget. Fails with kDeadlineExceeded / kCancelled.
  Result<Ticket> acquire(int64_t estimated_tokens, Clock::time_point deadline,
                         const std::atomic<bool>* cancelled);
  // Never waits: a ticket when a slot and the budgets allow one now. Otherwise nullopt, and
  // `budget_wait` (when given) is how long until the budgets may allow one (zero: the limit is
  // what is full; a release frees a slot).
  std::optional<Ticket> try_acquire(int64_t estimated_tokens, Clock::duration* budget_wait = nullptr);
  // Returns the slot. `actual_tokens` (< 0: unknown) corrects the token budget's estimate.
  void release(const Ticket& ticket, Outcome outcome, int64_t actual_tokens);

  double limit() const;
  int inflight() const;

 private:
  void refill(Clock::time_point now);  // under mu_
  // Time until the budgets allow one more request (zero when they do). Under mu_.
  Clock::duration budget_wait(Clock::time_point now) const;

  Options options_;
  std::function<Clock::time_point()> now_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  double limit_;
  int inflight_ = 0;
  uint64_t epoch_ = 0;
  double request_tokens_;  // budget buckets; may go negative for the token budget (debt)
  double token_tokens_;
  Clock::time_point last_refill_;
};

}  // namespace v4eval::openai
