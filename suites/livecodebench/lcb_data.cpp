// LiveCodeBench rows. References (LiveCodeBench @ 28fef95): benchmarks/code_generation.py
// (CodeGenerationProblem, load_code_generation_dataset's date filter), evaluation/
// compute_scores.py (start/end inclusive against the naive contest_date), and the HF dataset's
// loading script for the release tags (suites.md §1.1).

#include "suites/livecodebench/lcb_data.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "suites/livecodebench/private_tests.h"

namespace v4eval::lcb {
namespace {

std::string increment_file(int n) {
  return n == 1 ? "test.jsonl" : "test" + std::to_string(n) + ".jsonl";
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<std::vector<std::string>> release_files(const std::string& dir, const std::string& tag) {
  namespace fs = std::filesystem;
  std::vector<int> increments;
  std::error_code ec;
  int available = 0;
  while (fs::exists(fs::path(dir) / increment_file(available + 1), ec)) ++available;
  if (available == 0) return NotFound("livecodebench: " + dir + " holds no test.jsonl");
  auto bad = [&] {
    return InvalidArgument("livecodebench: unknown release '" + tag +
                           "' (release_v1..release_vN, release_latest, vN, vA_vB)");
  };
  if (tag == "release_latest") {
    for (int i = 1; i <= available; ++i) increments.push_back(i);
  } else if (tag.rfind("release_v", 0) == 0 && all_digits(tag.substr(9))) {
    int n = std::stoi(tag.substr(9));
    if (n < 1) return bad();
    for (int i = 1; i <= n; ++i) increments.push_back(i);
  } else if (tag.size() > 1 && tag[0] == 'v') {
    std::string rest = tag.substr(1);
    size_t us = rest.find("_v");
    if (us == std::string::npos) {
      if (!all_digits(rest)) return bad();
      increments.push_back(std::stoi(rest));
    } else {
      std::string a = rest.substr(0, us), b = rest.substr(us + 2);
      if (!all_digits(a) || !all_digits(b) || std::stoi(a) > std::stoi(b) || std::stoi(a) < 1)
        return bad();
      for (int i = std::stoi(a); i <= std::stoi(b); ++i) increments.push_back(i);
    }
  } else {
    return bad();
  }
  std::vector<std::string> files;
  for (int i : increments) {
    fs::path p = fs::path(dir) / increment_file(i);
    if (!fs::exists(p, ec))
      return NotFound("livecodebench: release " + tag + " needs " + p.string() +
                      ", which is missing");
    files.push_back(p.string());
  }
  return files;
}

Result<std::string> parse_day(std::string_view day, const std::string& option) {
  auto n = normalize_datetime(day);
  if (day.size() != 10 || !n)
    return InvalidArgument("livecodebench: " + option + " must be YYYY-MM-DD, got '" +
                           std::string(day) + "'");
  return *n;
}

std::optional<std::string> normalize_datetime(std::string_view t) {
  auto digits = [&](size_t at, size_t n) {
    if (at + n > t.size()) return false;
    for (size_t i = at; i < at + n; ++i)
      if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
    return true;
  };
  if (!digits(0, 4) || t.size() < 10 || t[4] != '-' || !digits(5, 2) || t[7] != '-' ||
      !digits(8, 2))
    return std::nullopt;
  {
    int year = std::stoi(std::string(t.substr(0, 4))),
        month = std::stoi(std::string(t.substr(5, 2)));
    int day = std::stoi(std::string(t.substr(8, 2)));
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 1 || month < 1 || month > 12 || day < 1 ||
        day > kDays[month - 1] + (month == 2 && leap ? 1 : 0))
      return std::nullopt;
  }
  std::string out(t.substr(0, 10));
  std::string hh = "00", mm = "00", ss = "00";
  if (t.size() > 10) {
    if (t[10] != 'T' && t[10] != ' ') return std::nullopt;
    if (!digits(11, 2)) return std::nullopt;
    hh = std::string(t.substr(11, 2));
    size_t pos = 13;
    if (pos < t.size() && t[pos] == ':') {
      if (!digits(pos + 1, 2)) return std::nullopt;
      mm = std::string(t.substr(pos + 1, 2));
      pos += 3;
      if (pos < t.size() && t[pos] == ':') {
        if (!digits(pos + 1, 2)) return std::nullopt;
        ss = std::string(t.substr(pos + 1, 2));
        pos += 3;
        // A fraction: "...:SS.fff" sorts after "...:SS" as the later time it is.
        if (pos < t.size() && t[pos] == '.') {
          std::string frac;
          for (++pos; pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos])); ++pos)
            frac += t[pos];
          if (frac.empty() || pos != t.size()) return std::nullopt;
          frac.erase(frac.find_last_not_of('0') + 1);
          return out + "T" + hh + ":" + mm + ":" + ss + (frac.empty() ? "" : "." + frac);
        }
      }
    }
    if (pos != t.size()) return std::nullopt;  // time zones are not in the data: refuse them
  }
  return out + "T" + hh + ":" + mm + ":" + ss;
}

bool Filter::keep(const Problem& p) const {
  auto date = normalize_datetime(p.contest_date);
  if ((start || end) && !date) return false;
  if (start && *date < *start) return false;
  if (end && *date > *end) return false;
  if (!platforms.empty() &&
      std::find(platforms.begin(), platforms.end(), p.platform) == platforms.end())
    return false;
  if (!difficulties.empty() &&
      std::find(difficulties.begin(), difficulties.end(), p.difficulty) == difficulties.end())
    return false;
  return true;
}

Result<std::vector<Test>> parse_tests(std::string_view json_text, const std::string& what) {
  Json list;
  try {
    list = Json::parse(json_text);
  } catch (const Json::parse_error& e) {
    return DataError(what + ": malformed JSON: " + e.what());
  }
  if (!list.is_array()) return DataError(what + ": expected a JSON list of tests");
  std::vector<Test> out;
  out.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Json& t = list[i];
    if (!t.is_object() || !t.contains("input") || !t["input"].is_string() ||
        !t.contains("output") || !t["output"].is_string())
      return DataError(what + ": test " + std::to_string(i) +
                       " must be {\"input\": str, \"output\": str}");
    out.push_back({std::move(t["input"].get_ref<std::string&>()),
                   std::move(t["output"].get_ref<std::string&>())});
  }
  return out;
}

Result<Problem> parse_row(const Json& row, const std::string& where) {
  if (!row.is_object()) return DataError(where + "expected a JSON object");
  Problem p;
  struct Field {
    const char* name;
    std::string* out;
  } fields[] = {{"question_title", &p.question_title},
                {"question_content", &p.question_content},
                {"platform", &p.platform},
                {"question_id", &p.question_id},
                {"contest_id", &p.contest_id},
                {"contest_date", &p.contest_date},
                {"starter_code", &p.starter_code},
                {"difficulty", &p.difficulty}};
  for (const auto& f : fields) {
    auto it = row.find(f.name);
    if (it == row.end() || !it->is_string())
      return DataError(where + "missing string field \"" + f.name + "\"");
    *f.out = it->get<std::string>();
  }
  if (p.platform != "leetcode" && p.platform != "atcoder" && p.platform != "codeforces")
    return DataError(where + "unknown platform '" + p.platform + "'");
  if (p.difficulty != "easy" && p.difficulty != "medium" && p.difficulty != "hard")
    return DataError(where + "unknown difficulty '" + p.difficulty + "'");
  if (!normalize_datetime(p.contest_date))
    return DataError(where + "contest_date '" + p.contest_date + "' is not an ISO date");
  auto pub = row.find("public_test_cases");
  if (pub == row.end() || !pub->is_string())
    return DataError(where + "missing string field \"public_test_cases\"");
  auto tests = parse_tests(pub->get_ref<const std::string&>(), where + "public_test_cases");
  if (!tests.ok()) return tests.status();
  p.public_tests = std::move(*tests);
  auto meta = row.find("metadata");
  if (meta == row.end() || !meta->is_string())
    return DataError(where + "missing string field \"metadata\"");
  Json m;
  try {
    m = Json::parse(meta->get_ref<const std::string&>());
  } catch (const Json::parse_error& e) {
    return DataError(where + "metadata: malformed JSON: " + e.what());
  }
  if (!m.is_object()) return DataError(where + "metadata: expected a JSON object");
  if (m.contains("func_name") && !m["func_name"].is_null()) {
    if (!m["func_name"].is_string())
      return DataError(where + "metadata.func_name: expected a string");
    p.fn_name = m["func_name"].get<std::string>();
  }
  auto priv = row.find("private_test_cases");
  p.has_private_tests = priv != row.end() && !priv->is_null();
  return p;
}

Result<std::vector<Test>> load_private_tests(const Problem& p) {
  std::string where = p.file + ":" + std::to_string(p.line) + ": ";
  std::ifstream in(p.file, std::ios::binary);
  if (!in) return IoError(where + "cannot reopen the data file");
  std::string line(p.length, '\0');
  in.seekg(std::streamoff(p.offset));
  in.read(line.data(), std::streamsize(p.length));
  if (!in) return IoError(where + "cannot re-read the row (did the file change?)");
  Json row;
  try {
    row = Json::parse(line);
  } catch (const Json::parse_error& e) {
    return DataError(where + "malformed JSON on re-read (did the file change?): " + e.what());
  }
  auto priv = row.find("private_test_cases");
  if (priv == row.end() || !priv->is_string())
    return DataError(where + "no string field \"private_test_cases\"");
  if (row.value("question_id", "") != p.question_id)
    return DataError(where + "the row changed since loading (question_id)");
  auto text = private_tests_json(priv->get_ref<const std::string&>());
  row = Json();  // the encoded blob is not needed any more
  if (!text.ok()) return Status(text.status().code(), where + text.status().message());
  return parse_tests(*text, where + "private_test_cases");
}

}  // namespace v4eval::lcb
