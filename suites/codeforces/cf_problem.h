#pragma once
// Codeforces-style problems: one format for everything the suite judges offline, and loaders
// for the public data that exists (suites.md §2.3, shared/data/SOURCES.md):
//   - `v4eval`      our own JSONL format, one problem per line (below; the only one that can
//                   carry checker / interactor sources and contest metadata for every field);
//   - `codeelo`     CodeElo problem records (problem_id, title, rating, div, limits, description,
//                   input, output, interaction, examples, note), e.g.
//                   codeelo_special_judge_problems.json;
//   - `codecontests` DeepMind CodeContests rows as rLLM reformatted them ({problem: statement
//                   ending in "Time Limit: {'seconds': N, 'nanos': 0}" / "Memory Limit: N Bytes",
//                   tests: {input: [...], output: [...]}});
//   - `codeforces-examples` rLLM's Codeforces rows ({problem: statement with "Input Format:",
//                   "Output Format:", "Tags:", "Time Limit: N ms", "Memory Limit: N MB", tests:
//                   [{input, output}]} — statement examples only).
//
// The v4eval format (JSON object per line; only id, statement and tests are required):
//   {"id": "2035C", "contest_id": "2035", "index": "C", "title": "...", "statement": "...",
//    "time_limit_ms": 2000, "memory_limit_mb": 256, "tests": [{"input": "...", "output": "..."}],
//    "compare": "tokens" | "line-tokens" | "lines" | "exact" | "float:1e-6" | "yesno",
//    "checker": "<testlib-style C++ source>", "interactor": "<source>",
//    "multiple_answers": false, "interactive": false, "rating": 1400, "division": "Div. 2",
//    "tags": ["math"]}

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval::cf {

struct Test {
  std::string input;
  std::string output;
};

struct Problem {
  std::string id;      // unique within the suite: "2035C", or "cc-<hash>" when the data has none
  std::string source;  // loader: v4eval | codeelo | codecontests | codeforces-examples
  std::string contest_id;  // "2035" ("" when unknown: no rating for this problem)
  std::string index;       // "C"
  std::string title;
  std::string statement;  // what the model is shown after the instruction (HTML or text)
  int64_t time_limit_ms = 2000;
  int64_t memory_limit_bytes = 256ll << 20;
  std::vector<Test> tests;
  std::string compare = "tokens";      // sandbox comparison mode when there is no checker
  std::optional<std::string> checker;  // C++ source, testlib interface
  std::optional<std::string> interactor;
  bool multiple_answers = false;  // the statement accepts any of several answers
  bool interactive = false;
  std::optional<int> rating;
  std::string division;
  std::vector<std::string> tags;
};

// "auto" looks at the first record: an object with problem_id -> codeelo; with "problem" and a
// "tests" object -> codecontests, a "tests" list -> codeforces-examples; a JSONL file -> v4eval.
Result<std::vector<Problem>> load_problems(const std::string& path, const std::string& format);

// CodeElo's make_html_problem: <html><body><h1>{title}</h1><div>{first section}</div>
// <h2>{title_i}</h2><div>{section_i}</div>...</body></html>, sections inserted as they are.
std::string codeelo_html(const std::string& title,
                         const std::vector<std::pair<std::string, std::string>>& sections);

// Reads the statement's own words: "absolute or relative error ... 10^{-k}" -> "float:1e-k";
// "YES"/"NO" "in any case" -> "yesno"; otherwise "tokens" (testlib wcmp, Codeforces' default).
std::string compare_mode_from_statement(const std::string& statement);
bool statement_allows_multiple_answers(const std::string& statement);
bool statement_is_interactive(const std::string& statement);

}  // namespace v4eval::cf
