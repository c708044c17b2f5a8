#pragma once
// RFC 4180 CSV records (quoted fields, "" escapes, newlines inside quotes), as pandas.read_csv
// reads the official SimpleQA file.

#include <string>
#include <string_view>
#include <vector>

#include "harness/status.h"

namespace v4eval::text {

struct CsvRecord {
  std::vector<std::string> fields;
  int64_t line = 0;  // 1-based line where the record starts
};

// Parses a whole CSV document. Errors (an unterminated quote, text after a closing quote) name
// `source_name` and the line.
Result<std::vector<CsvRecord>> parse_csv(std::string_view text, const std::string& source_name);

}  // namespace v4eval::text
