#pragma once
// Grading one LiveCodeBench generation in the sandbox (suites.md §1.4).
//
// Reference runner (default): our Python driver (lcb_driver.py) runs every test of the problem
// in one interpreter exactly as lcb_runner's testing_util does and reports the reference's
// result list and metadata; the sandbox bounds the whole run by the reference's global budget
// (timeout + 1) * tests + 5 seconds. Script runner (`runner=script`, stdin problems only): the
// program runs as a real script, one fresh process per test, with real stdin and the sandbox's
// CPU-time limit; functional problems always use the driver.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/status.h"
#include "harness/types.h"
#include "sandbox/sandbox.h"
#include "suites/livecodebench/lcb_data.h"

namespace v4eval::lcb {

struct GraderOptions {
  enum class Runner { kReference, kScript };
  Runner runner = Runner::kReference;
  int timeout_s = 6;       // per test, integer seconds (lcb_runner --timeout)
  bool cpu_clock = false;  // per-test alarm on CPU time (ITIMER_PROF) instead of wall
  int64_t memory_bytes = 4096ll << 20;
  int64_t stack_bytes = 8ll << 20;
};

// What the driver sends back (one "V4LCB <json>" line on its stderr).
struct DriverReport {
  bool died = false;  // a BaseException ended the run: the reference has no result
  std::string died_reason;
  std::vector<Json> results;       // true / false / -2 / -3 / -4, as the reference records
  Json metadata = Json::object();  // the reference's metadata dict
  struct Record {
    int64_t time_ms = 0;
    int64_t memory_kb = 0;  // peak RSS of the process after the test
  };
  std::vector<Record> records;  // per executed test, from the first reported one
  int64_t records_omitted = 0;  // leading tests whose records did not fit the report
  int64_t maxrss_kb = 0;
  std::vector<std::string> cut;  // metadata fields shortened to fit the report
};

// Finds and parses the last "V4LCB " line; nullopt when there is none or it is unreadable.
std::optional<DriverReport> parse_driver_report(std::string_view stderr_text);

// "T5a" -> [true x5, -2] (the driver's run-length code: T true, F false, a -2, b -3, c -4).
std::optional<std::vector<Json>> decode_results(std::string_view code);

// Python's truncatefn on a str: at most `length` code points, else the head and tail halves
// joined by "...(truncated) ...".
std::string truncate_like_reference(std::string_view utf8, size_t length = 300);

// The sandbox request that runs `code` against `tests` with the reference runner.
sandbox::JudgeRequest reference_request(std::string_view driver_source, const std::string& code,
                                        const std::optional<std::string>& fn_name,
                                        const std::vector<Test>& tests, const GraderOptions& o);

// The reference's global budget, in milliseconds: ((timeout + 1) * tests + 5) s.
int64_t global_budget_ms(int timeout_s, size_t n_tests);

// The import prelude every solution gets (testing_util's import_string).
std::string_view import_prelude();

struct GradeContext {
  const Problem* problem = nullptr;
  const std::vector<Test>* tests = nullptr;  // public then private
  size_t n_public = 0;
  std::string code;  // the extracted program
  GraderOptions options;
};

// Runs the generation and turns the sandbox's report into a Score. A sandbox failure (IE) is
// Unavailable: the attempt stays ungraded and is retried on resume.
Result<Score> grade_generation(sandbox::Sandbox& sandbox, std::string_view driver_source,
                               const GradeContext& ctx);

// The Score for a driver report (or its absence) and the sandbox's facts about the run;
// exposed for tests.
Score score_reference_run(const GradeContext& ctx, const sandbox::JudgeReport& judged,
                          const std::optional<DriverReport>& report);

}  // namespace v4eval::lcb
