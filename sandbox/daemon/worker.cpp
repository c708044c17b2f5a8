#include "sandbox/daemon/worker.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <map>
#include <memory>

#include "harness/hash.h"
#include "harness/types.h"
#include "sandbox/daemon/cell.h"
#include "sandbox/daemon/exec.h"
#include "sandbox/daemon/sys.h"
#include "sandbox/wire.h"

namespace v4eval::embedded {
std::string_view lcb_driver();  // sandbox/drivers/lcb_driver.py, embedded at build time
}

namespace v4eval::sandbox {
namespace {

constexpr int kMaxAttempts = 3;  // an internal error is retried twice (§6.3)
constexpr size_t kReportStderrBytes = 4096;
constexpr size_t kCompileLogBytes = 64 * 1024;
constexpr int64_t kMaxBinaryBytes = 256ll << 20;

std::string substitute(const std::string& arg, const std::map<std::string, std::string>& vars) {
  std::string out = arg;
  for (const auto& [k, v] : vars) {
    std::string key = "{" + k + "}";
    for (size_t p = out.find(key); p != std::string::npos; p = out.find(key, p + v.size()))
      out.replace(p, key.size(), v);
  }
  return out;
}

std::vector<std::string> substitute_all(const std::vector<std::string>& argv,
                                        const std::map<std::string, std::string>& vars) {
  std::vector<std::string> out;
  for (const auto& a : argv) out.push_back(substitute(a, vars));
  return out;
}

// At most `cap` bytes: the head and the tail, with a marker in between.
std::string clip(const std::string& s, size_t cap) {
  if (s.size() <= cap) return s;
  size_t half = cap / 2;
  return s.substr(0, half) + "\n[... " + std::to_string(s.size() - 2 * half) +
         " bytes dropped ...]\n" + s.substr(s.size() - half);
}

std::string first_line(const std::string& s, size_t cap = 1024) {
  std::string line = s.substr(0, s.find('\n'));
  if (line.size() > cap) line.resize(cap);
  return line;
}

// A compiled (or installable) program.
struct Built {
  CompileReport report;
  std::vector<ProgramFile> files;  // what to install in /prog
  std::string key;
  const LanguageProfile* language = nullptr;
};

std::string frame(std::string_view body) {
  return std::to_string(body.size()) + "\n" + std::string(body);
}

// The LiveCodeBench driver's dialogue (drivers/lcb_driver.py): one test at a time, each judged
// here before the next is sent; per-test CPU time is the cgroup's delta between results.
// `zygote`: the generation is forked by the warm interpreter (the header carries the program,
// the end is a -1 frame acknowledged by {"generation_done"}); otherwise a fresh driver reads
// the program from /prog and the end is EOF.
class LcbConversation : public Conversation {
 public:
  LcbConversation(const JudgeRequest& req, const Limits& per_test, bool zygote)
      : req_(req),
        limits_(per_test),
        zygote_(zygote),
        compare_(req.run_mode == RunMode::kLcbCall ? CompareMode{CompareMode::kLcbCall, 0}
                                                   : CompareMode{CompareMode::kLcb, 0}) {}

  Action start() override {
    Action a;
    if (started_) return a;
    started_ = true;
    Json header = {{"mode", req_.run_mode == RunMode::kLcbCall ? "call" : "stdin"},
                   {"fn_name", req_.function_name}};
    if (zygote_) {
      header["program"] = req_.solution.source;
      header["cwd"] = "/box";
    }
    a.write = frame(header.dump(-1, ' ', false, Json::error_handler_t::replace));
    load_start_us_ = sys::monotonic_us();
    if (req_.tests.empty() && !zygote_) end(&a);  // a zygote's child is told after "ready"
    return a;
  }

  Action on_output(std::string* buffer, int64_t cpu_us, int64_t now_us) override {
    Action a;
    while (true) {
      size_t nl = buffer->find('\n');
      if (nl == std::string::npos) break;
      int64_t len = sys::parse_i64(buffer->substr(0, nl), -1);
      if (len < 0) return fail_protocol();
      if (nl + 1 + static_cast<size_t>(len) > buffer->size()) break;
      Json msg = Json::parse(buffer->substr(nl + 1, static_cast<size_t>(len)), nullptr, false);
      buffer->erase(0, nl + 1 + static_cast<size_t>(len));
      if (msg.is_discarded() || !msg.is_object()) return fail_protocol();
      if (msg.contains("generation_done")) {
        generation_done_ = true;
        child_status_ = msg.value("status", 0);
        continue;
      }
      if (done_ || msg.contains("zygote_ready")) continue;
      if (msg.contains("compile_error")) {
        TestReport t;
        t.verdict = Verdict::kRuntimeError;
        t.detail = "Error during testing: " + msg["compile_error"].get<std::string>();
        results_.push_back(std::move(t));
        done_ = true;
        child_gone_ = true;  // the driver returned: it reads nothing more
        end(&a);
        continue;
      }
      if (msg.contains("ready")) {
        loaded_ = true;
        if (!next_test(&a, cpu_us, now_us)) end(&a);
        continue;
      }
      if (!in_test_) return fail_protocol();
      judge_result(msg, cpu_us);
      if (results_.back().verdict != Verdict::kAccepted && req_.stop_at_first_failure) {
        done_ = true;
        end(&a);
        continue;
      }
      if (!next_test(&a, cpu_us, now_us)) end(&a);
    }
    return a;
  }

  Action on_tick(int64_t cpu_us, int64_t now_us) override {
    Action a;
    if (!done_ && in_test_) {
      if (test_cpu_start_us_ < 0 && cpu_us >= 0) test_cpu_start_us_ = cpu_us;
      bool over_cpu = cpu_us >= 0 && test_cpu_start_us_ >= 0 &&
                      cpu_us - test_cpu_start_us_ > limits_.cpu_time_ms * 1000;
      bool over_wall = now_us - test_wall_start_us_ > limits_.effective_wall_ms() * 1000;
      if (over_cpu || over_wall) {
        TestReport t;
        t.verdict = Verdict::kTimeLimit;
        t.cpu_ms =
            cpu_us >= 0 && test_cpu_start_us_ >= 0 ? (cpu_us - test_cpu_start_us_) / 1000 : 0;
        t.wall_ms = (now_us - test_wall_start_us_) / 1000;
        t.detail = over_cpu ? "cpu" : (t.cpu_ms * 10 < limits_.cpu_time_ms ? "idle" : "wall");
        results_.push_back(std::move(t));
        done_ = true;
        a.stop = true;
      }
    } else if (!done_ && !loaded_ &&
               now_us - load_start_us_ > limits_.effective_wall_ms() * 1000 + 10000000) {
      // Loading the program (module-level code) never finished: the reference's compile
      // alarm, as a time limit on the first test.
      TestReport t;
      t.verdict = Verdict::kTimeLimit;
      t.detail = "loading the program";
      results_.push_back(std::move(t));
      done_ = true;
      a.stop = true;
    } else if (ended_ && zygote_ && !generation_done_ && now_us - end_us_ > 10000000) {
      a.stop = true;  // the zygote does not come back: it is restarted
    }
    return a;
  }

  bool finished() const override { return generation_done_; }

  // The process ended (or was stopped): a test in flight gets the run's own classification
  // (a crash, the memory limit, the interpreter leaving); the rest are skipped.
  std::vector<TestReport> finish(const ExecOutcome& out, const Limits& run_limits) {
    if (!done_ && results_.size() < req_.tests.size()) {
      Classification cls = classify_run(out.facts, run_limits);
      TestReport t;
      if (cls.verdict == Verdict::kAccepted ||
          (out.facts.end == RunFacts::End::kKilled && !out.facts.oom_killed)) {
        t.verdict = Verdict::kRuntimeError;
        t.detail = in_test_ ? "the program ended the interpreter during the test"
                            : "the driver ended before the tests";
      } else {
        t.verdict = cls.verdict;
        t.detail = cls.detail;
      }
      if (out.facts.end == RunFacts::End::kExited) t.exit_code = out.facts.exit_code;
      t.signal = out.facts.signal;
      results_.push_back(std::move(t));
    }
    return complete(out.stderr_data, out.facts.memory_kb);
  }

  // The zygote's child ended and the zygote reported it (the zygote lives on).
  std::vector<TestReport> finish_generation(const CellCgroup::Usage& usage,
                                            const std::string& stderr_text) {
    if (!done_ && results_.size() < req_.tests.size()) {
      TestReport t;
      if (usage.oom_killed) {
        t.verdict = Verdict::kMemoryLimit;
        t.detail = "out of memory (cgroup OOM kill)";
      } else if (WIFSIGNALED(child_status_)) {
        t.verdict = Verdict::kRuntimeError;
        t.signal = WTERMSIG(child_status_);
        const char* abbrev = sigabbrev_np(t.signal);
        t.detail = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(t.signal);
      } else {
        t.verdict = Verdict::kRuntimeError;
        t.exit_code = WEXITSTATUS(child_status_);
        t.detail =
            "the program ended the interpreter (exit code " + std::to_string(*t.exit_code) + ")";
      }
      results_.push_back(std::move(t));
    }
    return complete(stderr_text, usage.peak_bytes / 1024);
  }

 private:
  std::vector<TestReport> complete(const std::string& stderr_text, int64_t memory_kb) {
    if (!results_.empty()) results_.back().stderr_text = clip(stderr_text, kReportStderrBytes);
    for (auto& t : results_) t.memory_kb = memory_kb;
    while (results_.size() < req_.tests.size()) {
      TestReport skipped;
      skipped.attempts = 0;
      results_.push_back(std::move(skipped));
    }
    return std::move(results_);
  }

  void end(Action* a) {
    if (ended_) return;
    ended_ = true;
    in_test_ = false;
    end_us_ = sys::monotonic_us();
    if (!zygote_)
      a->close_input = true;
    else if (!child_gone_)
      a->write += "-1\n";
  }

  bool next_test(Action* a, int64_t cpu_us, int64_t now_us) {
    in_test_ = false;
    if (results_.size() >= req_.tests.size()) return false;
    a->write += frame(req_.tests[results_.size()].input);
    in_test_ = true;
    test_cpu_start_us_ = cpu_us;
    test_wall_start_us_ = now_us;
    return true;
  }

  void judge_result(const Json& msg, int64_t cpu_us) {
    TestReport t;
    const TestCase& test = req_.tests[results_.size()];
    t.cpu_ms = cpu_us >= 0 && test_cpu_start_us_ >= 0
                   ? (cpu_us - test_cpu_start_us_) / 1000
                   : static_cast<int64_t>(msg.value("cpu_ms", 0.0));
    t.wall_ms = static_cast<int64_t>(msg.value("wall_ms", 0.0));
    std::string status = msg.value("status", std::string("error"));
    if (t.cpu_ms > limits_.cpu_time_ms) {
      t.verdict = Verdict::kTimeLimit;
      t.detail = "cpu";
    } else if (status == "error") {
      t.verdict = Verdict::kRuntimeError;
      t.detail = msg.value("error", std::string());
    } else if (status == "unserializable") {
      t.verdict = Verdict::kWrongAnswer;
      t.detail = msg.value("error", std::string());
    } else {
      Comparison c = compare_output(compare_, msg.value("output", std::string()), test.answer);
      t.verdict = c.accepted ? Verdict::kAccepted : Verdict::kWrongAnswer;
      t.detail = c.message;
    }
    results_.push_back(std::move(t));
  }

  Action fail_protocol() {
    Action a;
    if (!done_) {
      TestReport t;
      t.verdict = Verdict::kRuntimeError;
      t.detail = "garbled driver output (the program wrote to the driver's channel)";
      results_.push_back(std::move(t));
      done_ = true;
    }
    a.stop = true;
    return a;
  }

  const JudgeRequest& req_;
  Limits limits_;
  bool zygote_;
  CompareMode compare_;
  std::vector<TestReport> results_;
  bool started_ = false, loaded_ = false, done_ = false, in_test_ = false, ended_ = false;
  bool generation_done_ = false, child_gone_ = false;
  int child_status_ = 0;
  int64_t test_cpu_start_us_ = -1, test_wall_start_us_ = 0, load_start_us_ = 0, end_us_ = 0;
};

// Waits for the zygote's {"zygote_ready"} (its prelude loaded).
class ZygoteStartup : public Conversation {
 public:
  Action start() override {
    start_us_ = sys::monotonic_us();
    return {};
  }
  Action on_output(std::string* buffer, int64_t, int64_t) override {
    if (buffer->find("zygote_ready") != std::string::npos) {
      ready_ = true;
      buffer->clear();
    }
    return {};
  }
  Action on_tick(int64_t, int64_t now_us) override {
    Action a;
    a.stop = !ready_ && now_us - start_us_ > 60 * 1000000ll;
    return a;
  }
  bool finished() const override { return ready_; }

 private:
  bool ready_ = false;
  int64_t start_us_ = 0;
};

class Worker {
 public:
  explicit Worker(const WorkerConfig& c) : cfg_(c), exec_(c.tier, c.seccomp) {}

  Status setup() {
    for (int c = 0; c < kCells; ++c) {
      std::string name =
          cfg_.cgroup_prefix + "/s" + std::to_string(cfg_.slot) + "c" + std::to_string(c);
      CellCgroup cg = cfg_.tier == Tier::kFull ? CellCgroup(cfg_.cgroups, name) : CellCgroup();
      cells_[c] = std::make_unique<Cell>(cfg_.tier, cfg_.slot_dir + "/cell" + std::to_string(c),
                                         cfg_.cell_uid[c], cfg_.cell_gid[c], std::move(cg));
      if (auto s = cells_[c]->setup(); !s.ok()) return s;
      // A respawned worker may find the previous one's processes still dying.
      if (!cells_[c]->cgroup().wait_empty(5000))
        return Internal("cell cgroup not empty: " + cells_[c]->cgroup().describe());
    }
    struct stat st;
    if (::stat("/usr/bin/g++", &st) == 0)
      compiler_identity_ = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                           std::to_string(st.st_mtim.tv_sec);
    return Status::Ok();
  }

  JudgeReport judge(const JudgeRequest& req);

 private:
  std::vector<std::string> env_for(const Cell& cell, const LanguageProfile* lang) const {
    std::string home = cell.box();
    std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + home,
                                    "LANG=C.UTF-8",       "TZ=UTC",       "OMP_NUM_THREADS=1"};
    if (lang) env.insert(env.end(), lang->env.begin(), lang->env.end());
    return env;
  }

  Limits effective(const Limits& l, const LanguageProfile& lang) const {
    Limits e = l;
    e.cpu_time_ms = std::max<int64_t>(1, std::llround(l.cpu_time_ms * lang.time_multiplier));
    if (l.wall_time_ms <= 0) e.wall_time_ms = 2 * e.cpu_time_ms + 1000;
    return e;
  }

  // The precompiled header, once it exists. A build in progress (the launcher, or another
  // launcher, holds the lock) is waited for: it takes seconds once per toolchain, and every
  // compile after it is then 3x faster and equally fast.
  bool pch_ready() {
    if (pch_attached_) return true;
    if (cfg_.pch_host_path.empty()) return false;
    std::string gch = cfg_.pch_host_path + "/bits/stdc++.h.gch";
    if (::access(gch.c_str(), R_OK) != 0) {
      sys::Fd lock(::open((cfg_.pch_host_path + "/.lock").c_str(), O_RDONLY | O_CLOEXEC));
      if (!lock.valid()) return false;
      int64_t deadline = sys::monotonic_us() + 120 * 1000000ll;
      while (::flock(lock.get(), LOCK_SH | LOCK_NB) != 0 && sys::monotonic_us() < deadline)
        ::usleep(20000);
      if (::access(gch.c_str(), R_OK) != 0) return false;
    }
    for (auto& c : cells_)
      if (!c->attach_pch(cfg_.pch_host_path).ok()) return false;
    pch_attached_ = true;
    return true;
  }

  Built build(const Program& p, const JudgeRequest& req, const std::string& installed_name);
  TestReport run_plain(const JudgeRequest& req, const TestCase& test);
  TestReport run_interactive(const JudgeRequest& req, const TestCase& test);
  // kLcbStdin / kLcbCall: every test in one interpreter (returns false on IE, to retry).
  bool run_lcb(const JudgeRequest& req, JudgeReport* rep);
  // The same through the zygote of cell 2 (full tier); false: not possible now, run fresh.
  bool run_lcb_zygote(const JudgeRequest& req, JudgeReport* rep);
  bool start_zygote();
  // Keeps this launcher's compiled programs under a size cap (oldest first out).
  void trim_binary_cache();
  // Runs the checker in cell 1; fills verdict and checker_message of `t`.
  void run_checker(const TestCase& test, const std::string& output, TestReport* t);

  const WorkerConfig& cfg_;
  Executor exec_;
  std::unique_ptr<Cell> cells_[kCells];
  std::string compiler_identity_;
  bool pch_attached_ = false;
  const LanguageProfile* solution_lang_ = nullptr;
  const LanguageProfile* checker_lang_ = nullptr;
  const LanguageProfile* interactor_lang_ = nullptr;
  ExecSpec zygote_spec_;  // lives as long as the zygote (its process refers to it)
  int64_t stores_ = 0;
  std::unique_ptr<Executor::Persistent> zygote_;
};

Built Worker::build(const Program& p, const JudgeRequest& req, const std::string& installed_name) {
  Built b;
  b.language = find_language(p.language);
  if (!b.language) {
    b.report.verdict = Verdict::kInternalError;
    b.report.log = "unknown language '" + p.language + "'";
    return b;
  }
  const LanguageProfile& lang = *b.language;
  std::string program_name = installed_name + (lang.compile.empty() ? ".py" : "");
  if (lang.compile.empty()) {  // interpreted: the source is the program
    b.key = sha256_hex(lang.name + '\0' + p.source);
    b.files = {{program_name, p.source, false}};
    b.report.verdict = Verdict::kAccepted;
    return b;
  }
  for (const auto& h : p.headers)
    if (h.name.empty() || h.name.find('/') != std::string::npos || h.name == lang.source_name ||
        h.name == "main" || h.name[0] == '.') {
      b.report.verdict = Verdict::kInternalError;
      b.report.log = "bad header file name '" + h.name + "'";
      return b;
    }

  Sha256 key;
  key.update("v4eval-compile-1");
  key.update(std::string(1, '\0') + lang.name);
  for (const auto& a : lang.compile) key.update(std::string(1, '\0') + a);
  key.update(std::string(1, '\0') + compiler_identity_);
  key.update(std::string(1, '\0') + std::to_string(p.source.size()) + ":" + p.source);
  for (const auto& h : p.headers)
    key.update(std::string(1, '\0') + h.name + ":" + std::to_string(h.content.size()) + ":" +
               h.content);
  b.key = key.hex_digest();
  std::string cached = cfg_.binary_cache + "/" + b.key;

  if (auto bin = sys::read_file(cached + ".bin", kMaxBinaryBytes + 1); bin.ok()) {
    b.files = {{program_name, std::move(*bin), true}};
    b.report.verdict = Verdict::kAccepted;
    b.report.cached = true;
    return b;
  }
  if (auto log = sys::read_file(cached + ".ce", kCompileLogBytes + 1024); log.ok()) {
    b.report.verdict = Verdict::kCompileError;
    b.report.cached = true;
    b.report.log = std::move(*log);
    return b;
  }

  Cell& cell = *cells_[1];  // never the solution's cell: the compiler's page cache stays out of it
  Limits lim;
  lim.cpu_time_ms = req.compile_cpu_time_ms;
  lim.wall_time_ms = 2 * req.compile_cpu_time_ms + 5000;
  lim.memory_bytes = req.compile_memory_bytes;
  lim.stack_bytes = 64ll << 20;
  lim.max_processes = 32;
  lim.stdout_bytes = 64 << 10;
  lim.stderr_bytes = kCompileLogBytes;
  lim.file_size_bytes = kMaxBinaryBytes;
  lim.scratch_bytes = 512ll << 20;
  std::string last_error;
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    Status s = cell.reset_box(lim.scratch_bytes);
    if (s.ok()) s = cell.write_box_file(lang.source_name, p.source);
    for (const auto& h : p.headers)
      if (s.ok()) s = cell.write_box_file(h.name, h.content);
    if (!s.ok()) {
      last_error = s.message();
      continue;
    }
    auto argv = substitute_all(lang.compile, {{"src", cell.box() + "/" + lang.source_name},
                                              {"bin", cell.box() + "/main"}});
    if (!lang.pch_header.empty() && pch_ready()) argv.insert(argv.begin() + 1, {"-I", cell.pch()});
    ExecSpec spec;
    spec.cell = &cell;
    spec.argv = argv;
    spec.env = env_for(cell, nullptr);
    spec.limits = lim;
    spec.cpu = cfg_.cpu;
    ExecOutcome out = std::move(exec_.run({&spec}, false)[0]);
    Classification cls = classify_run(out.facts, lim);
    if (cls.verdict == Verdict::kInternalError) {
      last_error = cls.detail;
      continue;
    }
    b.report.cpu_ms = out.facts.cpu_ms;
    b.report.wall_ms = out.facts.wall_ms;
    b.report.memory_kb = out.facts.memory_kb;
    b.report.log = clip(out.stderr_data + out.stdout_data, kCompileLogBytes);
    if (cls.verdict == Verdict::kAccepted) {
      auto bin = cell.read_box_file("main", kMaxBinaryBytes);
      if (!bin.ok()) {
        b.report.verdict = Verdict::kCompileError;
        b.report.log += "\ncompiler produced no program: " + bin.status().message();
        return b;
      }
      std::string tmp = cached + ".tmp" + std::to_string(::getpid());
      sys::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755));
      if (fd.valid() && sys::write_all(fd.get(), *bin))
        ::rename(tmp.c_str(), (cached + ".bin").c_str());
      else
        ::unlink(tmp.c_str());
      trim_binary_cache();
      b.files = {{program_name, std::move(*bin), true}};
      b.report.verdict = Verdict::kAccepted;
      return b;
    }
    b.report.verdict = Verdict::kCompileError;
    switch (cls.verdict) {
      case Verdict::kTimeLimit:
        b.report.log += "\n[v4eval: compilation exceeded the time limit (" +
                        std::to_string(lim.cpu_time_ms) + " ms CPU)]";
        break;
      case Verdict::kMemoryLimit:
        b.report.log += "\n[v4eval: compilation exceeded the memory limit (" +
                        std::to_string(lim.memory_bytes >> 20) + " MB)]";
        break;
      case Verdict::kOutputLimit:
        b.report.log += "\n[v4eval: compilation exceeded the output or file size limit]";
        break;
      default: {
        // An ordinary compile failure is a property of the source: cache it.
        std::string tmp = cached + ".tmp" + std::to_string(::getpid());
        sys::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (fd.valid() && sys::write_all(fd.get(), b.report.log))
          ::rename(tmp.c_str(), (cached + ".ce").c_str());
        else
          ::unlink(tmp.c_str());
      }
    }
    return b;
  }
  b.report.verdict = Verdict::kInternalError;
  b.report.log = "sandbox could not compile: " + last_error;
  return b;
}

void fill_from_facts(const RunFacts& f, const std::string& stderr_text, TestReport* t) {
  t->cpu_ms = f.cpu_ms;
  t->wall_ms = f.wall_ms;
  t->memory_kb = f.memory_kb;
  if (f.end == RunFacts::End::kExited) t->exit_code = f.exit_code;
  t->signal = f.signal;
  t->stderr_text = clip(stderr_text, kReportStderrBytes);
}

void Worker::run_checker(const TestCase& test, const std::string& output, TestReport* t) {
  Cell& cell = *cells_[1];
  Limits lim;
  lim.cpu_time_ms = 10000;
  lim.wall_time_ms = 25000;
  lim.memory_bytes = 1ll << 30;
  lim.max_processes = 8;
  lim.stdout_bytes = 64 << 10;
  lim.stderr_bytes = 64 << 10;
  lim.scratch_bytes =
      static_cast<int64_t>(test.input.size() + output.size() + test.answer.size()) + (64ll << 20);
  lim.file_size_bytes = lim.scratch_bytes;
  Status s = cell.reset_box(lim.scratch_bytes);
  if (s.ok()) s = cell.write_box_file("input.txt", test.input);
  if (s.ok()) s = cell.write_box_file("output.txt", output);
  if (s.ok()) s = cell.write_box_file("answer.txt", test.answer);
  if (!s.ok()) {
    t->verdict = Verdict::kInternalError;
    t->detail = "checker setup: " + s.message();
    return;
  }
  ExecSpec spec;
  spec.cell = &cell;
  spec.argv = substitute_all(
      checker_lang_->run,
      {{"program", cell.prog() + "/checker" + (checker_lang_->compile.empty() ? ".py" : "")}});
  for (const char* f : {"input.txt", "output.txt", "answer.txt"}) spec.argv.push_back(f);
  spec.env = env_for(cell, checker_lang_);
  spec.limits = lim;
  spec.cpu = cfg_.cpu;
  spec.rlimit_data_not_as = checker_lang_->rlimit_data_not_as;
  spec.rlimit_headroom_bytes = checker_lang_->rlimit_memory_headroom_bytes;
  ExecOutcome out = std::move(exec_.run({&spec}, false)[0]);
  Classification cls = classify_checker(out.facts, lim);
  t->verdict = cls.verdict;
  t->checker_message = first_line(out.stderr_data);
  if (cls.verdict != Verdict::kAccepted)
    t->detail = cls.detail + (t->checker_message.empty() ? "" : ": " + t->checker_message);
}

TestReport Worker::run_plain(const JudgeRequest& req, const TestCase& test) {
  TestReport t;
  Cell& cell = *cells_[0];
  Limits lim = effective(req.limits, *solution_lang_);
  if (auto s = cell.reset_box(lim.scratch_bytes); !s.ok()) {
    t.verdict = Verdict::kInternalError;
    t.detail = s.message();
    return t;
  }
  ExecSpec spec;
  spec.cell = &cell;
  spec.argv = substitute_all(solution_lang_->run,
                             {{"program", cell.prog() + "/" + solution_lang_->program_name}});
  spec.env = env_for(cell, solution_lang_);
  spec.limits = lim;
  spec.stdin_data = test.input;
  spec.cpu = cfg_.cpu;
  // A little past the limit before stopping: a run that ends there by itself is measured
  // again (see judge()); the report says "1.04 s, TLE" rather than "killed at 1 s".
  spec.cpu_kill_ms = lim.cpu_time_ms * 6 / 5 + 20;
  spec.rlimit_data_not_as = solution_lang_->rlimit_data_not_as;
  spec.rlimit_headroom_bytes = solution_lang_->rlimit_memory_headroom_bytes;
  ExecOutcome out = std::move(exec_.run({&spec}, false)[0]);
  fill_from_facts(out.facts, out.stderr_data, &t);
  Classification cls = classify_run(out.facts, lim);
  t.verdict = cls.verdict;
  t.detail = cls.detail;
  if (cls.verdict != Verdict::kAccepted) return t;
  if (req.checker) {
    run_checker(test, out.stdout_data, &t);
  } else {
    Comparison c = compare_output(req.compare, out.stdout_data, test.answer);
    t.verdict = c.accepted ? Verdict::kAccepted : Verdict::kWrongAnswer;
    t.detail = c.message;
  }
  return t;
}

TestReport Worker::run_interactive(const JudgeRequest& req, const TestCase& test) {
  TestReport t;
  Cell& sol_cell = *cells_[0];
  Cell& int_cell = *cells_[1];
  Limits lim = effective(req.limits, *solution_lang_);
  Limits ilim;
  ilim.cpu_time_ms = lim.cpu_time_ms + 2000;
  ilim.wall_time_ms = lim.effective_wall_ms() + 2000;
  ilim.memory_bytes = 1ll << 30;
  ilim.max_processes = 8;
  ilim.stdout_bytes = lim.stdout_bytes;
  ilim.stderr_bytes = 64 << 10;
  ilim.scratch_bytes = static_cast<int64_t>(test.input.size() + test.answer.size()) + (64ll << 20);
  ilim.file_size_bytes = ilim.scratch_bytes;
  Status s = sol_cell.reset_box(lim.scratch_bytes);
  if (s.ok()) s = int_cell.reset_box(ilim.scratch_bytes);
  if (s.ok()) s = int_cell.write_box_file("input.txt", test.input);
  if (s.ok()) s = int_cell.write_box_file("answer.txt", test.answer);
  int to_interactor[2] = {-1, -1}, to_solution[2] = {-1, -1};
  if (s.ok() && (::pipe2(to_interactor, O_CLOEXEC) != 0 || ::pipe2(to_solution, O_CLOEXEC) != 0))
    s = Internal(sys::errno_message("pipe2"));
  if (!s.ok()) {
    for (int fd : {to_interactor[0], to_interactor[1], to_solution[0], to_solution[1]})
      if (fd >= 0) ::close(fd);
    t.verdict = Verdict::kInternalError;
    t.detail = s.message();
    return t;
  }
  ExecSpec sol;
  sol.cell = &sol_cell;
  sol.argv = substitute_all(solution_lang_->run,
                            {{"program", sol_cell.prog() + "/" + solution_lang_->program_name}});
  sol.env = env_for(sol_cell, solution_lang_);
  sol.limits = lim;
  sol.stdin_fd = to_solution[0];
  sol.stdout_fd = to_interactor[1];
  sol.cpu = cfg_.cpu;
  sol.rlimit_data_not_as = solution_lang_->rlimit_data_not_as;
  sol.rlimit_headroom_bytes = solution_lang_->rlimit_memory_headroom_bytes;
  ExecSpec inter;
  inter.cell = &int_cell;
  inter.argv = substitute_all(interactor_lang_->run,
                              {{"program", int_cell.prog() + "/interactor" +
                                               (interactor_lang_->compile.empty() ? ".py" : "")}});
  for (const char* f : {"input.txt", "tout.txt", "answer.txt"}) inter.argv.push_back(f);
  inter.env = env_for(int_cell, interactor_lang_);
  inter.limits = ilim;
  inter.stdin_fd = to_interactor[0];
  inter.stdout_fd = to_solution[1];
  inter.cpu = cfg_.cpu;
  inter.rlimit_data_not_as = interactor_lang_->rlimit_data_not_as;
  inter.rlimit_headroom_bytes = interactor_lang_->rlimit_memory_headroom_bytes;
  auto outs = exec_.run({&sol, &inter}, true);
  fill_from_facts(outs[0].facts, outs[0].stderr_data, &t);
  Classification cls = classify_interactive(outs[0].facts, lim, outs[1].facts, ilim);
  t.verdict = cls.verdict;
  t.detail = cls.detail;
  t.checker_message = first_line(outs[1].stderr_data);
  if (cls.verdict == Verdict::kWrongAnswer && !t.checker_message.empty())
    t.detail += ": " + t.checker_message;
  if (cls.verdict != Verdict::kAccepted || !req.checker) return t;
  auto tout = int_cell.read_box_file("tout.txt", 64ll << 20);
  if (!tout.ok()) {
    t.verdict = Verdict::kInternalError;
    t.detail = "interactor left no tout.txt for the checker: " + tout.status().message();
    return t;
  }
  run_checker(test, *tout, &t);
  return t;
}

void Worker::trim_binary_cache() {
  constexpr int64_t kCapBytes = 1ll << 30;
  if (++stores_ % 32 != 0) return;
  DIR* d = ::opendir(cfg_.binary_cache.c_str());
  if (!d) return;
  std::vector<std::pair<int64_t, std::string>> files;  // mtime, name
  int64_t total = 0;
  while (dirent* e = ::readdir(d)) {
    struct stat st;
    if (e->d_name[0] == '.' || ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    total += st.st_size;
    files.emplace_back(st.st_mtim.tv_sec, e->d_name);
  }
  std::sort(files.begin(), files.end());
  if (total <= kCapBytes) files.clear();
  for (const auto& [mtime, name] : files) {
    if (total <= kCapBytes / 2) break;
    struct stat st;
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        ::unlinkat(::dirfd(d), name.c_str(), 0) == 0)
      total -= st.st_size;
    (void)mtime;
  }
  ::closedir(d);
}

bool Worker::start_zygote() {
  zygote_.reset();
  const LanguageProfile* py = find_language("python");
  Cell& cell = *cells_[2];
  std::vector<ProgramFile> files = {{"lcb_driver.py", std::string(embedded::lcb_driver()), false}};
  if (!cell.install("lcb-zygote", files).ok() || !cell.reset_box(64ll << 20).ok()) return false;
  zygote_spec_ = ExecSpec();
  zygote_spec_.cell = &cell;
  zygote_spec_.argv = {"/usr/bin/python3", "-B", cell.prog() + "/lcb_driver.py", "--zygote"};
  zygote_spec_.env = env_for(cell, py);
  // The zygote lives across requests: the per-test limits are the conversations'.
  zygote_spec_.limits.cpu_time_ms = 1000ll * 1000 * 1000;
  zygote_spec_.limits.wall_time_ms = 1000ll * 1000 * 1000;
  zygote_spec_.limits.memory_bytes = 2ll << 30;
  zygote_spec_.limits.max_processes = 66;
  zygote_spec_.cpu = cfg_.cpu;
  ZygoteStartup startup;
  zygote_spec_.conversation = &startup;
  zygote_ = exec_.start_persistent(&zygote_spec_);
  bool ready = zygote_->converse(&startup);
  zygote_spec_.conversation = nullptr;
  if (!ready) {
    zygote_->finish();
    zygote_.reset();
    return false;
  }
  return true;
}

bool Worker::run_lcb_zygote(const JudgeRequest& req, JudgeReport* rep) {
  constexpr int64_t kZygoteMemory = 64ll << 20;  // the warm interpreter's own pages
  if ((!zygote_ || !zygote_->alive()) && !start_zygote()) return false;
  Cell& cell = *cells_[2];
  Limits per_test = effective(req.limits, *solution_lang_);
  Status s = cell.reset_box(per_test.scratch_bytes);
  if (s.ok())
    s = cell.cgroup().set_limits(per_test.memory_bytes + kZygoteMemory, per_test.max_processes + 2);
  if (s.ok()) s = cell.cgroup().before_run();
  if (!s.ok()) {
    zygote_.reset();
    return false;
  }
  LcbConversation conv(req, per_test, true);
  if (zygote_->converse(&conv)) {
    CellCgroup::Usage usage = cell.cgroup().after_run();
    rep->tests = conv.finish_generation(usage, zygote_->take_stderr());
  } else {
    // Stopped (a time limit) or dead (the memory limit, a program that killed it): the
    // zygote is started again for the next generation.
    ExecOutcome out = zygote_->finish();
    zygote_.reset();
    if (out.facts.end == RunFacts::End::kSetupError) return false;
    Limits run = per_test;
    run.cpu_time_ms = per_test.cpu_time_ms * static_cast<int64_t>(req.tests.size()) + 10000;
    rep->tests = conv.finish(out, run);
  }
  rep->verdict = Verdict::kAccepted;
  for (size_t i = 0; i < rep->tests.size(); ++i) {
    const TestReport& t = rep->tests[i];
    if (t.verdict != Verdict::kAccepted && t.verdict != Verdict::kSkipped) {
      rep->verdict = t.verdict;
      rep->detail = "test " + std::to_string(i + 1) + ": " + t.detail;
      break;
    }
  }
  return true;
}

bool Worker::run_lcb(const JudgeRequest& req, JudgeReport* rep) {
  if (cfg_.tier == Tier::kFull && cfg_.lcb_zygote && run_lcb_zygote(req, rep)) return true;
  Cell& cell = *cells_[0];
  Limits per_test = effective(req.limits, *solution_lang_);
  int64_t n = static_cast<int64_t>(req.tests.size());
  // The process as a whole: the interpreter, the prelude and every test; the per-test limits
  // are the conversation's.
  Limits run = per_test;
  run.cpu_time_ms = per_test.cpu_time_ms * n + 10000;
  run.wall_time_ms = per_test.effective_wall_ms() * n + 10000;
  if (auto s = cell.reset_box(run.scratch_bytes); !s.ok()) {
    rep->verdict = Verdict::kInternalError;
    rep->detail = s.message();
    return false;
  }
  LcbConversation conv(req, per_test, false);
  ExecSpec spec;
  spec.cell = &cell;
  spec.argv = {"/usr/bin/python3", "-B", cell.prog() + "/lcb_driver.py", cell.prog() + "/main.py"};
  spec.env = env_for(cell, solution_lang_);
  spec.limits = run;
  spec.cpu = cfg_.cpu;
  spec.rlimit_data_not_as = solution_lang_->rlimit_data_not_as;
  spec.rlimit_headroom_bytes = solution_lang_->rlimit_memory_headroom_bytes;
  spec.conversation = &conv;
  ExecOutcome out = std::move(exec_.run({&spec}, false)[0]);
  if (out.facts.end == RunFacts::End::kSetupError) {
    rep->verdict = Verdict::kInternalError;
    rep->detail = out.facts.error;
    return false;
  }
  rep->tests = conv.finish(out, run);
  rep->verdict = Verdict::kAccepted;
  for (size_t i = 0; i < rep->tests.size(); ++i) {
    const TestReport& t = rep->tests[i];
    if (t.verdict != Verdict::kAccepted && t.verdict != Verdict::kSkipped) {
      rep->verdict = t.verdict;
      rep->detail = "test " + std::to_string(i + 1) + ": " + t.detail;
      break;
    }
  }
  return true;
}

JudgeReport Worker::judge(const JudgeRequest& req) {
  JudgeReport rep;
  auto skip_all = [&] {
    rep.tests.assign(req.tests.size(), TestReport{});
    for (auto& t : rep.tests) t.attempts = 0;
  };
  Built sol = build(req.solution, req, "main");
  rep.compile = sol.report;
  if (sol.report.verdict != Verdict::kAccepted) {
    rep.verdict = sol.report.verdict;
    rep.detail =
        sol.report.verdict == Verdict::kCompileError ? "compilation failed" : sol.report.log;
    skip_all();
    return rep;
  }
  solution_lang_ = sol.language;
  if (req.run_mode != RunMode::kProcessPerTest) {
    if (solution_lang_->name != "python" || req.checker || req.interactor) {
      rep.verdict = Verdict::kInternalError;
      rep.detail = "the LiveCodeBench run modes take a Python program and no checker or interactor";
      skip_all();
      return rep;
    }
    std::vector<ProgramFile> files = {
        {"main.py", req.solution.source, false},
        {"lcb_driver.py", std::string(embedded::lcb_driver()), false}};
    if (auto s = cells_[0]->install(sol.key + "/lcb", files); !s.ok()) {
      rep.verdict = Verdict::kInternalError;
      rep.detail = "install: " + s.message();
      skip_all();
      return rep;
    }
    for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
      JudgeReport r;
      r.compile = rep.compile;
      bool ok = run_lcb(req, &r);
      for (auto& t : r.tests) t.attempts = t.verdict == Verdict::kSkipped ? 0 : attempt;
      rep = std::move(r);
      if (ok) break;
      skip_all();
    }
    return rep;
  }
  std::vector<ProgramFile> aux_files;
  std::string aux_key;
  for (auto [prog, name, report, lang] :
       {std::tuple{&req.interactor, "interactor", &rep.interactor_compile, &interactor_lang_},
        std::tuple{&req.checker, "checker", &rep.checker_compile, &checker_lang_}}) {
    if (!*prog) continue;
    Built b = build(**prog, req, name);
    *report = b.report;
    if (b.report.verdict != Verdict::kAccepted) {
      rep.verdict = Verdict::kInternalError;
      rep.detail =
          std::string(name) +
          (b.report.verdict == Verdict::kCompileError ? " does not compile" : ": " + b.report.log);
      skip_all();
      return rep;
    }
    *lang = b.language;
    aux_key += b.key + "/";
    for (auto& f : b.files) aux_files.push_back(std::move(f));
  }
  Status s = cells_[0]->install(sol.key, sol.files);
  if (s.ok() && !aux_files.empty()) s = cells_[1]->install(aux_key, aux_files);
  if (!s.ok()) {
    rep.verdict = Verdict::kInternalError;
    rep.detail = "install: " + s.message();
    skip_all();
    return rep;
  }

  bool stopped = false;
  rep.verdict = Verdict::kAccepted;
  for (const auto& test : req.tests) {
    TestReport t;
    if (stopped) {
      t.attempts = 0;
      rep.tests.push_back(std::move(t));
      continue;
    }
    int attempts = 0;
    for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
      t = req.interactor ? run_interactive(req, test) : run_plain(req, test);
      attempts = attempt;
      if (t.verdict != Verdict::kInternalError) break;
    }
    // A program that finished by itself within 20% over the CPU limit is measured once more
    // (sandbox.md §4.6: contention on a shared machine inflates CPU time by up to ~30%); the
    // second measurement stands. One we had to stop is over the limit without doubt.
    if (t.verdict == Verdict::kTimeLimit && t.detail == "cpu" && t.exit_code.has_value() &&
        t.cpu_ms <= req.limits.cpu_time_ms * 6 / 5 * solution_lang_->time_multiplier) {
      TestReport again = req.interactor ? run_interactive(req, test) : run_plain(req, test);
      ++attempts;
      if (again.verdict != Verdict::kInternalError) t = std::move(again);
    }
    t.attempts = attempts;
    if (t.verdict != Verdict::kAccepted) {
      if (rep.verdict == Verdict::kAccepted) {
        rep.verdict = t.verdict;
        rep.detail = "test " + std::to_string(rep.tests.size() + 1) + ": " + t.detail;
      }
      if (req.stop_at_first_failure) stopped = true;
    }
    rep.tests.push_back(std::move(t));
  }
  return rep;
}

}  // namespace

int worker_main(const WorkerConfig& config, int sock) {
  Worker worker(config);
  Status setup = worker.setup();
  while (true) {
    auto frame = wire::read_frame(sock, -1);
    if (!frame.ok()) return 0;  // the harness went away
    wire::Reader r(*frame);
    JudgeRequest req;
    wire::get(r, &req);
    JudgeReport rep;
    if (!r.ok() || !r.at_end()) {
      rep.verdict = Verdict::kInternalError;
      rep.detail = "sandbox: malformed request";
    } else if (!setup.ok()) {
      rep.verdict = Verdict::kInternalError;
      rep.detail = "sandbox slot " + std::to_string(config.slot) +
                   " could not be set up: " + setup.message();
      rep.tests.assign(req.tests.size(), TestReport{});
    } else {
      rep = worker.judge(req);
    }
    wire::Writer w;
    wire::put(w, rep);
    if (!wire::write_frame(sock, w.buffer()).ok()) return 0;
  }
}

}  // namespace v4eval::sandbox
