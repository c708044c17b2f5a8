// `v4eval judge`: one program against a list of tests, in the sandbox (cli.md).

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/types.h"
#include "sandbox/sandbox.h"

namespace v4eval::cli {
namespace {

constexpr int kExitSandboxUnavailable = 4;  // cli.md: the sandbox itself could not be set up

Result<std::string> read_text(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument(flag + " " + path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A checker or interactor source; headers beside it (testlib.h, ...) come along.
Result<sandbox::Program> read_program(const std::string& path, const std::string& flag) {
  auto text = read_text(path, flag);
  if (!text.ok()) return text.status();
  sandbox::Program p;
  p.language = (path.size() > 3 && path.substr(path.size() - 3) == ".py") ? "python" : "cpp";
  p.source = std::move(*text);
  if (p.language == "cpp") {
    std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    std::error_code ec;
    size_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".h" && ext != ".hpp" && ext != ".hh")) continue;
      auto h = read_text(e.path().string(), flag);
      if (!h.ok()) return h.status();
      total += h->size();
      if (total > (16u << 20)) return InvalidArgument(flag + ": headers beside it exceed 16 MB");
      p.headers.push_back({name, std::move(*h)});
    }
  }
  return p;
}

Json compile_json(const sandbox::CompileReport& c) {
  return {{"ok", c.verdict == sandbox::Verdict::kAccepted},
          {"verdict", std::string(sandbox::verdict_code(c.verdict))},
          {"log", c.log},
          {"cached", c.cached},
          {"cpu_ms", c.cpu_ms},
          {"wall_ms", c.wall_ms},
          {"memory_kb", c.memory_kb}};
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
}

Json tier_json(const sandbox::TierReport& t) {
  return {{"tier", std::string(sandbox::tier_name(t.tier))},
          {"cgroup", t.cgroup},
          {"memory_limit", t.memory_limit},
          {"cpu_time", t.cpu_time},
          {"process_limit", t.process_limit},
          {"namespaces",
           {{"user", t.user_ns}, {"pid", t.pid_ns}, {"mount", t.mount_ns}, {"net", t.net_ns}}},
          {"seccomp", t.seccomp},
          {"landlock", t.landlock},
          {"uid_per_cell", t.cell_uid},
          {"kernel", t.kernel},
          {"notes", t.notes}};
}

}  // namespace

int cmd_judge(const Argv& argv) {
  Args args(
      "judge",
      "--lang cpp|python [--source FILE] --tests FILE.json [--checker FILE] "
      "[--interactor FILE] [--compare MODE] [--time-limit-ms N] [--memory-limit-mb N] [--json]",
      {{"lang", "LANG",
        "cpp (g++ -O2 -std=c++17, static, as Codeforces) or python (/usr/bin/python3)"},
       {"source", "FILE", "the program (default: standard input)"},
       {"tests", "FILE", "JSON list of {\"input\": ..., \"output\": ...}"},
       {"checker", "FILE",
        "testlib-style checker source (checker input output answer); .h files beside it come "
        "along"},
       {"interactor", "FILE", "testlib-style interactor source (interactor input tout answer)"},
       {"compare", "MODE", "exact, lines, tokens (default), line-tokens, float[:EPS], lcb, yesno"},
       {"time-limit-ms", "N", "CPU time per test (default 2000)"},
       {"wall-limit-ms", "N", "wall-clock backstop per test (default 2 x CPU + 1000)"},
       {"memory-limit-mb", "N", "memory per test (default 256)"},
       {"output-limit-mb", "N", "stdout per test, more is OLE (default 64)"},
       {"max-processes", "N", "processes and threads per test (default 64)"},
       {"compile-time-limit-ms", "N", "CPU time for each compilation (default 10000)"},
       {"all-tests", "", "run every test (default: stop at the first failure)"},
       {"lcb", "",
        "LiveCodeBench semantics (Python): all tests in one interpreter with the reference's "
        "prelude and mocked stdin; compare lcb"},
       {"lcb-function", "NAME",
        "LiveCodeBench call-based problem: call NAME (of class Solution) with one JSON argument "
        "per input line; compare lcb-call"},
       {"sandbox", "TIER", "auto (default: full, else userns, else refuse), full, userns, weak"},
       {"json", "", "print the result as one JSON object on stdout"}});
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  if (!args.positional().empty())
    return fail("judge: unexpected argument '" + args.positional()[0] + "'", kExitBadInput);

  sandbox::JudgeRequest req;
  auto lang = args.get("lang");
  if (!lang) return fail("judge: --lang is required (cpp or python)", kExitBadInput);
  const sandbox::LanguageProfile* profile = sandbox::find_language(*lang);
  if (!profile) return fail("judge: unknown language '" + *lang + "' (cpp, python)", kExitBadInput);
  req.solution.language = profile->name;
  if (auto src = args.get("source")) {
    auto text = read_text(*src, "--source");
    if (!text.ok()) return fail(text.status().message(), kExitBadInput);
    req.solution.source = std::move(*text);
  } else {
    req.solution.source.assign(std::istreambuf_iterator<char>(std::cin), {});
  }

  auto tests_path = args.get("tests");
  if (!tests_path) return fail("judge: --tests FILE.json is required", kExitBadInput);
  auto tests_text = read_text(*tests_path, "--tests");
  if (!tests_text.ok()) return fail(tests_text.status().message(), kExitBadInput);
  Json tests;
  try {
    tests = Json::parse(*tests_text);
  } catch (const Json::parse_error& e) {
    return fail("--tests " + *tests_path + ": malformed JSON: " + e.what(), kExitBadInput);
  }
  if (!tests.is_array())
    return fail("--tests " + *tests_path + ": expected a JSON list of tests", kExitBadInput);
  for (size_t i = 0; i < tests.size(); ++i) {
    const Json& t = tests[i];
    if (!t.is_object() || !t.contains("input") || !t["input"].is_string() ||
        (t.contains("output") && !t["output"].is_string()))
      return fail("--tests " + *tests_path + ": test " + std::to_string(i + 1) +
                      " must be {\"input\": string, \"output\": string}",
                  kExitBadInput);
    req.tests.push_back({t["input"].get<std::string>(), t.value("output", std::string())});
  }

  if (auto mode = args.get("compare")) {
    auto m = sandbox::parse_compare_mode(*mode);
    if (!m.ok()) return fail("--compare: " + m.status().message(), kExitBadInput);
    req.compare = *m;
  }
  for (auto [flag, target] :
       {std::pair{"checker", &req.checker}, {"interactor", &req.interactor}}) {
    if (auto path = args.get(flag)) {
      auto p = read_program(*path, std::string("--") + flag);
      if (!p.ok()) return fail(p.status().message(), kExitBadInput);
      *target = std::move(*p);
    }
  }
  auto time_ms = args.get_int("time-limit-ms", 2000, 1);
  auto wall_ms = args.get_int("wall-limit-ms", 0, 0);
  auto memory_mb = args.get_int("memory-limit-mb", 256, 8);
  auto output_mb = args.get_int("output-limit-mb", 64, 1);
  auto procs = args.get_int("max-processes", 64, 1);
  auto compile_ms = args.get_int("compile-time-limit-ms", 10000, 100);
  for (const auto* r : {&time_ms, &wall_ms, &memory_mb, &output_mb, &procs, &compile_ms})
    if (!r->ok()) return fail(r->status().message(), kExitBadInput);
  req.limits.cpu_time_ms = *time_ms;
  req.limits.wall_time_ms = *wall_ms;
  req.limits.memory_bytes = *memory_mb << 20;
  req.limits.stdout_bytes = *output_mb << 20;
  req.limits.max_processes = static_cast<int32_t>(std::min<int64_t>(*procs, 4096));
  req.compile_cpu_time_ms = *compile_ms;
  req.stop_at_first_failure = !args.has("all-tests");
  if (auto fn = args.get("lcb-function")) {
    req.run_mode = sandbox::RunMode::kLcbCall;
    req.function_name = *fn;
    req.compare.kind = sandbox::CompareMode::kLcbCall;
  } else if (args.has("lcb")) {
    req.run_mode = sandbox::RunMode::kLcbStdin;
    req.compare.kind = sandbox::CompareMode::kLcb;
  }
  if (req.run_mode != sandbox::RunMode::kProcessPerTest &&
      (profile->name != "python" || req.checker || req.interactor))
    return fail("judge: --lcb/--lcb-function take --lang python and no checker or interactor",
                kExitBadInput);

  sandbox::SandboxOptions options;
  options.slots = 1;  // one submission: its tests run back to back on one slot
  if (auto t = args.get("sandbox")) {
    auto choice = sandbox::parse_tier_choice(*t);
    if (!choice.ok()) return fail("--sandbox: " + choice.status().message(), kExitBadInput);
    options.tier = *choice;
  }
  auto box = sandbox::Sandbox::start(options);
  if (!box.ok()) return fail(box.status().message(), kExitSandboxUnavailable);
  sandbox::JudgeReport rep = (*box)->judge(req);
  sandbox::TierReport tier = (*box)->tier();
  int launcher_pid = (*box)->launcher_pid();
  box.value().reset();  // stop the launcher now: everything it made is removed

  if (args.has("json")) {
    Json out = {{"verdict", std::string(sandbox::verdict_code(rep.verdict))},
                {"detail", rep.detail},
                {"compile", compile_json(rep.compile)},
                {"tests", Json::array()},
                {"sandbox", tier_json(tier)},
                {"limits",
                 {{"time_limit_ms", req.limits.cpu_time_ms},
                  {"wall_limit_ms", req.limits.effective_wall_ms()},
                  {"memory_limit_mb", req.limits.memory_bytes >> 20},
                  {"output_limit_mb", req.limits.stdout_bytes >> 20},
                  {"max_processes", req.limits.max_processes},
                  {"compare", req.checker ? "checker" : sandbox::compare_mode_name(req.compare)}}},
                {"internal_retries", rep.internal_retries}};
    out["sandbox"]["launcher_pid"] = launcher_pid;  // its cgroups are named v4eval-<pid>
    if (rep.checker_compile) out["checker_compile"] = compile_json(*rep.checker_compile);
    if (rep.interactor_compile) out["interactor_compile"] = compile_json(*rep.interactor_compile);
    for (const auto& t : rep.tests) {
      Json j = {{"verdict", std::string(sandbox::verdict_code(t.verdict))},
                {"detail", t.detail},
                {"cpu_ms", t.cpu_ms},
                {"wall_ms", t.wall_ms},
                {"memory_kb", t.memory_kb},
                {"exit_code", t.exit_code ? Json(*t.exit_code) : Json(nullptr)},
                {"signal", t.signal ? Json(signal_name(t.signal)) : Json(nullptr)},
                {"stderr", t.stderr_text},
                {"attempts", t.attempts}};
      if (!t.checker_message.empty()) j["checker_message"] = t.checker_message;
      out["tests"].push_back(std::move(j));
    }
    std::printf("%s\n", out.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  std::printf("verdict: %s%s\n", std::string(sandbox::verdict_code(rep.verdict)).c_str(),
              rep.detail.empty() ? "" : (" (" + rep.detail + ")").c_str());
  std::printf("sandbox: %s\n", tier.summary().c_str());
  std::printf("compile: %s%s\n", std::string(sandbox::verdict_code(rep.compile.verdict)).c_str(),
              rep.compile.cached ? " (cached)" : "");
  if (rep.compile.verdict != sandbox::Verdict::kAccepted && !rep.compile.log.empty())
    std::printf("%s\n", rep.compile.log.c_str());
  for (size_t i = 0; i < rep.tests.size(); ++i) {
    const auto& t = rep.tests[i];
    std::printf("test %zu: %-7s cpu %5lld ms  wall %5lld ms  memory %7lld KB%s%s\n", i + 1,
                std::string(sandbox::verdict_code(t.verdict)).c_str(),
                static_cast<long long>(t.cpu_ms), static_cast<long long>(t.wall_ms),
                static_cast<long long>(t.memory_kb), t.detail.empty() ? "" : "  ",
                t.detail.c_str());
  }
  return kExitOk;
}

}  // namespace v4eval::cli
