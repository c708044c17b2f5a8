// LiveCodeBench judging throughput end to end: the suite loads the shared release_v1 rows,
// extracts the official Qwen2.5-7B-Instruct outputs (lcb_runner's eval_all file) and grades
// each one `--samples` times (8 by default, as a pass@8 run would) through the sandbox with the
// reference runner, from `--threads` grading threads (the runner's concurrency). Public tests
// only: the shared rows have no private tests.
//
//   bench_lcb [--samples 8] [--limit N] [--threads T] [--slots S] [--runner reference|script]
//             [--no-tle]
// --no-tle leaves out the problems whose official verdict is a per-test timeout: each of those
// takes the full 6 s timeout by design and measures the clock, not the judge.
// Prints problems/s, generations/s and tests/s, and per-generation latency percentiles.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "sandbox/sandbox.h"
#include "suites/suite.h"

using namespace v4eval;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int samples = 8, limit = 0, threads = 0, slots = 0;
  bool no_tle = false;
  std::string runner = "reference";
  for (int i = 1; i < argc; ++i) {
    auto next = [&] { return i + 1 < argc ? argv[++i] : ""; };
    if (!std::strcmp(argv[i], "--samples"))
      samples = std::atoi(next());
    else if (!std::strcmp(argv[i], "--limit"))
      limit = std::atoi(next());
    else if (!std::strcmp(argv[i], "--threads"))
      threads = std::atoi(next());
    else if (!std::strcmp(argv[i], "--slots"))
      slots = std::atoi(next());
    else if (!std::strcmp(argv[i], "--runner"))
      runner = next();
    else if (!std::strcmp(argv[i], "--no-tle"))
      no_tle = true;
    else {
      std::fprintf(stderr,
                   "usage: bench_lcb [--samples N] [--limit N] [--threads T] [--slots S] "
                   "[--runner reference|script] [--no-tle]\n");
      return 2;
    }
  }
  std::string dir = std::string(V4EVAL_SHARED_DIR) + "/data/livecodebench/";
  std::map<std::string, std::pair<std::string, bool>> official;  // id -> (output, TLE?)
  {
    std::ifstream in(dir + "lcb_eval_all_qwen25_7b_ins_release_v6.json");
    if (!in) {
      std::fprintf(stderr, "bench_lcb: no shared LiveCodeBench data in %s\n", dir.c_str());
      return 1;
    }
    Json eval = Json::parse(in);
    for (const auto& x : eval) {
      Json meta = Json::parse(x["metadata"][0].get<std::string>());
      official[x["question_id"]] = {x["output_list"][0], meta.value("error_code", 0) == -3};
    }
  }
  std::string err;
  auto suite = make_suite(
      *parse_spec("livecodebench:file=" + dir +
                      "lcb_release_v1_rows_public_tests_only.jsonl,tests=public,runner=" + runner,
                  &err));
  if (!suite.ok() || !(*suite)->load(limit).ok()) {
    std::fprintf(stderr, "bench_lcb: cannot load the suite\n");
    return 1;
  }
  sandbox::SandboxOptions options;
  options.slots = slots;
  auto box = sandbox::Sandbox::start(options);
  if (!box.ok()) {
    std::fprintf(stderr, "bench_lcb: no sandbox: %s\n", box.status().message().c_str());
    return 1;
  }
  (*suite)->set_sandbox(box->get());
  if (threads <= 0) threads = 2 * (*box)->slots();

  struct Job {
    const Sample* sample;
    int repeat;
  };
  std::vector<Job> jobs;
  size_t problems = 0;
  for (const auto& s : (*suite)->samples()) {
    auto it = official.find(s.id);
    if (it == official.end() || (no_tle && it->second.second)) continue;
    ++problems;
    for (int r = 0; r < samples; ++r) jobs.push_back({&s, r});
  }
  std::atomic<size_t> next{0};
  std::mutex mu;
  int64_t tests = 0, passed = 0, failures = 0;
  std::vector<double> latency_ms;
  auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      while (true) {
        size_t i = next.fetch_add(1);
        if (i >= jobs.size()) break;
        const Sample& s = *jobs[i].sample;
        GenerationRequest req = (*suite)->make_request(s, Mode::kNonThink);
        req.repeat = jobs[i].repeat;
        Generation g;
        g.text = official[s.id].first;
        auto start = Clock::now();
        auto score = (*suite)->grade(s, req, g);
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        std::lock_guard lock(mu);
        latency_ms.push_back(ms);
        if (!score.ok()) {
          ++failures;
          continue;
        }
        tests += score->details.value("tests_run", int64_t(0));
        passed += score->value > 0.5;
      }
    });
  for (auto& t : pool) t.join();
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  std::sort(latency_ms.begin(), latency_ms.end());
  auto pct = [&](double p) {
    return latency_ms.empty() ? 0 : latency_ms[size_t(p * double(latency_ms.size() - 1))];
  };
  std::printf(
      "bench_lcb: %zu problems x %d samples = %zu generations (runner %s%s), sandbox %s, %d slots, "
      "%d threads, %u CPUs\n",
      problems, samples, jobs.size(), runner.c_str(),
      no_tle ? ", official TLE problems left out" : "", (*box)->tier().summary().c_str(),
      (*box)->slots(), threads, std::thread::hardware_concurrency());
  std::printf(
      "  wall %.1f s | %.2f problems/s | %.1f generations/s | %.1f tests/s | %lld tests run, "
      "%lld generations passed, %lld ungradable\n",
      wall, double(problems) / wall, double(jobs.size()) / wall, double(tests) / wall,
      (long long)tests, (long long)passed, (long long)failures);
  std::printf("  per generation: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n", pct(0.5),
              pct(0.9), pct(0.99), latency_ms.empty() ? 0 : latency_ms.back());
  return failures ? 1 : 0;
}
