#pragma once
// LiveCodeBench code generation (suites.md §1): official rows, prompts per model style,
// extract_code, grading through sandbox/ with lcb_runner's semantics, pass@k by difficulty.

#include <memory>
#include <string_view>
#include <vector>

#include "suites/suite.h"

namespace v4eval::lcb {

Result<std::unique_ptr<Suite>> make_livecodebench_suite(const Spec& spec);
SuiteDoc livecodebench_doc();

// The embedded grading driver (lcb_driver.py, byte-exact).
std::string_view driver_source();

// LiveCodeBench's ERRATA.md (@ 28fef95): problems with several valid outputs, interactive
// problems and erroneous tests, by question_id (AtCoder) or title slug (LeetCode). Kept in every
// metric, as the reference does; `@clean` metrics leave them out.
bool in_errata(std::string_view question_id, std::string_view question_title);

// pass@k for every k in `ks` that every problem can support (n >= k), overall and per group.
// (n, c) per problem; exposed for tests.
std::vector<Metric> pass_at_k_metrics(const std::string& suffix,
                                      const std::vector<std::pair<int64_t, int64_t>>& problems,
                                      const std::vector<int64_t>& ks);

}  // namespace v4eval::lcb
