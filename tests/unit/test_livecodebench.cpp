// LiveCodeBench: private-test decoding, extraction parity with lcb_runner on the official
// outputs, prompts, loading and filters, pass@k against the closed form, driver reports.

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/stats.h"
#include "sandbox/sandbox.h"
#include "suites/livecodebench/lcb_data.h"
#include "suites/livecodebench/lcb_grader.h"
#include "suites/livecodebench/lcb_prompt.h"
#include "suites/livecodebench/lcb_suite.h"
#include "suites/livecodebench/private_tests.h"
#include "test_support.h"

using namespace v4eval;

namespace {

std::string lcb_dir() { return test::shared_dir() + "/data/livecodebench/"; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(char(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

}  // namespace

TEST_CASE("the real encoded private tests of 1873_A decode without Python",
          "[livecodebench][decoder]") {
  std::ifstream in(lcb_dir() + "lcb_row_1873_A_with_encoded_private_tests.jsonl");
  REQUIRE(in);
  std::string line;
  std::getline(in, line);
  Json row = Json::parse(line);
  const std::string& blob = row["private_test_cases"].get_ref<const std::string&>();
  REQUIRE(!Json::accept(blob));  // the encoded form, not plain JSON

  // Stage by stage: base64 -> a zlib stream -> a protocol-4 pickle of one str.
  auto raw = lcb::base64_decode(blob);
  REQUIRE(raw.ok());
  CHECK(static_cast<unsigned char>((*raw)[0]) == 0x78);  // zlib header
  auto pickled = lcb::zlib_decompress(*raw);
  REQUIRE(pickled.ok());
  CHECK(pickled->substr(0, 2) == std::string("\x80\x04", 2));
  auto text = lcb::unpickle_string(*pickled);
  REQUIRE(text.ok());

  auto tests = lcb::parse_tests(*text, "private");
  REQUIRE(tests.ok());
  REQUIRE(tests->size() == 4);
  CHECK((*tests)[0].input == "1\nabc\n");
  CHECK((*tests)[0].output == "YES\n");
  CHECK((*tests)[2].input == "5\ncab\nacb\ncba\nbac\nbca\n");
  CHECK((*tests)[2].output == "NO\nYES\nYES\nYES\nNO\n");
  CHECK((*tests)[3].output == "YES\nYES\nYES\nYES\nYES\nYES\n");

  // The whole field, as the suite decodes it; and a plain-JSON field passes through unchanged.
  auto all = lcb::private_tests_json(blob);
  REQUIRE(all.ok());
  CHECK(*all == *text);
  std::string plain = R"([{"input": "1", "output": "2", "testtype": "stdin"}])";
  CHECK(*lcb::private_tests_json(plain) == plain);

  // The row as a whole parses, and knows it has private tests.
  auto problem = lcb::parse_row(row, "row: ");
  REQUIRE(problem.ok());
  CHECK(problem->has_private_tests);
  CHECK(problem->public_tests.size() == 1);
  CHECK(!problem->fn_name);
}

TEST_CASE("pickles of a str from every CPython protocol that frames them",
          "[livecodebench][decoder]") {
  // pickle.dumps("héllo\n", protocol=P).hex() from CPython 3.11.
  const char* by_protocol[] = {"8002580700000068c3a96c6c6f0a71002e",
                               "8003580700000068c3a96c6c6f0a71002e",
                               "8004950b000000000000008c0768c3a96c6c6f0a942e",
                               "8005950b000000000000008c0768c3a96c6c6f0a942e"};
  for (const char* hex : by_protocol) {
    auto s = lcb::unpickle_string(unhex(hex));
    REQUIRE(s.ok());
    CHECK(*s == "h\xc3\xa9llo\n");
  }
  CHECK(*lcb::unpickle_string(unhex("80049504000000000000008c00942e")) == "");
  // A string over the 64 KB frame target is written unframed as BINUNICODE (CPython's framer).
  std::string big(70000, 'x');
  std::string p = unhex("8004") + "X" + std::string("\x70\x11\x01\x00", 4) + big + unhex("942e");
  CHECK(*lcb::unpickle_string(p) == big);
  // BINUNICODE8 (0x8d), used above 4 GiB.
  std::string p8 = unhex("80058d") + std::string("\x03\0\0\0\0\0\0\0", 8) + "abc" + unhex("942e");
  CHECK(*lcb::unpickle_string(p8) == "abc");

  // Anything that is not one str is refused with the opcode named.
  auto list = lcb::unpickle_string(unhex("80045d942e"));  // EMPTY_LIST
  REQUIRE(!list.ok());
  CHECK_THAT(list.status().message(), Catch::Contains("0x5d"));
  CHECK(!lcb::unpickle_string(unhex("8004580a000000616263")).ok());  // truncated payload
  CHECK(!lcb::unpickle_string(unhex("80048c0161")).ok());            // no STOP
  CHECK(!lcb::unpickle_string(unhex("80048c01618c0162942e")).ok());  // two values
  CHECK(!lcb::zlib_decompress("not zlib").ok());
  auto truncated = lcb::zlib_decompress(lcb::base64_decode("eJxrYJmaz8gABhEZQEZ0tVJm").value());
  CHECK(!truncated.ok());
  CHECK(!lcb::base64_decode("abcde").ok());              // 5 symbols: impossible length
  CHECK(*lcb::base64_decode("YWJj\nZGVm") == "abcdef");  // newlines skipped, as b64decode does
  CHECK(*lcb::base64_decode("YWI=") == "ab");
  CHECK(!lcb::base64_decode("YWI").ok());  // missing padding
  auto bad_field = lcb::private_tests_json("@@@@");
  CHECK(!bad_field.ok());
}

TEST_CASE("extract_code equals lcb_runner's code_list on every official output",
          "[livecodebench][extraction]") {
  Json eval = Json::parse(read_file(lcb_dir() + "lcb_eval_all_qwen25_7b_ins_release_v6.json"));
  REQUIRE(eval.is_array());
  size_t total = 0, equal = 0, empty = 0;
  std::string first_mismatch;
  for (const auto& problem : eval) {
    const auto& outputs = problem["output_list"];
    const auto& codes = problem["code_list"];
    REQUIRE(outputs.size() == codes.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      ++total;
      std::string got = lcb::extract_code(outputs[i].get<std::string>());
      if (got == codes[i].get<std::string>()) {
        ++equal;
      } else if (first_mismatch.empty()) {
        first_mismatch = problem["question_id"].get<std::string>();
      }
      empty += got.empty();
    }
  }
  INFO("first mismatch: " << first_mismatch);
  CHECK(total == 710);
  CHECK(equal == total);
  CHECK(empty == 8);
}

TEST_CASE("extract_code edge cases follow the reference", "[livecodebench][extraction]") {
  CHECK(lcb::extract_code("no fences at all") == "");
  CHECK(lcb::extract_code("```python\nonly one fence") == "");
  CHECK(lcb::extract_code("```python\nx = 1\n```") == "x = 1");
  CHECK(lcb::extract_code("```\n```") == "");
  CHECK(lcb::extract_code("```\n\n```") == "");
  // Any line containing ``` counts, wherever it is in the line.
  CHECK(lcb::extract_code("text ```python\na\nb\ntrail```") == "a\nb");
  // The LAST pair wins: a trailing fenced summary is extracted instead of the code (PR #118).
  CHECK(lcb::extract_code("```python\ncode()\n```\nSummary:\n```\nnot code\n```") == "not code");
  CHECK(lcb::extract_code("```python\nx\n```\nand ``` inline") ==
        "");  // lines between 2nd and 3rd fence
  // \r is kept (only \n splits), <think> is not stripped.
  CHECK(lcb::extract_code("<think>```\nplan\n```</think>\n```python\r\nprint(1)\r\n```") ==
        "print(1)\r");
}

TEST_CASE("prompts are lcb_runner's, byte for byte", "[livecodebench][prompt]") {
  auto chat = lcb::build_prompt(lcb::PromptStyle::kChat, "Q?", "");
  REQUIRE(chat.size() == 2);
  CHECK(chat[0].role == "system");
  CHECK(chat[0].content ==
        "You are an expert Python programmer. You will be given a question (problem specification) "
        "and will generate a correct Python program that matches the specification and passes all "
        "tests.");
  CHECK(
      chat[1].content ==
      "### Question:\nQ?\n\n### Format: Read the inputs from stdin solve the problem and write the "
      "answer to stdout (do not directly test on the sample inputs). Enclose your code within "
      "delimiters as follows. Ensure that when the python program runs, it reads the inputs, runs "
      "the algorithm and writes output to STDOUT.\n```python\n# YOUR CODE HERE\n```\n\n### Answer: "
      "(use the provided format with backticks)\n\n");
  auto starter =
      lcb::build_prompt(lcb::PromptStyle::kChat, "Q?", "class Solution:\n    def f(self):");
  CHECK(starter[1].content ==
        "### Question:\nQ?\n\n### Format: You will use the following starter code to write the "
        "solution to the problem and enclose your code within delimiters.\n```python\nclass "
        "Solution:\n    def f(self):\n```\n\n### Answer: (use the provided format with "
        "backticks)\n\n");
  auto user_only = lcb::build_prompt(lcb::PromptStyle::kUserOnly, "Q?", "");
  REQUIRE(user_only.size() == 1);
  CHECK(user_only[0].content == chat[0].content + "\n\n" + chat[1].content);
  auto claude = lcb::build_prompt(lcb::PromptStyle::kClaude, "Q?", "");
  CHECK(claude[1].content == chat[1].content.substr(0, chat[1].content.size() - 2));
  auto oai = lcb::build_prompt(lcb::PromptStyle::kOpenAIReason, "Q?", "");
  CHECK_THAT(oai[0].content,
             Catch::Contains("Implement a function called `main()` which orchastrates"));
  auto gemini = lcb::build_prompt(lcb::PromptStyle::kGemini, "Q?", "");
  CHECK_THAT(gemini[0].content,
             Catch::StartsWith(std::string(lcb::kSystemMessageGemini) + "\n### Question:"));
  CHECK(lcb::parse_prompt_style("deepseek-api").value() == lcb::PromptStyle::kChat);
  CHECK(!lcb::parse_prompt_style("generic-base").ok());
}

TEST_CASE("the release_v1 rows load, and filters match compute_scores", "[livecodebench][data]") {
  auto load = [](const std::string& options) {
    std::string err;
    auto spec = parse_spec("livecodebench:file=" + lcb_dir() +
                               "lcb_release_v1_rows_public_tests_only.jsonl,tests=public" + options,
                           &err);
    REQUIRE(spec);
    auto suite = make_suite(*spec);
    REQUIRE(suite.ok());
    REQUIRE((*suite)->load(0).ok());
    return std::move(suite.value());
  };
  // Counts computed with Python's datetime on the same file (start/end inclusive).
  CHECK(load("")->samples().size() == 278);
  CHECK(load(",start=2023-09-01")->samples().size() == 153);
  CHECK(load(",start=2023-09-01,end=2023-12-31")->samples().size() == 102);
  CHECK(load(",end=2023-08-21")->samples().size() == 122);
  CHECK(load(",start=2023-08-21,end=2023-08-21")->samples().size() == 2);
  CHECK(load(",platform=leetcode")->samples().size() == 121);
  CHECK(load(",difficulty=hard")->samples().size() == 65);
  CHECK(load(",start=2023-09-01,platform=atcoder,codeforces,difficulty=easy,medium")
            ->samples()
            .size() == 64);

  auto all = load("");
  const Sample& first = all->samples().front();
  CHECK(first.id == "1873_A");
  CHECK(first.metadata["platform"] == "codeforces");
  CHECK(first.metadata["contest_date"] == "2023-08-21T00:00:00");
  auto req = all->make_request(first, Mode::kNonThink);
  CHECK(req.temperature == 0.2);
  CHECK(req.top_p == 0.95);
  CHECK(req.max_tokens == 2000);
  CHECK(all->make_request(first, Mode::kThinkMax).temperature == 0.6);
  CHECK(all->needs_sandbox());

  // Without tests=public the row must carry private tests: an error naming file and line.
  std::string err;
  auto strict = make_suite(*parse_spec(
      "livecodebench:file=" + lcb_dir() + "lcb_release_v1_rows_public_tests_only.jsonl", &err));
  REQUIRE(strict.ok());
  auto st = (*strict)->load(0);
  REQUIRE(!st.ok());
  CHECK_THAT(st.message(), Catch::Contains("lcb_release_v1_rows_public_tests_only.jsonl:1:"));
  CHECK_THAT(st.message(), Catch::Contains("tests=public"));

  // The row with encoded private tests loads in the default (all tests) mode.
  auto full = make_suite(*parse_spec(
      "livecodebench:file=" + lcb_dir() + "lcb_row_1873_A_with_encoded_private_tests.jsonl", &err));
  REQUIRE(full.ok());
  REQUIRE((*full)->load(0).ok());
  CHECK((*full)->samples().size() == 1);

  for (const char* bad :
       {"livecodebench:file=x,start=2024-13-01", "livecodebench:file=x,style=nope",
        "livecodebench:file=x,platform=topcoder", "livecodebench:file=x,timeout_s=0",
        "livecodebench:file=x,bogus=1", "livecodebench:file=x,start=2024-05-01,end=2024-04-01"})
    CHECK(!make_suite(*parse_spec(bad, &err)).ok());
}

TEST_CASE("release tags select the official increment files", "[livecodebench][data]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "v4eval_lcb_release_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"test.jsonl", "test2.jsonl", "test3.jsonl"}) std::ofstream(dir / f) << "";
  auto names = [&](const std::string& tag) {
    std::vector<std::string> out;
    auto files = lcb::release_files(dir.string(), tag);
    REQUIRE(files.ok());
    for (auto& p : *files) out.push_back(fs::path(p).filename().string());
    return out;
  };
  CHECK(names("release_v1") == std::vector<std::string>{"test.jsonl"});
  CHECK(names("release_v3") ==
        std::vector<std::string>{"test.jsonl", "test2.jsonl", "test3.jsonl"});
  CHECK(names("release_latest").size() == 3);
  CHECK(names("v2") == std::vector<std::string>{"test2.jsonl"});
  CHECK(names("v1") == std::vector<std::string>{"test.jsonl"});
  CHECK(names("v2_v3") == std::vector<std::string>{"test2.jsonl", "test3.jsonl"});
  CHECK(!lcb::release_files(dir.string(), "release_v4").ok());  // test4.jsonl missing
  CHECK(!lcb::release_files(dir.string(), "latest").ok());
  fs::remove_all(dir);

  CHECK(lcb::normalize_datetime("2023-08-21T00:00:00").value() == "2023-08-21T00:00:00");
  CHECK(lcb::normalize_datetime("2023-08-21").value() == "2023-08-21T00:00:00");
  CHECK(lcb::normalize_datetime("2023-08-21 10:30").value() == "2023-08-21T10:30:00");
  CHECK(lcb::normalize_datetime("2023-08-21T00:00:00.500").value() > "2023-08-21T00:00:00");
  CHECK(!lcb::normalize_datetime("2023-08-21T00:00:00+02:00"));
  CHECK(!lcb::normalize_datetime("21/08/2023"));
}

TEST_CASE("pass@k equals the closed form 1 - C(n-c,k)/C(n,k)", "[livecodebench][passk]") {
  // Exact binomials in long double are exact for these sizes (C(40,20) < 2^64).
  auto binom = [](int n, int k) -> long double {
    if (k < 0 || k > n) return 0;
    long double r = 1;
    for (int i = 1; i <= k; ++i) r = r * (n - k + i) / i;
    return r;
  };
  double worst = 0;
  for (int n = 1; n <= 40; ++n)
    for (int c = 0; c <= n; ++c)
      for (int k = 1; k <= n; ++k) {
        double closed = double(1.0L - binom(n - c, k) / binom(n, k));
        worst = std::max(worst, std::fabs(pass_at_k(n, c, k) - closed));
      }
  CHECK(worst < 1e-12);
  CHECK(pass_at_k(10, 3, 1) == Approx(0.3));
  CHECK(pass_at_k(8, 8, 5) == 1.0);
  CHECK(pass_at_k(8, 4, 5) == 1.0);  // n - c < k

  // Only k with n >= k for every problem; the mean of per-problem estimates.
  std::vector<std::pair<int64_t, int64_t>> problems = {{10, 2}, {10, 0}, {8, 8}};
  auto ms = lcb::pass_at_k_metrics("", problems, {1, 5, 10});
  REQUIRE(ms.size() == 2);
  CHECK(ms[0].name == "pass@1");
  CHECK(ms[0].value == Approx((0.2 + 0 + 1) / 3));
  CHECK(ms[1].name == "pass@5");
  CHECK(ms[1].value == Approx(((1 - binom(8, 5) / binom(10, 5)) + 0 + 1) / 3.0));
  CHECK(ms[0].n == 3);
  CHECK(ms[0].ci_low <= ms[0].value);
  CHECK(ms[0].ci_high >= ms[0].value);
}

TEST_CASE("aggregate: pass@1 over problems, by difficulty, clean variant",
          "[livecodebench][metrics]") {
  std::string err;
  auto suite = make_suite(*parse_spec("livecodebench:file=unused.jsonl", &err));
  REQUIRE(suite.ok());
  // The official Qwen2.5-7B eval_all file: one generation per problem; pass@1 is the mean.
  Json eval = Json::parse(read_file(lcb_dir() + "lcb_eval_all_qwen25_7b_ins_release_v6.json"));
  std::vector<GradedAttempt> attempts;
  double sum = 0;
  for (const auto& p : eval) {
    bool ok = p["graded_list"][0].get<bool>();
    sum += p["pass@1"].get<double>();
    attempts.push_back({p["question_id"],
                        Mode::kNonThink,
                        0,
                        ok ? 1.0 : 0.0,
                        ok ? "AC" : "WA",
                        {{"difficulty", p["difficulty"]},
                         {"platform", p["platform"]},
                         {"question_title", p["question_title"]},
                         {"empty_code", p["code_list"][0] == ""}}});
  }
  auto metrics = (*suite)->aggregate(attempts);
  std::map<std::string, Metric> by;
  for (auto& m : metrics) by[m.name] = m;
  REQUIRE(metrics.front().name == "pass@1");  // the headline comes first
  CHECK(by["pass@1"].value == Approx(sum / 710.0));
  CHECK(by["pass@1"].value == Approx(0.24084507042253522));
  CHECK(by["pass@1"].n == 710);
  CHECK(by["pass@1@difficulty=easy"].value == Approx(0.5576923076923077));
  CHECK(by["pass@1@difficulty=medium"].value == Approx(0.20077220077220076));
  CHECK(by["pass@1@difficulty=hard"].value == Approx(0.012345679012345678));
  CHECK(by.count("pass@5") == 0);  // n = 1 everywhere
  CHECK(by["pass@1@clean"].n < 710);
  CHECK(by["empty_code"].value == Approx(8.0 / 710));
  CHECK(by.count("rate@verdict=WA") == 1);
  CHECK(lcb::in_errata("abc337_e", ""));
  CHECK(lcb::in_errata("3000", "find-the-peaks"));
  CHECK(!lcb::in_errata("1873_A", "A. Short Sort"));
}

TEST_CASE("driver reports decode, and no-result runs are recorded as lcb_runner records them",
          "[livecodebench][grader]") {
  CHECK(lcb::decode_results("T3a").value() == std::vector<Json>{true, true, true, -2});
  CHECK(lcb::decode_results("c").value() == std::vector<Json>{-4});
  CHECK(lcb::decode_results("TFb").value() == std::vector<Json>{true, false, -3});
  CHECK(!lcb::decode_results("Tx"));
  CHECK(lcb::truncate_like_reference("short") == "short");
  std::string t = lcb::truncate_like_reference(std::string(150, 'x') + std::string(200, 'y') +
                                               std::string(150, 'z'));
  CHECK(t == std::string(150, 'x') + "...(truncated) ..." + std::string(150, 'z'));
  std::string accents;
  for (int i = 0; i < 301; ++i) accents += "\xc3\xa9";
  CHECK(lcb::truncate_like_reference(accents).size() ==
        300 * 2 + std::string("...(truncated) ...").size());

  auto report = lcb::parse_driver_report(
      "noise\nV4LCB {\"results\":\"T2a\",\"metadata\":{\"error_code\":-2,\"error_message\":\"Wrong "
      "Answer\"},"
      "\"tests\":\"3/9000,4,7/9100\",\"maxrss_kb\":9100}\n");
  REQUIRE(report);
  CHECK(report->results.size() == 3);
  REQUIRE(report->records.size() == 3);
  CHECK(report->records[1].time_ms == 4);
  CHECK(report->records[1].memory_kb == 9000);
  CHECK(report->records[2].memory_kb == 9100);
  CHECK(!lcb::parse_driver_report("V4LCB {broken"));
  CHECK(!lcb::parse_driver_report("nothing here"));

  lcb::Problem problem;
  problem.question_id = "x";
  problem.platform = "atcoder";
  problem.difficulty = "easy";
  std::vector<lcb::Test> tests = {{"1\n", "2\n"}, {"2\n", "3\n"}, {"3\n", "4\n"}};
  lcb::GradeContext ctx;
  ctx.problem = &problem;
  ctx.tests = &tests;
  ctx.n_public = 1;
  ctx.code = "print(int(input())+1)";

  sandbox::JudgeReport judged;
  judged.verdict = sandbox::Verdict::kAccepted;
  judged.tests.resize(1);
  judged.tests[0].verdict = sandbox::Verdict::kAccepted;
  Score wa = lcb::score_reference_run(ctx, judged, report);
  CHECK(wa.value == 0);
  CHECK(wa.verdict == "WA");
  CHECK(wa.details["error_code"] == -2);
  REQUIRE(wa.details["tests"].size() == 3);
  CHECK(wa.details["tests"][0]["public"] == true);
  CHECK(wa.details["tests"][1]["public"] == false);
  CHECK(wa.details["tests"][2]["verdict"] == "WA");
  CHECK(wa.details["tests"][2]["time_ms"] == 7);

  auto pass = lcb::parse_driver_report(
      "V4LCB {\"results\":\"T3\",\"metadata\":{\"execution time\":0.1},\"tests\":\"1/8000,1,1\"}");
  Score ac = lcb::score_reference_run(ctx, judged, pass);
  CHECK(ac.value == 1);
  CHECK(ac.verdict == "AC");
  CHECK(ac.details["error_code"].is_null());

  // A global timeout: the sandbox killed the run at (6 + 1) * 3 + 5 = 26 s; lcb_runner stores
  // [-2] with error_code -5 TestRunnerError, and the cause says what happened.
  judged.tests[0].verdict = sandbox::Verdict::kTimeLimit;
  ctx.options.timeout_s = 6;
  Score timeout = lcb::score_reference_run(ctx, judged, std::nullopt);
  CHECK(timeout.value == 0);
  CHECK(timeout.verdict == "TLE");
  CHECK(timeout.details["results"] == Json::array({-2}));
  CHECK(timeout.details["error_code"] == -5);
  CHECK(timeout.details["metadata"]["error_message"] == "TestRunnerError");
  CHECK(timeout.details["cause_kind"] == "global_timeout");
  CHECK_THAT(timeout.details["cause"].get<std::string>(), Catch::Contains("26 s"));
  CHECK(lcb::global_budget_ms(6, 3) == 26000);

  auto died = lcb::parse_driver_report("V4LCB {\"died\":\"SystemExit(None)\",\"tests\":\"\"}");
  judged.tests[0].verdict = sandbox::Verdict::kAccepted;
  Score crash = lcb::score_reference_run(ctx, judged, died);
  CHECK(crash.verdict == "RE");
  CHECK(crash.details["error_code"] == -5);

  auto setup = lcb::parse_driver_report(
      "V4LCB {\"results\":\"c\",\"metadata\":{\"error_code\":-4,\"error_message\":\"Error during "
      "testing: invalid syntax (<string>, line 1)\"},\"tests\":\"\"}");
  Score ce = lcb::score_reference_run(ctx, judged, setup);
  CHECK(ce.verdict == "CE");
  CHECK(ce.details["tests"].empty());
}

TEST_CASE("the embedded driver is lcb_driver.py byte for byte", "[livecodebench][grader]") {
  CHECK(read_file(test::source_dir() + "/suites/livecodebench/lcb_driver.py") ==
        lcb::driver_source());
  CHECK_THAT(std::string(lcb::import_prelude()),
             Catch::EndsWith("import json\nsys.setrecursionlimit(50000)\n"));
  // The driver's prelude is the grader's (both restate testing_util.import_string).
  CHECK(std::string(lcb::driver_source()).find("sys.setrecursionlimit(50000)\\n\"") !=
        std::string::npos);
  auto req =
      lcb::reference_request(lcb::driver_source(), "print(1)", std::nullopt, {{"a", "b"}}, {});
  CHECK(req.solution.language == "python");
  CHECK(req.limits.wall_time_ms == 12000);
  Json job = Json::parse(req.tests[0].input);
  CHECK(job["timeout"] == 6);
  CHECK(job["fn_name"].is_null());
  CHECK(job["inputs"] == Json::array({"a"}));
}

namespace {

std::unique_ptr<sandbox::Sandbox> lcb_sandbox() {
  sandbox::SandboxOptions o;
  o.slots = 2;
  auto s = sandbox::Sandbox::start(o);
  if (!s.ok()) {
    WARN("no sandbox on this machine: " << s.status().message());
    return nullptr;
  }
  return std::move(*s);
}

}  // namespace

TEST_CASE("grading in the sandbox reproduces lcb_runner's outcomes", "[livecodebench][sandbox]") {
  auto box = lcb_sandbox();
  if (!box) return;
  lcb::Problem stdin_problem;
  stdin_problem.question_id = "s";
  std::vector<lcb::Test> tests = {{"1\n", "2\n"}, {"5\n", "6\n"}};
  lcb::Problem fn_problem;
  fn_problem.question_id = "f";
  fn_problem.fn_name = "f";
  std::vector<lcb::Test> fn_tests = {{"1", "[1, 1]"}, {"2\n3", "[2, 3]"}};
  struct Case {
    const char* name;
    bool functional;
    const char* code;
    const char* verdict;
    Json results;
    int error_code;
  } cases[] = {
      {"pass", false, "print(int(input()) + 1)", "AC", Json::array({true, true}), 0},
      {"wrong on the second test", false, "n = int(input())\nprint(2 if n == 1 else 0)", "WA",
       Json::array({true, -2}), -2},
      {"`from sys import stdin` readline drops the newline", false,
       "from sys import stdin\nprint(int(stdin.readline()[:-1] or 0) + 1)", "WA", Json::array({-2}),
       -2},
      {"iterating stdin is a runtime error", false,
       "import sys\nfor l in sys.stdin: print(int(l)+1)", "RE", Json::array({-4}), -4},
      {"exit() is swallowed", false, "print(int(input()) + 1)\nexit()", "AC",
       Json::array({true, true}), 0},
      {"empty code", false, "", "CE", Json::array({-4}), -4},
      {"per-test timeout", false, "while True: pass", "TLE", Json::array({-3}), -3},
      {"tuple becomes a list", true,
       "class Solution:\n    def f(self, a, b=None):\n        return (a, a) if b is None else (a, "
       "b)",
       "AC", Json::array({true, true}), 0},
      {"missing method", true, "class Solution:\n    def g(self): pass", "CE", Json::array({-4}),
       -4},
      {"SystemExit in a method: no result", true,
       "class Solution:\n    def f(self, a, b=None):\n        exit()", "RE", Json::array({-2}), -5},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    lcb::GradeContext ctx;
    ctx.problem = c.functional ? &fn_problem : &stdin_problem;
    ctx.tests = c.functional ? &fn_tests : &tests;
    ctx.n_public = 1;
    ctx.code = c.code;
    ctx.options.timeout_s = 1;
    auto score = lcb::grade_generation(*box, lcb::driver_source(), ctx);
    REQUIRE(score.ok());
    CHECK(score->verdict == c.verdict);
    CHECK(score->details["results"] == c.results);
    if (c.error_code) {
      CHECK(score->details["error_code"] == c.error_code);
    } else {
      CHECK(score->details["error_code"].is_null());
    }
    CHECK(score->details["run"]["sandbox_verdict"] == "AC");
    if (std::string(c.verdict) == "AC") {
      REQUIRE(score->details["tests"].size() == 2);
      CHECK(score->details["tests"][1]["memory_kb"].get<int64_t>() > 1000);
    }
  }

  // A program that swallows the per-test alarm runs into the global budget, (1+1)*2+5 = 9 s.
  lcb::GradeContext ctx;
  ctx.problem = &stdin_problem;
  ctx.tests = &tests;
  ctx.code =
      "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass";
  ctx.options.timeout_s = 1;
  auto score = lcb::grade_generation(*box, lcb::driver_source(), ctx);
  REQUIRE(score.ok());
  CHECK(score->verdict == "TLE");
  CHECK(score->details["cause_kind"] == "global_timeout");
  CHECK(score->details["error_code"] == -5);
  CHECK(score->details["results"] == Json::array({-2}));

  // The script runner: real stdin (iteration works), one process per test, CPU-time limit.
  ctx.options.runner = lcb::GraderOptions::Runner::kScript;
  ctx.code = "import sys\nfor l in sys.stdin: print(int(l)+1)";
  auto script = lcb::grade_generation(*box, lcb::driver_source(), ctx);
  REQUIRE(script.ok());
  CHECK(script->verdict == "AC");
  CHECK(script->details["run"]["runner"] == "script");
  ctx.code = "print(0)";
  auto script_wa = lcb::grade_generation(*box, lcb::driver_source(), ctx);
  REQUIRE(script_wa.ok());
  CHECK(script_wa->verdict == "WA");
  CHECK(script_wa->details["results"] == Json::array({-2}));
  ctx.code = "def f(:\n  pass";
  auto script_ce = lcb::grade_generation(*box, lcb::driver_source(), ctx);
  REQUIRE(script_ce.ok());
  CHECK(script_ce->verdict == "CE");
}

TEST_CASE("suite options: numbers and integers are checked whole and in range", "[livecodebench]") {
  using v4eval::option_integer;
  using v4eval::option_number;
  CHECK(*option_number("lcb", "t", "2.5", 0, 10) == 2.5);
  CHECK(*option_integer("lcb", "n", "16", 16, 1 << 20) == 16);
  auto bad = option_number("livecodebench", "timeout_s", "6s", 1, 3600);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "livecodebench: timeout_s must be a number in [1, 3600], got '6s'");
  CHECK_FALSE(option_number("lcb", "t", "11", 0, 10).ok());
  CHECK_FALSE(option_number("lcb", "t", "", 0, 10).ok());
  auto frac = option_integer("lcb", "n", "2.5", 1, 10);
  REQUIRE_FALSE(frac.ok());
  CHECK(frac.status().message() == "lcb: n must be an integer, got '2.5'");
}
