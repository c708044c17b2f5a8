#include "harness/async_caller.h"

#include <algorithm>
#include <random>

#include "harness/retry.h"

namespace v4eval {
namespace {
// The clock thread's period: stop polling, timer slack, pool growth checks.
constexpr auto kTick = std::chrono::milliseconds(20);
// The caller whose worker this thread is (none: null).
thread_local const AsyncCaller* t_worker_of = nullptr;
}  // namespace

struct AsyncCaller::State {
  GenerationRequest request;
  Then then;
  int tries = 0;
  Generation last;  // the failed try a backoff waits after
};

AsyncCaller::AsyncCaller(AsyncBackend& backend, Options options, const std::atomic<bool>* stop)
    : backend_(backend), options_(options), stop_(stop) {
  options_.max_workers = std::max(1, options_.max_workers);
  {
    std::lock_guard lock(mu_);
    int cpus = int(std::max(2u, std::thread::hardware_concurrency()));
    spawn_locked(std::min(options_.max_workers, std::min(cpus, 4)));
  }
  clock_ = std::thread([this] { clock_loop(); });
}

AsyncCaller::~AsyncCaller() {
  {
    std::lock_guard lock(timer_mu_);
    clock_stopping_ = true;
  }
  timer_cv_.notify_all();
  clock_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    workers.swap(workers_);
  }
  work_cv_.notify_all();
  for (auto& t : workers) t.join();
}

int AsyncCaller::workers() const {
  std::lock_guard lock(mu_);
  return int(workers_.size());
}

void AsyncCaller::spawn_locked(int n) {
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void AsyncCaller::post(std::function<void()> job) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(Job{Clock::now(), std::move(job)});
    // A worker that is running a job takes the next one when it is done; waking a sleeping one
    // for every job would cost a context switch per call. So: wake one when none is awake, or
    // when the backlog outgrows the awake ones. (The clock wakes sleepers for jobs that wait
    // behind long ones.)
    size_t awake = workers_.size() - size_t(idle_);
    wake = idle_ > 0 && (awake == 0 || jobs_.size() > 4 * awake);
  }
  if (wake) work_cv_.notify_one();
}

void AsyncCaller::worker_loop() {
  t_worker_of = this;
  std::unique_lock lock(mu_);
  while (true) {
    if (jobs_.empty()) {
      if (shutting_down_) return;
      ++idle_;
      work_cv_.wait(lock, [&] { return !jobs_.empty() || shutting_down_; });
      --idle_;
      continue;
    }
    std::function<void()> fn = std::move(jobs_.front().fn);
    jobs_.pop_front();
    ++started_jobs_;
    lock.unlock();
    fn();
    fn = nullptr;  // what the job holds goes outside the lock
    lock.lock();
  }
}

void AsyncCaller::call(GenerationRequest request, Then then) {
  auto state = std::make_shared<State>();
  state->request = std::move(request);
  state->then = std::move(then);
  try_once(std::move(state));
}

void AsyncCaller::try_once(std::shared_ptr<State> state) {
  CallContext ctx;
  ctx.cancelled = stop_;
  ctx.executor = [this](std::function<void()> job) { post(std::move(job)); };
  ctx.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(options_.attempt_timeout_s));
  ++state->tries;
  State* s = state.get();
  backend_.generate_async(s->request, ctx, [this, state = std::move(state)](Generation&& g) mutable {
    if (t_worker_of == this) {  // the backend completed it on our worker (ctx.executor)
      on_generation(std::move(state), std::move(g));
      return;
    }
    // On the backend's thread: only hand over.
    post([this, state = std::move(state), g = std::move(g)]() mutable {
      on_generation(std::move(state), std::move(g));
    });
  });
}

void AsyncCaller::on_generation(std::shared_ptr<State> state, Generation g) {
  CallOutcome outcome;
  outcome.tries = state->tries;
  if (stopped() && g.error) {  // ended by the stop (or after it): redone on resume
    outcome.abandoned = true;
    state->then(std::move(outcome));
    return;
  }
  bool retry = g.error && g.error->kind == ErrorKind::kRetryable &&
               state->tries - 1 < options_.max_retries;
  if (!retry) {
    outcome.generation = std::move(g);
    Then then = std::move(state->then);
    state.reset();
    then(std::move(outcome));
    return;
  }
  thread_local std::mt19937_64 rng(std::random_device{}());
  double delay = backoff_delay_s(state->tries, options_.retry_base_s, options_.retry_max_s,
                                 std::uniform_real_distribution<double>(0, 1)(rng),
                                 g.error->retry_after_s);
  state->last = std::move(g);
  auto when = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(delay));
  bool earliest;
  {
    std::lock_guard lock(timer_mu_);
    earliest = timers_.empty() || when < timers_.top().when;
    timers_.push(Timer{when, timer_seq_++, std::move(state)});
  }
  if (earliest) timer_cv_.notify_one();
}

void AsyncCaller::clock_loop() {
  uint64_t seen_started = 0;
  auto next_growth_check = Clock::now() + kTick;
  std::unique_lock lock(timer_mu_);
  while (!clock_stopping_) {
    auto now = Clock::now();
    auto wake = std::min(now + kTick, next_growth_check);
    if (!timers_.empty()) wake = std::min(wake, timers_.top().when);
    timer_cv_.wait_until(lock, wake);
    if (clock_stopping_) break;
    now = Clock::now();
    bool stop = stopped();
    std::vector<std::shared_ptr<State>> due;
    while (!timers_.empty() && (stop || timers_.top().when <= now)) {
      due.push_back(timers_.top().state);
      timers_.pop();
    }
    lock.unlock();
    for (auto& state : due) {
      if (stop) {  // stopped during the backoff wait: abandoned
        post([state]() mutable {
          CallOutcome outcome;
          outcome.tries = state->tries;
          outcome.abandoned = true;
          Then then = std::move(state->then);
          state.reset();
          then(std::move(outcome));
        });
      } else {  // the next try starts on a worker (building a large request is not free)
        post([this, state]() mutable { try_once(std::move(state)); });
      }
    }
    due.clear();
    if (now >= next_growth_check) {
      next_growth_check = now + kTick;
      // Grow the pool while jobs wait and the workers are not cycling through jobs: they are
      // blocked in long jobs (a judge call, a sandbox run). Busy with short jobs (a saturated
      // CPU), more threads would not help, so none are added.
      std::lock_guard pool(mu_);
      uint64_t started = started_jobs_ - seen_started;
      seen_started = started_jobs_;
      int n = int(workers_.size());
      if (!jobs_.empty() && now - jobs_.front().queued >= kTick) {
        if (idle_ > 0)
          work_cv_.notify_all();
        else if (started < uint64_t(n) && n < options_.max_workers)
          spawn_locked(std::min({n, options_.max_workers - n, int(jobs_.size())}));
      }
    }
    lock.lock();
  }
}

}  // namespace v4eval
