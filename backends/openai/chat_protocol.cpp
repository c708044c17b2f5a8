#include "backends/openai/chat_protocol.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <set>

#include "backends/openai/json_cursor.h"

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

namespace {

// The request fields build_chat_request may write itself: a patch setting one of them changes
// that field's value (merge patch), which the direct writer does not reproduce.
bool request_writes(const std::string& key) {
  static const std::set<std::string, std::less<>> k = {
      "max_completion_tokens", "max_tokens", "messages", "metadata", "model", "seed",
      "stop", "stream", "stream_options", "temperature", "top_p"};
  return k.count(key) > 0;
}

// A JSON string as nlohmann's dump() writes it (ensure_ascii off): the two-character escapes,
// \u00xx for the other control characters, everything else as is.
void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    size_t n = c < 0x80 ? 1 : utf8_sequence(s, i);
    if (n > 1) {  // valid multi-byte text is copied as is
      i += n;
      continue;
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static const char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out += "\xEF\xBF\xBD";  // an invalid byte: U+FFFD
        }
    }
    ++i;
    run = i;
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

}  // namespace

ChatBodyWriter::ChatBodyWriter(ChatOptions options) : options_(std::move(options)) {
  for (Mode m : {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax}) {
    Json merged = Json::object();
    merged.merge_patch(options_.modes.for_mode(m));
    merged.merge_patch(options_.extra);
    // Every key of the merged patch comes from one of the two patches, and a key a patch sets
    // to null (deletes) is in it too: checking the patches' own keys covers both.
    bool touches = false;
    for (const Json* patch :
         std::initializer_list<const Json*>{&options_.modes.for_mode(m), &options_.extra}) {
      if (!patch->is_object()) {
        touches = true;  // it replaces the whole body
        continue;
      }
      for (auto it = patch->begin(); it != patch->end(); ++it)
        touches = touches || request_writes(it.key());
    }
    std::vector<std::pair<std::string, std::string>> fields;
    for (auto it = merged.begin(); it != merged.end(); ++it)
      fields.emplace_back(it.key(), it.value().dump());
    if (!touches) patch_[static_cast<int>(m)] = std::move(fields);
  }
}

std::string ChatBodyWriter::body(const GenerationRequest& r) const {
  const auto& patch = patch_[static_cast<int>(r.mode)];
  if (!patch)
    return build_chat_request(r, options_).dump(-1, ' ', false, Json::error_handler_t::replace);
  const ChatOptions& o = options_;
  size_t text_bytes = 0;
  if (r.messages)
    for (const auto& m : *r.messages) text_bytes += m.role.size() + m.content.size() + 32;
  // The top-level fields in the order std::map keeps them (nlohmann's object): by key.
  enum Field { kMaxTokens, kMessages, kMetadata, kModel, kSeed, kStop, kStream, kStreamOptions,
               kTemperature, kTopP, kPatch };
  std::vector<std::pair<std::string_view, int>> order;
  order.reserve(10 + patch->size());
  if (r.max_tokens > 0) order.emplace_back(o.max_tokens_field, kMaxTokens);
  order.emplace_back("messages", kMessages);
  if (o.send_attempt_metadata) order.emplace_back("metadata", kMetadata);
  order.emplace_back("model", kModel);
  if (r.seed) order.emplace_back("seed", kSeed);
  if (!r.stop.empty()) order.emplace_back("stop", kStop);
  if (o.stream) {
    order.emplace_back("stream", kStream);
    if (o.stream_usage) order.emplace_back("stream_options", kStreamOptions);
  }
  if (r.temperature) order.emplace_back("temperature", kTemperature);
  if (r.top_p) order.emplace_back("top_p", kTopP);
  for (size_t i = 0; i < patch->size(); ++i) order.emplace_back((*patch)[i].first, kPatch + int(i));
  std::sort(order.begin(), order.end());

  std::string out;
  out.reserve(text_bytes + 256);
  out.push_back('{');
  for (size_t f = 0; f < order.size(); ++f) {
    if (f) out.push_back(',');
    append_json_string(out, order[f].first);
    out.push_back(':');
    switch (order[f].second) {
      case kMaxTokens: out += std::to_string(r.max_tokens); break;
      case kMessages:
        out.push_back('[');
        if (r.messages)
          for (size_t i = 0; i < r.messages->size(); ++i) {
            const auto& m = (*r.messages)[i];
            out += i ? ",{\"content\":" : "{\"content\":";
            append_json_string(out, m.content);
            out += ",\"role\":";
            append_json_string(out, m.role);
            out.push_back('}');
          }
        out.push_back(']');
        break;
      case kMetadata:
        out.push_back('{');
        if (r.attempt_mode) {
          out += "\"attempt_mode\":";
          append_json_string(out, mode_name(*r.attempt_mode));
          out.push_back(',');
        }
        out += "\"repeat\":";
        append_json_string(out, std::to_string(r.repeat));
        out += ",\"sample_id\":";
        append_json_string(out, r.sample_id);
        out += ",\"suite\":";
        append_json_string(out, r.suite);
        out.push_back('}');
        break;
      case kModel: append_json_string(out, o.model); break;
      case kSeed: out += std::to_string(*r.seed); break;
      case kStop:
        out.push_back('[');
        for (size_t i = 0; i < r.stop.size(); ++i) {
          if (i) out.push_back(',');
          append_json_string(out, r.stop[i]);
        }
        out.push_back(']');
        break;
      case kStream: out += "true"; break;
      case kStreamOptions: out += "{\"include_usage\":true}"; break;
      case kTemperature: out += Json(*r.temperature).dump(); break;
      case kTopP: out += Json(*r.top_p).dump(); break;
      default: out += (*patch)[size_t(order[f].second - kPatch)].second;
    }
  }
  out.push_back('}');
  return out;
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

namespace {

using JType = JsonCursor::Type;

// Reads `key`'s value into *out when it is a string (else skips it: string_field's ""); false
// on a second `key` in the same object (the tree keeps the last one: it decides) or bad input.
bool string_member(JsonCursor& c, bool& seen, std::string* out) {
  if (seen) return false;
  seen = true;
  return c.peek() == JType::kString ? c.string(out) : c.skip();
}

// An integer member as int_field reads it: the value, or -1 for anything else.
bool int_member(JsonCursor& c, bool& seen, int64_t* out) {
  if (seen) return false;
  seen = true;
  if (c.peek() != JType::kNumber) return c.skip();
  bool integer = false;
  if (!c.number(out, &integer)) return false;
  if (!integer) *out = -1;
  return true;
}

struct FastCompletion {
  std::string text, reasoning_content, reasoning, finish_reason;
  bool have_message = false;
  int64_t prompt = -1, completion = -1, details_reasoning = -1, usage_reasoning = -1;
  std::optional<Mode> mode;
};

bool read_message(JsonCursor& c, FastCompletion& f) {
  bool content = false, reasoning_content = false, reasoning = false;
  std::string key;
  while (c.next_key(&key)) {
    bool ok;
    if (key == "content") {
      if (content) return false;
      content = true;
      JType t = c.peek();
      if (t == JType::kString)
        ok = c.string(&f.text);
      else if (t == JType::kNull)
        ok = c.skip();
      else
        return false;  // text parts, or not text at all: the tree path
    } else if (key == "reasoning_content") {
      ok = string_member(c, reasoning_content, &f.reasoning_content);
    } else if (key == "reasoning") {
      ok = string_member(c, reasoning, &f.reasoning);
    } else {
      ok = c.skip();
    }
    if (!ok) return false;
  }
  return c.ok();
}

bool read_choice(JsonCursor& c, FastCompletion& f) {
  if (!c.begin_object()) return false;
  bool finish = false;
  std::string key;
  while (c.next_key(&key)) {
    bool ok;
    if (key == "message") {
      if (f.have_message || c.peek() != JType::kObject) return false;
      f.have_message = true;
      ok = c.begin_object() && read_message(c, f);
    } else if (key == "finish_reason") {
      ok = string_member(c, finish, &f.finish_reason);
    } else {
      ok = c.skip();
    }
    if (!ok) return false;
  }
  return c.ok();
}

bool read_usage_fast(JsonCursor& c, FastCompletion& f) {
  if (c.peek() != JType::kObject) return c.skip();  // read_usage ignores a non-object
  c.begin_object();
  bool prompt = false, completion = false, details = false, reasoning = false;
  std::string key;
  while (c.next_key(&key)) {
    bool ok;
    if (key == "prompt_tokens") {
      ok = int_member(c, prompt, &f.prompt);
    } else if (key == "completion_tokens") {
      ok = int_member(c, completion, &f.completion);
    } else if (key == "reasoning_tokens") {
      ok = int_member(c, reasoning, &f.usage_reasoning);
    } else if (key == "completion_tokens_details") {
      if (details) return false;
      details = true;
      if (c.peek() != JType::kObject) {
        ok = c.skip();
      } else {
        c.begin_object();
        bool inner = false;
        std::string k2;
        ok = true;
        while (ok && c.next_key(&k2))
          ok = k2 == "reasoning_tokens" ? int_member(c, inner, &f.details_reasoning) : c.skip();
        ok = ok && c.ok();
      }
    } else {
      ok = c.skip();
    }
    if (!ok) return false;
  }
  return c.ok();
}

bool read_extension(JsonCursor& c, FastCompletion& f) {  // {"v4eval": {"effective_mode": …}}
  if (c.peek() != JType::kObject) return c.skip();
  c.begin_object();
  bool seen = false;
  std::string key, mode;
  while (c.next_key(&key)) {
    bool ok = key == "effective_mode" ? string_member(c, seen, &mode) : c.skip();
    if (!ok) return false;
  }
  f.mode = parse_mode(mode);
  return c.ok();
}

// The top level a completion and a stream chunk share: `error` (only null is taken),
// `choices` (read by `choices(c)`), `usage`, `v4eval`, anything else skipped; one value only.
template <class ReadChoices>
bool read_top_level(std::string_view body, FastCompletion& f, ReadChoices&& choices) {
  JsonCursor c(body);
  if (c.peek() != JType::kObject) return false;
  c.begin_object();
  bool have_choices = false, usage = false, extension = false;
  std::string key;
  while (c.next_key(&key)) {
    bool ok;
    if (key == "error") {
      if (c.peek() != JType::kNull) return false;
      ok = c.skip();
    } else if (key == "choices") {
      if (have_choices) return false;
      have_choices = true;
      ok = choices(c);
    } else if (key == "usage") {
      if (usage) return false;
      usage = true;
      ok = read_usage_fast(c, f);
    } else if (key == "v4eval") {
      if (extension) return false;
      extension = true;
      ok = read_extension(c, f);
    } else {
      ok = c.skip();
    }
    if (!ok) return false;
  }
  return c.ok() && c.at_end();
}

// One element of a chunk's `choices`. The tree reader looks only at choices whose index is 0
// (missing: 0); a second one of those, an index that is not a plain integer or content in
// parts are left to it.
bool read_chunk_choice(JsonCursor& c, FastCompletion& f, bool& seen_first, bool& finish_set) {
  if (c.peek() != JType::kObject) return false;
  c.begin_object();
  int64_t index = 0;
  bool index_seen = false, delta_seen = false, finish_seen = false, has_finish = false;
  bool content = false, reasoning_content = false, reasoning = false;
  std::string text, rc, r, finish, key;
  while (c.next_key(&key)) {
    bool ok;
    if (key == "index") {
      if (index_seen || c.peek() != JType::kNumber) return false;
      index_seen = true;
      bool integer = false;
      if (!c.number(&index, &integer) || !integer || index < std::numeric_limits<int>::min() ||
          index > std::numeric_limits<int>::max())
        return false;
      ok = true;
    } else if (key == "delta") {
      if (delta_seen) return false;
      delta_seen = true;
      if (c.peek() != JType::kObject) {
        ok = c.skip();
      } else {
        c.begin_object();
        std::string k2;
        ok = true;
        while (ok && c.next_key(&k2)) {
          if (k2 == "content") {
            if (content || c.peek() == JType::kArray) return false;
            content = true;
            // A string is the text; anything else adds none (content_text gives "" or nothing).
            ok = c.peek() == JType::kString ? c.string(&text) : c.skip();
          } else if (k2 == "reasoning_content") {
            ok = string_member(c, reasoning_content, &rc);
          } else if (k2 == "reasoning") {
            ok = string_member(c, reasoning, &r);
          } else {
            ok = c.skip();
          }
        }
        ok = ok && c.ok();
      }
    } else if (key == "finish_reason") {
      if (finish_seen) return false;
      finish_seen = true;
      has_finish = c.peek() == JType::kString;
      ok = has_finish ? c.string(&finish) : c.skip();
    } else {
      ok = c.skip();
    }
    if (!ok) return false;
  }
  if (!c.ok()) return false;
  if (index != 0) return true;
  if (seen_first) return false;
  seen_first = true;
  f.text = std::move(text);
  f.reasoning_content = std::move(rc);
  f.reasoning = std::move(r);
  if (has_finish) {
    f.finish_reason = std::move(finish);
    finish_set = true;
  }
  return true;
}

// A stream chunk's fields into `f`; false (nothing decided) when the tree reader must read it.
bool read_chat_chunk_fast(std::string_view data, FastCompletion& f, bool& finish_set) {
  bool seen_first = false;
  finish_set = false;
  return read_top_level(data, f, [&](JsonCursor& c) {
    if (c.peek() != JType::kArray) return c.skip();  // the tree reader ignores it too
    c.begin_array();
    while (c.next_element())
      if (!read_chunk_choice(c, f, seen_first, finish_set)) return false;
    return c.ok();
  });
}

}  // namespace

// The fast path of parse_chat_completion: a completion shaped the way servers send one, read in
// place. Anything else (an error object, content in parts, no message, a repeated key, JSON the
// cursor does not take) returns false with `g` untouched, and the tree parser decides.
bool read_chat_completion_fast(std::string_view body, Generation& g,
                               std::optional<Mode>* reported) {
  FastCompletion f;
  bool ok = read_top_level(body, f, [&f](JsonCursor& c) {
    // choices[0] must be there; the others are skipped.
    if (!c.begin_array() || !c.next_element() || !read_choice(c, f)) return false;
    while (c.next_element())
      if (!c.skip()) return false;
    return c.ok();
  });
  if (!ok || !f.have_message) return false;
  g.text = std::move(f.text);
  g.reasoning = f.reasoning_content.empty() ? std::move(f.reasoning) : std::move(f.reasoning_content);
  g.finish_reason = std::move(f.finish_reason);
  if (f.prompt >= 0) g.prompt_tokens = f.prompt;
  if (f.completion >= 0) g.completion_tokens = f.completion;
  if (f.details_reasoning >= 0) g.reasoning_tokens = f.details_reasoning;
  if (f.usage_reasoning >= 0) g.reasoning_tokens = f.usage_reasoning;
  if (reported) *reported = f.mode;
  return true;
}

void parse_chat_completion(std::string_view body, Generation& g, std::optional<Mode>* reported) {
  if (!read_chat_completion_fast(body, g, reported)) parse_chat_completion_tree(body, g, reported);
}

void parse_chat_completion_tree(std::string_view body, Generation& g,
                                std::optional<Mode>* reported) {
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
  if (data == "[DONE]") {
    done_ = true;
    return {};
  }
  FastCompletion f;
  bool finish_set = false;
  if (!read_chat_chunk_fast(data, f, finish_set)) return on_event_tree(data);
  ++fast_events_;
  Delta delta{std::move(f.text),
              f.reasoning_content.empty() ? std::move(f.reasoning) : std::move(f.reasoning_content)};
  if (finish_set) finish_reason_ = std::move(f.finish_reason);
  if (f.prompt >= 0) prompt_tokens_ = f.prompt;  // read_usage's order
  if (f.completion >= 0) completion_tokens_ = f.completion;
  if (f.details_reasoning >= 0) reasoning_tokens_ = f.details_reasoning;
  if (f.usage_reasoning >= 0) reasoning_tokens_ = f.usage_reasoning;
  if (f.mode) reported_ = f.mode;
  text_ += delta.text;
  reasoning_ += delta.reasoning;
  if (!delta.text.empty() || !delta.reasoning.empty()) any_token_ = true;
  return delta;
}

ChatStream::Delta ChatStream::on_event_tree(std::string_view data) {
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
