// Verdict precedence (sandbox.md §6.2, §7.2, §7.3) and the names in the JSON contract.

#include <catch2/catch.hpp>
#include <csignal>

#include "sandbox/sandbox.h"

using namespace v4eval::sandbox;
using End = RunFacts::End;

namespace {

RunFacts exited(int code, int64_t cpu_ms = 10) {
  RunFacts f;
  f.end = End::kExited;
  f.exit_code = code;
  f.cpu_ms = cpu_ms;
  return f;
}
RunFacts signaled(int sig, int64_t cpu_ms = 10) {
  RunFacts f;
  f.end = End::kSignaled;
  f.signal = sig;
  f.cpu_ms = cpu_ms;
  return f;
}
RunFacts killed(End why, int64_t cpu_ms) {
  RunFacts f;
  f.end = why;
  f.signal = SIGKILL;
  f.cpu_ms = cpu_ms;
  return f;
}
Limits one_second() {
  Limits l;
  l.cpu_time_ms = 1000;
  return l;
}
Verdict run_verdict(const RunFacts& f) { return classify_run(f, one_second()).verdict; }

}  // namespace

TEST_CASE("sandbox: verdict codes", "[sandbox]") {
  for (auto [v, code] : {std::pair{Verdict::kAccepted, "AC"},
                         {Verdict::kWrongAnswer, "WA"},
                         {Verdict::kTimeLimit, "TLE"},
                         {Verdict::kMemoryLimit, "MLE"},
                         {Verdict::kOutputLimit, "OLE"},
                         {Verdict::kRuntimeError, "RE"},
                         {Verdict::kCompileError, "CE"},
                         {Verdict::kInternalError, "IE"},
                         {Verdict::kSkipped, "SKIPPED"}}) {
    CHECK(verdict_code(v) == code);
    CHECK(parse_verdict_code(code) == v);
  }
  CHECK_FALSE(parse_verdict_code("PE").has_value());
  CHECK(tier_name(Tier::kFull) == "full");
  CHECK(parse_tier_choice("userns").ok());
  CHECK_FALSE(parse_tier_choice("none").ok());
}

TEST_CASE("sandbox: a run is classified by the first rule that applies", "[sandbox]") {
  // 7. exit 0 within limits: the output decides.
  CHECK(run_verdict(exited(0)) == Verdict::kAccepted);
  // 6. crashes.
  CHECK(run_verdict(exited(1)) == Verdict::kRuntimeError);
  CHECK(classify_run(exited(3), one_second()).detail == "exit code 3");
  CHECK(classify_run(signaled(SIGSEGV), one_second()).detail == "SIGSEGV");
  CHECK(run_verdict(signaled(SIGABRT)) == Verdict::kRuntimeError);
  // 5. the wall clock: idle when CPU stayed under 10% of the limit.
  CHECK(classify_run(killed(End::kWallLimit, 5), one_second()).detail == "idle");
  CHECK(classify_run(killed(End::kWallLimit, 900), one_second()).detail == "wall");
  CHECK(run_verdict(killed(End::kWallLimit, 5)) == Verdict::kTimeLimit);
  // 4. CPU over the limit wins over the wall clock and over a clean exit (1.02 s is TLE).
  CHECK(run_verdict(exited(0, 1020)) == Verdict::kTimeLimit);
  CHECK(run_verdict(exited(0, 1000)) == Verdict::kAccepted);
  CHECK(classify_run(killed(End::kWallLimit, 1500), one_second()).detail == "cpu");
  CHECK(run_verdict(killed(End::kCpuLimit, 1001)) == Verdict::kTimeLimit);
  CHECK(run_verdict(signaled(SIGXCPU, 900)) == Verdict::kTimeLimit);
  CHECK(run_verdict(signaled(SIGSEGV, 1200)) == Verdict::kTimeLimit);
  // 3. the OOM kill wins over CPU time (near the limit it is still MLE).
  RunFacts oom = signaled(SIGKILL, 1200);
  oom.oom_killed = true;
  CHECK(run_verdict(oom) == Verdict::kMemoryLimit);
  RunFacts rlimit_oom = signaled(SIGABRT);
  rlimit_oom.memory_limit_hit = true;
  CHECK(run_verdict(rlimit_oom) == Verdict::kMemoryLimit);
  // 2. output over the cap, or a file over RLIMIT_FSIZE, wins over memory.
  RunFacts ole = killed(End::kOutputLimit, 1200);
  ole.oom_killed = true;
  CHECK(run_verdict(ole) == Verdict::kOutputLimit);
  CHECK(run_verdict(signaled(SIGXFSZ)) == Verdict::kOutputLimit);
  // 1. our failure wins over everything, and is never the program's fault.
  RunFacts ie = killed(End::kSetupError, 0);
  ie.error = "sandbox setup failed at chroot";
  ie.oom_killed = true;
  CHECK(run_verdict(ie) == Verdict::kInternalError);
  CHECK(classify_run(ie, one_second()).detail == "sandbox setup failed at chroot");
}

TEST_CASE("sandbox: testlib checker exit codes", "[sandbox]") {
  Limits l;
  l.cpu_time_ms = 10000;
  auto v = [&](const RunFacts& f) { return classify_checker(f, l).verdict; };
  CHECK(v(exited(0)) == Verdict::kAccepted);
  CHECK(v(exited(1)) == Verdict::kWrongAnswer);
  CHECK(v(exited(2)) == Verdict::kWrongAnswer);
  CHECK(classify_checker(exited(2), l).detail == "presentation error");
  CHECK(v(exited(4)) == Verdict::kWrongAnswer);
  CHECK(v(exited(7)) == Verdict::kWrongAnswer);
  CHECK(v(exited(8)) == Verdict::kWrongAnswer);
  CHECK(v(exited(3)) == Verdict::kInternalError);  // the checker failed
  CHECK(v(exited(5)) == Verdict::kInternalError);  // unknown code
  CHECK(v(signaled(SIGSEGV)) == Verdict::kInternalError);
  CHECK(v(killed(End::kCpuLimit, 10001)) == Verdict::kInternalError);
  RunFacts oom = signaled(SIGKILL);
  oom.oom_killed = true;
  CHECK(v(oom) == Verdict::kInternalError);
  CHECK(v(killed(End::kSetupError, 0)) == Verdict::kInternalError);
}

TEST_CASE("sandbox: interactive verdict precedence", "[sandbox]") {
  Limits sol = one_second(), inter;
  inter.cpu_time_ms = 3000;
  auto v = [&](const RunFacts& s, const RunFacts& i) {
    return classify_interactive(s, sol, i, inter).verdict;
  };
  // 1. The interactor failed: IE whatever the solution did.
  CHECK(v(exited(0), exited(3)) == Verdict::kInternalError);
  CHECK(v(killed(End::kCpuLimit, 1500), signaled(SIGSEGV)) == Verdict::kInternalError);
  CHECK(v(exited(0), killed(End::kCpuLimit, 3500)) == Verdict::kInternalError);
  CHECK(v(exited(0), killed(End::kSetupError, 0)) == Verdict::kInternalError);
  // 2. The solution's limits, over the interactor's verdict (a deadlock is the solution's).
  CHECK(v(killed(End::kCpuLimit, 1500), exited(1)) == Verdict::kTimeLimit);
  CHECK(v(killed(End::kWallLimit, 3), killed(End::kKilled, 2)) == Verdict::kTimeLimit);
  RunFacts oom = signaled(SIGKILL);
  oom.oom_killed = true;
  CHECK(v(oom, exited(1)) == Verdict::kMemoryLimit);
  // 3. The interactor's WA/PE wins over the solution's SIGPIPE or other death.
  CHECK(v(signaled(SIGPIPE), exited(1)) == Verdict::kWrongAnswer);
  CHECK(v(exited(1), exited(2)) == Verdict::kWrongAnswer);
  // 4. The solution crashed while the interactor was content.
  CHECK(v(signaled(SIGSEGV), exited(0)) == Verdict::kRuntimeError);
  // ... but SIGPIPE after the interactor accepted and left is not a crash.
  CHECK(v(signaled(SIGPIPE), exited(0)) == Verdict::kAccepted);
  // The interactor died writing to a solution that had stopped reading.
  CHECK(v(exited(0), signaled(SIGPIPE)) == Verdict::kWrongAnswer);
  CHECK(v(signaled(SIGSEGV), signaled(SIGPIPE)) == Verdict::kRuntimeError);
  // An interactor that never finished although the solution did: its fault.
  CHECK(v(exited(0), killed(End::kWallLimit, 10)) == Verdict::kInternalError);
  // 5. Both content.
  CHECK(v(exited(0), exited(0)) == Verdict::kAccepted);
  // The solution kept running after the interactor finished (killed after the grace period).
  CHECK(v(killed(End::kKilled, 5), exited(0)) == Verdict::kTimeLimit);
}
