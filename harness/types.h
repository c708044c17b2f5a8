#pragma once
// Value types shared by every room (architecture.md, "Core types").

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace v4eval {

using Json = nlohmann::json;

// JSON text that never throws on invalid UTF-8 in strings (a model can emit any bytes): such
// bytes become U+FFFD. Valid input gives exactly Json::dump's text.
inline std::string json_text(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

// The three reasoning modes of DeepSeek-V4 (v4-model.md §5). Backends map them to their protocol.
enum class Mode { kNonThink, kThinkHigh, kThinkMax };
std::string_view mode_name(Mode mode);  // "non-think", "think-high", "think-max"
std::optional<Mode> parse_mode(std::string_view name);

struct Message {
  std::string role;
  std::string content;
};
using Messages = std::vector<Message>;

struct GenerationRequest {
  // Shared, never copied per attempt: MRCR/CorpusQA prompts reach 1M tokens.
  std::shared_ptr<const Messages> messages;
  Mode mode = Mode::kNonThink;
  int64_t max_tokens = 0;  // 0: the backend's default
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  // Which attempt this is. Remote backends ignore it; `replay` looks generations up by it.
  std::string suite;
  std::string sample_id;
  int repeat = 0;
  // Judge calls: the mode of the attempt being graded (the judge itself runs in `mode`).
  std::optional<Mode> attempt_mode;
};

// How the runner must treat a failed generation.
enum class ErrorKind {
  kRetryable,  // infrastructure trouble (429, 5xx, reset, timeout): retry with backoff
  kFinal,      // will not succeed by retrying (bad request, missing replay line)
};

struct GenerationError {
  ErrorKind kind = ErrorKind::kFinal;
  std::string message;
  std::optional<double> retry_after_s;  // server-provided hint (HTTP Retry-After)
};

struct Generation {
  std::string text;       // the answer, reasoning removed
  std::string reasoning;  // thinking content, empty in non-think mode
  std::string finish_reason;  // "stop", "length", ...
  int64_t prompt_tokens = -1;  // -1: unknown
  int64_t completion_tokens = -1;
  int64_t reasoning_tokens = -1;
  double latency_ms = 0;
  double time_to_first_token_ms = -1;
  std::optional<Mode> effective_mode;  // what the server did, when it says so
  std::optional<GenerationError> error;  // set: there is no usable generation
};

// One item of a suite. Grading data stays inside the suite, found by `index`.
struct Sample {
  std::string id;
  size_t index = 0;
  std::shared_ptr<const Messages> prompt;
  Json metadata = Json::object();
};

struct Score {
  double value = 0;      // in [0, 1]
  std::string verdict;   // suite-specific: "AC", "correct", "match", ...
  Json details = Json::object();
};

struct Metric {
  std::string name;
  double value = 0;
  double ci_low = 0;
  double ci_high = 0;
  int64_t n = 0;
};

// Spec strings: `KIND[:key=value,...]` (cli.md). A comma-separated piece without '=' continues
// the previous value, so `needles=2,4` is one option.
struct Spec {
  std::string kind;
  std::vector<std::pair<std::string, std::string>> options;  // in the order given

  std::optional<std::string> get(std::string_view key) const;
  std::string to_string() const;
};
std::optional<Spec> parse_spec(std::string_view text, std::string* error);

}  // namespace v4eval
