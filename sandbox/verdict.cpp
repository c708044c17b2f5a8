// Verdict names and precedence (sandbox.md §6.1, §6.2, §7.2, §7.3), tier names.

#include <csignal>
#include <cstring>

#include "sandbox/sandbox.h"

namespace v4eval::sandbox {
namespace {

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

Classification make(Verdict v, std::string detail) { return {v, std::move(detail)}; }

}  // namespace

std::string_view tier_name(Tier tier) {
  switch (tier) {
    case Tier::kFull:
      return "full";
    case Tier::kUserns:
      return "userns";
    case Tier::kWeak:
      return "weak";
  }
  return "?";
}

Result<TierChoice> parse_tier_choice(std::string_view name) {
  if (name == "auto") return TierChoice::kAuto;
  if (name == "full") return TierChoice::kFull;
  if (name == "userns") return TierChoice::kUserns;
  if (name == "weak") return TierChoice::kWeak;
  return InvalidArgument("unknown sandbox tier '" + std::string(name) +
                         "' (auto, full, userns, weak)");
}

std::string TierReport::summary() const {
  auto onoff = [](bool b) { return b ? "on" : "off"; };
  std::string s = "sandbox tier " + std::string(tier_name(tier)) + ": namespaces user " +
                  onoff(user_ns) + ", pid " + onoff(pid_ns) + ", mount " + onoff(mount_ns) +
                  ", net " + onoff(net_ns) + "; cgroup " + cgroup + "; memory limit by " +
                  memory_limit + ", processes by " + process_limit + ", CPU time from " + cpu_time +
                  "; seccomp " + onoff(seccomp) + "; landlock " + onoff(landlock) +
                  "; uid per cell " + onoff(cell_uid) + "; kernel " + kernel;
  for (const auto& n : notes) s += "; " + n;
  return s;
}

std::string_view verdict_code(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAccepted:
      return "AC";
    case Verdict::kWrongAnswer:
      return "WA";
    case Verdict::kTimeLimit:
      return "TLE";
    case Verdict::kMemoryLimit:
      return "MLE";
    case Verdict::kOutputLimit:
      return "OLE";
    case Verdict::kRuntimeError:
      return "RE";
    case Verdict::kCompileError:
      return "CE";
    case Verdict::kInternalError:
      return "IE";
    case Verdict::kSkipped:
      return "SKIPPED";
  }
  return "?";
}

std::optional<Verdict> parse_verdict_code(std::string_view code) {
  for (Verdict v : {Verdict::kAccepted, Verdict::kWrongAnswer, Verdict::kTimeLimit,
                    Verdict::kMemoryLimit, Verdict::kOutputLimit, Verdict::kRuntimeError,
                    Verdict::kCompileError, Verdict::kInternalError, Verdict::kSkipped})
    if (verdict_code(v) == code) return v;
  return std::nullopt;
}

Classification classify_run(const RunFacts& run, const Limits& limits) {
  using End = RunFacts::End;
  // 1. Our failure: the program never ran as asked.
  if (run.end == End::kSetupError) return make(Verdict::kInternalError, run.error);
  // 2. Output over the cap, or a file over RLIMIT_FSIZE.
  if (run.end == End::kOutputLimit) return make(Verdict::kOutputLimit, "stdout over the limit");
  if (run.end == End::kSignaled && run.signal == SIGXFSZ)
    return make(Verdict::kOutputLimit, "file size limit (SIGXFSZ)");
  // 3. The memory limit killed it (the cgroup's OOM counter, or the rlimit fallback).
  if (run.oom_killed) return make(Verdict::kMemoryLimit, "out of memory (cgroup OOM kill)");
  if (run.memory_limit_hit) return make(Verdict::kMemoryLimit, "memory limit (rlimit)");
  // 4. CPU time over the limit, killed or not (ending at 1.02 s with a 1 s limit is TLE).
  if (run.end == End::kCpuLimit || run.cpu_ms > limits.cpu_time_ms ||
      (run.end == End::kSignaled && run.signal == SIGXCPU))
    return make(Verdict::kTimeLimit, "cpu");
  // 5. The wall-clock backstop: sleeping, blocked on input, deadlocked.
  if (run.end == End::kWallLimit || run.end == End::kKilled)
    return make(Verdict::kTimeLimit, run.cpu_ms * 10 < limits.cpu_time_ms ? "idle" : "wall");
  // 6. Crashed or failed.
  if (run.end == End::kSignaled) return make(Verdict::kRuntimeError, signal_name(run.signal));
  if (run.exit_code != 0)
    return make(Verdict::kRuntimeError, "exit code " + std::to_string(run.exit_code));
  // 7. Exited 0: the output decides.
  return make(Verdict::kAccepted, "");
}

Classification classify_checker(const RunFacts& checker, const Limits& checker_limits) {
  Classification run = classify_run(checker, checker_limits);
  if (run.verdict != Verdict::kAccepted &&
      !(run.verdict == Verdict::kRuntimeError && checker.end == RunFacts::End::kExited))
    return make(Verdict::kInternalError,
                "checker failed: " + std::string(verdict_code(run.verdict)) +
                    (run.detail.empty() ? "" : " (" + run.detail + ")"));
  switch (checker.exit_code) {
    case 0:
      return make(Verdict::kAccepted, "");
    case 1:
      return make(Verdict::kWrongAnswer, "wrong answer");
    case 2:
      return make(Verdict::kWrongAnswer, "presentation error");
    case 4:
      return make(Verdict::kWrongAnswer, "wrong answer (dirt)");
    case 7:
      return make(Verdict::kWrongAnswer, "partial points");
    case 8:
      return make(Verdict::kWrongAnswer, "presentation error (unexpected eof)");
    case 3:
      return make(Verdict::kInternalError, "checker failed (exit 3)");
    default:
      return make(Verdict::kInternalError,
                  "checker exited with unknown code " + std::to_string(checker.exit_code));
  }
}

Classification classify_interactive(const RunFacts& solution, const Limits& solution_limits,
                                    const RunFacts& interactor, const Limits& interactor_limits) {
  using End = RunFacts::End;
  Classification sol = classify_run(solution, solution_limits);
  // 1. The interactor itself failed: crashed, over its own CPU/memory/output limits, exit 3.
  bool interactor_waiting = interactor.end == End::kWallLimit || interactor.end == End::kKilled;
  if (interactor.end == End::kSetupError)
    return make(Verdict::kInternalError, "interactor: " + interactor.error);
  // The interactor wrote to a solution that had stopped reading (exited or crashed): not the
  // interactor's fault. The solution's own failure wins, else it broke off the dialogue: WA.
  if (interactor.end == End::kSignaled && interactor.signal == SIGPIPE) {
    if (sol.verdict != Verdict::kAccepted) return sol;
    return make(Verdict::kWrongAnswer, "the solution stopped reading before the interaction ended");
  }
  if (!interactor_waiting) {
    Classification inter = classify_checker(interactor, interactor_limits);
    if (inter.verdict == Verdict::kInternalError)
      return make(Verdict::kInternalError, "interactor: " + inter.detail);
  }
  if (sol.verdict == Verdict::kInternalError) return sol;
  // 2. The solution's own limits (an unflushed solution deadlocks and ends here as idle).
  if (sol.verdict == Verdict::kTimeLimit || sol.verdict == Verdict::kMemoryLimit ||
      sol.verdict == Verdict::kOutputLimit)
    return sol;
  // An interactor that never finished although the solution did: its own fault.
  if (interactor_waiting) return make(Verdict::kInternalError, "interactor did not finish");
  // 3. The interactor's WA/PE wins even over the solution's death by SIGPIPE or EOF.
  Classification inter = classify_checker(interactor, interactor_limits);
  if (inter.verdict == Verdict::kWrongAnswer) return inter;
  // 4. The solution crashed (SIGPIPE after the interactor accepted and left is not a crash).
  if (sol.verdict == Verdict::kRuntimeError &&
      !(solution.end == End::kSignaled && solution.signal == SIGPIPE))
    return sol;
  // 5. Accepted by the interactor (a checker on tout.txt may follow).
  return make(Verdict::kAccepted, "");
}

}  // namespace v4eval::sandbox
