#pragma once
// CorpusQA (Tongyi-Zhiwen/CorpusQA): questions over a corpus of up to ~1M tokens in one
// prompt, answered by aggregation; graded by an LLM judge's [[YES]]/[[NO]] (suites.md §6).

#include <memory>
#include <string>
#include <string_view>

#include "suites/suite.h"

namespace v4eval::corpusqa {

// src/eval.py extract_answer: the first `The answer is: (.*)` match (to the end of that line),
// stripped; else the whole response stripped (Python str.strip: Unicode whitespace).
std::string extract_answer(std::string_view response);

// src/eval.py: correct iff the judge's text contains "[[YES]]" and not "[[NO]]".
bool judge_says_yes(std::string_view judge_text);

// Python's str.strip() (Unicode whitespace per str.isspace).
std::string python_strip(std::string_view s);

Result<std::unique_ptr<Suite>> make_corpusqa_suite(const Spec& spec);
SuiteDoc corpusqa_doc();

std::string_view judge_system_prompt();  // GENERAL_ORM_PROMPT, byte-exact
std::string_view judge_user_template();  // ORM_USER_TEMPLATE, byte-exact

}  // namespace v4eval::corpusqa
