#pragma once
// Calling a judge model from a suite's grade(), the way the official scripts do, but never
// turning an infrastructure failure into a grade.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "harness/status.h"
#include "harness/types.h"

namespace v4eval {

struct JudgeCall {
  Messages messages;
  std::optional<double> temperature;  // unset: the judge's default (as the official script)
  int64_t max_tokens = 0;
  // The graded attempt's identity: a replay judge file is keyed like the model's replay file.
  std::string suite;
  std::string sample_id;
  Mode mode = Mode::kNonThink;
  int repeat = 0;
};

// Asks the judge, retrying retryable errors (up to `retries` more tries with backoff) and
// empty answers (as ChineseSimpleQA's call_model does). A judge that still fails gives
// Unavailable: the attempt stays ungraded and is retried on resume.
Result<Generation> ask_judge(Backend& judge, const JudgeCall& call, int retries = 3,
                             double timeout_s = 600);

// Python's str.format with named fields only ({name}, and {{ / }} for literal braces), as the
// official graders fill their templates. Unknown names are an InvalidArgument.
Result<std::string> format_template(std::string_view tmpl,
                                    const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace v4eval
