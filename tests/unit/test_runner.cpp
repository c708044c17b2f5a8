#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "harness/caching_backend.h"
#include "harness/runner.h"

using namespace v4eval;
namespace fs = std::filesystem;

namespace {

// A suite of n samples whose grade is the length of the answer over 10.
class CountingSuite final : public Suite {
 public:
  explicit CountingSuite(int n, bool fail_grading_of_1 = false) : fail1_(fail_grading_of_1) {
    doc_.name = "count";
    doc_.version = "1";
    for (int i = 0; i < n; ++i) {
      Sample s;
      s.id = std::to_string(i);
      s.index = size_t(i);
      s.prompt = std::make_shared<Messages>(Messages{{"user", "q" + std::to_string(i)}});
      samples_.push_back(s);
    }
  }
  const SuiteDoc& doc() const override { return doc_; }
  Status load(int64_t) override { return Status::Ok(); }
  const std::vector<Sample>& samples() const override { return samples_; }
  std::string data_hash() const override { return "h"; }
  GenerationRequest make_request(const Sample& s, Mode mode) const override {
    GenerationRequest r;
    r.messages = s.prompt;
    r.mode = mode;
    return r;
  }
  Result<Score> grade(const Sample& s, const GenerationRequest&, const Generation& g) const override {
    if (fail1_ && s.id == "1") return Unavailable("judge unreachable");
    return Score{double(g.text.size()) / 10.0, "ok", Json::object()};
  }
  std::vector<Metric> aggregate(const std::vector<GradedAttempt>&) const override { return {}; }

 private:
  SuiteDoc doc_;
  std::vector<Sample> samples_;
  bool fail1_;
};

// Fails the first `failures` calls per sample with a retryable error, then answers.
class FlakyBackend final : public Backend {
 public:
  explicit FlakyBackend(int failures, ErrorKind kind = ErrorKind::kRetryable)
      : failures_(failures), kind_(kind) {}
  BackendInfo info() const override {
    return {"fake", "fake-model", 0, {Mode::kNonThink, Mode::kThinkHigh}, "fake"};
  }
  Generation generate(const GenerationRequest& r, const CallContext& ctx) override {
    std::lock_guard lock(mu_);
    int& n = calls_[r.sample_id + "/" + std::string(mode_name(r.mode)) + "/" + std::to_string(r.repeat)];
    ++n;
    ++total_calls;
    if (ctx.is_cancelled()) {
      Generation g;
      g.error = GenerationError{ErrorKind::kRetryable, "cancelled", std::nullopt};
      return g;
    }
    Generation g;
    if (n <= failures_) {
      g.error = GenerationError{kind_, "HTTP 503", std::nullopt};
      return g;
    }
    g.text = "abcde";
    g.finish_reason = "stop";
    return g;
  }
  int total_calls = 0;

 private:
  int failures_;
  ErrorKind kind_;
  std::mutex mu_;
  std::map<std::string, int> calls_;
};

struct Fixture {
  fs::path dir;
  std::unique_ptr<Store> store;
  int64_t run_id = 0;
  Fixture() {
    char tmpl[] = "/tmp/v4eval-runner-XXXXXX";
    dir = mkdtemp(tmpl);
    store = std::move(Store::open((dir / "db.sqlite").string()).value());
    RunInfo r;
    r.name = "t";
    r.status = "running";
    run_id = store->create_run(r)->id;
  }
  ~Fixture() {
    if (!std::getenv("KEEP")) fs::remove_all(dir);
  }
};

RunnerOptions quick() {
  RunnerOptions o;
  o.progress = RunnerOptions::Progress::kQuiet;
  o.retry_base_s = 0.001;
  o.retry_max_s = 0.002;
  o.concurrency = 4;
  return o;
}

}  // namespace

TEST_CASE("backoff doubles, is capped, jittered, and honours Retry-After", "[runner]") {
  CHECK(backoff_delay_s(1, 1.0, 60, 1.0, std::nullopt) == 1.0);
  CHECK(backoff_delay_s(3, 1.0, 60, 1.0, std::nullopt) == 4.0);
  CHECK(backoff_delay_s(10, 1.0, 60, 1.0, std::nullopt) == 60.0);
  CHECK(backoff_delay_s(3, 1.0, 60, 0.0, std::nullopt) == 2.0);  // jitter keeps at least half
  CHECK(backoff_delay_s(1, 1.0, 60, 1.0, 7.5) == 7.5);
}

TEST_CASE("runner: every (sample, mode, repeat) once, retries retryable errors", "[runner]") {
  Fixture f;
  CountingSuite suite(10);
  FlakyBackend backend(2);
  RunnerOptions o = quick();
  o.modes = {Mode::kNonThink, Mode::kThinkHigh};
  o.repeats = 3;
  Runner runner(*f.store, backend, {&suite}, o, nullptr);
  RunSummary s = runner.run(f.run_id);
  CHECK(s.total == 60);
  CHECK(s.graded_now == 60);
  CHECK(s.errors_now == 0);
  CHECK(backend.total_calls == 180);  // two failures + one success each
  auto attempts = f.store->attempts(f.run_id);
  REQUIRE(attempts->size() == 60);
  for (const auto& a : *attempts) {
    CHECK(a.tries == 3);
    CHECK(a.score->value == 0.5);
  }
}

TEST_CASE("runner: exhausted retries are stored as errors and redone on resume", "[runner]") {
  Fixture f;
  CountingSuite suite(4);
  FlakyBackend backend(3);
  RunnerOptions o = quick();
  o.max_retries = 1;  // 2 calls per attempt: not enough
  {
    Runner runner(*f.store, backend, {&suite}, o, nullptr);
    RunSummary s = runner.run(f.run_id);
    CHECK(s.graded_now == 0);
    CHECK(s.errors_now == 4);
    for (const auto& a : *f.store->attempts(f.run_id)) {
      CHECK_FALSE(a.score.has_value());  // an error is never a score of 0
      CHECK(a.error == "HTTP 503");
      CHECK(a.error_stage == "generate");
    }
  }
  Runner again(*f.store, backend, {&suite}, o, nullptr);  // the 4th call per sample succeeds
  RunSummary s = again.run(f.run_id);
  CHECK(s.already_done == 0);
  CHECK(s.graded_now == 4);
  for (const auto& a : *f.store->attempts(f.run_id)) {
    CHECK(a.score.has_value());
    CHECK(a.tries == 4);  // 2 failed calls before, 1 failed + 1 good now
  }
  Runner third(*f.store, backend, {&suite}, o, nullptr);
  RunSummary s3 = third.run(f.run_id);
  CHECK(s3.already_done == 4);
  CHECK(s3.graded_now == 0);
}

TEST_CASE("runner: final errors are not retried", "[runner]") {
  Fixture f;
  CountingSuite suite(3);
  FlakyBackend backend(1, ErrorKind::kFinal);
  Runner runner(*f.store, backend, {&suite}, quick(), nullptr);
  RunSummary s = runner.run(f.run_id);
  CHECK(s.errors_now == 3);
  CHECK(backend.total_calls == 3);
}

TEST_CASE("runner: an ungradable answer is an error, and regrading uses the cache", "[runner]") {
  Fixture f;
  CountingSuite failing(3, /*fail_grading_of_1=*/true);
  FlakyBackend backend(0);
  Runner runner(*f.store, backend, {&failing}, quick(), nullptr);
  RunSummary s = runner.run(f.run_id);
  CHECK(s.graded_now == 2);
  CHECK(s.errors_now == 1);
  auto a = f.store->attempt(f.run_id, {"count", "1", Mode::kNonThink, 0});
  CHECK((*a)->error == "judge unreachable");
  CHECK((*a)->error_stage == "grade");
  CHECK((*a)->generation.text == "abcde");  // the generation is kept

  CountingSuite healthy(3);
  Runner regrade(*f.store, backend, {&healthy}, quick(), nullptr);
  RunSummary r = regrade.run(f.run_id);
  CHECK(r.graded_now == 1);
  CHECK(r.from_cache == 1);
  CHECK(r.backend_calls == 0);  // the model is not asked again
  CHECK(backend.total_calls == 3);
}

TEST_CASE("runner: a stop flag ends scheduling, the rest is done on resume", "[runner]") {
  Fixture f;
  CountingSuite suite(200);
  // Slow backend: 2 ms per call, so the stop lands mid-run.
  class Slow final : public Backend {
   public:
    BackendInfo info() const override { return {"slow", "m", 0, {Mode::kNonThink}, "slow"}; }
    Generation generate(const GenerationRequest&, const CallContext&) override {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      Generation g;
      g.text = "x";
      return g;
    }
  } backend;
  std::atomic<bool> stop{false};
  RunnerOptions o = quick();
  o.concurrency = 2;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
  });
  Runner runner(*f.store, backend, {&suite}, o, &stop);
  RunSummary s = runner.run(f.run_id);
  stopper.join();
  CHECK(s.interrupted);
  CHECK(s.graded_now > 0);
  CHECK(s.graded_now < 200);
  CHECK(int64_t(f.store->attempts(f.run_id)->size()) == s.graded_now);

  Runner resume(*f.store, backend, {&suite}, o, nullptr);
  RunSummary r = resume.run(f.run_id);
  CHECK_FALSE(r.interrupted);
  CHECK(r.already_done == s.graded_now);
  CHECK(r.already_done + r.graded_now == 200);
  CHECK(f.store->attempts(f.run_id)->size() == 200);
}

TEST_CASE("caching backend: a judge call is asked once, errors are not cached", "[runner]") {
  Fixture f;
  class Counting final : public Backend {
   public:
    BackendInfo info() const override { return {"count", "judge-model", 0, {Mode::kNonThink}, "count"}; }
    Generation generate(const GenerationRequest& r, const CallContext&) override {
      ++calls;
      Generation g;
      if (r.sample_id == "bad") g.error = GenerationError{ErrorKind::kRetryable, "503", std::nullopt};
      else g.text = "A";
      return g;
    }
    int calls = 0;
  } inner;
  CachingBackend judge(inner, *f.store);
  GenerationRequest r;
  r.messages = std::make_shared<Messages>(Messages{{"user", "grade this"}});
  r.suite = "simpleqa";
  r.sample_id = "1";
  r.attempt_mode = Mode::kThinkMax;
  CallContext ctx;
  CHECK(judge.generate(r, ctx).text == "A");
  CHECK(judge.generate(r, ctx).text == "A");
  CHECK(inner.calls == 1);
  r.attempt_mode = Mode::kNonThink;  // another attempt's grading is another request
  judge.generate(r, ctx);
  CHECK(inner.calls == 2);
  r.sample_id = "bad";
  CHECK(judge.generate(r, ctx).error);
  CHECK(judge.generate(r, ctx).error);
  CHECK(inner.calls == 4);
}

// ---- The asynchronous path (AsyncBackend): the same semantics without a thread per call.

namespace {

// An AsyncBackend whose calls complete on its own "I/O" thread, never on the caller's, after
// `latency`. The first `failures` calls per attempt fail (retryable unless `kind` says
// otherwise). `hold_until_cancelled`: calls of samples with an id >= hold_from never answer;
// they end (retryable "cancelled") only once the context's cancelled flag is set, or with a
// timeout once the context's deadline passes. Counts blocking calls, which the runner must not
// make when the backend is asynchronous.
class AsyncFake final : public Backend, public AsyncBackend {
 public:
  struct Options {
    int failures = 0;
    ErrorKind kind = ErrorKind::kRetryable;
    std::chrono::milliseconds latency{1};
    int hold_from = -1;  // < 0: none held
  };
  explicit AsyncFake(Options o) : o_(o) { io_ = std::thread([this] { loop(); }); }
  ~AsyncFake() override {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    io_.join();
  }
  BackendInfo info() const override {
    return {"afake", "fake-model", 0, {Mode::kNonThink, Mode::kThinkHigh}, "afake"};
  }
  Generation generate(const GenerationRequest&, const CallContext&) override {
    ++blocking_calls;
    Generation g;
    g.error = GenerationError{ErrorKind::kFinal, "blocking call", std::nullopt};
    return g;
  }
  void generate_async(const GenerationRequest& r, const CallContext& ctx,
                      GenerationCallback on_done) override {
    std::lock_guard lock(mu_);
    std::string key = r.sample_id + "/" + std::string(mode_name(r.mode)) + "/" +
                      std::to_string(r.repeat);
    int n = ++calls_[key];
    ++total_calls;
    ++inflight_;
    max_inflight = std::max(max_inflight, inflight_);
    deadlines.push_back(ctx.deadline - std::chrono::steady_clock::now());
    Pending p;
    p.due = std::chrono::steady_clock::now() + o_.latency;
    p.ctx = ctx;
    p.fail = n <= o_.failures;
    p.hold = o_.hold_from >= 0 && std::stoi(r.sample_id) >= o_.hold_from;
    p.done = std::move(on_done);
    pending_.push_back(std::move(p));
    cv_.notify_all();
  }
  std::atomic<int> blocking_calls{0};
  int total_calls = 0;  // under mu_ while running; read after the run
  int max_inflight = 0;
  std::vector<std::chrono::steady_clock::duration> deadlines;  // left at each call's start

 private:
  static Generation result(const char* error, ErrorKind kind) {
    Generation g;
    if (error)
      g.error = GenerationError{kind, error, std::nullopt};
    else
      g.text = "abcde";
    return g;
  }
  struct Pending {
    std::chrono::steady_clock::time_point due;
    CallContext ctx;
    bool fail = false, hold = false;
    GenerationCallback done;
  };
  void loop() {
    std::unique_lock lock(mu_);
    while (!closing_ || !pending_.empty()) {
      cv_.wait_for(lock, std::chrono::milliseconds(1));
      auto now = std::chrono::steady_clock::now();
      std::vector<std::pair<GenerationCallback, Generation>> ready;
      for (auto it = pending_.begin(); it != pending_.end();) {
        const char* error = nullptr;  // how the call ends; null: it answers
        ErrorKind kind = ErrorKind::kRetryable;
        bool end = true;
        if (it->ctx.is_cancelled() || closing_)
          error = "cancelled";
        else if (it->hold)
          end = now >= it->ctx.deadline, error = "timed out";
        else if (now < it->due)
          end = false;
        else if (it->fail)
          error = "HTTP 503", kind = o_.kind;
        if (!end) {
          ++it;
          continue;
        }
        --inflight_;
        ready.emplace_back(std::move(it->done), result(error, kind));
        it = pending_.erase(it);
      }
      lock.unlock();
      for (auto& [done, g] : ready) done(std::move(g));
      lock.lock();
    }
  }
  Options o_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::list<Pending> pending_;
  std::map<std::string, int> calls_;
  int inflight_ = 0;
  bool closing_ = false;
  std::thread io_;
};

}  // namespace

TEST_CASE("runner (async backend): every attempt once, retries, bounded in flight, no blocking "
          "call",
          "[runner][async]") {
  Fixture f;
  CountingSuite suite(10);
  AsyncFake backend({/*failures=*/2});
  RunnerOptions o = quick();
  o.modes = {Mode::kNonThink, Mode::kThinkHigh};
  o.repeats = 3;
  o.concurrency = 7;
  Runner runner(*f.store, backend, {&suite}, o, nullptr);
  RunSummary s = runner.run(f.run_id);
  CHECK(backend.blocking_calls == 0);
  CHECK(s.total == 60);
  CHECK(s.graded_now == 60);
  CHECK(s.errors_now == 0);
  CHECK(s.backend_calls == 180);
  CHECK(backend.total_calls == 180);  // two failures + one success each
  CHECK(backend.max_inflight <= 7);
  CHECK(backend.max_inflight >= 2);  // calls do overlap
  auto attempts = f.store->attempts(f.run_id);
  REQUIRE(attempts->size() == 60);
  std::set<std::string> keys;
  for (const auto& a : *attempts) {
    CHECK(a.tries == 3);
    CHECK(a.score->value == 0.5);
    keys.insert(a.key.sample_id + "/" + std::string(mode_name(a.key.mode)) + "/" +
                std::to_string(a.key.repeat));
  }
  CHECK(keys.size() == 60);
  // Resuming finds nothing to do.
  Runner again(*f.store, backend, {&suite}, o, nullptr);
  RunSummary r = again.run(f.run_id);
  CHECK(r.already_done == 60);
  CHECK(r.backend_calls == 0);
}

TEST_CASE("runner (async backend): exhausted retries and final errors are stored as errors",
          "[runner][async]") {
  Fixture f;
  CountingSuite suite(4);
  {
    AsyncFake backend({/*failures=*/3});
    RunnerOptions o = quick();
    o.max_retries = 1;
    Runner runner(*f.store, backend, {&suite}, o, nullptr);
    RunSummary s = runner.run(f.run_id);
    CHECK(s.errors_now == 4);
    CHECK(backend.total_calls == 8);
    for (const auto& a : *f.store->attempts(f.run_id)) {
      CHECK_FALSE(a.score.has_value());
      CHECK(a.error == "HTTP 503");
      CHECK(a.error_stage == "generate");
      CHECK(a.tries == 2);
    }
  }
  Fixture g;
  AsyncFake final_errors({/*failures=*/1, ErrorKind::kFinal});
  Runner runner(*g.store, final_errors, {&suite}, quick(), nullptr);
  RunSummary s = runner.run(g.run_id);
  CHECK(s.errors_now == 4);
  CHECK(final_errors.total_calls == 4);  // never retried
}

TEST_CASE("runner (async backend): each try gets its own deadline; timeouts are retried",
          "[runner][async]") {
  Fixture f;
  CountingSuite suite(3);
  AsyncFake backend({0, ErrorKind::kRetryable, std::chrono::milliseconds(1), /*hold_from=*/0});
  RunnerOptions o = quick();
  o.attempt_timeout_s = 0.05;
  o.max_retries = 1;
  Runner runner(*f.store, backend, {&suite}, o, nullptr);
  auto t0 = std::chrono::steady_clock::now();
  RunSummary s = runner.run(f.run_id);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK(s.errors_now == 3);
  CHECK(backend.total_calls == 6);
  for (auto left : backend.deadlines) {  // a fresh 50 ms at every try, retries included
    CHECK(left > std::chrono::milliseconds(10));
    CHECK(left <= std::chrono::milliseconds(50));
  }
  for (const auto& a : *f.store->attempts(f.run_id)) {
    CHECK(a.error == "timed out");
    CHECK(a.tries == 2);
  }
}

TEST_CASE("runner (async backend): a stop abandons calls in flight and backoff waits; resume "
          "completes the run",
          "[runner][async]") {
  Fixture f;
  CountingSuite suite(40);
  std::atomic<bool> stop{false};
  RunnerOptions o = quick();
  o.concurrency = 4;
  {
    // Samples 0-9 answer; from 10 on, calls hang until the stop cancels them.
    AsyncFake backend({0, ErrorKind::kRetryable, std::chrono::milliseconds(1), /*hold_from=*/10});
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      stop = true;  // what SIGINT does in `v4eval run`
    });
    Runner runner(*f.store, backend, {&suite}, o, &stop);
    auto t0 = std::chrono::steady_clock::now();
    RunSummary s = runner.run(f.run_id);
    stopper.join();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    CHECK(s.interrupted);
    CHECK(s.graded_now == 10);
    CHECK(s.errors_now == 0);  // the cancelled calls are abandoned, not stored as errors
    CHECK(backend.blocking_calls == 0);
    auto attempts = f.store->attempts(f.run_id);
    CHECK(attempts->size() == 10);
    for (const auto& a : *attempts) CHECK(a.error.empty());
  }
  {
    // A stop during a long backoff wait ends the run at once, storing nothing.
    AsyncFake backend({/*failures=*/100});
    stop = false;
    RunnerOptions slow = o;
    slow.retry_base_s = 30;
    slow.retry_max_s = 30;
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      stop = true;
    });
    Runner runner(*f.store, backend, {&suite}, slow, &stop);
    auto t0 = std::chrono::steady_clock::now();
    RunSummary s = runner.run(f.run_id);
    stopper.join();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    CHECK(s.interrupted);
    CHECK(s.graded_now + s.errors_now == 0);
    CHECK(f.store->attempts(f.run_id)->size() == 10);
  }
  AsyncFake healthy({});
  Runner resume(*f.store, healthy, {&suite}, o, nullptr);
  RunSummary r = resume.run(f.run_id);
  CHECK_FALSE(r.interrupted);
  CHECK(r.already_done == 10);
  CHECK(r.graded_now == 30);
  CHECK(f.store->attempts(f.run_id)->size() == 40);
}

TEST_CASE("runner (async backend): slow grading grows the worker pool instead of serialising",
          "[runner][async]") {
  // Grading that blocks (a judge model, a sandbox) must not be limited to the pool's first
  // few threads: 64 attempts graded in 50 ms each at concurrency 32 take ~0.2 s, not 0.8 s (4
  // fixed workers) or 1.6 s (2).
  class SlowGrading final : public Suite {
   public:
    explicit SlowGrading(int n) : inner_(n) {}
    const SuiteDoc& doc() const override { return inner_.doc(); }
    Status load(int64_t seed) override { return inner_.load(seed); }
    const std::vector<Sample>& samples() const override { return inner_.samples(); }
    std::string data_hash() const override { return inner_.data_hash(); }
    GenerationRequest make_request(const Sample& s, Mode mode) const override {
      return inner_.make_request(s, mode);
    }
    Result<Score> grade(const Sample& s, const GenerationRequest& r,
                        const Generation& g) const override {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      return inner_.grade(s, r, g);
    }
    std::vector<Metric> aggregate(const std::vector<GradedAttempt>& a) const override {
      return inner_.aggregate(a);
    }

   private:
    CountingSuite inner_;
  } suite(64);
  Fixture f;
  AsyncFake backend({});
  RunnerOptions o = quick();
  o.concurrency = 32;
  Runner runner(*f.store, backend, {&suite}, o, nullptr);
  auto t0 = std::chrono::steady_clock::now();
  RunSummary s = runner.run(f.run_id);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(s.graded_now == 64);
  CHECK(seconds < 0.6);
}
