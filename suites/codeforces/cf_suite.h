#pragma once
// Codeforces-style contests judged offline, with CodeElo's prompt, extraction and rating
// estimate (suites.md §2).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "suites/suite.h"

namespace v4eval::cf {

Result<std::unique_ptr<Suite>> make_codeforces_suite(const Spec& spec);
SuiteDoc codeforces_doc();

// CodeElo's instruction, verbatim: it starts with a stray '"' (main.py's triple-quoted literal
// opens with four quotes), which is part of what CodeElo sent.
extern const char* const kCodeEloInstruction;

// The first match of CodeElo's re.findall(r'```(\w*)\n(.*?)\n```', text, re.DOTALL).
struct CodeBlock {
  std::string tag;
  std::string code;
};
std::optional<CodeBlock> extract_code_block(std::string_view text);

// The sandbox language for a fence tag under CodeElo's lang_map: "" and "cpp" -> cpp, "python"
// -> python. `known_elsewhere` is set for tags CodeElo would submit in a language this sandbox
// cannot run (java, rust, ...); both empty: CodeElo's lang_map has no such key (its KeyError
// ends the attempt without a submission). `lenient` also maps common aliases (py, python3, c,
// cxx, c++17...).
struct LanguageChoice {
  std::string language;  // "cpp" | "python" | ""
  bool known_elsewhere = false;
};
LanguageChoice language_for_tag(const std::string& tag, bool lenient);

// Built-in checkers (our own, testlib's interface) for problems of the shared data whose answers
// are not unique; nullopt when there is none.
std::optional<std::string_view> builtin_checker(std::string_view problem_id);

}  // namespace v4eval::cf
