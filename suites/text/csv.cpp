#include "suites/text/csv.h"

namespace v4eval::text {

Result<std::vector<CsvRecord>> parse_csv(std::string_view text, const std::string& source_name) {
  std::vector<CsvRecord> records;
  size_t i = 0, n = text.size();
  int64_t line = 1;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // UTF-8 BOM
  while (i < n) {
    CsvRecord rec;
    rec.line = line;
    std::string field;
    bool end_of_record = false;
    while (!end_of_record) {
      field.clear();
      if (i < n && text[i] == '"') {
        int64_t quote_line = line;
        ++i;
        while (true) {
          if (i >= n)
            return DataError(source_name + ":" + std::to_string(quote_line) +
                             ": unterminated quoted field");
          char c = text[i++];
          if (c == '"') {
            if (i < n && text[i] == '"') {
              field += '"';
              ++i;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            field += c;
          }
        }
        if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
          return DataError(source_name + ":" + std::to_string(line) +
                           ": unexpected text after a closing quote");
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') field += text[i++];
      }
      rec.fields.push_back(field);
      if (i >= n) {
        end_of_record = true;
      } else if (text[i] == ',') {
        ++i;
      } else {
        if (text[i] == '\r') ++i;
        if (i < n && text[i] == '\n') ++i;
        ++line;
        end_of_record = true;
      }
    }
    if (rec.fields.size() == 1 && rec.fields[0].empty()) continue;  // blank line
    records.push_back(std::move(rec));
  }
  return records;
}

}  // namespace v4eval::text
