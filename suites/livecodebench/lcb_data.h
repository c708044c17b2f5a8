#pragma once
// LiveCodeBench `code_generation_lite` rows (suites.md §1.1): reading the official JSONL files,
// release versions, date windows, and the tests of one problem (public, then private).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval::lcb {

struct Test {
  std::string input;
  std::string output;
};

// One problem as the loader keeps it: everything but the private tests, which are decoded on
// demand (a single problem's can reach ~200 MB).
struct Problem {
  std::string question_id;
  std::string question_title;
  std::string question_content;
  std::string platform;  // leetcode | atcoder | codeforces
  std::string contest_id;
  std::string contest_date;  // as in the row, e.g. 2023-08-21T00:00:00
  std::string starter_code;
  std::string difficulty;              // easy | medium | hard
  std::optional<std::string> fn_name;  // metadata.func_name: functional (LeetCode) problems
  std::vector<Test> public_tests;
  bool has_private_tests = false;
  // Where the row is, to re-read its private tests.
  std::string file;
  uint64_t offset = 0;
  uint64_t length = 0;
  int64_t line = 0;
};

// The official files a release tag selects from a directory holding test.jsonl, test2.jsonl...
// (the HF loading script's mapping): release_v1 = test.jsonl; release_vN = test.jsonl ..
// testN.jsonl; release_latest = every test*.jsonl; vN = the N-th increment only (v1 =
// test.jsonl); vA_vB = increments A..B. InvalidArgument for an unknown tag.
Result<std::vector<std::string>> release_files(const std::string& dir, const std::string& tag);

// "YYYY-MM-DD" -> the naive datetime text "YYYY-MM-DDT00:00:00" it compares as.
Result<std::string> parse_day(std::string_view day, const std::string& option);

// A row's contest_date as a comparable "YYYY-MM-DDTHH:MM:SS" (datetime.fromisoformat forms:
// date only, 'T' or ' ' separator, optional seconds and fraction).
std::optional<std::string> normalize_datetime(std::string_view text);

struct Filter {
  std::optional<std::string> start, end;  // normalized, inclusive (compute_scores' rule)
  std::vector<std::string> platforms;     // empty: all
  std::vector<std::string> difficulties;  // empty: all
  bool keep(const Problem& p) const;
};

// Parses one row (a JSON object). `where` prefixes errors ("file:line: "). Private tests are
// not decoded; `has_private_tests` says whether the row has any.
Result<Problem> parse_row(const Json& row, const std::string& where);

// A tests field (public_test_cases, or the decoded private JSON text) -> tests in order.
Result<std::vector<Test>> parse_tests(std::string_view json_text, const std::string& what);

// Reads the row of `p` again and decodes its private tests.
Result<std::vector<Test>> load_private_tests(const Problem& p);

}  // namespace v4eval::lcb
