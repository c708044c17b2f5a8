// bench_sandbox: what the sandbox costs, next to what it replaces, measured in the same run.
//
//  1. Executions per second of a C++ hello (static, g++ -O2 as judged) and a Python hello:
//     bare fork/exec/wait from this process vs the full sandbox (launcher, slot reuse, one
//     compile, many tests), on one slot and on every core.
//  2. LiveCodeBench-style judging of real generations (Qwen2.5-7B-Instruct, eval_all) on the
//     public tests of shared/data/livecodebench: the sandbox's LCB-compatible mode (one
//     interpreter per generation) and process-per-test mode, vs a Python
//     subprocess-per-test runner (bench/lcb_subprocess_runner.py) with the same worker count.
//
//   bench_sandbox [--runs N] [--py-runs N] [--skip-lcb] [--lcb-limit N]

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/types.h"
#include "sandbox/sandbox.h"

using namespace v4eval;
using namespace v4eval::sandbox;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int cores() {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

const char* kHelloCpp = "#include <cstdio>\nint main() { std::puts(\"hello\"); }\n";
const char* kHelloPy = "print(\"hello\")\n";

// One bare execution: stdin from a memfd, stdout into a pipe we drain, wait: the same I/O the
// sandbox gives a program, without any isolation.
void bare_exec(const std::vector<std::string>& argv) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) std::abort();
  int in = memfd_create("stdin", MFD_CLOEXEC);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), const_cast<char*>("LANG=C.UTF-8"),
                  nullptr};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in, 0);
    dup2(out[1], 1);
    execve(args[0], args.data(), envp);
    _exit(127);
  }
  close(out[1]);
  close(in);
  char buf[4096];
  while (read(out[0], buf, sizeof buf) > 0) {
  }
  close(out[0]);
  int status;
  waitpid(pid, &status, 0);
}

// Executions per second with `workers` threads each running `runs` executions.
double bare_rate(const std::vector<std::string>& argv, int runs, int workers) {
  auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int w = 0; w < workers; ++w)
    ts.emplace_back([&] {
      for (int i = 0; i < runs; ++i) bare_exec(argv);
    });
  for (auto& t : ts) t.join();
  return runs * workers / seconds_since(t0);
}

JudgeRequest hello_request(const char* language, const char* source, int tests) {
  JudgeRequest r;
  r.solution.language = language;
  r.solution.source = source;
  r.tests.assign(tests, TestCase{"", "hello\n"});
  r.limits.cpu_time_ms = 2000;
  r.compare.kind = CompareMode::kExact;
  return r;
}

// Sandboxed executions per second: `workers` threads, each judging one request of `runs`
// tests (one compile, cached after the warm-up; the tests back to back on one slot).
double sandbox_rate(Sandbox& box, const char* language, const char* source, int runs, int workers) {
  JudgeReport warm = box.judge(hello_request(language, source, 2));
  if (warm.verdict != Verdict::kAccepted) {
    std::fprintf(stderr, "warm-up failed: %s %s\n", std::string(verdict_code(warm.verdict)).c_str(),
                 warm.detail.c_str());
    std::exit(1);
  }
  std::atomic<int> bad{0};
  auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int w = 0; w < workers; ++w)
    ts.emplace_back([&] {
      JudgeReport r = box.judge(hello_request(language, source, runs));
      if (r.verdict != Verdict::kAccepted) ++bad;
    });
  for (auto& t : ts) t.join();
  double rate = runs * workers / seconds_since(t0);
  if (bad) std::fprintf(stderr, "warning: %d requests not AC\n", bad.load());
  return rate;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct LcbJob {
  std::string id;
  JudgeRequest request;
};

std::vector<LcbJob> load_lcb(const std::string& rows_path, const std::string& eval_path,
                             RunMode stdin_mode, int limit) {
  std::map<std::string, Json> rows;
  std::ifstream rows_in(rows_path);
  std::string line;
  while (std::getline(rows_in, line)) {
    Json r = Json::parse(line);
    rows[r["question_id"].get<std::string>()] = r;
  }
  std::vector<LcbJob> jobs;
  for (const Json& g : Json::parse(read_file(eval_path))) {
    auto it = rows.find(g["question_id"].get<std::string>());
    if (it == rows.end() || g["code_list"].empty()) continue;
    Json tests = Json::parse(it->second["public_test_cases"].get<std::string>());
    LcbJob job;
    job.id = it->first;
    JudgeRequest& r = job.request;
    r.solution.language = "python";
    r.solution.source = g["code_list"][0].get<std::string>();
    bool functional = tests[0]["testtype"] == "functional";
    if (functional) {
      r.run_mode = RunMode::kLcbCall;
      r.function_name =
          Json::parse(it->second["metadata"].get<std::string>())["func_name"].get<std::string>();
      r.compare.kind = CompareMode::kLcbCall;
    } else {
      r.run_mode = stdin_mode;
      r.compare.kind = CompareMode::kLcb;
    }
    for (const Json& t : tests)
      r.tests.push_back({t["input"].get<std::string>(), t["output"].get<std::string>()});
    r.limits.cpu_time_ms = 6000;  // the reference's per-test timeout
    r.limits.wall_time_ms = 12000;
    r.limits.memory_bytes = 1ll << 30;
    jobs.push_back(std::move(job));
    if (limit && static_cast<int>(jobs.size()) >= limit) break;
  }
  return jobs;
}

struct LcbRun {
  double wall_s = 0;
  int64_t tests_run = 0;
  std::map<std::string, bool> passed;
  std::vector<std::string> timed_out;
  int internal_errors = 0;
};

LcbRun run_lcb_sandbox(Sandbox& box, const std::vector<LcbJob>& jobs, int workers) {
  LcbRun run;
  std::atomic<size_t> next{0};
  std::mutex mu;
  auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int w = 0; w < workers; ++w)
    ts.emplace_back([&] {
      for (size_t i; (i = next++) < jobs.size();) {
        JudgeReport r = box.judge(jobs[i].request);
        int64_t ran = 0;
        for (const auto& t : r.tests) ran += t.verdict != Verdict::kSkipped;
        std::lock_guard<std::mutex> lock(mu);
        run.tests_run += ran;
        run.passed[jobs[i].id] = r.verdict == Verdict::kAccepted;
        run.internal_errors += r.verdict == Verdict::kInternalError;
        if (r.verdict == Verdict::kTimeLimit) run.timed_out.push_back(jobs[i].id);
      }
    });
  for (auto& t : ts) t.join();
  run.wall_s = seconds_since(t0);
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 1000, py_runs = 200, lcb_limit = 0;
  bool skip_lcb = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc)
      runs = std::atoi(argv[++i]);
    else if (a == "--py-runs" && i + 1 < argc)
      py_runs = std::atoi(argv[++i]);
    else if (a == "--lcb-limit" && i + 1 < argc)
      lcb_limit = std::atoi(argv[++i]);
    else if (a == "--skip-lcb")
      skip_lcb = true;
    else {
      std::fprintf(stderr,
                   "usage: bench_sandbox [--runs N] [--py-runs N] [--skip-lcb] [--lcb-limit N]\n");
      return 2;
    }
  }
  int n_cores = cores();
  SandboxOptions one_slot, every_core;
  one_slot.slots = 1;
  every_core.slots = n_cores;
  auto one = Sandbox::start(one_slot);
  auto all = Sandbox::start(every_core);
  if (!one.ok() || !all.ok()) {
    std::fprintf(stderr, "bench_sandbox: no sandbox: %s\n",
                 (one.ok() ? all : one).status().message().c_str());
    return 1;
  }
  std::printf("sandbox: %s\n", (*one)->tier().summary().c_str());
  std::printf("machine: %d cores available\n\n", n_cores);

  // The same static binary the sandbox runs, built the same way, for the bare baseline.
  char dir_template[] = "/tmp/v4eval-bench-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  std::ofstream(dir + "/hello.cpp") << kHelloCpp;
  std::ofstream(dir + "/hello.py") << kHelloPy;
  std::string build = "/usr/bin/g++ -std=c++17 -O2 -pipe -DONLINE_JUDGE -static -o " + dir +
                      "/hello " + dir + "/hello.cpp";
  if (std::system(build.c_str()) != 0) return 1;

  std::printf("%-44s %12s %12s\n", "executions (hello, stdin memfd, stdout pipe)", "execs/s",
              "ms/exec");
  auto row = [](const std::string& name, double rate) {
    std::printf("%-44s %12.0f %12.3f\n", name.c_str(), rate, 1000.0 / rate);
  };
  double bare_cpp = bare_rate({dir + "/hello"}, runs, 1);
  double box_cpp = sandbox_rate(**one, "cpp", kHelloCpp, runs, 1);
  double bare_cpp_n = bare_rate({dir + "/hello"}, runs, n_cores);
  double box_cpp_n = sandbox_rate(**all, "cpp", kHelloCpp, runs, n_cores);
  row("C++ bare fork/exec, 1 worker", bare_cpp);
  row("C++ sandbox, 1 slot (slot reuse)", box_cpp);
  row("C++ bare fork/exec, " + std::to_string(n_cores) + " workers", bare_cpp_n);
  row("C++ sandbox, " + std::to_string(n_cores) + " slots", box_cpp_n);
  double bare_py = bare_rate({"/usr/bin/python3", "-B", dir + "/hello.py"}, py_runs, 1);
  double box_py = sandbox_rate(**one, "python", kHelloPy, py_runs, 1);
  double bare_py_n = bare_rate({"/usr/bin/python3", "-B", dir + "/hello.py"}, py_runs, n_cores);
  double box_py_n = sandbox_rate(**all, "python", kHelloPy, py_runs, n_cores);
  row("Python bare fork/exec, 1 worker", bare_py);
  row("Python sandbox, 1 slot", box_py);
  row("Python bare fork/exec, " + std::to_string(n_cores) + " workers", bare_py_n);
  row("Python sandbox, " + std::to_string(n_cores) + " slots", box_py_n);
  std::printf("\nsandbox overhead per C++ execution (1 slot): %.3f ms (target <= 2 ms)\n",
              1000.0 / box_cpp - 1000.0 / bare_cpp);
  std::printf("sandbox overhead per Python execution (1 slot): %.3f ms\n\n",
              1000.0 / box_py - 1000.0 / bare_py);
  std::string rm = "rm -rf " + dir;
  (void)std::system(rm.c_str());

  if (skip_lcb) return 0;
  std::string shared =
      std::getenv("V4EVAL_SHARED_DIR") ? std::getenv("V4EVAL_SHARED_DIR") : V4EVAL_SHARED_DIR;
  std::string rows = shared + "/data/livecodebench/lcb_release_v1_rows_public_tests_only.jsonl";
  std::string evals = shared + "/data/livecodebench/lcb_eval_all_qwen25_7b_ins_release_v6.json";
  if (access(rows.c_str(), R_OK) != 0 || access(evals.c_str(), R_OK) != 0) {
    std::printf("LiveCodeBench data not found under %s: skipped\n", shared.c_str());
    return 0;
  }
  auto lcb_jobs = load_lcb(rows, evals, RunMode::kLcbStdin, lcb_limit);
  auto ppt_jobs = load_lcb(rows, evals, RunMode::kProcessPerTest, lcb_limit);
  int64_t total_tests = 0;
  for (const auto& j : lcb_jobs) total_tests += static_cast<int64_t>(j.request.tests.size());
  std::printf("LiveCodeBench-style judging: %zu generations, %lld public tests, %d workers\n",
              lcb_jobs.size(), static_cast<long long>(total_tests), n_cores);

  auto reference = [&](const std::string& skip_file) {
    std::string cmd = "/usr/bin/python3 " + std::string(V4EVAL_SOURCE_DIR) +
                      "/bench/lcb_subprocess_runner.py --rows " + rows + " --generations " + evals +
                      " --workers " + std::to_string(n_cores) +
                      (lcb_limit ? " --limit " + std::to_string(lcb_limit) : "") +
                      (skip_file.empty() ? "" : " --skip-ids " + skip_file);
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[65536];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (!p || pclose(p) != 0) {
      std::fprintf(stderr, "reference runner failed\n");
      std::exit(1);
    }
    return Json::parse(out);
  };
  LcbRun lcb = run_lcb_sandbox(**all, lcb_jobs, n_cores);
  LcbRun ppt = run_lcb_sandbox(**all, ppt_jobs, n_cores);
  Json ref = reference("");
  double ref_wall = ref["wall_s"].get<double>();
  int64_t ref_tests = ref["tests_run"].get<int64_t>();

  std::printf("%-56s %9s %10s %10s %9s\n", "runner (all generations)", "wall s", "tests run",
              "tests/s", "gens/s");
  auto lrow = [&](const std::string& name, double wall, int64_t tests, size_t gens) {
    std::printf("%-56s %9.2f %10lld %10.1f %9.1f\n", name.c_str(), wall,
                static_cast<long long>(tests), tests / wall, gens / wall);
  };
  lrow("sandbox, LCB mode (one interpreter per generation)", lcb.wall_s, lcb.tests_run,
       lcb_jobs.size());
  lrow("sandbox, process per test (stdin problems)", ppt.wall_s, ppt.tests_run, lcb_jobs.size());
  lrow("python subprocess per test (no sandbox)", ref_wall, ref_tests, lcb_jobs.size());
  std::printf("speed-up, LCB mode over subprocess-per-test: %.2fx tests/s\n\n",
              (lcb.tests_run / lcb.wall_s) / (ref_tests / ref_wall));

  // Generations that run into the time limit spend it in every runner (6 s of CPU here, 6 s
  // of wall clock there) and dominate the wall time; without them the figures show what the
  // judging itself costs.
  std::set<std::string> slow(lcb.timed_out.begin(), lcb.timed_out.end());
  for (const auto& q : ref["timed_out"]) slow.insert(q.get<std::string>());
  for (const auto& q : ppt.timed_out) slow.insert(q);
  std::string skip_file = "/tmp/v4eval-bench-skip-" + std::to_string(getpid());
  {
    std::ofstream f(skip_file);
    for (const auto& q : slow) f << q << "\n";
  }
  std::vector<LcbJob> fast_lcb, fast_ppt;
  for (const auto& j : lcb_jobs)
    if (!slow.count(j.id)) fast_lcb.push_back(j);
  for (const auto& j : ppt_jobs)
    if (!slow.count(j.id)) fast_ppt.push_back(j);
  LcbRun lcb2 = run_lcb_sandbox(**all, fast_lcb, n_cores);
  LcbRun ppt2 = run_lcb_sandbox(**all, fast_ppt, n_cores);
  Json ref2 = reference(skip_file);
  std::remove(skip_file.c_str());
  double ref2_wall = ref2["wall_s"].get<double>();
  int64_t ref2_tests = ref2["tests_run"].get<int64_t>();
  std::printf("%-56s %9s %10s %10s %9s\n",
              ("runner (" + std::to_string(fast_lcb.size()) + " generations within the time limit)")
                  .c_str(),
              "wall s", "tests run", "tests/s", "gens/s");
  lrow("sandbox, LCB mode (one interpreter per generation)", lcb2.wall_s, lcb2.tests_run,
       fast_lcb.size());
  lrow("sandbox, process per test (stdin problems)", ppt2.wall_s, ppt2.tests_run, fast_lcb.size());
  lrow("python subprocess per test (no sandbox)", ref2_wall, ref2_tests, fast_lcb.size());
  std::printf("speed-up, LCB mode over subprocess-per-test: %.2fx tests/s (target >= 3x)\n",
              (lcb2.tests_run / lcb2.wall_s) / (ref2_tests / ref2_wall));

  int agree = 0, disagree = 0;
  std::vector<std::string> differ;
  for (const auto& [id, ok] : lcb.passed) {
    auto r = ref["passed"].find(id);
    if (r == ref["passed"].end()) continue;
    if (r->get<bool>() == ok)
      ++agree;
    else {
      ++disagree;
      differ.push_back(id);
    }
  }
  int pass_lcb = 0, pass_ref = 0;
  for (const auto& [id, ok] : lcb.passed) pass_lcb += ok;
  for (const auto& [id, ok] : ref["passed"].items()) pass_ref += ok.get<bool>();
  std::printf("pass on public tests: sandbox LCB mode %d, reference %d; agreement %d of %d",
              pass_lcb, pass_ref, agree, agree + disagree);
  for (const auto& d : differ) std::printf(" [differs: %s]", d.c_str());
  std::printf("\ninternal errors: %d (LCB mode), %d (process per test)\n", lcb.internal_errors,
              ppt.internal_errors);
  return 0;
}
