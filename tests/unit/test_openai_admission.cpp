// Admission control of the remote backends (backends/openai/admission.h): the adaptive
// concurrency limit and the requests/tokens per minute budgets, on an injected clock.

#include <catch2/catch.hpp>
#include <thread>

#include "backends/openai/admission.h"

using namespace v4eval;
using namespace v4eval::openai;
using Clock = Admission::Clock;

namespace {
struct FakeClock {
  Clock::time_point now = Clock::time_point() + std::chrono::hours(1000);
  void advance(double s) {
    now += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }
};
}  // namespace

TEST_CASE("adaptive limit: halves once per overload / grows back by one per window",
          "[openai][admission]") {
  Admission a({8, 0, 0, 1});
  std::vector<Admission::Ticket> tickets;
  for (int i = 0; i < 8; ++i) {
    auto t = a.acquire(0, Clock::now() + std::chrono::seconds(1), nullptr);
    REQUIRE(t.ok());
    tickets.push_back(*t);
  }
  CHECK(a.inflight() == 8);
  // A ninth waits for a slot and gives up at its deadline.
  auto ninth = a.acquire(0, Clock::now() + std::chrono::milliseconds(30), nullptr);
  REQUIRE_FALSE(ninth.ok());
  CHECK(ninth.status().code() == StatusCode::kDeadlineExceeded);
  // Three 429s from requests of the same epoch are one signal: 8 -> 4, not 8 -> 1.
  for (int i = 0; i < 3; ++i) a.release(tickets[size_t(i)], Admission::Outcome::kRateLimited, -1);
  CHECK(a.limit() == 4.0);
  // A 429 from a request started after the decrease halves again.
  auto later = a.acquire(0, Clock::now() + std::chrono::milliseconds(30), nullptr);
  REQUIRE_FALSE(later.ok());  // 5 in flight > limit 4
  for (int i = 3; i < 5; ++i) a.release(tickets[size_t(i)], Admission::Outcome::kOk, -1);
  auto fresh = a.acquire(0, Clock::now() + std::chrono::seconds(1), nullptr);
  REQUIRE(fresh.ok());
  a.release(*fresh, Admission::Outcome::kRateLimited, -1);
  CHECK(a.limit() < 2.6);
  CHECK(a.limit() >= 1.0);
  // Successes grow it back (+1/limit each), never past the ceiling.
  for (int i = 5; i < 8; ++i) a.release(tickets[size_t(i)], Admission::Outcome::kOk, -1);
  for (int i = 0; i < 200; ++i) {
    auto t = a.acquire(0, Clock::now() + std::chrono::seconds(1), nullptr);
    REQUIRE(t.ok());
    a.release(*t, Admission::Outcome::kOk, -1);
  }
  CHECK(a.limit() == 8.0);
  CHECK(a.inflight() == 0);
}

TEST_CASE("adaptive limit: a waiter gets the slot a release frees and sees cancellation",
          "[openai][admission]") {
  Admission a({1, 0, 0, 1});
  auto first = a.acquire(0, Clock::time_point::max(), nullptr);
  REQUIRE(first.ok());
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto t = a.acquire(0, Clock::now() + std::chrono::seconds(20), nullptr);
    got = t.ok();
    if (t.ok()) a.release(*t, Admission::Outcome::kOk, -1);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  a.release(*first, Admission::Outcome::kOk, -1);
  waiter.join();
  CHECK(got);

  auto held = a.acquire(0, Clock::time_point::max(), nullptr);
  REQUIRE(held.ok());
  std::atomic<bool> cancel{true};
  auto cancelled = a.acquire(0, Clock::time_point::max(), &cancel);
  REQUIRE_FALSE(cancelled.ok());
  CHECK(cancelled.status().code() == StatusCode::kCancelled);
  a.release(*held, Admission::Outcome::kOk, -1);
}

TEST_CASE("requests per minute: a ten-second burst then the steady rate", "[openai][admission]") {
  FakeClock clock;
  Admission a({1000, 60, 0, 1}, [&] { return clock.now; });  // 1 request/s, burst 10
  for (int i = 0; i < 10; ++i) {
    auto t = a.acquire(0, clock.now, nullptr);
    REQUIRE(t.ok());
    a.release(*t, Admission::Outcome::kOk, -1);
  }
  CHECK_FALSE(a.acquire(0, clock.now, nullptr).ok());  // budget spent: waits (deadline now)
  clock.advance(0.5);
  CHECK_FALSE(a.acquire(0, clock.now, nullptr).ok());
  clock.advance(0.5);
  auto t = a.acquire(0, clock.now, nullptr);
  REQUIRE(t.ok());
  a.release(*t, Admission::Outcome::kOk, -1);
}

TEST_CASE("tokens per minute: estimates charged up front / corrected by usage",
          "[openai][admission]") {
  FakeClock clock;
  Admission a({1000, 0, 6000, 1}, [&] { return clock.now; });  // 100 tokens/s, bucket 1000
  auto big = a.acquire(5000, clock.now, nullptr);  // larger than the bucket: still goes (debt)
  REQUIRE(big.ok());
  CHECK_FALSE(a.acquire(10, clock.now, nullptr).ok());  // in debt: waits
  // The request used far fewer tokens than estimated: the refund makes room at once.
  a.release(*big, Admission::Outcome::kOk, 200);
  auto next = a.acquire(10, clock.now, nullptr);
  REQUIRE(next.ok());
  a.release(*next, Admission::Outcome::kOk, 10);
  // Usage above the estimate is charged afterwards.
  auto under = a.acquire(10, clock.now, nullptr);
  REQUIRE(under.ok());
  a.release(*under, Admission::Outcome::kOk, 2000);
  CHECK_FALSE(a.acquire(10, clock.now, nullptr).ok());
  clock.advance(20);
  CHECK(a.acquire(10, clock.now, nullptr).ok());
}
