// v4eval: the command line entry point. Exceptions stop here and become one message and an
// exit code; everything below reports expected failures as values.

#include <cstdio>
#include <exception>
#include <string>

#include "harness/cli/commands.h"

namespace {

const char* kUsage = R"(v4eval — evaluation harness for DeepSeek-V4-generation models

usage: v4eval <command> [flags]     (v4eval <command> --help for its flags)

commands:
  run        evaluate suites against a backend, in one or more modes; resumable
  report     aggregate runs: --json FILE (metrics), --samples (per-sample rows),
             --html FILE (self-contained report: transcripts, filters, diffs, plots)
  compare    two runs (or --modes M1,M2 of one run), paired per sample, with significance
  gate       CI regression check against a baseline run or expected values; --junit FILE
  merge      join the SQLite files written by `run --shard I/N` into one
  suites     list suites, versions, options, metrics and the data they need
  show       one attempt in full: prompt, reasoning, answer, grading details
  judge      compile and run one program on tests in the sandbox; verdicts, timings, memory
  serve      serve a backend over gRPC (--grpc ADDR) and OpenAI-compatible HTTP (--http ADDR)
  gen-mrcr   write synthetic MRCR-format rows (and a matching replay file)
  gen-corpusqa  write synthetic CorpusQA-format rows (and replay files)
  v4         the built-in DeepSeek-V4 engine: tokenize, make-tiny (v4eval v4 --help)

  --version  print version and git revision
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace v4eval::cli;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitBadInput;
  }
  std::string command = argv[1];
  Argv rest(argv + 2, argv + argc);
  try {
    if (command == "--version" || command == "version") {
      std::printf("%s\n", version_string().c_str());
      return kExitOk;
    }
    if (command == "--help" || command == "-h" || command == "help") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (command == "run") return cmd_run(rest);
    if (command == "report") return cmd_report(rest);
    if (command == "suites") return cmd_suites(rest);
    if (command == "show") return cmd_show(rest);
    if (command == "judge") return cmd_judge(rest);
    if (command == "serve") return cmd_serve(rest);
    if (command == "gen-mrcr") return cmd_gen_mrcr(rest);
    if (command == "compare") return cmd_compare(rest);
    if (command == "gate") return cmd_gate(rest);
    if (command == "merge") return cmd_merge(rest);
    if (command == "gen-corpusqa") return cmd_gen_corpusqa(rest);
    if (command == "v4") return cmd_v4(rest);
    return fail("unknown command '" + command + "' (see v4eval --help)", kExitBadInput);
  } catch (const std::exception& e) {
    return fail(std::string("internal error: ") + e.what(), kExitFailure);
  }
}
