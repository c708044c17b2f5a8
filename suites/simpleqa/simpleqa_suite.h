#pragma once
// SimpleQA (openai/simple-evals) and Chinese SimpleQA (OpenStellarTeam/ChineseSimpleQA):
// short factual questions graded A/B/C by a pinned LLM judge (suites.md §3, §4).

#include <memory>
#include <string_view>

#include "suites/suite.h"

namespace v4eval::simpleqa {

// The official parse: the first match of regex (A|B|C) anywhere in the judge's text, else "C".
char grade_letter(std::string_view judge_text);

Result<std::unique_ptr<Suite>> make_simpleqa_suite(const Spec& spec);
Result<std::unique_ptr<Suite>> make_chinese_simpleqa_suite(const Spec& spec);
SuiteDoc simpleqa_doc();
SuiteDoc chinese_simpleqa_doc();

// The embedded official grader templates (byte-exact; see prompts/SOURCES.md).
std::string_view simpleqa_grader_template();
std::string_view chinese_simpleqa_grader_template();

}  // namespace v4eval::simpleqa
