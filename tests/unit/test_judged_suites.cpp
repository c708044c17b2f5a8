// SimpleQA / Chinese SimpleQA / CorpusQA: parsing, templates and grading rules.

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "harness/hash.h"
#include "suites/corpusqa/corpusqa_suite.h"
#include "suites/corpusqa/synthetic.h"
#include "suites/judge.h"
#include "suites/simpleqa/python_literal.h"
#include "suites/simpleqa/simpleqa_suite.h"
#include "suites/text/csv.h"
#include "suites/text/o200k.h"
#include "test_support.h"

using namespace v4eval;

TEST_CASE("official grader prompts are embedded byte for byte", "[simpleqa][corpusqa]") {
  // Pinned hashes of the upstream values (suites/*/prompts/SOURCES.md).
  CHECK(sha256_hex(simpleqa::simpleqa_grader_template()) ==
        "063c04ea798f91c4706c050b66a721afc77a458b12d8f0d72286d4b0eee8a3ee");
  CHECK(sha256_hex(simpleqa::chinese_simpleqa_grader_template()) ==
        "6dc78ec4d7020c5c5fdddedbb3dbf6e0aa20c7e680eb9f8f117594744c33b311");
  CHECK(sha256_hex(corpusqa::judge_system_prompt()) ==
        "2195ba4d07493f07659ebeab4dbf3c42f323ec2324edf1bdcbdca0b7e999521d");
  CHECK(sha256_hex(corpusqa::judge_user_template()) ==
        "360e06f6ccd0ae5d2b4b6dec27101099579f830c6a42851dfb79f4cca559541a");
  // And the embedded bytes are the files in the repository (no build-time transformation).
  auto file = [](const std::string& rel) {
    std::ifstream in(test::source_dir() + "/" + rel, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  CHECK(file("suites/simpleqa/prompts/simpleqa_grader.txt") == simpleqa::simpleqa_grader_template());
  CHECK(file("suites/corpusqa/prompts/judge_user.txt") == corpusqa::judge_user_template());
}

TEST_CASE("grade letter: first A, B or C anywhere, else C", "[simpleqa]") {
  using simpleqa::grade_letter;
  CHECK(grade_letter("A") == 'A');
  CHECK(grade_letter("B") == 'B');
  CHECK(grade_letter("The answer is A") == 'A');   // T, h, e... then 'A'
  CHECK(grade_letter("Correct: A") == 'C');        // the C of "Correct" comes first
  CHECK(grade_letter("Grade: B") == 'B');
  CHECK(grade_letter("no letters here") == 'C');   // no capital A/B/C: default C
  CHECK(grade_letter("") == 'C');
  CHECK(grade_letter("答案是B") == 'B');            // multi-byte text before the letter
  CHECK(grade_letter("a b c") == 'C');             // case-sensitive
}

TEST_CASE("template filling follows str.format", "[judge]") {
  auto r = format_template("Q: {question}\nA: {predicted_answer} {{x}}", {{"question", "q{1}"},
                                                                         {"predicted_answer", "p"}});
  REQUIRE(r.ok());
  CHECK(*r == "Q: q{1}\nA: p {x}");  // values are inserted verbatim, braces in them untouched
  CHECK_FALSE(format_template("{missing}", {}).ok());
  CHECK_FALSE(format_template("{oops", {}).ok());
}

TEST_CASE("python literal metadata as in simple_qa_test_set.csv", "[simpleqa]") {
  auto v = simpleqa::parse_python_literal(
      "{'topic': 'Science and technology', 'answer_type': 'Person', 'urls': "
      "['https://a.b/c?d=1', \"it's\"], 'n': -3, 'f': 1.5e2, 'ok': True, 'none': None, "
      "'esc': 'a\\'b\\\\c\\u00e9\\x41'}");
  REQUIRE(v.ok());
  CHECK((*v)["topic"] == "Science and technology");
  CHECK((*v)["urls"][1] == "it's");
  CHECK((*v)["n"] == -3);
  CHECK((*v)["f"] == 150.0);
  CHECK((*v)["ok"] == true);
  CHECK((*v)["none"].is_null());
  CHECK((*v)["esc"] == "a'b\\c\xc3\xa9" "A");
  CHECK_FALSE(simpleqa::parse_python_literal("{'a': }").ok());
  CHECK_FALSE(simpleqa::parse_python_literal("{'a': 'unterminated}").ok());
}

TEST_CASE("csv: quotes, escaped quotes, newlines in fields, errors with lines", "[csv]") {
  auto r = text::parse_csv("a,b\n\"x,1\",\"say \"\"hi\"\"\"\n\"multi\nline\",z\r\n", "t.csv");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  CHECK((*r)[1].fields[0] == "x,1");
  CHECK((*r)[1].fields[1] == "say \"hi\"");
  CHECK((*r)[2].fields[0] == "multi\nline");
  CHECK((*r)[2].line == 3);
  auto bad = text::parse_csv("a\n\"open", "t.csv");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "t.csv:2: unterminated quoted field");
}

TEST_CASE("the real SimpleQA and Chinese SimpleQA files load", "[simpleqa]") {
  std::string err;
  auto s = simpleqa::make_simpleqa_suite(
      *parse_spec("simpleqa:file=" + test::shared_dir() + "/data/simpleqa/simple_qa_test_set.csv", &err));
  REQUIRE(s.ok());
  REQUIRE((*s)->load(0).ok());
  const auto& samples = (*s)->samples();
  CHECK(samples.size() == 2882);  // SOURCES.md: 2,882 rows in the shared subset
  CHECK(samples[0].id == "0");
  CHECK(samples[0].prompt->size() == 1);  // the question is the only message
  CHECK(samples[0].prompt->at(0).content == "Who received the IEEE Frank Rosenblatt Award in 2010?");
  CHECK(samples[0].metadata["topic"] == "Science and technology");
  std::set<std::string> topics;
  for (const auto& x : samples) topics.insert(x.metadata["topic"].get<std::string>());
  CHECK(topics.size() == 10);

  auto c = simpleqa::make_chinese_simpleqa_suite(*parse_spec(
      "chinese_simpleqa:file=" + test::shared_dir() + "/data/chinese_simpleqa/chinese_simpleqa.jsonl",
      &err));
  REQUIRE(c.ok());
  REQUIRE((*c)->load(0).ok());
  CHECK((*c)->samples().size() == 2026);
  const auto& first = (*c)->samples()[0];
  CHECK(first.id == "4d323244af584e998eeef6efe63887a1");
  REQUIRE(first.prompt->size() == 2);
  CHECK(first.prompt->at(0).content == "你是一个智能助手。");
  CHECK(first.metadata["primary_category"] == "中华文化");
}

TEST_CASE("corpusqa answer extraction and judge rule follow src/eval.py", "[corpusqa]") {
  using corpusqa::extract_answer;
  CHECK(extract_answer("blah\nThe answer is: 12.34%\nmore") == "12.34%");
  CHECK(extract_answer("The answer is: [\"A INC\"]  \r\n") == "[\"A INC\"]");
  CHECK(extract_answer("x The answer is: first\nThe answer is: second") == "first");
  CHECK(extract_answer("  no marker here \n") == "no marker here");
  CHECK(extract_answer("The answer is:no space") == "The answer is:no space");
  CHECK(extract_answer("\xe3\x80\x80The answer is: \xe3\x80\x80\xe5\x8d\x97\xe3\x80\x80") ==
        "\xe5\x8d\x97");  // U+3000 ideographic spaces are stripped like Python's strip()
  CHECK(corpusqa::judge_says_yes("explanation...\n[[YES]]"));
  CHECK_FALSE(corpusqa::judge_says_yes("[[YES]] ... actually [[NO]]"));
  CHECK_FALSE(corpusqa::judge_says_yes("yes"));
  CHECK_FALSE(corpusqa::judge_says_yes(""));
}

TEST_CASE("synthetic corpusqa rows: layout, answer from the table, size", "[corpusqa]") {
  auto tok = text::O200k::shared();
  REQUIRE(tok.ok());
  for (const char* difficulty : {"easy", "medium", "hard"}) {
    corpusqa::SyntheticOptions o;
    o.target_tokens = 32000;
    o.seed = 7;
    o.difficulty = difficulty;
    Json row = corpusqa::make_synthetic_row(o);
    CHECK(row["difficulty"] == difficulty);
    REQUIRE(row["prompt"].size() == 2);
    std::string user = row["prompt"][1]["content"];
    CHECK(user.rfind("# Document 1:\n", 0) == 0);
    CHECK(user.find("# Question:\n" + row["question"].get<std::string>()) != std::string::npos);
    CHECK(user.find("The answer is: xxx") != std::string::npos);
    double tokens = double((*tok)->count(user));
    CHECK(tokens > 0.85 * 32000);
    CHECK(tokens < 1.15 * 32000);
    CHECK(make_synthetic_row(o) == row);  // deterministic
  }
  corpusqa::SyntheticOptions o;
  o.difficulty = "hard";
  o.target_tokens = 20000;
  std::string answer = corpusqa::make_synthetic_row(o)["answer"];
  CHECK(answer.back() == '%');
}
