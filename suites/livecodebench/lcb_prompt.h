#pragma once
// LiveCodeBench prompts per model style and the official answer extraction (suites.md §1.2,
// §1.3), byte for byte.

#include <string>
#include <string_view>
#include <vector>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval::lcb {

// The chat-style LMStyles of lcb_runner/prompts/code_generation.py a chat backend can be sent:
//   kChat            OpenAIChat, DeepSeekAPI, TogetherAI, CohereCommand, MistralWeb, LLaMa3:
//                    system = generic system message, user = generic question template
//   kUserOnly        OpenAIReasonPreview, Grok: one user message, system text + "\n\n" + template
//   kOpenAIReason    OpenAIReason (o1/o3/o4): like kUserOnly, with the `main()` stdin format line
//   kClaude          Claude3, Claude3Thinking: system message, user = template.rstrip()
//   kGemini          Gemini: one user message, SYSTEM_MESSAGE_GEMINI + "\n" + template
//   kGeminiThinking  GeminiThinking: one user message, generic system text + "\n" + template
enum class PromptStyle { kChat, kUserOnly, kOpenAIReason, kClaude, kGemini, kGeminiThinking };

// "chat" (also "openai", "deepseek-api"), "user-only" ("reason-preview", "grok"),
// "openai-reason", "claude", "gemini", "gemini-thinking".
Result<PromptStyle> parse_prompt_style(std::string_view name);
std::string_view prompt_style_name(PromptStyle style);
std::vector<std::string> prompt_style_names();

extern const char* const kSystemMessageGeneric;
extern const char* const kSystemMessageGemini;

// The generic question template (get_generic_question_template_answer).
std::string question_template(const std::string& question_content, const std::string& starter_code);

Messages build_prompt(PromptStyle style, const std::string& question_content,
                      const std::string& starter_code);

// extract_code for every chat style: split on '\n'; fence lines are lines *containing* ```;
// fewer than two -> ""; else the lines strictly between the last two fence lines.
std::string extract_code(std::string_view model_output);

}  // namespace v4eval::lcb
