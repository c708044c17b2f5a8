#pragma once
// The OpenAI Chat Completions wire format, both directions, as pure functions: the `openai:` /
// `deepseek:` backends build requests and read responses with it, `v4eval serve --http` reads
// requests and writes responses with it. No I/O here, so every rule is unit-testable.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval::openai {

// ---------------------------------------------------------------- client side (requests out)

// Body fragments merged into the request for each mode (RFC 7386 merge patch). The defaults
// depend on the backend kind (mode_mapping_for_style); a spec can replace each one.
struct ModeMapping {
  Json non_think = Json::object();
  Json think_high = Json::object();
  Json think_max = Json::object();
  const Json& for_mode(Mode m) const;
};

// "deepseek": the DeepSeek API (v4-model.md §5.3): `thinking: {type: enabled|disabled}` and
//   `reasoning_effort: high|max`.
// "template": vLLM / SGLang serving the open weights: the same switches as chat-template
//   arguments, `chat_template_kwargs: {thinking: bool, reasoning_effort: ...}`.
// "none": sends nothing (a server without reasoning modes).
std::optional<ModeMapping> mode_mapping_for_style(std::string_view style);

struct ChatOptions {
  std::string model;
  ModeMapping modes;
  bool stream = true;
  bool stream_usage = true;                     // stream_options.include_usage
  std::string max_tokens_field = "max_tokens";  // or "max_completion_tokens"
  bool send_attempt_metadata = false;  // metadata {suite, sample_id, repeat[, attempt_mode]}
  Json extra = Json::object();         // merged last: any other body field
};

Json build_chat_request(const GenerationRequest& request, const ChatOptions& options);

// The same body as build_chat_request(request, options).dump(), byte for byte, written straight
// into one string: no JSON tree per request, and the prompt (up to 1M tokens of MRCR/CorpusQA)
// is escaped once instead of copied into a tree and out again. The modes' and `extra`'s merge
// patches are applied once, here; a patch that sets a field the request itself writes (say
// `extra` overriding temperature) falls back to the tree. Invalid UTF-8 in the request's text
// becomes U+FFFD (where dump() would throw). Keeps a copy of the options.
class ChatBodyWriter {
 public:
  explicit ChatBodyWriter(ChatOptions options);
  std::string body(const GenerationRequest& request) const;

 private:
  ChatOptions options_;
  // Per mode: the merged patch's top-level fields (key, serialised value), sorted by key; or
  // nullopt when the patch touches a field the request writes.
  std::optional<std::vector<std::pair<std::string, std::string>>> patch_[3];
};

// ---------------------------------------------------------------- client side (responses in)

// Splits server-side reasoning that arrives inside the content: `<think>…</think>answer`, or, in
// a thinking mode, `reasoning</think>answer` (the prompt already ended with <think>, §5.2).
// An unclosed <think> makes everything reasoning (the generation was cut inside it). Whitespace
// around the reasoning and before the answer is dropped (graders compare answers from byte 0).
void split_inline_reasoning(std::string& text, std::string& reasoning, bool thinking_mode);

// The mode the server actually used, from what it reported or did: the mapping's fragment for
// the requested mode (two modes mapped alike are the lower one), corrected by whether reasoning
// came back (a server that ignored the switch).
Mode infer_effective_mode(Mode requested, const ModeMapping& mapping, bool reasoned,
                          std::optional<Mode> server_reported);

// Reads a non-streaming Chat Completions body into `g` (text, reasoning, finish_reason, usage,
// server-reported mode). A body that is not a valid completion is a retryable error (truncated
// or garbled by the network or a proxy); an `error` object is classified like an HTTP error.
void parse_chat_completion(std::string_view body, Generation& g, std::optional<Mode>* reported);
// The two readers parse_chat_completion tries in turn, for tests that compare them: the fast
// one reads a usual completion in place and returns false (g untouched) on anything else; the
// tree one (nlohmann) reads everything and names what is wrong. They agree wherever the fast
// one answers.
bool read_chat_completion_fast(std::string_view body, Generation& g, std::optional<Mode>* reported);
void parse_chat_completion_tree(std::string_view body, Generation& g, std::optional<Mode>* reported);

// Incremental SSE (`text/event-stream`) parser: feed bytes, get each event's data.
class SseParser {
 public:
  // Calls on_data(data) for every complete event that has data lines.
  template <class F>
  void feed(std::string_view bytes, F&& on_data) {
    for (char c : bytes) {
      if (c == '\n' && skip_lf_) {
        skip_lf_ = false;
        continue;
      }
      skip_lf_ = false;
      if (c == '\r' || c == '\n') {
        skip_lf_ = c == '\r';
        if (line_.empty()) {
          if (has_data_) on_data(std::string_view(data_));
          data_.clear();
          has_data_ = false;
        } else {
          take_line();
        }
        line_.clear();
        continue;
      }
      line_.push_back(c);
    }
  }
  // True when bytes of an unfinished event remain (the stream was cut mid-event).
  bool has_partial_event() const { return !line_.empty() || has_data_; }

 private:
  void take_line();
  std::string line_;
  std::string data_;
  bool has_data_ = false;
  bool skip_lf_ = false;
};

// Accumulates a streamed completion event by event.
class ChatStream {
 public:
  // One SSE event's data. Returns a delta (possibly empty) of text/reasoning to forward.
  struct Delta {
    std::string text;
    std::string reasoning;
  };
  Delta on_event(std::string_view data);
  // The tree reader alone (on_event reads the usual chunk shape in place and leaves everything
  // else to it); for tests that compare the two, with the count of events read in place.
  Delta on_event_tree(std::string_view data);
  int fast_events() const { return fast_events_; }

  bool done() const { return done_; }  // saw `data: [DONE]`
  bool finished() const { return !finish_reason_.empty(); }
  bool any_token() const { return any_token_; }
  // Moves the accumulated result into `g`; sets a retryable error when the stream was cut
  // (no finish_reason) or carried an error event.
  void finish(Generation& g, std::optional<Mode>* reported);

 private:
  Delta on_event_unchecked(std::string_view data);
  std::string text_, reasoning_, finish_reason_;
  int64_t prompt_tokens_ = -1, completion_tokens_ = -1, reasoning_tokens_ = -1;
  std::optional<Mode> reported_;
  std::optional<GenerationError> error_;
  bool done_ = false;
  bool any_token_ = false;
  int malformed_events_ = 0;
  int fast_events_ = 0;
};

// How an HTTP error status is treated: 408/409/425/429/5xx are retryable, other 4xx final.
// `retry_after` / `retry_after_ms` are the raw headers (seconds or an HTTP date; ms).
GenerationError classify_http_error(long status, std::string_view body,
                                    const std::optional<std::string>& retry_after,
                                    const std::optional<std::string>& retry_after_ms,
                                    std::string_view endpoint);
// Retry-After: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); `now_unix` for the date form.
std::optional<double> parse_retry_after(std::string_view value, int64_t now_unix);

// ---------------------------------------------------------------- server side (v4eval serve)

// Reads a Chat Completions request. The mode comes from `thinking` / `reasoning_effort` (either
// top-level or in chat_template_kwargs), the attempt identity from `metadata`
// {suite, sample_id, repeat, attempt_mode}. Errors name the offending field.
struct ServerChatRequest {
  GenerationRequest request;
  std::string model;
  bool stream = false;
  bool include_usage = false;
};
Result<ServerChatRequest> parse_server_chat_request(std::string_view body);

// A complete non-streaming response body.
Json completion_response(const Generation& g, const std::string& id, const std::string& model,
                         int64_t created_unix, Mode requested);
// One streamed chunk (`chat.completion.chunk`); `finish_reason` empty for content chunks.
Json completion_chunk(const std::string& id, const std::string& model, int64_t created_unix,
                      const std::string* role, const std::string* text,
                      const std::string* reasoning, const std::string* finish_reason);
Json usage_json(const Generation& g);
// The OpenAI error object: {"error": {"message", "type", "param", "code"}}.
Json error_body(std::string_view message, std::string_view type, std::string_view code = "");

}  // namespace v4eval::openai
