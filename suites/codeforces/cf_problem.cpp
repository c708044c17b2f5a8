// Codeforces-style problem loaders. Sources: QwenLM/CodeElo @ 0bffc84 main.py (make_html_problem),
// the data files described in shared/data/SOURCES.md, testlib's checker conventions (suites.md
// §2.3).

#include "suites/codeforces/cf_problem.h"

#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#include "harness/hash.h"
#include "suites/simpleqa/python_literal.h"

namespace v4eval::cf {
namespace {

std::string read_all(std::ifstream& in) {
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::regex& re(const char* pattern) {
  // Compiled once per pattern (std::regex construction is slow); patterns are literals.
  static std::mutex mu;
  static std::map<const char*, std::unique_ptr<std::regex>> cache;
  std::lock_guard lock(mu);
  auto& slot = cache[pattern];
  if (!slot)
    slot = std::make_unique<std::regex>(pattern, std::regex::ECMAScript | std::regex::icase);
  return *slot;
}

std::string examples_html(const std::vector<Test>& tests) {
  std::string out;
  for (const auto& t : tests)
    out += "<h3>Input</h3><pre>" + t.input + "</pre><h3>Output</h3><pre>" + t.output + "</pre>";
  return out;
}

// contest id and index from "2035C" / "1979E" / "1983B1".
void split_problem_id(const std::string& id, std::string* contest, std::string* index) {
  size_t i = 0;
  while (i < id.size() && std::isdigit(static_cast<unsigned char>(id[i]))) ++i;
  *contest = id.substr(0, i);
  *index = id.substr(i);
}

Result<std::vector<Test>> tests_from_list(const Json& list, const std::string& where) {
  std::vector<Test> out;
  if (!list.is_array()) return DataError(where + "tests: expected a list of {input, output}");
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& t = list[i];
    if (!t.is_object() || !t.contains("input") || !t["input"].is_string() ||
        !t.contains("output") || !t["output"].is_string())
      return DataError(where + "test " + std::to_string(i) +
                       ": expected {\"input\": str, \"output\": str}");
    out.push_back({t["input"].get<std::string>(), t["output"].get<std::string>()});
  }
  return out;
}

void classify_from_statement(Problem& p, const std::string& text) {
  p.compare = compare_mode_from_statement(text);
  p.multiple_answers = p.multiple_answers || statement_allows_multiple_answers(text);
  p.interactive = p.interactive || statement_is_interactive(text);
}

Result<Problem> from_codeelo(const Json& r, const std::string& where) {
  Problem p;
  p.source = "codeelo";
  try {
    p.id = r.at("problem_id").get<std::string>();
    p.title = r.value("title", "");
    if (r.contains("rating") && r["rating"].is_number_integer()) p.rating = r["rating"].get<int>();
    p.division = r.contains("div") && r["div"].is_string() ? r["div"].get<std::string>() : "";
    if (r.contains("tags") && r["tags"].is_array())
      for (const auto& t : r["tags"]) p.tags.push_back(t.get<std::string>());
    if (r.contains("time_limit_ms") && r["time_limit_ms"].is_number())
      p.time_limit_ms = r["time_limit_ms"].get<int64_t>();
    if (r.contains("memory_limit_mb") && r["memory_limit_mb"].is_number())
      p.memory_limit_bytes = r["memory_limit_mb"].get<int64_t>() << 20;
  } catch (const Json::exception& e) {
    return DataError(where + e.what());
  }
  auto text = [&](const char* k) {
    return r.contains(k) && r[k].is_string() ? r[k].get<std::string>() : std::string();
  };
  auto tests = tests_from_list(r.contains("examples") ? r["examples"] : Json(), where);
  if (!tests.ok()) return tests.status();
  p.tests = std::move(*tests);
  std::vector<std::pair<std::string, std::string>> sections = {
      {"", text("description")}, {"Input", text("input")}, {"Output", text("output")}};
  if (!text("interaction").empty()) {
    sections.push_back({"Interaction", text("interaction")});
    p.interactive = true;
  }
  sections.push_back({p.tests.size() == 1 ? "Example" : "Examples", examples_html(p.tests)});
  if (!text("note").empty()) sections.push_back({"Note", text("note")});
  p.statement = codeelo_html(p.title, sections);
  split_problem_id(p.id, &p.contest_id, &p.index);
  // The file of CodeElo problems "needing a checker" lists problems whose answers are not
  // unique; the statement says so too, in its own words.
  classify_from_statement(p,
                          text("description") + "\n" + text("output") + "\n" + text("interaction"));
  return p;
}

Result<Problem> from_codecontests(const Json& r, const std::string& where) {
  Problem p;
  p.source = "codecontests";
  if (!r.contains("problem") || !r["problem"].is_string())
    return DataError(where + "missing string field \"problem\"");
  p.statement = r["problem"].get<std::string>();
  const Json& t = r.contains("tests") ? r["tests"] : Json();
  if (!t.is_object() || !t.contains("input") || !t.contains("output") || !t["input"].is_array() ||
      !t["output"].is_array() || t["input"].size() != t["output"].size())
    return DataError(where + "tests: expected {input: [...], output: [...]} of equal length");
  for (size_t i = 0; i < t["input"].size(); ++i) {
    if (!t["input"][i].is_string() || !t["output"][i].is_string())
      return DataError(where + "test " + std::to_string(i) + ": not a string");
    p.tests.push_back({t["input"][i].get<std::string>(), t["output"][i].get<std::string>()});
  }
  std::smatch m;
  if (std::regex_search(p.statement, m, re(R"(Time Limit: \{'seconds': (\d+), 'nanos': (\d+)\})")))
    p.time_limit_ms = std::stoll(m[1]) * 1000 + std::stoll(m[2]) / 1000000;
  else
    return DataError(where + "no \"Time Limit: {'seconds': N, 'nanos': M}\" line in the statement");
  if (std::regex_search(p.statement, m, re(R"(Memory Limit: (\d+) Bytes)")))
    p.memory_limit_bytes = std::stoll(m[1]);
  else
    return DataError(where + "no \"Memory Limit: N Bytes\" line in the statement");
  p.id = "cc-" + sha256_hex(p.statement).substr(0, 10);  // the rows carry no name or contest id
  classify_from_statement(p, p.statement);
  return p;
}

Result<Problem> from_codeforces_examples(const Json& r, const std::string& where) {
  Problem p;
  p.source = "codeforces-examples";
  if (!r.contains("problem") || !r["problem"].is_string())
    return DataError(where + "missing string field \"problem\"");
  const std::string text = r["problem"].get<std::string>();
  auto tests = tests_from_list(r.contains("tests") ? r["tests"] : Json(), where);
  if (!tests.ok()) return tests.status();
  p.tests = std::move(*tests);
  std::smatch m;
  if (std::regex_search(text, m, re(R"(Time Limit: (\d+) ms)")))
    p.time_limit_ms = std::stoll(m[1]);
  else
    return DataError(where + "no \"Time Limit: N ms\" line in the statement");
  if (std::regex_search(text, m, re(R"(Memory Limit: (\d+) MB)")))
    p.memory_limit_bytes = std::stoll(m[1]) << 20;
  else
    return DataError(where + "no \"Memory Limit: N MB\" line in the statement");
  // Sections: legend, "Input Format:", "Output Format:", "Tags:" (a Python list literal; hints,
  // so not shown to the model, as CodeElo's statements have none), then the limits.
  size_t in = text.find("\nInput Format:\n"), out = text.find("\nOutput Format:\n");
  size_t tags = text.find("\nTags:\n"), limits = text.find("\nTime Limit:");
  if (in == std::string::npos || out == std::string::npos || out < in)
    return DataError(where + "no \"Input Format:\" / \"Output Format:\" sections");
  size_t out_end = std::min(tags, limits);
  auto trim = [](std::string s) {
    size_t a = s.find_first_not_of("\n"), b = s.find_last_not_of("\n");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  std::string legend = trim(text.substr(0, in));
  std::string input = trim(text.substr(in + 15, out - in - 15));
  std::string output = trim(
      text.substr(out + 16, out_end == std::string::npos ? std::string::npos : out_end - out - 16));
  if (tags != std::string::npos) {
    size_t end = text.find('\n', tags + 7);
    auto parsed = simpleqa::parse_python_literal(
        text.substr(tags + 7, end == std::string::npos ? std::string::npos : end - tags - 7));
    if (parsed.ok() && parsed->is_array())
      for (const auto& t : *parsed)
        if (t.is_string()) p.tags.push_back(t.get<std::string>());
  }
  p.statement =
      codeelo_html("", {{"", legend},
                        {"Input", input},
                        {"Output", output},
                        {p.tests.size() == 1 ? "Example" : "Examples", examples_html(p.tests)}});
  p.id = "cf-" + sha256_hex(text).substr(0, 10);  // the rows carry no problem id
  classify_from_statement(p, text);
  return p;
}

Result<Problem> from_v4eval(const Json& r, const std::string& where) {
  Problem p;
  p.source = "v4eval";
  try {
    p.id = r.at("id").get<std::string>();
    p.statement = r.at("statement").get<std::string>();
    p.title = r.value("title", "");
    p.contest_id = r.value("contest_id", "");
    p.index = r.value("index", "");
    if (p.contest_id.empty() && p.index.empty()) split_problem_id(p.id, &p.contest_id, &p.index);
    if (p.contest_id.empty()) p.index.clear();
    p.time_limit_ms = r.value("time_limit_ms", int64_t(2000));
    p.memory_limit_bytes = r.value("memory_limit_mb", int64_t(256)) << 20;
    if (r.contains("checker") && r["checker"].is_string())
      p.checker = r["checker"].get<std::string>();
    if (r.contains("interactor") && r["interactor"].is_string())
      p.interactor = r["interactor"].get<std::string>();
    p.multiple_answers = r.value("multiple_answers", false);
    p.interactive = r.value("interactive", p.interactor.has_value());
    if (r.contains("rating") && r["rating"].is_number_integer()) p.rating = r["rating"].get<int>();
    p.division = r.value("division", "");
    if (r.contains("tags") && r["tags"].is_array())
      for (const auto& t : r["tags"]) p.tags.push_back(t.get<std::string>());
  } catch (const Json::exception& e) {
    return DataError(where + e.what());
  }
  auto tests = tests_from_list(r.contains("tests") ? r["tests"] : Json(), where);
  if (!tests.ok()) return tests.status();
  p.tests = std::move(*tests);
  p.compare = r.contains("compare") && r["compare"].is_string()
                  ? r["compare"].get<std::string>()
                  : compare_mode_from_statement(p.statement);
  if (p.time_limit_ms <= 0 || p.memory_limit_bytes <= 0)
    return DataError(where + "limits must be positive");
  return p;
}

}  // namespace

std::string codeelo_html(const std::string& title,
                         const std::vector<std::pair<std::string, std::string>>& sections) {
  std::string html = "<html><body>";
  for (size_t i = 0; i < sections.size(); ++i) {
    html += i == 0 ? "<h1>" + title + "</h1>" : "<h2>" + sections[i].first + "</h2>";
    html += "<div>" + sections[i].second + "</div>";
  }
  return html + "</body></html>";
}

std::string compare_mode_from_statement(const std::string& s) {
  std::smatch m;
  if (std::regex_search(s, m, re(R"((absolute|relative)\s+(or\s+(absolute|relative)\s+)?error)"))) {
    std::string rest = m.suffix().str();
    std::smatch e;
    // 10^{-6}, 10^-6, $10^{-9}$, 1e-6 / 1E-6: the first bound after the phrase, else anywhere.
    const char* eps = R"(10\s*\^\s*\{?\s*(?:-|−)\s*(\d+)\s*\}?|\b1\s*e\s*-\s*(\d+))";
    if (std::regex_search(rest, e, re(eps)) || std::regex_search(s, e, re(eps))) {
      std::string k = e[1].matched ? e[1].str() : e[2].str();
      return "float:1e-" + k;
    }
    return "float:1e-6";
  }
  if (std::regex_search(s, re(R"(\b(yes|no)\b)")) &&
      std::regex_search(
          s,
          re(R"(in any case|any register|(upper|lower)\s*(or|and)\s*(upper|lower)\s*case|(uppercase|lowercase)\s*(or|and)\s*(uppercase|lowercase))")))
    return "yesno";
  return "tokens";
}

bool statement_allows_multiple_answers(const std::string& s) {
  return std::regex_search(
      s,
      re(R"((multiple|several|many|more than one)\s+(possible\s+|valid\s+|correct\s+|optimal\s+)?(answers|solutions)|any of them|(print|output)\s+any\b|any\s+(valid|correct|such|suitable|possible|optimal)\s+(answer|solution|one))"));
}

bool statement_is_interactive(const std::string& s) {
  return std::regex_search(
      s, re(R"(this is an interactive problem|<h2>Interaction</h2>|\n\s*Interaction\s*\n)"));
}

Result<std::vector<Problem>> load_problems(const std::string& path, const std::string& format) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("codeforces data " + path + ": cannot open");
  std::string content = read_all(in);
  std::string fmt = format;
  Json doc;
  bool is_json = Json::accept(content);
  if (fmt == "auto") {
    if (!is_json || !Json::parse(content).is_array()) {
      fmt = "v4eval";  // JSON lines (a one-line file is also one JSON object)
    } else {
      doc = Json::parse(content);
      const Json* first = doc.is_array() && !doc.empty() ? &doc[0] : nullptr;
      if (first && first->is_object() && first->contains("problem_id"))
        fmt = "codeelo";
      else if (first && first->is_object() && first->contains("problem") &&
               first->contains("tests") && (*first)["tests"].is_object())
        fmt = "codecontests";
      else if (first && first->is_object() && first->contains("problem") &&
               first->contains("tests"))
        fmt = "codeforces-examples";
      else if (first && first->is_object() && first->contains("statement"))
        fmt = "v4eval";
      else
        return DataError(path +
                         ": cannot tell the format (give "
                         "format=codeelo|codecontests|codeforces-examples|v4eval)");
    }
  }
  std::vector<Problem> out;
  if (fmt == "v4eval") {
    std::istringstream lines(content);
    std::string line;
    int64_t no = 0;
    if (is_json && doc.is_null()) doc = Json::parse(content);
    if (is_json && doc.is_array()) {  // a JSON list of problems is accepted too
      for (size_t i = 0; i < doc.size(); ++i) {
        auto p = from_v4eval(doc[i], path + ": item " + std::to_string(i) + ": ");
        if (!p.ok()) return p.status();
        out.push_back(std::move(*p));
      }
    } else {
      while (std::getline(lines, line)) {
        ++no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::string where = path + ":" + std::to_string(no) + ": ";
        Json r;
        try {
          r = Json::parse(line);
        } catch (const Json::parse_error& e) {
          return DataError(where + "malformed JSON: " + e.what());
        }
        auto p = from_v4eval(r, where);
        if (!p.ok()) return p.status();
        out.push_back(std::move(*p));
      }
    }
  } else if (fmt == "codeelo" || fmt == "codecontests" || fmt == "codeforces-examples") {
    if (!is_json) return DataError(path + ": malformed JSON");
    if (doc.is_null()) doc = Json::parse(content);
    if (!doc.is_array()) return DataError(path + ": expected a JSON list of problems");
    for (size_t i = 0; i < doc.size(); ++i) {
      std::string where = path + ": item " + std::to_string(i) + ": ";
      if (!doc[i].is_object()) return DataError(where + "expected an object");
      auto p = fmt == "codeelo"        ? from_codeelo(doc[i], where)
               : fmt == "codecontests" ? from_codecontests(doc[i], where)
                                       : from_codeforces_examples(doc[i], where);
      if (!p.ok()) return p.status();
      out.push_back(std::move(*p));
    }
  } else {
    return InvalidArgument("codeforces: unknown format '" + format +
                           "' (auto, v4eval, codeelo, codecontests, codeforces-examples)");
  }
  std::set<std::string> ids;
  for (const auto& p : out) {
    if (!ids.insert(p.id).second) return DataError(path + ": duplicate problem id " + p.id);
    if (p.tests.empty()) return DataError(path + ": problem " + p.id + " has no tests");
  }
  return out;
}

}  // namespace v4eval::cf
