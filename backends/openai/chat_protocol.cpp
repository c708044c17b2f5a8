#include "backends/openai/chat_protocol.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>

namespace v4eval::openai {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

void lstrip(std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  s.erase(0, b == std::string::npos ? s.size() : b);
}

void strip(std::string& s) {
  lstrip(s);
  size_t e = s.find_last_not_of(" \t\r\n");
  s.erase(e == std::string::npos ? 0 : e + 1);
}

// Printable, bounded excerpt of a server's text for error messages.
std::string excerpt(std::string_view s, size_t limit = 300) {
  std::string out;
  for (char c : s.substr(0, limit)) out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  if (s.size() > limit) out += "…";
  return out;
}

// Message text: a string, null, or an array of {type: "text", text} parts.
std::optional<std::string> content_text(const Json& v) {
  if (v.is_null()) return std::string();
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& part : v) {
      if (part.is_string()) {
        out += part.get<std::string>();
      } else if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        out += part["text"].get<std::string>();
      } else {
        return std::nullopt;
      }
    }
    return out;
  }
  return std::nullopt;
}

std::string string_field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t int_field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

void read_usage(const Json& usage, int64_t& prompt, int64_t& completion, int64_t& reasoning) {
  if (!usage.is_object()) return;
  if (int64_t v = int_field(usage, "prompt_tokens"); v >= 0) prompt = v;
  if (int64_t v = int_field(usage, "completion_tokens"); v >= 0) completion = v;
  if (auto d = usage.find("completion_tokens_details"); d != usage.end() && d->is_object())
    if (int64_t v = int_field(*d, "reasoning_tokens"); v >= 0) reasoning = v;
  if (int64_t v = int_field(usage, "reasoning_tokens"); v >= 0) reasoning = v;
}

std::optional<Mode> reported_mode(const Json& j) {
  auto ext = j.find("v4eval");
  if (ext == j.end() || !ext->is_object()) return std::nullopt;
  return parse_mode(string_field(*ext, "effective_mode"));
}

// An `error` object inside a 200 body or an SSE event (vLLM, SGLang and proxies send these).
GenerationError error_from_object(const Json& error) {
  std::string message = error.is_object() ? string_field(error, "message") : excerpt(error.dump());
  std::string type = error.is_object() ? string_field(error, "type") : "";
  int64_t code = -1;
  if (error.is_object()) {
    if (auto c = error.find("code"); c != error.end()) {
      if (c->is_number_integer()) code = c->get<int64_t>();
      if (c->is_string()) code = std::atoll(c->get<std::string>().c_str());
    }
  }
  bool retryable = code == 429 || code >= 500 || type.find("server") != std::string::npos ||
                   type.find("overloaded") != std::string::npos ||
                   type.find("rate_limit") != std::string::npos ||
                   type.find("timeout") != std::string::npos;
  return {retryable ? ErrorKind::kRetryable : ErrorKind::kFinal,
          "server error" + (type.empty() ? "" : " (" + type + ")") + ": " + excerpt(message),
          std::nullopt};
}

GenerationError malformed(std::string_view what, std::string_view body) {
  return {ErrorKind::kRetryable,
          std::string(what) + " (" + std::to_string(body.size()) + " bytes: " + excerpt(body, 120) +
              ")",
          std::nullopt};
}

}  // namespace

void parse_chat_completion_unchecked(std::string_view body, Generation& g,
                                     std::optional<Mode>* reported);
Result<ServerChatRequest> parse_server_chat_request_unchecked(std::string_view body);

// ---------------------------------------------------------------- modes

const Json& ModeMapping::for_mode(Mode m) const {
  switch (m) {
    case Mode::kNonThink:
      return non_think;
    case Mode::kThinkHigh:
      return think_high;
    case Mode::kThinkMax:
      return think_max;
  }
  return non_think;
}

std::optional<ModeMapping> mode_mapping_for_style(std::string_view style) {
  ModeMapping m;
  if (style == "deepseek") {
    m.non_think = {{"thinking", {{"type", "disabled"}}}};
    m.think_high = {{"thinking", {{"type", "enabled"}}}, {"reasoning_effort", "high"}};
    m.think_max = {{"thinking", {{"type", "enabled"}}}, {"reasoning_effort", "max"}};
  } else if (style == "template") {
    m.non_think = {{"chat_template_kwargs", {{"thinking", false}}}};
    m.think_high = {{"chat_template_kwargs", {{"thinking", true}, {"reasoning_effort", "high"}}}};
    m.think_max = {{"chat_template_kwargs", {{"thinking", true}, {"reasoning_effort", "max"}}}};
  } else if (style != "none") {
    return std::nullopt;
  }
  return m;
}

Mode infer_effective_mode(Mode requested, const ModeMapping& mapping, bool reasoned,
                          std::optional<Mode> server_reported) {
  if (server_reported) return *server_reported;
  Mode sent = requested;
  for (Mode m : {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax}) {
    if (mapping.for_mode(m) == mapping.for_mode(requested)) {
      sent = m;
      break;
    }
  }
  if (!reasoned) return Mode::kNonThink;
  return sent == Mode::kNonThink ? Mode::kThinkHigh : sent;
}

// ---------------------------------------------------------------- requests out

Json build_chat_request(const GenerationRequest& r, const ChatOptions& o) {
  Json messages = Json::array();
  if (r.messages)
    for (const auto& m : *r.messages)
      messages.push_back({{"role", m.role}, {"content", m.content}});
  Json body = {{"model", o.model}, {"messages", std::move(messages)}};
  if (r.max_tokens > 0) body[o.max_tokens_field] = r.max_tokens;
  if (r.temperature) body["temperature"] = *r.temperature;
  if (r.top_p) body["top_p"] = *r.top_p;
  if (r.seed) body["seed"] = *r.seed;
  if (!r.stop.empty()) body["stop"] = r.stop;
  if (o.stream) {
    body["stream"] = true;
    if (o.stream_usage) body["stream_options"] = {{"include_usage", true}};
  }
  if (o.send_attempt_metadata) {
    body["metadata"] = {
        {"suite", r.suite}, {"sample_id", r.sample_id}, {"repeat", std::to_string(r.repeat)}};
    if (r.attempt_mode) body["metadata"]["attempt_mode"] = mode_name(*r.attempt_mode);
  }
  body.merge_patch(o.modes.for_mode(r.mode));
  body.merge_patch(o.extra);
  return body;
}

// ---------------------------------------------------------------- responses in

void split_inline_reasoning(std::string& text, std::string& reasoning, bool thinking_mode) {
  if (!reasoning.empty()) return;  // the server separated it already
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start != std::string::npos && text.compare(start, kOpen.size(), kOpen) == 0) {
    size_t body = start + kOpen.size();
    size_t close = text.find(kClose, body);
    if (close == std::string::npos) {
      reasoning = text.substr(body);
      text.clear();
    } else {
      reasoning = text.substr(body, close - body);
      text.erase(0, close + kClose.size());
      lstrip(text);
    }
    strip(reasoning);
    return;
  }
  if (!thinking_mode) return;
  size_t close = text.find(kClose);
  if (close == std::string::npos) return;
  reasoning = text.substr(0, close);
  text.erase(0, close + kClose.size());
  lstrip(text);
  strip(reasoning);
}

void parse_chat_completion(std::string_view body, Generation& g, std::optional<Mode>* reported) {
  try {
    parse_chat_completion_unchecked(body, g, reported);
  } catch (const Json::exception&) {  // a field of an unexpected JSON type
    g.error = malformed("completion with fields of unexpected types", body);
  }
}

void parse_chat_completion_unchecked(std::string_view body, Generation& g,
                                     std::optional<Mode>* reported) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    g.error = malformed("malformed completion body", body);
    return;
  }
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    g.error = error_from_object(*e);
    return;
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty() ||
      !(*choices)[0].is_object() || !(*choices)[0].contains("message") ||
      !(*choices)[0]["message"].is_object()) {
    g.error = malformed("completion without choices[0].message", body);
    return;
  }
  const Json& choice = (*choices)[0];
  const Json& message = choice["message"];
  auto text = content_text(message.value("content", Json()));
  if (!text) {
    g.error = malformed("completion content is neither text nor text parts", body);
    return;
  }
  g.text = std::move(*text);
  g.reasoning = string_field(message, "reasoning_content");
  if (g.reasoning.empty()) g.reasoning = string_field(message, "reasoning");
  g.finish_reason = string_field(choice, "finish_reason");
  if (auto u = j.find("usage"); u != j.end())
    read_usage(*u, g.prompt_tokens, g.completion_tokens, g.reasoning_tokens);
  if (reported) *reported = reported_mode(j);
}

void SseParser::take_line() {
  // "field: value" (one optional space after the colon); lines starting with ':' are comments.
  if (line_[0] == ':') return;
  size_t colon = line_.find(':');
  std::string_view field = std::string_view(line_).substr(0, colon);
  if (field != "data") return;  // event, id, retry: not used by Chat Completions
  std::string_view value;
  if (colon != std::string::npos) {
    value = std::string_view(line_).substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (has_data_) data_.push_back('\n');
  data_.append(value);
  has_data_ = true;
}

ChatStream::Delta ChatStream::on_event(std::string_view data) {
  try {
    return on_event_unchecked(data);
  } catch (const Json::exception&) {
    if (!error_) error_ = malformed("stream event with fields of unexpected types", data);
    return {};
  }
}

ChatStream::Delta ChatStream::on_event_unchecked(std::string_view data) {
  Delta delta;
  if (data == "[DONE]") {
    done_ = true;
    return delta;
  }
  Json j = Json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    if (!error_) error_ = malformed("malformed stream event", data);
    return delta;
  }
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    error_ = error_from_object(*e);
    return delta;
  }
  if (auto choices = j.find("choices"); choices != j.end() && choices->is_array()) {
    for (const auto& choice : *choices) {
      if (!choice.is_object() || choice.value("index", 0) != 0) continue;
      if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
        if (auto c = d->find("content"); c != d->end()) {
          if (auto t = content_text(*c)) delta.text = std::move(*t);
        }
        delta.reasoning = string_field(*d, "reasoning_content");
        if (delta.reasoning.empty()) delta.reasoning = string_field(*d, "reasoning");
      }
      if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string())
        finish_reason_ = f->get<std::string>();
    }
  }
  if (auto u = j.find("usage"); u != j.end())
    read_usage(*u, prompt_tokens_, completion_tokens_, reasoning_tokens_);
  if (auto m = reported_mode(j)) reported_ = m;
  text_ += delta.text;
  reasoning_ += delta.reasoning;
  if (!delta.text.empty() || !delta.reasoning.empty()) any_token_ = true;
  return delta;
}

void ChatStream::finish(Generation& g, std::optional<Mode>* reported) {
  g.text = std::move(text_);
  g.reasoning = std::move(reasoning_);
  g.finish_reason = finish_reason_;
  g.prompt_tokens = prompt_tokens_;
  g.completion_tokens = completion_tokens_;
  g.reasoning_tokens = reasoning_tokens_;
  if (reported) *reported = reported_;
  if (error_) {
    g.error = error_;
  } else if (finish_reason_.empty()) {
    g.error = GenerationError{ErrorKind::kRetryable,
                              done_ ? "stream ended ([DONE]) without a finish_reason"
                                    : "stream cut before the completion finished",
                              std::nullopt};
  }
}

std::optional<double> parse_retry_after(std::string_view value, int64_t now_unix) {
  std::string v(value);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.pop_back();
  if (v.empty()) return std::nullopt;
  char* end = nullptr;
  double seconds = std::strtod(v.c_str(), &end);
  if (end && *end == '\0' && std::isfinite(seconds)) return std::max(0.0, seconds);
  std::tm tm{};
  const char* rest = strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  int64_t at = timegm(&tm);
  return double(std::max<int64_t>(0, at - now_unix));
}

GenerationError classify_http_error(long status, std::string_view body,
                                    const std::optional<std::string>& retry_after,
                                    const std::optional<std::string>& retry_after_ms,
                                    std::string_view endpoint) {
  GenerationError e;
  bool retryable =
      status == 408 || status == 409 || status == 425 || status == 429 || status >= 500;
  e.kind = retryable ? ErrorKind::kRetryable : ErrorKind::kFinal;
  std::string detail;
  Json j = Json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error")) {
    const Json& err = j["error"];
    detail = err.is_object() ? string_field(err, "message")
                             : (err.is_string() ? err.get<std::string>() : "");
  }
  if (detail.empty()) detail = std::string(body);
  e.message = "HTTP " + std::to_string(status) + " from " + std::string(endpoint);
  if (status >= 300 && status < 400)
    e.message += " (redirect: point base_url at the final address)";
  if (!detail.empty()) e.message += ": " + excerpt(detail);
  if (retry_after_ms) {
    char* end = nullptr;
    double ms = std::strtod(retry_after_ms->c_str(), &end);
    if (end != retry_after_ms->c_str() && std::isfinite(ms) && ms >= 0)
      e.retry_after_s = ms / 1000.0;
  }
  if (!e.retry_after_s && retry_after)
    e.retry_after_s = parse_retry_after(*retry_after, int64_t(std::time(nullptr)));
  return e;
}

// ---------------------------------------------------------------- server side

Result<ServerChatRequest> parse_server_chat_request(std::string_view body) {
  try {
    return parse_server_chat_request_unchecked(body);
  } catch (const Json::exception& e) {
    return InvalidArgument(std::string("request has a field of the wrong type: ") + e.what());
  }
}

Result<ServerChatRequest> parse_server_chat_request_unchecked(std::string_view body) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) return InvalidArgument("request body is not valid JSON");
  if (!j.is_object()) return InvalidArgument("request body must be a JSON object");
  ServerChatRequest out;
  GenerationRequest& r = out.request;
  auto messages = j.find("messages");
  if (messages == j.end() || !messages->is_array() || messages->empty())
    return InvalidArgument("'messages' must be a non-empty array");
  auto list = std::make_shared<Messages>();
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& m = (*messages)[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      return InvalidArgument(where + " needs a string 'role'");
    auto text = content_text(m.value("content", Json()));
    if (!text) return InvalidArgument(where + ".content must be a string or text parts");
    list->push_back({m["role"].get<std::string>(), std::move(*text)});
  }
  r.messages = std::move(list);
  if (auto v = j.find("model"); v != j.end()) {
    if (!v->is_string()) return InvalidArgument("'model' must be a string");
    out.model = v->get<std::string>();
  }
  if (auto v = j.find("stream"); v != j.end() && !v->is_null()) {
    if (!v->is_boolean()) return InvalidArgument("'stream' must be a boolean");
    out.stream = v->get<bool>();
  }
  if (auto v = j.find("stream_options"); v != j.end() && v->is_object())
    out.include_usage = v->value("include_usage", false);
  if (auto v = j.find("n"); v != j.end() && !v->is_null() && *v != 1)
    return InvalidArgument("'n' must be 1");
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    auto v = j.find(key);
    if (v == j.end() || v->is_null()) continue;
    if (!v->is_number_integer() || v->get<int64_t>() < 1)
      return InvalidArgument(std::string("'") + key + "' must be a positive integer");
    r.max_tokens = v->get<int64_t>();
  }
  if (auto v = j.find("temperature"); v != j.end() && !v->is_null()) {
    if (!v->is_number() || v->get<double>() < 0)
      return InvalidArgument("'temperature' must be a number >= 0");
    r.temperature = v->get<double>();
  }
  if (auto v = j.find("top_p"); v != j.end() && !v->is_null()) {
    if (!v->is_number() || v->get<double>() <= 0 || v->get<double>() > 1)
      return InvalidArgument("'top_p' must be in (0, 1]");
    r.top_p = v->get<double>();
  }
  if (auto v = j.find("seed"); v != j.end() && !v->is_null()) {
    if (!v->is_number_integer()) return InvalidArgument("'seed' must be an integer");
    r.seed = uint64_t(v->get<int64_t>());
  }
  if (auto v = j.find("stop"); v != j.end() && !v->is_null()) {
    if (v->is_string()) {
      r.stop.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      for (const auto& s : *v) {
        if (!s.is_string()) return InvalidArgument("'stop' must be a string or strings");
        r.stop.push_back(s.get<std::string>());
      }
    } else {
      return InvalidArgument("'stop' must be a string or strings");
    }
  }
  // Reasoning mode, DeepSeek API semantics (§5.3): thinking is on unless disabled; effort
  // low/medium/high -> high, max/xhigh -> max. chat_template_kwargs carries the same switches.
  std::optional<bool> thinking;
  std::string effort;
  if (auto v = j.find("thinking"); v != j.end() && v->is_object()) {
    std::string type = string_field(*v, "type");
    if (type != "enabled" && type != "disabled")
      return InvalidArgument("'thinking.type' must be \"enabled\" or \"disabled\"");
    thinking = type == "enabled";
  }
  effort = string_field(j, "reasoning_effort");
  if (auto k = j.find("chat_template_kwargs"); k != j.end() && k->is_object()) {
    for (const char* key : {"thinking", "enable_thinking"})
      if (auto v = k->find(key); v != k->end() && v->is_boolean() && !thinking)
        thinking = v->get<bool>();
    if (effort.empty()) effort = string_field(*k, "reasoning_effort");
  }
  if (!effort.empty() && effort != "low" && effort != "medium" && effort != "high" &&
      effort != "max" && effort != "xhigh")
    return InvalidArgument("'reasoning_effort' must be low, medium, high, max or xhigh");
  if (thinking.value_or(true))
    r.mode = effort == "max" || effort == "xhigh" ? Mode::kThinkMax : Mode::kThinkHigh;
  else
    r.mode = Mode::kNonThink;
  if (auto md = j.find("metadata"); md != j.end() && md->is_object()) {
    r.suite = string_field(*md, "suite");
    r.sample_id = string_field(*md, "sample_id");
    if (auto am = md->find("attempt_mode"); am != md->end()) {
      auto m = am->is_string() ? parse_mode(am->get<std::string>()) : std::nullopt;
      if (!m)
        return InvalidArgument(
            "'metadata.attempt_mode' must be non-think, think-high or think-max");
      r.attempt_mode = m;
    }
    if (auto rep = md->find("repeat"); rep != md->end()) {
      if (rep->is_number_integer()) {
        r.repeat = rep->get<int>();
      } else if (rep->is_string()) {
        char* end = nullptr;
        long v = std::strtol(rep->get<std::string>().c_str(), &end, 10);
        if (!end || *end != '\0' || v < 0)
          return InvalidArgument("'metadata.repeat' must be an integer");
        r.repeat = int(v);
      }
    }
  }
  return out;
}

Json usage_json(const Generation& g) {
  Json u = Json::object();
  if (g.prompt_tokens >= 0) u["prompt_tokens"] = g.prompt_tokens;
  if (g.completion_tokens >= 0) u["completion_tokens"] = g.completion_tokens;
  if (g.prompt_tokens >= 0 && g.completion_tokens >= 0)
    u["total_tokens"] = g.prompt_tokens + g.completion_tokens;
  if (g.reasoning_tokens >= 0)
    u["completion_tokens_details"] = {{"reasoning_tokens", g.reasoning_tokens}};
  return u;
}

Json completion_response(const Generation& g, const std::string& id, const std::string& model,
                         int64_t created_unix, Mode requested) {
  Json message = {{"role", "assistant"}, {"content", g.text}};
  message["reasoning_content"] = g.reasoning.empty() ? Json() : Json(g.reasoning);
  Json ext = {{"effective_mode", mode_name(g.effective_mode.value_or(requested))},
              {"latency_ms", g.latency_ms}};
  if (g.time_to_first_token_ms >= 0) ext["time_to_first_token_ms"] = g.time_to_first_token_ms;
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created_unix},
          {"model", model},
          {"choices",
           Json::array({{{"index", 0},
                         {"message", std::move(message)},
                         {"logprobs", nullptr},
                         {"finish_reason", g.finish_reason.empty() ? "stop" : g.finish_reason}}})},
          {"usage", usage_json(g)},
          {"v4eval", std::move(ext)}};
}

Json completion_chunk(const std::string& id, const std::string& model, int64_t created_unix,
                      const std::string* role, const std::string* text,
                      const std::string* reasoning, const std::string* finish_reason) {
  Json delta = Json::object();
  if (role) delta["role"] = *role;
  if (reasoning) delta["reasoning_content"] = *reasoning;
  if (text) delta["content"] = *text;
  return {{"id", id},
          {"object", "chat.completion.chunk"},
          {"created", created_unix},
          {"model", model},
          {"choices",
           Json::array({{{"index", 0},
                         {"delta", std::move(delta)},
                         {"logprobs", nullptr},
                         {"finish_reason", finish_reason ? Json(*finish_reason) : Json()}}})}};
}

Json error_body(std::string_view message, std::string_view type, std::string_view code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", nullptr},
            {"code", code.empty() ? Json() : Json(code)}}}};
}

}  // namespace v4eval::openai
