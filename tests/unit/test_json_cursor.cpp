// The fast completion reader (backends/openai/json_cursor.h + read_chat_completion_fast) against
// the tree parser it stands in for: on every body where the fast one answers, both must give the
// same generation; where the tree one fails, the fast one must not answer. Hand-picked bodies
// for every rule, then thousands of seeded mutations of real-looking bodies.

#include <catch2/catch.hpp>

#include <random>

#include "backends/openai/chat_protocol.h"
#include "backends/openai/json_cursor.h"

using namespace v4eval;
using namespace v4eval::openai;

namespace {

struct Outcome {
  bool fast = false;  // the fast reader answered
  Generation g;
  std::optional<Mode> reported;
};

Outcome read_both(std::string_view body, Outcome* tree) {
  Outcome fast;
  fast.fast = read_chat_completion_fast(body, fast.g, &fast.reported);
  parse_chat_completion_tree(body, tree->g, &tree->reported);
  return fast;
}

// The fields parse_chat_completion sets, and the error's kind (messages are the tree's own).
void check_same(const std::string& body, const Outcome& fast, const Outcome& tree) {
  INFO("body: " << body);
  REQUIRE_FALSE(fast.g.error);  // the fast reader never reports errors: it declines
  CHECK_FALSE(tree.g.error);
  CHECK(fast.g.text == tree.g.text);
  CHECK(fast.g.reasoning == tree.g.reasoning);
  CHECK(fast.g.finish_reason == tree.g.finish_reason);
  CHECK(fast.g.prompt_tokens == tree.g.prompt_tokens);
  CHECK(fast.g.completion_tokens == tree.g.completion_tokens);
  CHECK(fast.g.reasoning_tokens == tree.g.reasoning_tokens);
  CHECK(fast.reported == tree.reported);
}

// Returns whether the fast reader answered.
bool compare(const std::string& body) {
  Outcome tree;
  Outcome fast = read_both(body, &tree);
  if (fast.fast) check_same(body, fast, tree);
  return fast.fast;
}

// One to three random edits: a byte deleted, inserted or replaced (from JSON's own characters,
// digits, letters of the literals, a control character and bytes that break UTF-8), or a span
// repeated (duplicate keys, doubled values).
void mutate(std::string& text, std::mt19937& rng) {
  static const std::string alphabet =
      "{}[]\":,\\ 0123456789.-+eEtrufalsn\x01\x80\xBF\xC3\xE6\xED\xF0\xFF";
  int edits = 1 + int(rng() % 3);
  for (int e = 0; e < edits && !text.empty(); ++e) {
    size_t at = rng() % text.size();
    switch (rng() % 4) {
      case 0: text.erase(at, 1); break;
      case 1: text.insert(text.begin() + long(at), alphabet[rng() % alphabet.size()]); break;
      case 2: text[at] = alphabet[rng() % alphabet.size()]; break;
      default: text.insert(at, text.substr(at, 1 + rng() % 24));
    }
  }
}

const char* kUsual =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1730000000,"model":"deepseek-v4-flash",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"The answer is \"42\".\nDone \u00e9 \ud83d\ude00 \/ 汉字",)"
    R"("reasoning_content":"Think: 6*7.","tool_calls":[]},"logprobs":null,"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46,)"
    R"("completion_tokens_details":{"reasoning_tokens":20},"prompt_cache_hit_tokens":0},)"
    R"("system_fingerprint":"fp_1","v4eval":{"effective_mode":"think-high"}})";

}  // namespace

TEST_CASE("fast completion reader: usual bodies read alike; unusual ones left to the tree",
          "[openai][json]") {
  // Taken by the fast reader, and equal to the tree's reading.
  const std::vector<std::string> taken = {
      kUsual,
      R"({"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}]})",
      R"(  {"choices":[{"message":{"content":null,"reasoning":"r"}}],"error":null}  )",
      R"({"choices":[{"message":{"reasoning_content":"","reasoning":"fallback"}},{"x":[1,{"y":{}}]}]})",
      R"({"choices":[{"message":{"content":"a"}}],"usage":{"prompt_tokens":1.5,"completion_tokens":-3,"reasoning_tokens":7,"completion_tokens_details":{"reasoning_tokens":9}}})",
      R"({"choices":[{"message":{"content":"a"}}],"usage":{"prompt_tokens":"12","completion_tokens":1e2}})",
      R"({"choices":[{"message":{"content":"a"}}],"usage":[1,2],"v4eval":{"effective_mode":"nonsense"}})",
      R"({"choices":[{"message":{"content":"a"}}],"usage":{"completion_tokens_details":null,"prompt_tokens":0}})",
      R"({"choices":[{"message":{"content":"\u0000\b\f\n\r\t\"\\"},"finish_reason":7}],"v4eval":5})",
      R"({"cho\u0069ces":[{"message":{"content":"escaped key"}}],"n":[-0,0.5e-3,1E+9,true,false,null]})",
      R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":9223372036854775807}})",
  };
  for (const auto& body : taken) {
    INFO(body);
    CHECK(compare(body));
  }
  // Declined: errors, parts, missing pieces, repeated keys, and everything not JSON.
  const std::vector<std::string> declined = {
      R"({"error":{"message":"overloaded","type":"overloaded_error"}})",
      R"({"choices":[{"message":{"content":[{"type":"text","text":"parts"}]}}]})",
      R"({"choices":[{"message":{"content":5}}]})",
      R"({"choices":[]})",
      R"({"choices":[{"finish_reason":"stop"}]})",
      R"({"choices":[{"message":"text"}]})",
      R"({"choices":[7]})",
      R"({"choices":{"message":{}}})",
      R"({"usage":{}})",
      R"([{"choices":[]}])",
      R"({"choices":[{"message":{"content":"a"}}],"choices":[{"message":{"content":"b"}}]})",
      R"({"choices":[{"message":{"content":"a","content":"b"}}]})",
      R"({"choices":[{"message":{"content":"a"}}],"usage":{"prompt_tokens":1,"prompt_tokens":2}})",
      R"({"choices":[{"message":{"content":"a"}}],"usage":{"prompt_tokens":18446744073709551615}})",
      R"({"choices":[{"message":{"content":"a"}}],"usage":{"prompt_tokens":-9223372036854775809}})",
      "\xEF\xBB\xBF{\"choices\":[{\"message\":{\"content\":\"bom\"}}]}",
      R"({"choices":[{"message":{"content":"a"}}]} x)",
      R"({"choices":[{"message":{"content":"a"}}],})",
      R"({"choices":[{"message":{"content":"a"}},]})",
      R"({"choices":[{"message":{"content":"a"}}] "x":1})",
      R"({"choices":[{"message":{"content":"\ud83d"}}]})",
      R"({"choices":[{"message":{"content":"\ude00"}}]})",
      R"({"choices":[{"message":{"content":"\x"}}]})",
      "{\"choices\":[{\"message\":{\"content\":\"raw\ttab\"}}]}",
      "{\"choices\":[{\"message\":{\"content\":\"bad \xC0\xAF utf8\"}}]}",
      "{\"choices\":[{\"message\":{\"content\":\"a\"}}],\"skipped\":\"bad \xED\xA0\x80\"}",
      R"({"choices":[{"message":{"content":"a"}}],"n":01})",
      R"({"choices":[{"message":{"content":"a"}}],"n":1.})",
      R"({"choices":[{"message":{"content":"a"}}],"n":.5})",
      R"({"choices":[{"message":{"content":"a"}}],"n":tru})",
      R"({"choices":[{"message":{"content":"a"}}],"n":-})",
      "",
      "   ",
  };
  for (const auto& body : declined) {
    INFO(body);
    Outcome tree;
    Outcome fast = read_both(body, &tree);
    CHECK_FALSE(fast.fast);
    CHECK_FALSE(fast.g.error);  // untouched
  }
  // Nesting past the cursor's depth limit: declined, though valid (the tree reads it).
  std::string deep = R"({"choices":[{"message":{"content":"a"}}],"d":)" + std::string(300, '[') +
                     std::string(300, ']') + "}";
  Outcome tree;
  CHECK_FALSE(read_both(deep, &tree).fast);
  CHECK_FALSE(tree.g.error);
  CHECK(tree.g.text == "a");
}

TEST_CASE("fast completion reader: seeded mutations never disagree with the tree",
          "[openai][json]") {
  const std::vector<std::string> bases = {
      kUsual,
      R"({"choices":[{"message":{"content":"short"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":4}})",
      R"({"choices":[{"message":{"content":null,"reasoning_content":"only \"thinking\" \\ here"}}],"usage":{"reasoning_tokens":5}})",
  };
  std::mt19937 rng(20261130);
  int fast_answers = 0, total = 0;
  for (const auto& base : bases) {
    for (int n = 0; n < 2500; ++n) {
      std::string body = base;
      mutate(body, rng);
      Outcome tree;
      Outcome fast = read_both(body, &tree);
      ++total;
      if (fast.fast) {
        ++fast_answers;
        check_same(body, fast, tree);
      }
    }
  }
  // Most mutations break the JSON (declined), but a real share stays valid and is read fast:
  // the comparison above is not vacuous.
  INFO(fast_answers << " of " << total << " read by the fast path");
  CHECK(fast_answers > total / 20);
}

namespace {

// Feeds `events` to a stream read the usual way and to one read by the tree alone; every delta
// and the final generation must agree. Returns how many events the fast reader took.
int compare_streams(const std::vector<std::string>& events) {
  ChatStream fast, tree;
  for (const auto& e : events) {
    INFO("event: " << e);
    ChatStream::Delta a = fast.on_event(e), b = tree.on_event_tree(e);
    CHECK(a.text == b.text);
    CHECK(a.reasoning == b.reasoning);
  }
  CHECK(fast.done() == tree.done());
  CHECK(fast.finished() == tree.finished());
  CHECK(fast.any_token() == tree.any_token());
  Generation ga, gb;
  std::optional<Mode> ra, rb;
  fast.finish(ga, &ra);
  tree.finish(gb, &rb);
  CHECK(ga.text == gb.text);
  CHECK(ga.reasoning == gb.reasoning);
  CHECK(ga.finish_reason == gb.finish_reason);
  CHECK(ga.prompt_tokens == gb.prompt_tokens);
  CHECK(ga.completion_tokens == gb.completion_tokens);
  CHECK(ga.reasoning_tokens == gb.reasoning_tokens);
  CHECK(ra == rb);
  CHECK(bool(ga.error) == bool(gb.error));
  if (ga.error && gb.error) {
    CHECK(ga.error->message == gb.error->message);
    CHECK(ga.error->kind == gb.error->kind);
  }
  return fast.fast_events();
}

const std::vector<std::string> kChunks = {
    R"({"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
    R"({"choices":[{"index":0,"delta":{"reasoning_content":"Let me \"think\"."}}]})",
    R"({"choices":[{"delta":{"reasoning":"more thought"},"index":0}]})",
    R"({"choices":[{"index":0,"delta":{"content":"Hello \u00e9 \ud83d\ude00"},"logprobs":null}]})",
    R"({"choices":[{"index":1,"delta":{"content":"other choice"},"finish_reason":"stop"}]})",
    R"({"choices":[{"index":0,"delta":{"content":null}}],"usage":null})",
    R"({"choices":[{"index":0,"delta":{"content":" world"},"finish_reason":"length"}]})",
    R"({"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"completion_tokens_details":{"reasoning_tokens":2}},"v4eval":{"effective_mode":"think-max"}})",
    "[DONE]",
};

}  // namespace

TEST_CASE("fast stream-chunk reader: chunks read alike; unusual ones left to the tree",
          "[openai][json]") {
  CHECK(compare_streams(kChunks) == int(kChunks.size()) - 1);  // all but [DONE]
  // Declined, each one: the tree decides (errors, parts, odd indexes, a second choice 0).
  const std::vector<std::string> declined = {
      R"({"error":{"message":"overloaded","type":"overloaded_error"}})",
      R"({"choices":[{"index":0,"delta":{"content":[{"type":"text","text":"parts"}]}}]})",
      R"({"choices":[{"index":"0","delta":{"content":"x"}}]})",
      R"({"choices":[{"index":0.0,"delta":{"content":"x"}}]})",
      R"({"choices":[{"index":0,"delta":{"content":"a"}},{"delta":{"content":"b"}}]})",
      R"({"choices":[7]})",
      R"({"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]})",
      R"({"choices":[{"index":0,"delta":{"content":"a"}}]} trailing)",
      "not json",
  };
  for (const auto& e : declined) {
    INFO(e);
    std::vector<std::string> events = {kChunks[0], e, kChunks[6]};
    CHECK(compare_streams(events) == 2);
  }
}

TEST_CASE("fast stream-chunk reader: seeded mutations never disagree with the tree",
          "[openai][json]") {
  std::mt19937 rng(1130);
  int fast = 0, total = 0;
  for (int n = 0; n < 6000; ++n) {
    std::vector<std::string> events = kChunks;
    mutate(events[rng() % (kChunks.size() - 1)], rng);
    fast += compare_streams(events) == int(kChunks.size()) - 1;
    ++total;
  }
  // A real share of the mutated chunks is still valid and read in place.
  INFO(fast << " of " << total << " streams read entirely by the fast path");
  CHECK(fast > total / 20);
}
