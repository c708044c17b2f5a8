#pragma once
// DeepSeek-V4 chat encoding (v4-model.md §5.2, after the official encoding/encoding_dsv4.py of
// the original V4 release): renders messages as prompt text for the three reasoning modes, and
// splits generated text into reasoning and answer. Tools, DSML tool calls and quick-instruction
// task tokens are not supported (evaluation does not use them): such input is refused.

#include <span>
#include <string>
#include <string_view>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval::v4 {

inline constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
inline constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kUser = "<｜User｜>";
inline constexpr std::string_view kAssistant = "<｜Assistant｜>";
inline constexpr std::string_view kThinkStart = "<think>";
inline constexpr std::string_view kThinkEnd = "</think>";
// Inserted right after BOS in think-max mode (REASONING_EFFORT_MAX of the original release).
inline constexpr std::string_view kReasoningEffortMax =
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
    "You MUST be very thorough in your thinking and comprehensively decompose the problem to "
    "resolve the root cause, rigorously stress-testing your logic against all potential paths, "
    "edge cases, and adversarial scenarios.\n"
    "Explicitly write out your entire deliberation process, documenting every intermediate step, "
    "considered alternative, and rejected hypothesis to ensure absolutely no assumption is left "
    "unchecked.\n\n";

// One conversation turn. `reasoning` is an assistant turn's thinking content (it is rendered only
// in thinking mode and only for assistant turns after the last user turn).
struct ChatTurn {
  std::string role;  // system | user | developer | assistant
  std::string content;
  std::string reasoning;
};

// The prompt text for `turns` in `mode` (non-think = chat mode; think-high = thinking mode,
// no effort paragraph; think-max = thinking mode with kReasoningEffortMax), starting with BOS,
// with history reasoning dropped (drop_thinking=True). When the last turn is a user/developer
// turn the prompt ends with the generation prefix `<｜Assistant｜>` + `</think>` (chat) or
// `<think>` (thinking). Errors (InvalidArgument): an unknown role (e.g. "tool"), no turns.
Result<std::string> render_prompt(std::span<const ChatTurn> turns, Mode mode);
Result<std::string> render_prompt(const Messages& messages, Mode mode);

struct ParsedCompletion {
  std::string reasoning;
  std::string content;
  bool reasoning_finished = true;  // false: thinking mode and no `</think>` was generated
};

// Splits generated text (what followed the prompt) into reasoning and answer: in thinking mode
// (think-high / think-max) the text before the first `</think>` is reasoning and the rest the
// answer; in non-think mode everything is the answer. A trailing EOS text is removed. A thinking
// generation without `</think>` is all reasoning (answer empty, reasoning_finished false).
ParsedCompletion parse_completion(std::string_view text, Mode mode);

}  // namespace v4eval::v4
