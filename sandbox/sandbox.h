#pragma once
// sandbox/: runs untrusted generated programs and judges them (design: shared/design/sandbox.md).
//
// The harness creates one `Sandbox` at start-up. It spawns `v4eval-sandboxd`, a small
// single-threaded launcher that probes the isolation tier once and forks one worker per slot;
// every clone/exec of untrusted code happens there, never in the (multi-threaded) harness.
// `Sandbox::judge` is thread-safe: each call takes a free slot, compiles the submission once
// (cached by content hash), runs its tests back to back on that slot and returns per-test facts
// and verdicts. Expected failures (CE, WA, a sandbox that could not run a test) are values.
//
// This header also holds the pure parts that need no sandbox: output comparison (§7.1) and the
// verdict precedence (§6.2, §7.2, §7.3), so that suites and tests can use them directly.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/status.h"

namespace v4eval::sandbox {

// ---------------------------------------------------------------------------------------------
// Isolation tiers (sandbox.md §3.3)

enum class Tier {
  kFull,    // root: pid/mount/net/ipc/uts namespaces, read-only minimal root, cgroup limits,
            // seccomp, rlimits, a non-root uid per cell, our init as PID 1
  kUserns,  // unprivileged: the same namespaces inside a user namespace, seccomp, rlimits
            // (memory by RLIMIT_AS/DATA, processes by RLIMIT_NPROC, CPU from the init's rusage)
  kWeak,    // no namespaces: rlimits, seccomp, Landlock where the kernel has it; opt-in only
};
std::string_view tier_name(Tier tier);  // "full", "userns", "weak"

enum class TierChoice { kAuto, kFull, kUserns, kWeak };
// "auto" (best of full/userns; refuses when neither works), "full", "userns", "weak".
Result<TierChoice> parse_tier_choice(std::string_view name);

// What the launcher found and what is in force; printed by `v4eval judge --json`.
struct TierReport {
  Tier tier = Tier::kWeak;
  std::string cgroup = "none";         // "v2", "v1", "hybrid" (v1 controllers + v2 core), "none"
  std::string memory_limit = "none";   // "cgroup", "rlimit", "none"
  std::string cpu_time = "rusage";     // "cgroup", "rusage"
  std::string process_limit = "none";  // "cgroup", "rlimit"
  bool user_ns = false, pid_ns = false, mount_ns = false, net_ns = false;
  bool seccomp = false, landlock = false, cell_uid = false;
  std::string kernel;              // uname release
  std::vector<std::string> notes;  // why a layer is off, one line each
  std::string summary() const;     // one line naming every layer that is on or off
};

// ---------------------------------------------------------------------------------------------
// Limits of one run (sandbox.md §4.6). Zero means "the default written beside the field".

struct Limits {
  int64_t cpu_time_ms = 1000;
  int64_t wall_time_ms = 0;  // 0: 2 * cpu_time_ms + 1000
  int64_t memory_bytes = 256ll << 20;
  int64_t stack_bytes = 0;               // 0: = memory_bytes (Codeforces gives C++ the whole limit)
  int32_t max_processes = 64;            // threads count too
  int64_t stdout_bytes = 64ll << 20;     // more is OLE
  int64_t stderr_bytes = 64ll << 10;     // kept (head and tail); the rest is drained and dropped
  int64_t file_size_bytes = 64ll << 20;  // RLIMIT_FSIZE; SIGXFSZ is OLE
  int64_t scratch_bytes = 64ll << 20;    // tmpfs size of /box (= /tmp)

  int64_t effective_wall_ms() const {
    return wall_time_ms > 0 ? wall_time_ms : 2 * cpu_time_ms + 1000;
  }
  int64_t effective_stack_bytes() const { return stack_bytes > 0 ? stack_bytes : memory_bytes; }
};

// ---------------------------------------------------------------------------------------------
// Languages: one table entry each (languages.cpp). Paths are absolute (never a PATH lookup).
// In argument vectors, {src} is the source file and {bin} the compiled program (compile), and
// {program} the installed program (run): a binary or, for interpreters, the source.

struct LanguageProfile {
  std::string name;                  // "cpp", "python"
  std::string source_name;           // file name of the source inside the box: "main.cpp"
  std::vector<std::string> compile;  // empty: nothing to compile (the source is the program)
  std::vector<std::string> run;      // how to start the program
  std::string program_name;          // the installed program's file name: "main", "main.py"
  double time_multiplier = 1.0;      // applied to the CPU limit
  int64_t rlimit_memory_headroom_bytes = 0;  // userns/weak tiers: added to the rlimit
  bool rlimit_data_not_as = false;  // userns/weak tiers: RLIMIT_DATA (runtimes) vs RLIMIT_AS
  std::vector<std::string> env;     // added to the fixed environment
  std::string pch_header;           // C++: "bits/stdc++.h", precompiled once per toolchain
};
const LanguageProfile* find_language(std::string_view name);
std::vector<std::string> language_names();

// ---------------------------------------------------------------------------------------------
// Verdicts (sandbox.md §6.1)

enum class Verdict {
  kAccepted,       // AC
  kWrongAnswer,    // WA (testlib PE included; the detail says so)
  kTimeLimit,      // TLE (detail "cpu", "wall" or "idle")
  kMemoryLimit,    // MLE
  kOutputLimit,    // OLE
  kRuntimeError,   // RE (detail: exit code or signal name)
  kCompileError,   // CE
  kInternalError,  // IE: our fault (sandbox, checker, interactor); retried, never the model's
  kSkipped,        // not run: an earlier test failed
};
std::string_view verdict_code(Verdict verdict);  // "AC", "WA", ... "SKIPPED"
std::optional<Verdict> parse_verdict_code(std::string_view code);

// ---------------------------------------------------------------------------------------------
// Output comparison (sandbox.md §7.1). The testlib-like modes skip a UTF-8 BOM at the start of
// the output (as testlib does); exact and lcb see the bytes as they are.

struct CompareMode {
  enum Kind {
    kExact,       // byte equality
    kLines,       // lines equal after dropping one trailing \r per line and trailing empty lines
    kTokens,      // testlib wcmp: whitespace-separated token sequences equal
    kLineTokens,  // testlib lcmp: line by line, each line as a token sequence
    kFloat,       // tokens; numbers within absolute-or-relative epsilon (testlib doubleCompare)
    kLcb,         // LiveCodeBench stdin rule (suites.md §1.4): strip, per line exact or Decimal
    kYesNo,       // testlib yesno/nyesno: YES/NO tokens case-insensitively, others as wcmp
    kLcbCall,     // LiveCodeBench call-based rule: JSON values equal under Python's ==
                  // (2 == 2.0, True == 1, list order matters, dict order does not)
  };
  Kind kind = kTokens;
  double epsilon = 1e-6;  // kFloat only
};
// "exact", "lines", "tokens", "line-tokens", "float" (1e-6), "float:EPS", "lcb", "yesno",
// "lcb-call".
Result<CompareMode> parse_compare_mode(std::string_view spec);
std::string compare_mode_name(const CompareMode& mode);

struct Comparison {
  bool accepted = false;
  std::string message;  // the first difference, e.g. "line 3: expected 'x', found 'y'"
};
Comparison compare_output(const CompareMode& mode, std::string_view output,
                          std::string_view answer);

// testlib's doubleCompare: absolute or relative error within eps (+1e-15); NaN equals only NaN,
// an infinity only the same infinity.
bool double_compare(double expected, double result, double eps);

// ---------------------------------------------------------------------------------------------
// Facts of one sandboxed execution, and their classification (sandbox.md §6.2, §7.2, §7.3)

struct RunFacts {
  enum class End {
    kExited,       // the program ended by itself (exit_code valid)
    kSignaled,     // killed by a signal it caused or received (signal valid)
    kCpuLimit,     // we killed it: CPU time over the limit
    kWallLimit,    // we killed it: wall-clock backstop
    kOutputLimit,  // we killed it: stdout over the cap
    kKilled,       // we killed it for another reason (interactive partner finished, shutdown)
    kSetupError,   // the sandbox failed before or at exec: `error` says which step
  };
  End end = End::kSetupError;
  int exit_code = 0;
  int signal = 0;
  bool oom_killed = false;        // the memory cgroup's OOM counter rose during the run
  bool memory_limit_hit = false;  // rlimit tiers: died abnormally near the limit / bad_alloc
  int64_t cpu_ms = 0, wall_ms = 0, memory_kb = 0;
  std::string error;
};

struct Classification {
  Verdict verdict = Verdict::kAccepted;  // kAccepted: exited 0, the output decides
  std::string detail;                    // "SIGSEGV", "exit code 3", "cpu", "wall", "idle", ...
};

// §6.2 rules 1-6, first that applies: setup error → IE; output cap or SIGXFSZ → OLE; OOM → MLE;
// CPU > limit → TLE; wall backstop → TLE (wall, or idle when CPU < 10% of the limit);
// signal or non-zero exit → RE; otherwise kAccepted (compare the output next).
Classification classify_run(const RunFacts& run, const Limits& limits);

// testlib checker exit codes (§7.2): 0 AC, 1 WA, 2 PE (WA), 4 dirt (WA), 7 points (WA unless
// full), 8 unexpected EOF (PE, WA); 3, any other code, a signal or the checker's own limits: IE.
Classification classify_checker(const RunFacts& checker, const Limits& checker_limits);

// Interactive precedence (§7.3): interactor failure → IE; the solution's TLE/MLE/OLE; the
// interactor's WA/PE even if the solution then died of SIGPIPE; the solution's RE; else the
// interactor's verdict (AC). An interactor killed by SIGPIPE wrote to a solution that had
// stopped reading: the solution's failure if it failed, else WA.
Classification classify_interactive(const RunFacts& solution, const Limits& solution_limits,
                                    const RunFacts& interactor, const Limits& interactor_limits);

// ---------------------------------------------------------------------------------------------
// Judging requests and reports

struct SourceFile {
  std::string name;  // a plain file name (no '/'), e.g. "testlib.h"
  std::string content;
};

struct Program {
  std::string language = "cpp";  // a LanguageProfile name
  std::string source;
  std::vector<SourceFile> headers;  // extra files beside the source (checkers' own headers)
};

struct TestCase {
  std::string input;
  std::string answer;  // expected output (never visible to the solution)
};

// How the tests of a submission are run.
enum class RunMode {
  kProcessPerTest,  // a fresh process per test with real stdin (Codeforces semantics)
  // Python only: every test in one interpreter, with LiveCodeBench's reference semantics (its
  // import prelude, wrapped program, mocked stdin; sandbox.md §5.6). The driver reports each
  // test's output; the verdict is decided here (compare kLcb / kLcbCall), test by test, and
  // the next test is sent only after the previous one passed. Per-test CPU time is measured
  // by the cgroup between the tests.
  kLcbStdin,
  kLcbCall,  // call-based (LeetCode) problems: `function_name` with one JSON argument per
             // input line; the answer is one JSON value
};

struct JudgeRequest {
  Program solution;
  RunMode run_mode = RunMode::kProcessPerTest;
  std::string function_name;  // kLcbCall
  std::vector<TestCase> tests;
  Limits limits;
  CompareMode compare;
  // testlib-style `checker input.txt output.txt answer.txt`; replaces `compare`.
  std::optional<Program> checker;
  // testlib-style `interactor input.txt tout.txt answer.txt`, cross-wired with the solution;
  // `checker`, when also given, then runs on tout.txt as the output.
  std::optional<Program> interactor;
  bool stop_at_first_failure = true;  // Codeforces and LiveCodeBench both stop
  int64_t compile_cpu_time_ms = 10000;
  int64_t compile_memory_bytes = 1ll << 30;
};

struct CompileReport {
  Verdict verdict = Verdict::kAccepted;  // kAccepted, kCompileError or kInternalError
  bool cached = false;
  std::string log;  // diagnostics, capped
  int64_t cpu_ms = 0, wall_ms = 0, memory_kb = 0;
};

struct TestReport {
  Verdict verdict = Verdict::kSkipped;
  std::string detail;  // classification detail or the comparison's first difference
  int64_t cpu_ms = 0, wall_ms = 0, memory_kb = 0;
  std::optional<int> exit_code;
  int signal = 0;
  std::string stderr_text;  // head and tail, capped
  std::string checker_message;
  int attempts = 1;  // > 1: earlier attempts ended as IE and were retried
};

struct JudgeReport {
  Verdict verdict = Verdict::kInternalError;  // first non-AC test's verdict; AC when all pass
  std::string detail;
  CompileReport compile;
  std::optional<CompileReport> checker_compile, interactor_compile;
  std::vector<TestReport> tests;
  int internal_retries = 0;  // whole-request retries after a worker was lost
};

// ---------------------------------------------------------------------------------------------
// The sandbox service

struct SandboxOptions {
  TierChoice tier = TierChoice::kAuto;
  int slots = 0;                 // 0: one per CPU this process may run on
  std::string launcher_path;     // "": $V4EVAL_SANDBOXD, beside the executable, the build tree
  std::string runtime_dir;       // "": $V4EVAL_SANDBOX_DIR, $TMPDIR or /tmp (removed at exit)
  std::string cache_dir;         // "": $V4EVAL_CACHE_DIR, $XDG_CACHE_HOME/v4eval, ~/.cache/v4eval
  int max_internal_retries = 2;  // IE is retried this many times (§6.3)
  bool pin_cpus = false;         // pin slot k to the k-th allowed CPU
  // Full tier: the LiveCodeBench run modes fork each generation from a warm interpreter that
  // has the reference's prelude loaded (as LiveCodeBench forks its workers), instead of
  // starting one. Off: a fresh interpreter per generation. $V4EVAL_SANDBOX_NO_ZYGOTE=1 also
  // turns it off.
  bool lcb_zygote = true;
  std::vector<std::string> deny_tiers;  // tests: pretend these tiers are unavailable
};

class Sandbox {
 public:
  // Spawns the launcher, which probes the tier and prepares the slots. Fails (kUnavailable)
  // when no acceptable tier works: "weak" must be chosen explicitly.
  static Result<std::unique_ptr<Sandbox>> start(const SandboxOptions& options = {});
  ~Sandbox();  // stops the launcher; it removes every slot, cgroup, mount and scratch file
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const TierReport& tier() const;
  int slots() const;
  int launcher_pid() const;

  // Compiles (once per unique source, cached), runs the tests back to back on one slot and
  // judges them. Thread-safe; blocks until a slot is free and the request is done. Never
  // throws for a bad program; a broken sandbox gives verdict IE after the retries.
  JudgeReport judge(const JudgeRequest& request);

 private:
  struct Impl;
  explicit Sandbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace v4eval::sandbox
