#include "harness/runner.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "harness/async_caller.h"
#include "harness/hash.h"

namespace v4eval {

namespace {

// Adds one worker's counts (and its first store failure) to the run's summary.
void add_counts(RunSummary& summary, const RunSummary& local) {
  summary.graded_now += local.graded_now;
  summary.errors_now += local.errors_now;
  summary.skipped_now += local.skipped_now;
  summary.from_cache += local.from_cache;
  summary.backend_calls += local.backend_calls;
  if (!local.store_failure.ok() && summary.store_failure.ok())
    summary.store_failure = local.store_failure;
}

}  // namespace

using Clock = std::chrono::steady_clock;

std::string prompt_hash(const Messages& messages) {
  Sha256 h;
  for (const auto& m : messages) {
    // Length-prefixed so that no two different message lists hash alike.
    h.update(std::to_string(m.role.size()) + ":" + m.role + std::to_string(m.content.size()) + ":");
    h.update(m.content);
  }
  return h.hex_digest();
}

int shard_of(const std::string& suite, const std::string& sample_id, int count) {
  if (count <= 1) return 0;
  std::string digest = sha256_hex(suite + "\n" + sample_id);
  uint64_t x = std::stoull(digest.substr(0, 16), nullptr, 16);
  return int(x % uint64_t(count));
}

std::string request_hash(const BackendInfo& backend, const std::string& prompt_hash,
                         const GenerationRequest& r) {
  Json j = {{"backend", backend.identity},
            {"model", backend.model},
            {"prompt", prompt_hash},
            {"mode", mode_name(r.mode)},
            {"max_tokens", r.max_tokens},
            {"temperature", r.temperature ? Json(*r.temperature) : Json()},
            {"top_p", r.top_p ? Json(*r.top_p) : Json()},
            {"seed", r.seed ? Json(*r.seed) : Json()},
            {"stop", r.stop},
            {"suite", r.suite},
            {"sample_id", r.sample_id},
            {"repeat", r.repeat}};
  if (r.attempt_mode) j["attempt_mode"] = mode_name(*r.attempt_mode);
  return sha256_hex(json_text(j));
}

struct Runner::Task {
  size_t suite;
  size_t sample;
  Mode mode;
  int repeat;
};

// Owns the counters the workers update and the thread that prints them.
class Runner::Progress {
 public:
  Progress(RunnerOptions::Progress style, int64_t total, int64_t already_done,
           std::vector<std::string> suite_names)
      : total_(total), already_done_(already_done), suite_names_(std::move(suite_names)),
        sums_(suite_names_.size(), {0.0, 0}) {
    if (style == RunnerOptions::Progress::kAuto)
      style = isatty(STDERR_FILENO) ? RunnerOptions::Progress::kTty : RunnerOptions::Progress::kLines;
    style_ = style;
    start_ = Clock::now();
    if (style_ != RunnerOptions::Progress::kQuiet) thread_ = std::thread([this] { loop(); });
  }
  ~Progress() { finish(); }

  void graded(size_t suite, double score) {
    std::lock_guard lock(mu_);
    ++done_;
    sums_[suite].first += score;
    sums_[suite].second += 1;
  }
  void errored() {
    std::lock_guard lock(mu_);
    ++done_;
    ++errors_;
  }
  void skipped() {
    std::lock_guard lock(mu_);
    ++done_;
    ++skipped_;
  }

  void finish() {
    {
      std::lock_guard lock(mu_);
      if (finished_) return;
      finished_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (style_ != RunnerOptions::Progress::kQuiet) print(true);
  }

 private:
  void loop() {
    auto period = style_ == RunnerOptions::Progress::kTty ? std::chrono::milliseconds(250)
                                                         : std::chrono::milliseconds(5000);
    std::unique_lock lock(mu_);
    while (!finished_) {
      cv_.wait_for(lock, period, [this] { return finished_; });
      if (finished_) break;
      lock.unlock();
      print(false);
      lock.lock();
    }
  }

  void print(bool final_line) {
    std::string line;
    {
      std::lock_guard lock(mu_);
      double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
      int64_t done = already_done_ + done_;
      double rate = elapsed > 0 ? done_ / elapsed : 0;
      char buf[256];
      std::snprintf(buf, sizeof buf, "%lld/%lld attempts", (long long)done, (long long)total_);
      line = buf;
      std::snprintf(buf, sizeof buf, " | %.1f/s", rate);
      line += buf;
      if (!final_line && rate > 0 && done < total_) {
        std::snprintf(buf, sizeof buf, " | ETA %.0fs", (total_ - done) / rate);
        line += buf;
      }
      std::snprintf(buf, sizeof buf, " | errors %lld", (long long)errors_);
      line += buf;
      if (skipped_) {
        std::snprintf(buf, sizeof buf, " | skipped %lld", (long long)skipped_);
        line += buf;
      }
      for (size_t i = 0; i < suite_names_.size(); ++i) {
        if (sums_[i].second == 0) continue;
        std::snprintf(buf, sizeof buf, " | %s mean %.4f", suite_names_[i].c_str(),
                      sums_[i].first / sums_[i].second);
        line += buf;
      }
    }
    if (style_ == RunnerOptions::Progress::kTty)
      std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
    else
      std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }

  RunnerOptions::Progress style_;
  int64_t total_, already_done_;
  std::vector<std::string> suite_names_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  int64_t done_ = 0, errors_ = 0, skipped_ = 0;
  std::vector<std::pair<double, int64_t>> sums_;  // running score sum and count per suite
  Clock::time_point start_;
  std::thread thread_;
};

Runner::Runner(Store& store, Backend& backend, std::vector<Suite*> suites, RunnerOptions options,
               const std::atomic<bool>* stop)
    : store_(store), backend_(backend), suites_(std::move(suites)), options_(std::move(options)),
      stop_(stop), backend_info_(backend.info()) {}

RunSummary Runner::run(int64_t run_id) {
  RunSummary summary;
  std::set<AttemptKey> done;
  if (auto keys = store_.graded_keys(run_id); keys.ok()) {
    done.insert(keys->begin(), keys->end());
  } else {
    summary.store_failure = keys.status();
    return summary;
  }
  // Sample-major order: all modes and repeats of a sample run close together, so a partial
  // run still has paired data across modes.
  std::vector<Task> tasks;
  for (size_t s = 0; s < suites_.size(); ++s) {
    const auto& samples = suites_[s]->samples();
    for (size_t i = 0; i < samples.size(); ++i) {
      if (options_.shard_count > 1 &&
          shard_of(suites_[s]->doc().name, samples[i].id, options_.shard_count) !=
              options_.shard_index)
        continue;
      for (Mode mode : options_.modes)
        for (int r = 0; r < options_.repeats; ++r) {
          ++summary.total;
          if (done.count({suites_[s]->doc().name, samples[i].id, mode, r}))
            ++summary.already_done;
          else
            tasks.push_back({s, i, mode, r});
        }
    }
  }
  std::vector<std::string> names;
  for (auto* s : suites_) names.push_back(s->doc().name);
  Progress progress(options_.progress, summary.total, summary.already_done, names);
  progress_ = &progress;

  if (auto* async = dynamic_cast<AsyncBackend*>(&backend_)) {
    run_async(*async, run_id, tasks, summary);
  } else {
    run_threads(run_id, tasks, summary);
  }
  progress.finish();
  progress_ = nullptr;
  summary.interrupted = stop_ && stop_->load() &&
                        summary.already_done + summary.graded_now + summary.errors_now +
                                summary.skipped_now <
                            summary.total;
  return summary;
}

// The thread-per-call path, for backends without AsyncBackend.
void Runner::run_threads(int64_t run_id, const std::vector<Task>& tasks, RunSummary& summary) {
  std::mutex summary_mu;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    RunSummary local;
    while (!(stop_ && stop_->load()) && !failed_.load()) {
      size_t i = next.fetch_add(1);
      if (i >= tasks.size()) break;
      process(run_id, tasks[i], local);
    }
    std::lock_guard lock(summary_mu);
    add_counts(summary, local);
  };
  int threads = std::clamp<int>(options_.concurrency, 1, std::max<int>(1, int(tasks.size())));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
}

struct Runner::Attempt {
  const Task* task = nullptr;
  GenerationRequest request;
  AttemptRecord record;
  std::optional<Generation> generation;  // from the response cache, or the backend
};

bool Runner::prepare(int64_t run_id, const Task& task, Attempt& attempt, RunSummary& summary) {
  Suite& suite = *suites_[task.suite];
  const Sample& sample = suite.samples()[task.sample];
  attempt.task = &task;
  GenerationRequest& request = attempt.request;
  request = suite.make_request(sample, task.mode);
  request.suite = suite.doc().name;
  request.sample_id = sample.id;
  request.repeat = task.repeat;
  if (options_.max_tokens > 0) request.max_tokens = options_.max_tokens;
  if (options_.temperature) request.temperature = options_.temperature;
  if (options_.top_p) request.top_p = options_.top_p;
  if (options_.seed) request.seed = *options_.seed + uint64_t(task.repeat);

  AttemptRecord& record = attempt.record;
  record.key = {request.suite, sample.id, task.mode, task.repeat};
  record.prompt_hash = prompt_hash_of(task.suite, task.sample, *sample.prompt);
  record.request_hash = request_hash(backend_info_, record.prompt_hash, request);

  if (auto reason = suite.skip_reason(sample, backend_info_)) {
    record.error = *reason;
    record.error_stage = "skipped";
    record.finished_at = now_iso8601();
    Status stored = store_.record_attempt(run_id, record, nullptr);
    if (!stored.ok()) {
      if (summary.store_failure.ok()) summary.store_failure = stored;
      failed_.store(true);
      return false;
    }
    ++summary.skipped_now;
    progress_->skipped();
    return false;
  }

  if (options_.use_cache) {
    auto cached = store_.cached_generation(record.request_hash);
    if (cached.ok() && cached->has_value()) {
      attempt.generation = std::move(**cached);
      ++summary.from_cache;
    }
  }
  return true;
}

void Runner::finish(int64_t run_id, Attempt& attempt, RunSummary& summary) {
  const Task& task = *attempt.task;
  Suite& suite = *suites_[task.suite];
  const Sample& sample = suite.samples()[task.sample];
  AttemptRecord& record = attempt.record;
  record.generation = std::move(*attempt.generation);
  if (record.generation.error) {
    record.error = record.generation.error->message;
    record.error_stage = "generate";
  } else {
    Result<Score> score = suite.grade(sample, attempt.request, record.generation);
    if (score.ok()) {
      record.score = std::move(score.value());
    } else {
      record.error = score.status().message();
      record.error_stage = "grade";
    }
  }
  record.finished_at = now_iso8601();
  Status stored = store_.record_attempt(run_id, record, sample.prompt.get());
  if (!stored.ok()) {
    if (summary.store_failure.ok()) summary.store_failure = stored;
    failed_.store(true);
    return;
  }
  if (record.score) {
    ++summary.graded_now;
    progress_->graded(task.suite, record.score->value);
  } else {
    ++summary.errors_now;
    progress_->errored();
  }
}

void Runner::process(int64_t run_id, const Task& task, RunSummary& summary) {
  Attempt attempt;
  if (!prepare(run_id, task, attempt, summary)) return;
  if (!attempt.generation) {
    thread_local std::mt19937_64 rng(std::random_device{}());
    for (int tries = 0;; ++tries) {
      CallContext ctx;
      ctx.cancelled = stop_;
      ctx.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(options_.attempt_timeout_s));
      Generation g = backend_.generate(attempt.request, ctx);
      ++summary.backend_calls;
      ++attempt.record.tries;
      if (ctx.is_cancelled() && g.error) return;  // abandoned: redone on resume, not stored
      bool retry = g.error && g.error->kind == ErrorKind::kRetryable &&
                   tries < options_.max_retries;
      if (!retry) {
        attempt.generation = std::move(g);
        break;
      }
      double delay = backoff_delay_s(tries + 1, options_.retry_base_s, options_.retry_max_s,
                                     std::uniform_real_distribution<double>(0, 1)(rng),
                                     g.error->retry_after_s);
      if (wait_or_stop(delay)) return;  // stopped while waiting: abandon
    }
  }
  finish(run_id, attempt, summary);
}

// The asynchronous path: `concurrency` chains, each one attempt at a time (prepare, call,
// grade and store, next attempt), none holding a thread while its call is in flight.
void Runner::run_async(AsyncBackend& backend, int64_t run_id, const std::vector<Task>& tasks,
                       RunSummary& summary) {
  AsyncCaller::Options o;
  o.attempt_timeout_s = options_.attempt_timeout_s;
  o.max_retries = options_.max_retries;
  o.retry_base_s = options_.retry_base_s;
  o.retry_max_s = options_.retry_max_s;
  o.max_workers = std::max(1, options_.concurrency);
  // Joined (below) before the state its jobs use goes: declared first, reset explicitly.
  auto caller = std::make_unique<AsyncCaller>(backend, o, stop_);

  std::mutex mu;
  std::condition_variable all_ended;
  size_t chains = std::clamp<size_t>(size_t(std::max(1, options_.concurrency)), 1,
                                     std::max<size_t>(1, tasks.size()));
  size_t live = chains;
  std::vector<RunSummary> locals(chains);  // a chain runs one step at a time: no lock needed
  std::atomic<size_t> next{0};
  std::function<void(size_t)> advance = [&](size_t chain) {
    RunSummary& local = locals[chain];
    while (!(stop_ && stop_->load()) && !failed_.load()) {
      size_t i = next.fetch_add(1);
      if (i >= tasks.size()) break;
      auto attempt = std::make_shared<Attempt>();
      if (!prepare(run_id, tasks[i], *attempt, local)) continue;
      if (attempt->generation) {  // from the cache
        finish(run_id, *attempt, local);
        continue;
      }
      GenerationRequest request = attempt->request;
      caller->call(std::move(request), [&, chain, attempt](CallOutcome&& outcome) {
        RunSummary& local = locals[chain];
        local.backend_calls += outcome.tries;
        attempt->record.tries += outcome.tries;
        if (!outcome.abandoned) {
          attempt->generation = std::move(outcome.generation);
          finish(run_id, *attempt, local);
        }
        advance(chain);
      });
      return;  // the chain goes on in the call's continuation
    }
    std::lock_guard lock(mu);
    if (--live == 0) all_ended.notify_all();
  };
  for (size_t c = 0; c < chains; ++c) caller->post([&advance, c] { advance(c); });
  {
    std::unique_lock lock(mu);
    all_ended.wait(lock, [&] { return live == 0; });
  }
  caller.reset();  // the last chain's job may still be returning
  for (const RunSummary& local : locals) add_counts(summary, local);
}

const std::string& Runner::prompt_hash_of(size_t suite, size_t sample, const Messages& messages) {
  std::lock_guard lock(hash_mu_);
  auto& slot = prompt_hashes_[{suite, sample}];
  if (slot.empty()) slot = prompt_hash(messages);
  return slot;
}

bool Runner::wait_or_stop(double seconds) {
  auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(seconds));
  while (Clock::now() < until) {
    if (stop_ && stop_->load()) return true;
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(20),
                                                          until - Clock::now()));
  }
  return stop_ && stop_->load();
}

}  // namespace v4eval
