// v4 chat encoding (v4-model.md §5.2) and completion parsing; token-level checks with the
// DeepSeek tokenizer plus V4's added special tokens.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "backends/v4/chat.h"
#include "backends/v4/tokenizer.h"

namespace {

using v4eval::Message;
using v4eval::Messages;
using v4eval::Mode;
using v4eval::StatusCode;
using namespace v4eval::v4;

std::string render(const Messages& m, Mode mode) {
  auto r = render_prompt(m, mode);
  REQUIRE(r.ok());
  return *r;
}

const std::string B = "<｜begin▁of▁sentence｜>", E = "<｜end▁of▁sentence｜>", U = "<｜User｜>",
                  A = "<｜Assistant｜>";

}  // namespace

TEST_CASE("v4 chat: the three modes of one user turn", "[v4][chat]") {
  Messages m = {{"user", "hello"}};
  CHECK(render(m, Mode::kNonThink) == B + U + "hello" + A + "</think>");
  CHECK(render(m, Mode::kThinkHigh) == B + U + "hello" + A + "<think>");
  CHECK(render(m, Mode::kThinkMax) == B + std::string(kReasoningEffortMax) + U + "hello" + A +
                                          "<think>");
  // The paragraph: three lines, each ending in \n, then one more \n.
  std::string p(kReasoningEffortMax);
  CHECK(std::count(p.begin(), p.end(), '\n') == 4);
  CHECK(p.substr(p.size() - 2) == "\n\n");
  CHECK(p.rfind("Reasoning Effort: Absolute maximum with no shortcuts permitted.\n", 0) == 0);
}

TEST_CASE("v4 chat: system, multi-turn and dropped history reasoning", "[v4][chat]") {
  std::vector<ChatTurn> turns = {{"system", "Be brief.", ""},
                                 {"user", "q1", ""},
                                 {"assistant", "a1", "thought one"},
                                 {"user", "q2", ""}};
  auto chat = render_prompt(turns, Mode::kNonThink);
  REQUIRE(chat.ok());
  CHECK(*chat == B + "Be brief." + U + "q1" + A + "</think>" + "a1" + E + U + "q2" + A +
                     "</think>");
  auto think = render_prompt(turns, Mode::kThinkHigh);
  REQUIRE(think.ok());
  // History reasoning dropped: the earlier turn gets </think> and no reasoning.
  CHECK(*think == B + "Be brief." + U + "q1" + A + "</think>" + "a1" + E + U + "q2" + A +
                      "<think>");
  // An assistant turn after the last user turn keeps its reasoning (a prefilled answer).
  turns.push_back({"assistant", "a2", "thought two"});
  auto tail = render_prompt(turns, Mode::kThinkMax);
  REQUIRE(tail.ok());
  CHECK(*tail == B + std::string(kReasoningEffortMax) + "Be brief." + U + "q1" + A + "</think>" +
                     "a1" + E + U + "q2" + A + "<think>" + "thought two</think>a2" + E);
  auto tail_chat = render_prompt(turns, Mode::kNonThink);
  REQUIRE(tail_chat.ok());
  CHECK(tail_chat->find("thought") == std::string::npos);
  // developer renders like user.
  CHECK(render({{"developer", "d"}}, Mode::kNonThink) == B + U + "d" + A + "</think>");
}

TEST_CASE("v4 chat: refused input", "[v4][chat]") {
  CHECK(render_prompt(Messages{}, Mode::kNonThink).status().code() ==
        StatusCode::kInvalidArgument);
  auto tool = render_prompt(Messages{{"user", "x"}, {"tool", "y"}}, Mode::kNonThink);
  CHECK(tool.status().code() == StatusCode::kInvalidArgument);
  CHECK(tool.status().message().find("tool") != std::string::npos);
}

TEST_CASE("v4 chat: parsing generated text", "[v4][chat]") {
  auto p = parse_completion("let me think</think>The answer is 4." + E, Mode::kThinkHigh);
  CHECK(p.reasoning == "let me think");
  CHECK(p.content == "The answer is 4.");
  CHECK(p.reasoning_finished);
  p = parse_completion("a</think>b</think>c", Mode::kThinkMax);
  CHECK(p.reasoning == "a");
  CHECK(p.content == "b</think>c");
  p = parse_completion("still thinking", Mode::kThinkHigh);
  CHECK(p.reasoning == "still thinking");
  CHECK(p.content.empty());
  CHECK_FALSE(p.reasoning_finished);
  p = parse_completion("plain</think>answer", Mode::kNonThink);
  CHECK(p.content == "plain</think>answer");
  CHECK(p.reasoning.empty());
}

TEST_CASE("v4 chat: prompt tokens (BOS once, role tokens, think tokens)", "[v4][chat]") {
  auto loaded = Tokenizer::load(Tokenizer::default_path());
  REQUIRE(loaded.ok());
  Tokenizer& t = **loaded;
  REQUIRE(t.add_v4_special_tokens().ok());
  auto ids = t.encode(render({{"user", "hello"}}, Mode::kThinkHigh));
  std::vector<uint32_t> expected = {0, 128803};
  auto hello = t.encode("hello");
  expected.insert(expected.end(), hello.begin(), hello.end());
  expected.push_back(128804);
  expected.push_back(128821);
  CHECK(ids == expected);
  auto chat = t.encode(render({{"user", "hello"}}, Mode::kNonThink));
  CHECK(chat.back() == 128822u);
  auto max = t.encode(render({{"user", "hello"}}, Mode::kThinkMax));
  CHECK(std::count(max.begin(), max.end(), 0u) == 1);  // exactly one BOS
  CHECK(max[0] == 0u);
  CHECK(max.back() == 128821u);
}
