#pragma once
// OpenAI MRCR (multi-round coreference resolution), suites.md §5.

#include <memory>
#include <string>
#include <string_view>

#include "suites/suite.h"

namespace v4eval::mrcr {

// The official grader (openai/mrcr README, `grade`): 0 unless `response` starts with `prefix`
// (byte-exact, no stripping); else difflib.SequenceMatcher(None, response, answer).ratio() with
// the prefix removed from both, over Unicode code points.
double grade_response(std::string_view response, std::string_view answer, std::string_view prefix);

// The bin label of a token count: "8k" for [4096, 8192], "16k" for (8192, 16384], ..., "1m" for
// (524288, 1048576]; "<4k" and ">1m" outside the official range.
std::string bin_label(int64_t tokens);

Result<std::unique_ptr<Suite>> make_mrcr_suite(const Spec& spec);
SuiteDoc mrcr_doc();

}  // namespace v4eval::mrcr
