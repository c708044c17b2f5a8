#pragma once
// The `v4eval` subcommands (cli.md). Each takes the arguments after its name and returns the
// process exit code.

#include <string>
#include <vector>

namespace v4eval::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,        // unexpected (internal) failure
  kExitBadInput = 2,       // bad arguments or input data: nothing run
  kExitAttemptsFailed = 3, // some attempts failed after retries (stored as errors)
  kExitRegression = 1,     // gate: a metric regressed
  kExitNotComparable = 3,  // compare/gate/merge: the runs are not comparable
  kExitInterrupted = 130,
};

using Argv = std::vector<std::string>;
int cmd_run(const Argv& args);
int cmd_report(const Argv& args);
int cmd_suites(const Argv& args);
int cmd_show(const Argv& args);
int cmd_judge(const Argv& args);
int cmd_gen_mrcr(const Argv& args);
int cmd_serve(const Argv& args);
int cmd_compare(const Argv& args);
int cmd_gate(const Argv& args);
int cmd_merge(const Argv& args);
int cmd_gen_corpusqa(const Argv& args);
int cmd_v4(const Argv& args);

// Prints "v4eval: <message>" to stderr and returns the exit code for the status.
int fail(const std::string& message, int code);

std::string version_string();

}  // namespace v4eval::cli
