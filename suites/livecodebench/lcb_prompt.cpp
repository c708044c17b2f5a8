// LiveCodeBench prompts and extraction. References (LiveCodeBench @ 28fef95):
// lcb_runner/prompts/code_generation.py (PromptConstants, get_generic_question_template_answer,
// get_oaireason_question_template_answer, format_prompt_generation) and
// lcb_runner/utils/extraction_utils.py (extract_code).

#include "suites/livecodebench/lcb_prompt.h"

namespace v4eval::lcb {

const char* const kSystemMessageGeneric =
    "You are an expert Python programmer. You will be given a question (problem specification) "
    "and will generate a correct Python program that matches the specification and passes all "
    "tests.";

const char* const kSystemMessageGemini =
    "You are an expert Python programmer. You will be given a question (problem specification) "
    "and will generate a correct Python program that matches the specification and passes all "
    "tests. Do NOT use system calls like `exit` in the generated program. Ensure that the first "
    "code block contains the solution.";

namespace {

const char* const kFormatWithStarterCode =
    "You will use the following starter code to write the solution to the problem and enclose "
    "your code within delimiters.";
const char* const kFormatWithoutStarterCode =
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly "
    "test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when "
    "the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.";
// The reference's own spelling ("orchastrates") is part of what is sent.
const char* const kFormatOpenAIReasonStdin =
    "Implement a function called `main()` which orchastrates the solution by reading inputs from "
    "stdin and writing the answer to stdout. Feel free to use additional functions as necessary. "
    "Next do NOT forget to call `main` function at the end of the program otherwise you will not "
    "be awarded any points.";

std::string template_with(const std::string& content, const std::string& starter,
                          const char* stdin_format) {
  std::string p = "### Question:\n" + content + "\n\n";
  if (!starter.empty()) {
    p += std::string("### Format: ") + kFormatWithStarterCode + "\n";
    p += "```python\n" + starter + "\n```\n\n";
  } else {
    p += std::string("### Format: ") + stdin_format + "\n";
    p += "```python\n# YOUR CODE HERE\n```\n\n";
  }
  p += "### Answer: (use the provided format with backticks)\n\n";
  return p;
}

std::string rstrip(std::string s) {
  // Python's str.rstrip(): Unicode whitespace; the template ends in ASCII "\n\n".
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' ||
                        s.back() == '\r' || s.back() == '\v' || s.back() == '\f'))
    s.pop_back();
  return s;
}

struct StyleName {
  const char* name;
  PromptStyle style;
};
constexpr StyleName kStyleNames[] = {
    {"chat", PromptStyle::kChat},
    {"openai", PromptStyle::kChat},
    {"deepseek-api", PromptStyle::kChat},
    {"user-only", PromptStyle::kUserOnly},
    {"reason-preview", PromptStyle::kUserOnly},
    {"grok", PromptStyle::kUserOnly},
    {"openai-reason", PromptStyle::kOpenAIReason},
    {"claude", PromptStyle::kClaude},
    {"gemini", PromptStyle::kGemini},
    {"gemini-thinking", PromptStyle::kGeminiThinking},
};

}  // namespace

Result<PromptStyle> parse_prompt_style(std::string_view name) {
  for (const auto& s : kStyleNames)
    if (name == s.name) return s.style;
  std::string known;
  for (const auto& s : kStyleNames) known += (known.empty() ? "" : ", ") + std::string(s.name);
  return InvalidArgument("livecodebench: unknown style '" + std::string(name) + "' (" + known +
                         ")");
}

std::string_view prompt_style_name(PromptStyle style) {
  for (const auto& s : kStyleNames)
    if (s.style == style) return s.name;
  return "chat";
}

std::vector<std::string> prompt_style_names() {
  return {"chat", "user-only", "openai-reason", "claude", "gemini", "gemini-thinking"};
}

std::string question_template(const std::string& content, const std::string& starter) {
  return template_with(content, starter, kFormatWithoutStarterCode);
}

Messages build_prompt(PromptStyle style, const std::string& content, const std::string& starter) {
  switch (style) {
    case PromptStyle::kChat:
      return {{"system", kSystemMessageGeneric}, {"user", question_template(content, starter)}};
    case PromptStyle::kUserOnly:
      return {{"user",
               std::string(kSystemMessageGeneric) + "\n\n" + question_template(content, starter)}};
    case PromptStyle::kOpenAIReason:
      return {{"user", std::string(kSystemMessageGeneric) + "\n\n" +
                           template_with(content, starter, kFormatOpenAIReasonStdin)}};
    case PromptStyle::kClaude:
      return {{"system", kSystemMessageGeneric},
              {"user", rstrip(question_template(content, starter))}};
    case PromptStyle::kGemini:
      return {
          {"user", std::string(kSystemMessageGemini) + "\n" + question_template(content, starter)}};
    case PromptStyle::kGeminiThinking:
      return {{"user",
               std::string(kSystemMessageGeneric) + "\n" + question_template(content, starter)}};
  }
  return {};
}

std::string extract_code(std::string_view out) {
  // Line boundaries of out.split("\n"), and which lines contain ```.
  std::vector<std::pair<size_t, size_t>> fences;  // [begin, end) of fence lines
  size_t begin = 0;
  while (true) {
    size_t nl = out.find('\n', begin);
    size_t end = nl == std::string_view::npos ? out.size() : nl;
    if (out.substr(begin, end - begin).find("```") != std::string_view::npos)
      fences.push_back({begin, end});
    if (nl == std::string_view::npos) break;
    begin = nl + 1;
  }
  if (fences.size() < 2) return "";
  // "\n".join(lines[a+1 : b]): from the line after fence a to the end of the line before b.
  size_t from = fences[fences.size() - 2].second + 1;   // start of the line after fence a
  size_t to = fences.back().first;                      // start of fence b
  if (from >= to) return "";                            // adjacent fence lines: nothing between
  return std::string(out.substr(from, to - 1 - from));  // drop the '\n' that ends the last line
}

}  // namespace v4eval::lcb
