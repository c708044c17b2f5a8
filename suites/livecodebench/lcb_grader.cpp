// Grading LiveCodeBench generations. Reference semantics: lcb_runner/evaluation/testing_util.py
// and compute_code_generation_metrics.py (LiveCodeBench @ 28fef95), restated in suites.md §1.4;
// the driver (lcb_driver.py) reproduces them inside the sandbox.

#include "suites/livecodebench/lcb_grader.h"

#include <algorithm>

#include "suites/text/utf8.h"

namespace v4eval::lcb {
namespace {

constexpr const char* kReportTag = "V4LCB ";
constexpr int64_t kReportBytes = 4000;  // the sandbox returns 4 KB of stderr whole

const char* const kImportPrelude =
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\n"
    "from random import *\nfrom statistics import *\nfrom itertools import *\n"
    "from functools import *\nfrom operator import *\nfrom io import *\nfrom sys import *\n"
    "from json import *\nfrom builtins import *\nfrom typing import *\nimport string\nimport re\n"
    "import datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\nimport math\n"
    "import random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n";

// What lcb_runner records when its worker process returns nothing (global timeout, crash,
// SystemExit escaping a functional test, os._exit): check_correctness builds a list of -1s but
// then indexes the empty metadata list, and evaluate_generations_by_problem's except clause
// keeps its initial result [-2] with this metadata.
Json no_result_metadata() {
  return {{"error", "IndexError('list index out of range')"},
          {"error_code", -5},
          {"error_message", "TestRunnerError"}};
}

std::string test_verdict(const Json& r) {
  if (r.is_boolean()) return r.get<bool>() ? "AC" : "WA";
  if (r.is_number_integer()) {
    switch (r.get<int>()) {
      case -2:
        return "WA";
      case -3:
        return "TLE";
      case -4:
        return "RE";
      case -1:
        return "TLE";
      default:
        break;
    }
  }
  return "WA";
}

bool all_true(const std::vector<Json>& results) {
  if (results.empty()) return false;
  for (const auto& r : results)
    if (!(r.is_boolean() && r.get<bool>())) return false;
  return true;
}

std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  size_t nl = text.rfind('\n');
  return std::string(nl == std::string_view::npos ? text : text.substr(nl + 1));
}

std::string clock_name(const GraderOptions& o) { return o.cpu_clock ? "cpu" : "wall"; }

Json base_details(const GradeContext& ctx) {
  const Problem& p = *ctx.problem;
  Json d = {{"code", ctx.code},
            {"empty_code", ctx.code.empty()},
            {"platform", p.platform},
            {"difficulty", p.difficulty},
            {"contest_date", p.contest_date},
            {"question_title", p.question_title},
            {"functional", p.fn_name.has_value()},
            {"n_tests", ctx.tests->size()},
            {"n_public", ctx.n_public}};
  return d;
}

void finish(Score& s, Json& d, const std::vector<Json>& results, const Json& metadata) {
  bool correct = all_true(results);
  s.value = correct ? 1.0 : 0.0;
  d["passed"] = correct;
  d["results"] = results;
  d["metadata"] = metadata;
  d["error_code"] = metadata.contains("error_code") ? metadata["error_code"] : Json();
  d["error_message"] = metadata.contains("error_message") ? metadata["error_message"] : Json();
  if (correct) {
    s.verdict = "AC";
  } else {
    int code = metadata.value("error_code", 0);
    std::string msg = metadata.value("error_message", "");
    if (code == -2)
      s.verdict = "WA";
    else if (code == -3)
      s.verdict = "TLE";
    else if (code == -4)
      s.verdict = msg.rfind("Error during testing", 0) == 0 ? "CE" : "RE";
    else if (code == -5)
      s.verdict = d.value("cause_kind", "") == "global_timeout" ? "TLE" : "RE";
    else
      s.verdict = "WA";
  }
  s.details = std::move(d);
}

}  // namespace

std::string_view import_prelude() { return kImportPrelude; }

std::string truncate_like_reference(std::string_view utf8, size_t length) {
  std::u32string cps = text::utf8_to_code_points(utf8);
  if (cps.size() <= length) return std::string(utf8);
  size_t half = length / 2;
  return text::code_points_to_utf8(cps.substr(0, half)) + "...(truncated) ..." +
         text::code_points_to_utf8(cps.substr(cps.size() - half));
}

int64_t global_budget_ms(int timeout_s, size_t n_tests) {
  return (int64_t(timeout_s + 1) * int64_t(n_tests) + 5) * 1000;
}

std::optional<std::vector<Json>> decode_results(std::string_view code) {
  std::vector<Json> out;
  size_t i = 0;
  while (i < code.size()) {
    char c = code[i++];
    Json v;
    switch (c) {
      case 'T':
        v = true;
        break;
      case 'F':
        v = false;
        break;
      case 'a':
        v = -2;
        break;
      case 'b':
        v = -3;
        break;
      case 'c':
        v = -4;
        break;
      default:
        return std::nullopt;
    }
    size_t n = 0;
    bool counted = false;
    while (i < code.size() && code[i] >= '0' && code[i] <= '9') {
      n = n * 10 + size_t(code[i++] - '0');
      counted = true;
      if (n > 100000000) return std::nullopt;
    }
    if (!counted) n = 1;
    out.insert(out.end(), n, v);
  }
  return out;
}

std::optional<DriverReport> parse_driver_report(std::string_view err) {
  size_t at = std::string_view::npos;
  for (size_t p = err.find(kReportTag); p != std::string_view::npos;
       p = err.find(kReportTag, p + 1))
    if (p == 0 || err[p - 1] == '\n') at = p;
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view line = err.substr(at + std::string_view(kReportTag).size());
  line = line.substr(0, line.find('\n'));
  Json j;
  try {
    j = Json::parse(line);
  } catch (const Json::parse_error&) {
    return std::nullopt;
  }
  if (!j.is_object()) return std::nullopt;
  DriverReport r;
  if (j.contains("died")) {
    r.died = true;
    r.died_reason = j["died"].is_string() ? j["died"].get<std::string>() : j["died"].dump();
  } else {
    if (!j.contains("results") || !j["results"].is_string()) return std::nullopt;
    auto results = decode_results(j["results"].get<std::string>());
    if (!results) return std::nullopt;
    r.results = std::move(*results);
    if (j.contains("metadata") && j["metadata"].is_object()) r.metadata = j["metadata"];
  }
  if (j.contains("tests") && j["tests"].is_string()) {
    const std::string& t = j["tests"].get_ref<const std::string&>();
    int64_t kb = 0;
    size_t pos = 0;
    while (pos < t.size()) {
      size_t comma = t.find(',', pos);
      std::string item =
          t.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      size_t slash = item.find('/');
      try {
        DriverReport::Record rec;
        rec.time_ms = std::stoll(item.substr(0, slash));
        if (slash != std::string::npos) kb = std::stoll(item.substr(slash + 1));
        rec.memory_kb = kb;
        r.records.push_back(rec);
      } catch (const std::exception&) {
        return std::nullopt;
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  r.records_omitted = j.value("tests_omitted", int64_t(0));
  r.maxrss_kb = j.value("maxrss_kb", int64_t(0));
  if (j.contains("cut") && j["cut"].is_array())
    for (const auto& c : j["cut"])
      if (c.is_string()) r.cut.push_back(c.get<std::string>());
  return r;
}

sandbox::JudgeRequest reference_request(std::string_view driver_source, const std::string& code,
                                        const std::optional<std::string>& fn_name,
                                        const std::vector<Test>& tests, const GraderOptions& o) {
  Json inputs = Json::array(), outputs = Json::array();
  for (const auto& t : tests) {
    inputs.push_back(t.input);
    outputs.push_back(t.output);
  }
  Json job = {{"code", code},
              {"fn_name", fn_name ? Json(*fn_name) : Json()},
              {"inputs", std::move(inputs)},
              {"outputs", std::move(outputs)},
              {"timeout", o.timeout_s},
              {"clock", clock_name(o)},
              {"report_bytes", kReportBytes}};
  sandbox::JudgeRequest req;
  req.solution.language = "python";
  req.solution.source = std::string(driver_source);
  // Invalid UTF-8 in a generation must not abort grading: replace it, as Python would decode it.
  req.tests.push_back({job.dump(-1, ' ', false, Json::error_handler_t::replace), ""});
  int64_t budget = global_budget_ms(o.timeout_s, tests.size());
  req.limits.wall_time_ms = budget;
  req.limits.cpu_time_ms = budget;
  req.limits.memory_bytes = o.memory_bytes;
  req.limits.stack_bytes = o.stack_bytes;
  req.compare.kind = sandbox::CompareMode::kExact;  // fds 1 and 2 are /dev/null: nothing to compare
  req.stop_at_first_failure = true;
  return req;
}

Score score_reference_run(const GradeContext& ctx, const sandbox::JudgeReport& judged,
                          const std::optional<DriverReport>& report) {
  Score s;
  Json d = base_details(ctx);
  const sandbox::TestReport* run = judged.tests.empty() ? nullptr : &judged.tests.front();
  int64_t budget = global_budget_ms(ctx.options.timeout_s, ctx.tests->size());
  d["run"] = {{"runner", "reference"},
              {"timeout_s", ctx.options.timeout_s},
              {"clock", clock_name(ctx.options)},
              {"global_budget_ms", budget},
              {"memory_limit_mb", ctx.options.memory_bytes >> 20},
              {"sandbox_verdict", run ? std::string(sandbox::verdict_code(run->verdict)) : ""},
              {"cpu_ms", run ? run->cpu_ms : 0},
              {"wall_ms", run ? run->wall_ms : 0},
              {"memory_kb", run ? run->memory_kb : 0}};

  std::vector<Json> results;
  Json metadata;
  bool per_test = false;
  if (report && !report->died) {
    results = report->results;
    metadata = report->metadata;
    std::string msg = metadata.value("error_message", "");
    per_test = msg.rfind("Error during testing", 0) != 0;
    if (!report->cut.empty()) d["report_cut"] = report->cut;
  } else {
    results = {Json(-2)};
    metadata = no_result_metadata();
    std::string cause, kind = "died";
    if (report && report->died) {
      cause = "the program ended the grading process (" + report->died_reason +
              "); lcb_runner's worker returns no result then";
    } else if (run && run->verdict == sandbox::Verdict::kTimeLimit) {
      kind = "global_timeout";
      cause = "global timeout: no result within (timeout + 1) * tests + 5 = " +
              std::to_string(budget / 1000) + " s (the reference's -1 case)";
    } else if (run && run->verdict == sandbox::Verdict::kMemoryLimit) {
      kind = "memory_limit";
      cause = "killed at the memory limit (" + std::to_string(ctx.options.memory_bytes >> 20) +
              " MB; the reference sets none): no result";
    } else if (run && run->verdict == sandbox::Verdict::kAccepted) {
      cause =
          "the program ended the grading process with exit status 0 before any result "
          "(os._exit, or it closed the report channel): lcb_runner's worker returns no result then";
    } else if (run) {
      cause = "the grading process ended without a result (" +
              std::string(sandbox::verdict_code(run->verdict)) +
              (run->detail.empty() ? "" : ": " + run->detail) + ")";
    } else {
      cause = "the sandbox ran nothing";
    }
    d["cause"] = cause;
    d["cause_kind"] = kind;
  }

  Json tests = Json::array();
  if (per_test) {
    int64_t omitted = report ? report->records_omitted : 0;
    for (size_t i = 0; i < results.size(); ++i) {
      Json t = {{"index", i}, {"public", i < ctx.n_public}, {"verdict", test_verdict(results[i])}};
      int64_t r = int64_t(i) - omitted;
      if (report && r >= 0 && r < int64_t(report->records.size())) {
        t["time_ms"] = report->records[size_t(r)].time_ms;
        t["memory_kb"] = report->records[size_t(r)].memory_kb;
      }
      tests.push_back(std::move(t));
    }
  }
  d["tests"] = std::move(tests);
  d["tests_run"] = per_test ? results.size() : 0;
  finish(s, d, results, metadata);
  return s;
}

namespace {

Result<Score> grade_script(sandbox::Sandbox& sb, const GradeContext& ctx) {
  Score s;
  Json d = base_details(ctx);
  const GraderOptions& o = ctx.options;
  d["run"] = {{"runner", "script"},
              {"timeout_s", o.timeout_s},
              {"clock", "cpu"},
              {"memory_limit_mb", o.memory_bytes >> 20}};
  if (ctx.code.find_first_not_of(" \t\r\n") == std::string::npos) {
    d["tests"] = Json::array();
    d["tests_run"] = 0;
    finish(s, d, {Json(-4)},
           {{"error_code", -4}, {"error_message", "Error during testing: no code extracted"}});
    return s;
  }
  sandbox::JudgeRequest req;
  req.solution.language = "python";
  req.solution.source = std::string(kImportPrelude) + "\n" + ctx.code;
  for (const auto& t : *ctx.tests) req.tests.push_back({t.input, t.output});
  req.limits.cpu_time_ms = int64_t(o.timeout_s) * 1000;
  req.limits.memory_bytes = o.memory_bytes;
  req.limits.stack_bytes = o.stack_bytes;
  req.compare.kind = sandbox::CompareMode::kLcb;
  req.stop_at_first_failure = true;
  sandbox::JudgeReport judged = sb.judge(req);
  if (judged.verdict == sandbox::Verdict::kInternalError)
    return Unavailable("livecodebench: sandbox internal error: " + judged.detail);

  std::vector<Json> results;
  Json metadata = {{"execution time", 0.0}};
  Json tests = Json::array();
  double total_s = 0;
  for (size_t i = 0; i < judged.tests.size(); ++i) {
    const auto& t = judged.tests[i];
    if (t.verdict == sandbox::Verdict::kSkipped) break;
    const Test& test = (*ctx.tests)[i];
    Json r;
    switch (t.verdict) {
      case sandbox::Verdict::kAccepted:
        r = true;
        break;
      case sandbox::Verdict::kWrongAnswer:
        r = -2;
        break;
      case sandbox::Verdict::kTimeLimit:
        r = -3;
        break;
      default:
        r = -4;
        break;
    }
    std::string err = last_line(t.stderr_text);
    bool syntax = i == 0 && t.verdict == sandbox::Verdict::kRuntimeError &&
                  (err.rfind("SyntaxError", 0) == 0 || err.rfind("IndentationError", 0) == 0 ||
                   err.rfind("TabError", 0) == 0);
    if (syntax) {
      results = {Json(-4)};
      metadata = {{"error_code", -4}, {"error_message", "Error during testing: " + err}};
      tests = Json::array();
      break;
    }
    results.push_back(r);
    tests.push_back({{"index", i},
                     {"public", i < ctx.n_public},
                     {"verdict", test_verdict(r)},
                     {"time_ms", t.cpu_ms},
                     {"wall_ms", t.wall_ms},
                     {"memory_kb", t.memory_kb}});
    total_s += double(t.wall_ms) / 1000.0;
    if (r.is_boolean()) continue;
    metadata = {{"error_code", r.get<int>()},
                {"inputs", truncate_like_reference(test.input)},
                {"expected", truncate_like_reference(test.output)}};
    if (r == -2) {
      metadata["error_message"] = "Wrong answer: " + t.detail;
    } else if (r == -3) {
      metadata["error"] = "time limit (" + t.detail + ")";
      metadata["error_message"] = "Time Limit Exceeded";
    } else {
      metadata["error"] = std::string(sandbox::verdict_code(t.verdict)) +
                          (t.detail.empty() ? "" : " " + t.detail) +
                          (err.empty() ? "" : ": " + err);
      metadata["error_message"] = "Runtime Error";
    }
    break;
  }
  if (all_true(results) && results.size() == ctx.tests->size())
    metadata = {{"execution time", total_s}};
  d["tests"] = std::move(tests);
  d["tests_run"] = results.size();
  finish(s, d, results, metadata);
  return s;
}

}  // namespace

Result<Score> grade_generation(sandbox::Sandbox& sb, std::string_view driver_source,
                               const GradeContext& ctx) {
  if (ctx.options.runner == GraderOptions::Runner::kScript && !ctx.problem->fn_name)
    return grade_script(sb, ctx);
  sandbox::JudgeRequest req =
      reference_request(driver_source, ctx.code, ctx.problem->fn_name, *ctx.tests, ctx.options);
  sandbox::JudgeReport judged = sb.judge(req);
  if (judged.verdict == sandbox::Verdict::kInternalError ||
      (!judged.tests.empty() && judged.tests.front().verdict == sandbox::Verdict::kInternalError))
    return Unavailable("livecodebench: sandbox internal error: " +
                       (judged.detail.empty() && !judged.tests.empty() ? judged.tests.front().detail
                                                                       : judged.detail));
  std::optional<DriverReport> report;
  if (!judged.tests.empty()) report = parse_driver_report(judged.tests.front().stderr_text);
  // No report although the process exited: the program ended it (os._exit, closed fds), as it
  // can end lcb_runner's worker; score_reference_run records the reference's no-result outcome.
  return score_reference_run(ctx, judged, report);
}

}  // namespace v4eval::lcb
