#include "backends/openai/admission.h"

#include <algorithm>
#include <cmath>

namespace v4eval::openai {
namespace {
// Budgets hold ten seconds' worth: a burst after an idle spell stays well under a minute's
// quota, the long-run rate is exactly the one asked for.
constexpr double kBurstSeconds = 10.0;
constexpr auto kCancelPoll = std::chrono::milliseconds(100);

double capacity(double per_minute) { return std::max(1.0, per_minute / 60.0 * kBurstSeconds); }
}  // namespace

Admission::Admission(Options options, std::function<Clock::time_point()> now)
    : options_(options), now_(std::move(now)) {
  options_.max_inflight = std::max(1, options_.max_inflight);
  options_.min_inflight = std::clamp(options_.min_inflight, 1, options_.max_inflight);
  limit_ = options_.max_inflight;
  request_tokens_ = capacity(options_.requests_per_minute);
  token_tokens_ = capacity(options_.tokens_per_minute);
  last_refill_ = now_();
}

void Admission::refill(Clock::time_point now) {
  double seconds = std::chrono::duration<double>(now - last_refill_).count();
  if (seconds <= 0) return;
  last_refill_ = now;
  if (options_.requests_per_minute > 0)
    request_tokens_ = std::min(capacity(options_.requests_per_minute),
                               request_tokens_ + seconds * options_.requests_per_minute / 60.0);
  if (options_.tokens_per_minute > 0)
    token_tokens_ = std::min(capacity(options_.tokens_per_minute),
                             token_tokens_ + seconds * options_.tokens_per_minute / 60.0);
}

Admission::Clock::duration Admission::budget_wait(Clock::time_point) const {
  double wait_s = 0;
  if (options_.requests_per_minute > 0 && request_tokens_ < 1)
    wait_s = std::max(wait_s, (1 - request_tokens_) / (options_.requests_per_minute / 60.0));
  // The token budget may run into debt (one request larger than the bucket must still go), so
  // it only has to be positive.
  if (options_.tokens_per_minute > 0 && token_tokens_ <= 0)
    wait_s = std::max(wait_s, (1 - token_tokens_) / (options_.tokens_per_minute / 60.0));
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s));
}

Result<Admission::Ticket> Admission::acquire(int64_t estimated_tokens, Clock::time_point deadline,
                                             const std::atomic<bool>* cancelled) {
  std::unique_lock lock(mu_);
  while (true) {
    if (cancelled && cancelled->load(std::memory_order_relaxed))
      return Status(StatusCode::kCancelled, "cancelled while waiting for a request slot");
    auto now = now_();
    refill(now);
    int slots = std::max(options_.min_inflight, int(std::floor(limit_)));
    auto wait = budget_wait(now);
    if (inflight_ < slots && wait == Clock::duration::zero()) {
      ++inflight_;
      if (options_.requests_per_minute > 0) request_tokens_ -= 1;
      if (options_.tokens_per_minute > 0)
        token_tokens_ -= double(std::max<int64_t>(0, estimated_tokens));
      return Ticket{epoch_, std::max<int64_t>(0, estimated_tokens), true};
    }
    if (now >= deadline)
      return Status(StatusCode::kDeadlineExceeded,
                    inflight_ >= slots
                        ? "deadline passed while waiting for a request slot (limit " +
                              std::to_string(slots) + " in flight)"
                        : "deadline passed while waiting for the rate budget");
    auto until = now + std::min<Clock::duration>(kCancelPoll, wait == Clock::duration::zero()
                                                                  ? Clock::duration(kCancelPoll)
                                                                  : wait);
    cv_.wait_until(lock, std::min(until, deadline));
  }
}

std::optional<Admission::Ticket> Admission::try_acquire(int64_t estimated_tokens,
                                                       Clock::duration* wait_out) {
  std::lock_guard lock(mu_);
  auto now = now_();
  refill(now);
  int slots = std::max(options_.min_inflight, int(std::floor(limit_)));
  auto wait = budget_wait(now);
  if (wait_out) *wait_out = wait;
  if (inflight_ >= slots || wait != Clock::duration::zero()) return std::nullopt;
  ++inflight_;
  if (options_.requests_per_minute > 0) request_tokens_ -= 1;
  if (options_.tokens_per_minute > 0)
    token_tokens_ -= double(std::max<int64_t>(0, estimated_tokens));
  return Ticket{epoch_, std::max<int64_t>(0, estimated_tokens), true};
}

void Admission::release(const Ticket& ticket, Outcome outcome, int64_t actual_tokens) {
  if (!ticket.valid) return;
  {
    std::lock_guard lock(mu_);
    --inflight_;
    switch (outcome) {
      case Outcome::kRateLimited:
        // Halve once per epoch: the requests that were in flight when the server pushed back
        // all carry the old epoch, and one overload is one signal, not one per request.
        if (ticket.epoch == epoch_) {
          limit_ = std::max<double>(options_.min_inflight, limit_ / 2);
          ++epoch_;
        }
        break;
      case Outcome::kOk:
        limit_ = std::min<double>(options_.max_inflight, limit_ + 1.0 / limit_);
        break;
      case Outcome::kFailed:
        break;
    }
    if (options_.tokens_per_minute > 0 && actual_tokens >= 0)
      token_tokens_ += double(ticket.estimated_tokens - actual_tokens);
  }
  cv_.notify_one();  // one slot freed: one waiter (the others poll every 100 ms at worst)
}

double Admission::limit() const {
  std::lock_guard lock(mu_);
  return limit_;
}

int Admission::inflight() const {
  std::lock_guard lock(mu_);
  return inflight_;
}

}  // namespace v4eval::openai
