#pragma once
// One sandboxed execution, or two cross-wired ones (solution + interactor): clone, our init as
// PID 1, the program as PID 2 with rlimits, uid, no_new_privs and seccomp, then a poll loop
// with CPU polling, the wall deadline and the output cap; facts measured from the cgroup or
// from the init's rusage (sandbox.md §4.1, §4.6, §5.3). Runs in a (single-threaded) worker.

#include <linux/filter.h>

#include <memory>
#include <string>
#include <vector>

#include "sandbox/daemon/cell.h"
#include "sandbox/sandbox.h"

namespace v4eval::sandbox {

// A dialogue with the program over its stdin and stdout, driven by the worker (the LCB driver:
// the next test is sent once the previous result has been judged). Replaces the captured
// stdout and the memfd stdin of the spec.
class Conversation {
 public:
  virtual ~Conversation() = default;
  struct Action {
    std::string write;         // bytes for the program's stdin
    bool close_input = false;  // then EOF
    bool stop = false;         // kill the run now (the outcome is already decided)
  };
  virtual Action start() = 0;
  // Bytes arrived on stdout (appended to `buffer`; consume what was parsed). `cpu_us` is the
  // run's CPU time so far, -1 when this tier cannot tell.
  virtual Action on_output(std::string* buffer, int64_t cpu_us, int64_t now_us) = 0;
  // Called at least every 50 ms while the program runs.
  virtual Action on_tick(int64_t cpu_us, int64_t now_us) = 0;
  // For a persistent process: this dialogue is over (the process lives on).
  virtual bool finished() const { return false; }
};

class ExecSession;

struct ExecSpec {
  Cell* cell = nullptr;
  std::vector<std::string> argv;  // argv[0] is an absolute path inside the cell
  std::vector<std::string> env;
  Limits limits;                // effective limits (language multipliers applied)
  std::string_view stdin_data;  // delivered through a sealed memfd ...
  int stdin_fd = -1;            // ... unless a descriptor is given (interactive pipes); then
  int stdout_fd = -1;           // run() closes both once the processes started. -1 stdout:
                                // captured up to limits.stdout_bytes
  bool rlimit_data_not_as = false;
  int64_t rlimit_headroom_bytes = 0;
  int cpu = -1;                 // pin to this CPU, -1: no pinning
  int64_t cpu_kill_ms = 0;      // stop the run past this much CPU; 0: limits.cpu_time_ms
  Conversation* conversation = nullptr;
};

struct ExecOutcome {
  RunFacts facts;
  std::string stdout_data;
  std::string stderr_data;  // head and tail within limits.stderr_bytes
};

class Executor {
 public:
  Executor(Tier tier, const std::vector<sock_filter>* seccomp_filter)
      : tier_(tier), filter_(seccomp_filter) {}
  // Runs the specs at the same time. With `interactive`, when one side is killed for its
  // limits the other is killed too, and when the interactor (index 1) has finished the
  // solution gets 1 s more. Never throws; setup failures come back as kSetupError facts.
  std::vector<ExecOutcome> run(const std::vector<ExecSpec*>& specs, bool interactive);

  // A sandboxed process kept alive across dialogues (the LiveCodeBench zygote): started with
  // the spec's conversation, then given one conversation after another.
  class Persistent {
   public:
    ~Persistent();
    bool alive() const;
    // Runs `conv` until conv->finished() (true) or until the process ended (false; then
    // finish() gives the facts).
    bool converse(Conversation* conv);
    ExecOutcome finish();       // kills what is left and collects the outcome
    std::string take_stderr();  // what it wrote to stderr since the last call

   private:
    friend class Executor;
    Persistent() = default;
    std::unique_ptr<ExecSession> session_;
  };
  std::unique_ptr<Persistent> start_persistent(ExecSpec* spec);

 private:
  Tier tier_;
  const std::vector<sock_filter>* filter_;
};

}  // namespace v4eval::sandbox
