#pragma once
// Python literals (ast.literal_eval subset): the SimpleQA CSV's `metadata` column is a Python
// dict string with single quotes, not JSON.

#include <string_view>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval::simpleqa {

// Strings ('…', "…", with escapes incl. \xhh \uXXXX \UXXXXXXXX), ints, floats, True/False/None,
// lists, tuples (as arrays) and dicts with string keys. Errors give the offset.
Result<Json> parse_python_literal(std::string_view text);

}  // namespace v4eval::simpleqa
