// The Chat Completions wire format (backends/openai/chat_protocol.h) and the openai/deepseek
// spec: mode mapping, request bodies, responses, SSE, inline reasoning, fault classification.

#include <catch2/catch.hpp>

#include "backends/openai/chat_protocol.h"
#include "backends/openai/openai_backend.h"

using namespace v4eval;
using namespace v4eval::openai;

namespace {

Spec spec_of(const std::string& text) {
  std::string err;
  auto s = parse_spec(text, &err);
  REQUIRE(s);
  return *s;
}

GenerationRequest request(Mode mode) {
  GenerationRequest r;
  r.messages = std::make_shared<Messages>(Messages{{"system", "be brief"}, {"user", "hi"}});
  r.mode = mode;
  r.suite = "mrcr";
  r.sample_id = "7";
  r.repeat = 2;
  return r;
}

}  // namespace

TEST_CASE("deepseek: the three modes map to the DeepSeek API switches", "[openai]") {
  auto c = parse_openai_spec(spec_of("deepseek:api_key_env=X"));
  REQUIRE(c.ok());
  CHECK(c->base_urls == std::vector<std::string>{"https://api.deepseek.com"});
  CHECK(c->chat.model == "deepseek-v4-flash");
  CHECK(c->api_key_env == "X");
  CHECK(c->context_window == 1048576);
  CHECK(c->modes.size() == 3);
  Json non = build_chat_request(request(Mode::kNonThink), c->chat);
  CHECK(non["thinking"] == Json{{"type", "disabled"}});
  CHECK_FALSE(non.contains("reasoning_effort"));
  Json high = build_chat_request(request(Mode::kThinkHigh), c->chat);
  CHECK(high["thinking"] == Json{{"type", "enabled"}});
  CHECK(high["reasoning_effort"] == "high");
  Json max = build_chat_request(request(Mode::kThinkMax), c->chat);
  CHECK(max["reasoning_effort"] == "max");
  CHECK(max["model"] == "deepseek-v4-flash");
  CHECK(max["messages"].size() == 2);
  CHECK(max["messages"][1] == Json{{"role", "user"}, {"content", "hi"}});
  CHECK(max["stream"] == true);
  CHECK(max["stream_options"]["include_usage"] == true);
  CHECK_FALSE(max.contains("metadata"));
}

TEST_CASE("openai: chat-template switches by default; every mode overridable", "[openai]") {
  auto c = parse_openai_spec(spec_of("openai:base_url=http://h:1/v1/,model=m"));
  REQUIRE(c.ok());
  CHECK(c->base_urls == std::vector<std::string>{"http://h:1/v1"});
  Json non = build_chat_request(request(Mode::kNonThink), c->chat);
  CHECK(non["chat_template_kwargs"] == Json{{"thinking", false}});
  Json max = build_chat_request(request(Mode::kThinkMax), c->chat);
  CHECK(max["chat_template_kwargs"] == Json{{"thinking", true}, {"reasoning_effort", "max"}});

  auto o = parse_openai_spec(spec_of(
      R"(openai:base_url=http://h:1/v1,model=m,think_max={"reasoning_effort":"high","thinking":{"type":"enabled"}},extra={"top_k":20,"stream_options":null},stream=false,max_tokens_field=max_completion_tokens,attempt_metadata=true)"));
  REQUIRE(o.ok());
  GenerationRequest r = request(Mode::kThinkMax);
  r.max_tokens = 100;
  r.temperature = 0.5;
  r.seed = 9;
  r.stop = {"END"};
  Json body = build_chat_request(r, o->chat);
  CHECK(body["reasoning_effort"] == "high");
  CHECK_FALSE(body.contains("chat_template_kwargs"));  // replaced, not merged with the style
  CHECK(body["top_k"] == 20);
  CHECK_FALSE(body.contains("stream"));
  CHECK(body["max_completion_tokens"] == 100);
  CHECK(body["temperature"] == 0.5);
  CHECK(body["seed"] == 9);
  CHECK(body["stop"] == Json::array({"END"}));
  CHECK(body["metadata"] == Json{{"suite", "mrcr"}, {"sample_id", "7"}, {"repeat", "2"}});
}

TEST_CASE("request bodies written directly equal the JSON tree's dump, byte for byte",
          "[openai]") {
  // Strings that exercise every escape: quotes, backslash, the two-character escapes, other
  // control characters (\u00xx), DEL, 2/3/4-byte UTF-8, and text around them.
  const std::vector<std::string> texts = {
      "",
      "plain",
      "quote \" backslash \\ slash /",
      std::string("ctl \b\f\n\r\t \x01\x1f\x7f end", 20),
      "汉字 and émoji 😀 and ＡＢＣ",
      std::string(1, '\0') + "nul first",
      "tail \\"};
  const std::vector<std::string> specs = {
      "deepseek:api_key_env=X",
      "openai:base_url=http://h:1/v1,model=m",
      "openai:base_url=http://h:1/v1,model=m,mode_style=none,stream=false",
      R"(openai:base_url=http://h:1/v1,model=m\"q,extra={"top_k":20,"nested":{"a":null,"b":[1,2.5,"x"]},"gone":null},stream_usage=false,attempt_metadata=true,max_tokens_field=max_completion_tokens)",
      // Patches that set or delete a field the request writes: the tree path.
      R"(openai:base_url=http://h:1/v1,model=m,extra={"temperature":0.1,"stream_options":null})",
      R"(openai:base_url=http://h:1/v1,model=m,think_high={"messages":[]})",
  };
  int compared = 0;
  for (const auto& text : specs) {
    auto config = parse_openai_spec(spec_of(text));
    REQUIRE(config.ok());
    ChatBodyWriter writer(config->chat);
    for (Mode mode : {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax})
      for (size_t t = 0; t < texts.size(); ++t)
        for (int variant = 0; variant < 4; ++variant) {
          GenerationRequest r = request(mode);
          r.messages = std::make_shared<Messages>(
              Messages{{"system", texts[(t + 1) % texts.size()]}, {"user", texts[t]}});
          if (variant & 1) {
            r.max_tokens = 4096;
            r.temperature = 0.7;
            r.top_p = 0.95;
            r.seed = 18446744073709551615ull;
            r.stop = {texts[t], "\n\n"};
          }
          if (variant & 2) {
            r.attempt_mode = Mode::kThinkHigh;
            r.sample_id = texts[t];
            r.messages = std::make_shared<Messages>();
          }
          INFO(text << " mode " << int(mode) << " text " << t << " variant " << variant);
          CHECK(writer.body(r) == build_chat_request(r, config->chat).dump());
          ++compared;
        }
  }
  CHECK(compared == 6 * 3 * 7 * 4);

  // Invalid UTF-8 (a truncated sequence, a stray continuation byte, an overlong form, a
  // surrogate) becomes U+FFFD; the body stays valid JSON and the valid text is kept.
  auto config = parse_openai_spec(spec_of("openai:base_url=http://h:1/v1,model=m"));
  REQUIRE(config.ok());
  GenerationRequest r = request(Mode::kNonThink);
  r.messages = std::make_shared<Messages>(
      Messages{{"user", "a\xE6\xB1" "b\x80" "c\xC0\xAF" "d\xED\xA0\x80" "e汉"}});
  std::string body = ChatBodyWriter(config->chat).body(r);
  Json parsed = Json::parse(body, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  std::string content = parsed["messages"][0]["content"];
  CHECK(content.rfind("a\xEF\xBF\xBD", 0) == 0);
  CHECK(content.find("b\xEF\xBF\xBD" "c") != std::string::npos);
  CHECK(content.find("d\xEF\xBF\xBD") != std::string::npos);
  CHECK(content.substr(content.size() - 4) == "e汉");
}

TEST_CASE("openai spec: bad options are refused with the reason", "[openai]") {
  auto err = [](const std::string& text) {
    auto c = parse_openai_spec(spec_of(text));
    REQUIRE_FALSE(c.ok());
    return c.status().message();
  };
  CHECK_THAT(err("openai:model=m"), Catch::Contains("base_url"));
  CHECK_THAT(err("openai:base_url=http://h/v1"), Catch::Contains("model"));
  CHECK_THAT(err("deepseek:api_key=sk-123"), Catch::Contains("api_key_env"));
  CHECK_THAT(err("openai:base_url=http://u:p@h/v1,model=m"), Catch::Contains("credentials"));
  CHECK_THAT(err("openai:base_url=ftp://h,model=m"), Catch::Contains("http://"));
  CHECK_THAT(err("openai:base_url=http://h,model=m,bogus=1"),
             Catch::Contains("unknown option 'bogus'"));
  CHECK_THAT(err("openai:base_url=http://h,model=m,mode_style=x"), Catch::Contains("mode_style"));
  CHECK_THAT(err("openai:base_url=http://h,model=m,non_think=[1]"), Catch::Contains("JSON object"));
  CHECK_THAT(err("openai:base_url=http://h,model=m,rpm=-1"), Catch::Contains("rpm"));
  CHECK_THAT(err("openai:base_url=http://h,model=m,stream=maybe"),
             Catch::Contains("true or false"));
  CHECK_THAT(err("openai:base_url=http://h,model=m,context_window=1000,modes=think-max"),
             Catch::Contains("384K"));
}

TEST_CASE("openai spec: several base URLs / context window limits think-max", "[openai]") {
  auto c = parse_openai_spec(
      spec_of("openai:base_url=http://a:1/v1|https://b/v1,model=m,context_window=131072"));
  REQUIRE(c.ok());
  CHECK(c->base_urls == std::vector<std::string>{"http://a:1/v1", "https://b/v1"});
  CHECK(c->modes == std::vector<Mode>{Mode::kNonThink, Mode::kThinkHigh});
  auto none = parse_openai_spec(spec_of("openai:base_url=http://a/v1,model=m,mode_style=none"));
  REQUIRE(none.ok());
  CHECK(none->modes == std::vector<Mode>{Mode::kNonThink});
}

TEST_CASE("the backend's identity holds what changes answers and never the key", "[openai]") {
  setenv("V4EVAL_UNIT_KEY", "sk-unit-secret-123", 1);
  auto a = make_backend(
      spec_of("openai:base_url=http://127.0.0.1:9/v1,model=m,api_key_env=V4EVAL_UNIT_KEY"));
  auto b = make_backend(
      spec_of("openai:base_url=http://127.0.0.2:9/v1|http://127.0.0.3:9/v1,model=m,timeout_s=5"));
  auto c =
      make_backend(spec_of("openai:base_url=http://127.0.0.1:9/v1,model=m,extra={\"top_k\":5}"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  BackendInfo ia = (*a)->info(), ib = (*b)->info(), ic = (*c)->info();
  CHECK(ia.identity == ib.identity);  // replicas and timeouts do not change answers
  CHECK(ia.identity != ic.identity);
  CHECK(ia.identity.find("sk-unit-secret") == std::string::npos);
  CHECK(ia.kind == "openai");
  CHECK(ia.model == "m");
  auto missing = make_backend(
      spec_of("openai:base_url=http://h/v1,model=m,api_key_env=V4EVAL_UNSET_FOR_SURE"));
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("V4EVAL_UNSET_FOR_SURE"));
}

TEST_CASE("non-streaming completions: text / reasoning / usage / reported mode", "[openai]") {
  Generation g;
  std::optional<Mode> reported;
  parse_chat_completion(R"({"choices":[{"index":0,"message":{"role":"assistant","content":"ans",
      "reasoning_content":"why"},"finish_reason":"length"}],
      "usage":{"prompt_tokens":11,"completion_tokens":7,"completion_tokens_details":{"reasoning_tokens":3}},
      "v4eval":{"effective_mode":"think-max"}})",
                        g, &reported);
  REQUIRE_FALSE(g.error);
  CHECK(g.text == "ans");
  CHECK(g.reasoning == "why");
  CHECK(g.finish_reason == "length");
  CHECK(g.prompt_tokens == 11);
  CHECK(g.completion_tokens == 7);
  CHECK(g.reasoning_tokens == 3);
  CHECK(reported == Mode::kThinkMax);

  Generation parts;
  parse_chat_completion(
      R"({"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],
      "reasoning":"r"},"finish_reason":"stop"}]})",
      parts, nullptr);
  CHECK(parts.text == "ab");
  CHECK(parts.reasoning == "r");
  CHECK(parts.prompt_tokens == -1);
}

TEST_CASE("malformed or truncated bodies are retryable; error objects are classified", "[openai]") {
  for (const char* body : {"", "{\"choices\": [{\"message\": {\"content\": \"hal", "[]",
                           "{\"choices\": []}", "{\"choices\": [{\"message\": {\"content\": 5}}]}",
                           "{\"choices\": [{\"message\": \"x\"}]}"}) {
    Generation g;
    parse_chat_completion(body, g, nullptr);
    INFO(body);
    REQUIRE(g.error);
    CHECK(g.error->kind == ErrorKind::kRetryable);
  }
  Generation overloaded;
  parse_chat_completion(R"({"error":{"message":"busy","type":"overloaded_error","code":529}})",
                        overloaded, nullptr);
  REQUIRE(overloaded.error);
  CHECK(overloaded.error->kind == ErrorKind::kRetryable);
  Generation bad;
  parse_chat_completion(
      R"({"error":{"message":"context too long","type":"invalid_request_error"}})", bad, nullptr);
  REQUIRE(bad.error);
  CHECK(bad.error->kind == ErrorKind::kFinal);
  CHECK_THAT(bad.error->message, Catch::Contains("context too long"));
}

TEST_CASE("SSE: events reassembled across any split / CRLF and comments", "[openai]") {
  std::string wire =
      ": comment\r\ndata: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"th\"}}]}\r\n\r\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
      "event: message\ndata: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\n\n"
      "data: [DONE]\n\n";
  for (size_t step : {size_t(1), size_t(2), size_t(3), size_t(7), wire.size()}) {
    SseParser parser;
    ChatStream stream;
    std::string deltas;
    for (size_t i = 0; i < wire.size(); i += step)
      parser.feed(std::string_view(wire).substr(i, step), [&](std::string_view data) {
        auto d = stream.on_event(data);
        deltas += d.reasoning + "|" + d.text + ";";
      });
    INFO("step " << step);
    CHECK_FALSE(parser.has_partial_event());
    CHECK(stream.done());
    Generation g;
    stream.finish(g, nullptr);
    REQUIRE_FALSE(g.error);
    CHECK(g.text == "Hello");
    CHECK(g.reasoning == "th");
    CHECK(g.finish_reason == "stop");
    CHECK(g.prompt_tokens == 4);
    CHECK(g.completion_tokens == 2);
    CHECK(deltas == "th|;|Hel;|lo;|;|;");
  }
}

TEST_CASE("SSE: a stream cut before finish_reason / or carrying an error / is retryable",
          "[openai]") {
  ChatStream cut;
  cut.on_event(R"({"choices":[{"index":0,"delta":{"content":"part"}}]})");
  Generation g;
  cut.finish(g, nullptr);
  REQUIRE(g.error);
  CHECK(g.error->kind == ErrorKind::kRetryable);
  CHECK(g.text == "part");

  ChatStream err;
  err.on_event(R"({"error":{"message":"engine died","type":"server_error"}})");
  Generation e;
  err.finish(e, nullptr);
  REQUIRE(e.error);
  CHECK(e.error->kind == ErrorKind::kRetryable);
  CHECK_THAT(e.error->message, Catch::Contains("engine died"));

  ChatStream garbled;
  garbled.on_event("{not json");
  garbled.on_event(R"({"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]})");
  Generation m;
  garbled.finish(m, nullptr);
  REQUIRE(m.error);  // a lost event means a lost piece of the answer
}

TEST_CASE("inline reasoning: <think> blocks and the implicit form of thinking modes", "[openai]") {
  auto split = [](std::string text, bool thinking) {
    std::string reasoning;
    split_inline_reasoning(text, reasoning, thinking);
    return std::pair{text, reasoning};
  };
  CHECK(split("<think>\nstep 1\n</think>\n\nAnswer", false) ==
        std::pair<std::string, std::string>{"Answer", "step 1"});
  CHECK(split("  <think>a</think>b", true) == std::pair<std::string, std::string>{"b", "a"});
  CHECK(split("<think>cut mid-thought", true) ==
        std::pair<std::string, std::string>{"", "cut mid-thought"});
  CHECK(split("reasoning</think>\nanswer", true) ==
        std::pair<std::string, std::string>{"answer", "reasoning"});
  CHECK(split("reasoning</think>answer", false) ==
        std::pair<std::string, std::string>{"reasoning</think>answer", ""});
  CHECK(split("plain answer", true) == std::pair<std::string, std::string>{"plain answer", ""});
  std::string text = "<think>x</think>y", reasoning = "already separated";
  split_inline_reasoning(text, reasoning, true);
  CHECK(text == "<think>x</think>y");
}

TEST_CASE("effective mode: what the switches expressed / corrected by what came back", "[openai]") {
  auto deepseek = *mode_mapping_for_style("deepseek");
  CHECK(infer_effective_mode(Mode::kThinkMax, deepseek, true, std::nullopt) == Mode::kThinkMax);
  CHECK(infer_effective_mode(Mode::kThinkHigh, deepseek, false, std::nullopt) == Mode::kNonThink);
  CHECK(infer_effective_mode(Mode::kNonThink, deepseek, true, std::nullopt) == Mode::kThinkHigh);
  CHECK(infer_effective_mode(Mode::kNonThink, deepseek, false, Mode::kThinkMax) == Mode::kThinkMax);
  ModeMapping same_effort = deepseek;
  same_effort.think_max = same_effort.think_high;  // a server without "max"
  CHECK(infer_effective_mode(Mode::kThinkMax, same_effort, true, std::nullopt) == Mode::kThinkHigh);
  auto none = *mode_mapping_for_style("none");
  CHECK(infer_effective_mode(Mode::kThinkMax, none, true, std::nullopt) == Mode::kThinkHigh);
}

TEST_CASE("HTTP errors: 408/409/425/429/5xx retryable with Retry-After; other 4xx final",
          "[openai]") {
  for (long status : {408L, 409L, 425L, 429L, 500L, 502L, 503L, 504L, 529L}) {
    INFO(status);
    CHECK(classify_http_error(status, "", std::nullopt, std::nullopt, "http://h:1").kind ==
          ErrorKind::kRetryable);
  }
  for (long status : {400L, 401L, 403L, 404L, 413L, 422L}) {
    INFO(status);
    CHECK(classify_http_error(status, "", std::nullopt, std::nullopt, "http://h:1").kind ==
          ErrorKind::kFinal);
  }
  auto e = classify_http_error(429, R"({"error":{"message":"slow down"}})", std::string("7"),
                               std::nullopt, "http://h:1");
  CHECK(e.retry_after_s == 7.0);
  CHECK_THAT(e.message,
             Catch::Contains("HTTP 429 from http://h:1") && Catch::Contains("slow down"));
  auto ms = classify_http_error(429, "", std::string("7"), std::string("1500"), "x");
  CHECK(ms.retry_after_s == 1.5);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480) == 10.0);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490) == 0.0);
  CHECK_FALSE(parse_retry_after("soon", 0));
}

TEST_CASE("server side: requests parsed with modes from either switch style", "[openai][serve]") {
  auto parse = [](const std::string& body) {
    auto r = parse_server_chat_request(body);
    REQUIRE(r.ok());
    return r.value();
  };
  auto r = parse(
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"thinking":{"type":"disabled"},
      "max_tokens":10,"temperature":0.2,"top_p":0.9,"seed":4,"stop":"X","stream":true,
      "stream_options":{"include_usage":true},"metadata":{"suite":"mrcr","sample_id":"3","repeat":"2",
      "attempt_mode":"think-high"}})");
  CHECK(r.model == "m");
  CHECK(r.stream);
  CHECK(r.include_usage);
  CHECK(r.request.mode == Mode::kNonThink);
  CHECK(r.request.max_tokens == 10);
  CHECK(r.request.temperature == 0.2);
  CHECK(r.request.top_p == 0.9);
  CHECK(r.request.seed == 4u);
  CHECK(r.request.stop == std::vector<std::string>{"X"});
  CHECK(r.request.suite == "mrcr");
  CHECK(r.request.sample_id == "3");
  CHECK(r.request.repeat == 2);
  CHECK(r.request.attempt_mode == Mode::kThinkHigh);
  CHECK((*r.request.messages)[0].content == "hi");
  // DeepSeek API default: thinking on, effort high.
  CHECK(parse(R"({"messages":[{"role":"user","content":"x"}]})").request.mode == Mode::kThinkHigh);
  CHECK(parse(R"({"messages":[{"role":"user","content":"x"}],"reasoning_effort":"xhigh"})")
            .request.mode == Mode::kThinkMax);
  CHECK(
      parse(
          R"({"messages":[{"role":"user","content":"x"}],"chat_template_kwargs":{"thinking":false}})")
          .request.mode == Mode::kNonThink);
  CHECK(
      parse(
          R"({"messages":[{"role":"user","content":"x"}],"chat_template_kwargs":{"thinking":true,"reasoning_effort":"max"}})")
          .request.mode == Mode::kThinkMax);
  // Round trip through our own client's request builder.
  auto c = parse_openai_spec(spec_of("deepseek:api_key_env=X,attempt_metadata=true"));
  REQUIRE(c.ok());
  for (Mode m : {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax}) {
    auto back = parse(build_chat_request(request(m), c->chat).dump());
    CHECK(back.request.mode == m);
    CHECK(back.request.sample_id == "7");
    CHECK(back.request.repeat == 2);
  }
}

TEST_CASE("server side: bad requests name the field", "[openai][serve]") {
  auto err = [](const std::string& body) {
    auto r = parse_server_chat_request(body);
    REQUIRE_FALSE(r.ok());
    return r.status().message();
  };
  CHECK_THAT(err("{"), Catch::Contains("JSON"));
  CHECK_THAT(err("[]"), Catch::Contains("object"));
  CHECK_THAT(err(R"({"messages":[]})"), Catch::Contains("messages"));
  CHECK_THAT(err(R"({"messages":[{"content":"x"}]})"), Catch::Contains("role"));
  CHECK_THAT(err(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})"),
             Catch::Contains("max_tokens"));
  CHECK_THAT(err(R"({"messages":[{"role":"user","content":"x"}],"n":2})"), Catch::Contains("'n'"));
  CHECK_THAT(err(R"({"messages":[{"role":"user","content":"x"}],"reasoning_effort":"huge"})"),
             Catch::Contains("reasoning_effort"));
  CHECK_THAT(err(R"({"messages":[{"role":"user","content":"x"}],"thinking":{"type":"on"}})"),
             Catch::Contains("thinking"));
  CHECK_THAT(err(R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})"),
             Catch::Contains("stream"));
}

TEST_CASE("server side: responses and chunks in the OpenAI shape", "[openai][serve]") {
  Generation g;
  g.text = "a";
  g.reasoning = "r";
  g.finish_reason = "length";
  g.prompt_tokens = 3;
  g.completion_tokens = 4;
  g.reasoning_tokens = 1;
  g.effective_mode = Mode::kThinkHigh;
  Json j = completion_response(g, "chatcmpl-1", "m", 100, Mode::kThinkMax);
  CHECK(j["object"] == "chat.completion");
  CHECK(j["choices"][0]["message"]["content"] == "a");
  CHECK(j["choices"][0]["message"]["reasoning_content"] == "r");
  CHECK(j["choices"][0]["finish_reason"] == "length");
  CHECK(j["usage"]["total_tokens"] == 7);
  CHECK(j["usage"]["completion_tokens_details"]["reasoning_tokens"] == 1);
  CHECK(j["v4eval"]["effective_mode"] == "think-high");
  // And our client reads it back identically.
  Generation back;
  std::optional<Mode> reported;
  parse_chat_completion(j.dump(), back, &reported);
  CHECK(back.text == "a");
  CHECK(back.reasoning == "r");
  CHECK(back.reasoning_tokens == 1);
  CHECK(reported == Mode::kThinkHigh);
  std::string text = "t";
  Json chunk = completion_chunk("id", "m", 1, nullptr, &text, nullptr, nullptr);
  CHECK(chunk["object"] == "chat.completion.chunk");
  CHECK(chunk["choices"][0]["delta"] == Json{{"content", "t"}});
  CHECK(chunk["choices"][0]["finish_reason"].is_null());
  CHECK(error_body("m", "t", "c")["error"]["code"] == "c");
}
