// Codeforces-style suite: loaders on the shared data, CodeElo's prompt and extraction, the
// rating estimate against hand-worked CodeElo examples, judging with checkers in the sandbox.

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "sandbox/sandbox.h"
#include "suites/codeforces/cf_problem.h"
#include "suites/codeforces/cf_rating.h"
#include "suites/codeforces/cf_suite.h"
#include "test_support.h"

using namespace v4eval;

namespace {

std::string cf_dir() { return test::shared_dir() + "/data/codeforces/"; }

std::vector<cf::Problem> load(const std::string& file) {
  auto p = cf::load_problems(cf_dir() + file, "auto");
  REQUIRE(p.ok());
  return std::move(*p);
}

const cf::Problem& find(const std::vector<cf::Problem>& ps, const std::string& id) {
  for (const auto& p : ps)
    if (p.id == id) return p;
  FAIL("no problem " << id);
  return ps.front();
}

// A contest of `n` rated participants, all with old rating `old`, standing in the given order
// (points, penalty); handles u0, u1, ...
cf::ContestStandings contest(const std::vector<std::pair<double, double>>& rows, double old,
                             std::vector<std::optional<double>> points) {
  cf::ContestStandings s;
  s.contest_id = 9999;
  const char* names[] = {"A", "B", "C", "D"};
  for (size_t i = 0; i < points.size(); ++i) s.problems.push_back({names[i], points[i]});
  for (size_t i = 0; i < rows.size(); ++i) {
    s.rows.push_back({"u" + std::to_string(i), rows[i].first, rows[i].second});
    s.rating_changes.push_back({"u" + std::to_string(i), old});
  }
  return s;
}

}  // namespace

TEST_CASE("the shared Codeforces files load in their own formats", "[codeforces][data]") {
  auto elo = load("codeelo_special_judge_problems.json");
  CHECK(elo.size() == 21);
  const auto& p = find(elo, "2035C");
  CHECK(p.source == "codeelo");
  CHECK(p.contest_id == "2035");
  CHECK(p.index == "C");
  CHECK(p.title == "Alya and Permutation");
  CHECK(p.rating == 1400);
  CHECK(p.division == "Div. 1 + 2");
  CHECK(p.time_limit_ms == 2000);
  CHECK(p.memory_limit_bytes == 256ll << 20);
  CHECK(p.tests.size() == 1);
  CHECK(p.multiple_answers);  // "If there are multiple such permutations, output any"
  CHECK_THAT(p.statement, Catch::StartsWith(
                              "<html><body><h1>Alya and Permutation</h1><div>Alya has been given"));
  CHECK_THAT(p.statement,
             Catch::Contains("<h2>Input</h2><div>The first line contains a single integer $t$"));
  CHECK_THAT(p.statement, Catch::EndsWith("</div></body></html>"));
  size_t multiple = 0;
  for (const auto& q : elo) multiple += q.multiple_answers;
  CHECK(multiple == 21);  // every problem of this file accepts several answers
  CHECK(find(elo, "1988C").memory_limit_bytes == 512ll << 20);

  auto cc = load("codecontests_test_split_problems_with_tests.json");
  CHECK(cc.size() == 112);
  CHECK(cc[0].source == "codecontests");
  CHECK(cc[0].time_limit_ms == 2000);
  CHECK(cc[0].memory_limit_bytes == 512000000);
  CHECK_THAT(cc[0].id, Catch::StartsWith("cc-"));
  size_t tests = 0;
  for (const auto& q : cc) tests += q.tests.size();
  CHECK(tests > 112);

  auto cf = load("codeforces_problems_with_examples.json");
  CHECK(cf.size() == 269);
  CHECK(cf[0].time_limit_ms == 1000);
  CHECK(cf[0].memory_limit_bytes == 256ll << 20);
  CHECK(cf[0].tags == std::vector<std::string>{"implementation", "sortings"});
  CHECK(cf[0].statement.find("Tags") == std::string::npos);  // hints are not shown
  CHECK_THAT(cf[0].statement, Catch::Contains("<h2>Example</h2><div><h3>Input</h3><pre>10\n1 9"));
  CHECK(cf[216].compare == "float:1e-6");  // "relative or absolute error does not exceed $10^{-6}$"
  CHECK(cf[1].compare == "yesno");
  size_t interactive = 0;
  for (const auto& q : cf) interactive += q.interactive;
  CHECK(interactive >= 8);

  CHECK(!cf::load_problems(cf_dir() + "missing.json", "auto").ok());
  CHECK(!cf::load_problems(cf_dir() + "codeelo_special_judge_problems.json", "bogus").ok());
}

TEST_CASE("comparison rules are read from the statement", "[codeforces][data]") {
  CHECK(cf::compare_mode_from_statement(
            "print the answer with absolute or relative error at most 10^{-9}.") == "float:1e-9");
  CHECK(cf::compare_mode_from_statement(
            "Your answer is correct if its absolute error does not exceed 1e-4") == "float:1e-4");
  CHECK(cf::compare_mode_from_statement("relative error $10^{-6}$") == "float:1e-6");
  CHECK(cf::compare_mode_from_statement(
            "Output YES or NO. You can output the answer in any case.") == "yesno");
  CHECK(cf::compare_mode_from_statement("Output a single integer.") == "tokens");
  CHECK(cf::statement_allows_multiple_answers("If there are multiple answers, print any of them."));
  CHECK(!cf::statement_allows_multiple_answers("The input contains multiple test cases."));
  CHECK(cf::statement_is_interactive("This is an interactive problem.\nYou are given"));
}

TEST_CASE("CodeElo's prompt and first-block extraction", "[codeforces][prompt]") {
  CHECK(std::string(cf::kCodeEloInstruction) ==
        "\"You are a coding expert. Given a competition-level coding problem, you need to write a "
        "C++ program to solve it. You may start by outlining your thought process. In the end, "
        "please provide the complete code in a code block enclosed with ``` ```.");
  std::string err;
  auto suite = make_suite(
      *parse_spec("codeforces:file=" + cf_dir() + "codeelo_special_judge_problems.json", &err));
  REQUIRE(suite.ok());
  REQUIRE((*suite)->load(0).ok());
  const Sample& s = (*suite)->samples().front();
  REQUIRE(s.prompt->size() == 1);
  CHECK((*s.prompt)[0].role == "user");
  CHECK_THAT((*s.prompt)[0].content,
             Catch::StartsWith(std::string(cf::kCodeEloInstruction) + "\n\n<html><body><h1>"));
  auto req = (*suite)->make_request(s, Mode::kNonThink);
  CHECK(req.temperature == 0.7);
  CHECK(req.top_p == 0.8);
  CHECK(req.max_tokens == 4096);
  CHECK(req.stop.empty());

  // Python's re.findall(r'```(\w*)\n(.*?)\n```', text, re.DOTALL)[0] on each (CPython 3.11).
  struct Case {
    const char* text;
    std::optional<std::pair<std::string, std::string>> want;
  } cases[] = {
      {"no code", std::nullopt},
      {"```cpp\nint main(){}\n```", std::pair<std::string, std::string>{"cpp", "int main(){}"}},
      {"Some text\n```python\nprint(1)\n```\nmore\n```cpp\nint x;\n```",
       std::pair<std::string, std::string>{"python", "print(1)"}},
      {"```\nplain\n```", std::pair<std::string, std::string>{"", "plain"}},
      {"```c++\nint main(){}\n```", std::nullopt},
      {"```c++\nint main(){}\n```\ntext\n```cpp\nok\n```",
       std::pair<std::string, std::string>{"", "text"}},
      {"```cpp\n```", std::nullopt},
      {"```cpp\n\n```", std::pair<std::string, std::string>{"cpp", ""}},
      {"````cpp\ncode\n````", std::pair<std::string, std::string>{"cpp", "code"}},
      {"```cpp int\nx\n```", std::nullopt},
      {"```java\nclass A{}\n```", std::pair<std::string, std::string>{"java", "class A{}"}},
      {"``` cpp\nx\n```", std::nullopt},
      {"```cpp\na\n``` trailing\n```", std::pair<std::string, std::string>{"cpp", "a"}},
      {"```\xe4\xb8\xad\xe6\x96\x87\nx\n```",
       std::pair<std::string, std::string>{"\xe4\xb8\xad\xe6\x96\x87", "x"}},
      {"```cpp\r\nint main(){}\r\n```", std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto got = cf::extract_code_block(c.text);
    REQUIRE(got.has_value() == c.want.has_value());
    if (got) {
      CHECK(got->tag == c.want->first);
      CHECK(got->code == c.want->second);
    }
  }
  CHECK(cf::language_for_tag("", false).language == "cpp");
  CHECK(cf::language_for_tag("cpp", false).language == "cpp");
  CHECK(cf::language_for_tag("python", false).language == "python");
  CHECK(cf::language_for_tag("py", false).language.empty());
  CHECK(!cf::language_for_tag("py", false).known_elsewhere);  // KeyError in CodeElo: no submission
  CHECK(cf::language_for_tag("java", false).known_elsewhere);
  CHECK(cf::language_for_tag("py", true).language == "python");
}

TEST_CASE("rating estimate: hand-worked CodeElo examples", "[codeforces][rating]") {
  // 300 rated participants, all rated 1500. The expected seed of rating m is
  // 1 + 300 / (1 + 10^((m - 1500) / 400)); seed(m) >= r  <=>  m <= 1500 + 400 log10(300/(r-1) - 1).
  std::vector<std::pair<double, double>> rows;
  for (int i = 0; i < 300; ++i) rows.push_back({double(300 - i), 0});  // points 300, 299, ..., 1
  auto s = contest(rows, 1500, {std::nullopt});

  // ICPC rules: the model solves A at its first attempt: score 1, penalty 0. Everyone with
  // points >= 2 ranks above; the first strictly worse participant is the one with 1 point and a
  // higher penalty... all rows with 1 point have penalty 0 = equal, so none is worse: the first
  // worse row does not exist among points >= 1 rows -> rank = 300 (n).
  std::map<std::string, std::vector<bool>> first_try = {{"A", {true}}};
  auto e = cf::estimate_contest_rating(s, first_try);
  REQUIRE(e.rated);
  CHECK(e.score == 1);
  CHECK(e.penalty == 0);
  CHECK(e.rank == 300);
  // 1500 + 400 log10(300/299 - 1) = 1500 + 400 log10(1/299) = 509.4...
  CHECK(e.rating == int64_t(std::floor(1500 + 400 * std::log10(300.0 / 299 - 1))));

  // Rank 150 -> 300/149 - 1 > 1 -> just above 1500; rank 151 -> exactly 1500 (seed = 151.0).
  rows.clear();
  for (int i = 0; i < 300; ++i) rows.push_back({i < 151 ? 2.0 : 0.0, 0});
  auto s151 = contest(rows, 1500, {std::nullopt});
  e = cf::estimate_contest_rating(s151, first_try);
  CHECK(e.rank == 151);
  CHECK(e.rating == 1500);
  // (Every value below was also checked against calc_rating.py fed the same standings.)
  // Rank 121: 300/120 - 1 = 1.5 -> 1500 + 400 log10 1.5 = 1570.4 -> 1570.
  rows.clear();
  for (int i = 0; i < 300; ++i) rows.push_back({i < 121 ? 2.0 : 0.0, 0});
  e = cf::estimate_contest_rating(contest(rows, 1500, {std::nullopt}), first_try);
  CHECK(e.rank == 121);
  CHECK(e.rating == 1570);
  // Rank 31: 300/30 - 1 = 9 -> 1881.7, but CodeElo searches m below max old rating + 100 = 1600:
  // a contest cannot rate the model above its strongest participant + 99.
  rows.clear();
  for (int i = 0; i < 300; ++i) rows.push_back({i < 31 ? 2.0 : 0.0, 0});
  e = cf::estimate_contest_rating(contest(rows, 1500, {std::nullopt}), first_try);
  CHECK(e.rank == 31);
  CHECK(e.rating == 1599);
  // Rank 0 (better than everyone): the search's upper end, max old rating + 100 - 1.
  rows.assign(300, {0.0, 0});
  e = cf::estimate_contest_rating(contest(rows, 1500, {std::nullopt}), first_try);
  CHECK(e.rank == 0);
  CHECK(e.rating == 1599);

  // ICPC penalty: solved at the 3rd attempt -> penalty 20; a row with equal points and
  // penalty 20 is not worse, one with penalty 21 is.
  rows.clear();
  for (int i = 0; i < 300; ++i) rows.push_back({1.0, i < 40 ? 20.0 : 21.0});
  e = cf::estimate_contest_rating(contest(rows, 1500, {std::nullopt}),
                                  {{"A", {false, false, true}}});
  CHECK(e.penalty == 20);
  CHECK(e.rank == 40);
  // Beyond the attempt budget the AC does not count.
  cf::RatingRules two;
  two.attempts = 2;
  e = cf::estimate_contest_rating(contest(rows, 1500, {std::nullopt}),
                                  {{"A", {false, false, true}}}, two);
  CHECK(e.score == 0);

  // Score rounds: A worth 500, B worth 1000; A at the 2nd attempt (500 - 50 = 450), B at the
  // first (1000): 1450 points; rows above 1450 rank ahead, no time decay.
  rows.clear();
  for (int i = 0; i < 300; ++i) rows.push_back({i < 100 ? 2000.0 : (i < 130 ? 1450.0 : 1000.0), 0});
  e = cf::estimate_contest_rating(contest(rows, 1500, {500.0, 1000.0}),
                                  {{"A", {false, true}}, {"B", {true}}});
  CHECK(e.score == 1450);
  CHECK(e.rank == 130);  // rows with 1450 and penalty 0 are not worse
  // 300/129 - 1 = 1.3256 -> 1500 + 400 log10(1.3256) = 1548.96 -> 1548
  CHECK(e.rating == int64_t(std::floor(1500 + 400 * std::log10(300.0 / 129 - 1))));
  CHECK(e.rating == 1548);
  // A problem never accepted within the budget and points never negative.
  e = cf::estimate_contest_rating(
      contest(rows, 1500, {500.0, 1000.0}),
      {{"A", {false, false, false, false, false, false, false, false}}});
  CHECK(e.score == 0);
  e = cf::estimate_contest_rating(contest(rows, 1500, {60.0}), {{"A", {false, false, true}}});
  CHECK(e.score == 0);  // max(0, 60 - 100)

  // CodeElo's filters: only rated rows count, both lists must agree and exceed 200 rows.
  auto small = contest(std::vector<std::pair<double, double>>(200, {1.0, 0}), 1500, {std::nullopt});
  e = cf::estimate_contest_rating(small, first_try);
  CHECK(!e.rated);
  CHECK_THAT(e.reason, Catch::Contains("200"));
  auto extra_row =
      contest(std::vector<std::pair<double, double>>(300, {1.0, 0}), 1500, {std::nullopt});
  extra_row.rows.push_back({"unrated_guest", 5, 0});  // not in rating changes: dropped
  CHECK(cf::estimate_contest_rating(extra_row, first_try).rated);
  extra_row.rating_changes.push_back({"someone_not_in_standings", 1500});
  CHECK(!cf::estimate_contest_rating(extra_row, first_try).rated);

  // Mixed old ratings: the bisection agrees with a direct scan for the largest m.
  auto mixed = contest(std::vector<std::pair<double, double>>(250, {0.0, 0}), 0, {std::nullopt});
  for (size_t i = 0; i < mixed.rating_changes.size(); ++i) {
    mixed.rating_changes[i].old_rating = 800 + double((i * 37) % 2200);
    mixed.rows[i].points = i < 77 ? 1 : 0;
  }
  mixed.rows[76].penalty = 0;
  e = cf::estimate_contest_rating(mixed, {{"A", {false, true}}});
  REQUIRE(e.rated);
  CHECK(e.rank == 77);
  auto seed = [&](double m) {
    double x = 1;
    for (const auto& c : mixed.rating_changes)
      x += 1 / (1 + std::pow(10.0, (m - c.old_rating) / 400));
    return x;
  };
  int64_t best = 0;
  for (int64_t m = 0; m < int64_t(e.max_old_rating) + 100; ++m)
    if (seed(double(m)) >= double(e.rank)) best = m;
  CHECK(e.rating == best);
  CHECK(e.rating == 2294);  // CodeElo's calc_elo_rating on the same standings (run offline)
}

TEST_CASE("percentile from CodeElo's sorted ratings", "[codeforces][rating]") {
  std::ifstream in(cf_dir() + "codeelo_sorted_ratings.json");
  REQUIRE(in);
  Json j;
  in >> j;
  std::vector<double> table;
  for (const auto& x : j) table.push_back(x.get<double>());
  REQUIRE(table.size() == 717421);
  // round(bisect_left(sorted_ratings, float(r)) / len * 100, 1), computed with CPython.
  CHECK(cf::codeelo_percentile(table, 0) == 0.0);
  CHECK(cf::codeelo_percentile(table, 1500) == 86.1);
  CHECK(cf::codeelo_percentile(table, 1881) == 96.7);
  CHECK(cf::codeelo_percentile(table, 2029) == 98.1);
  CHECK(cf::codeelo_percentile(table, 1234.5) == 61.3);
  CHECK(cf::codeelo_percentile(table, 3206) == 100.0);
  CHECK(cf::codeelo_percentile(table, -100) == 0.0);
  CHECK(cf::python_round1(0.25) == 0.2);  // ties to even on the exact binary value, as round()
  CHECK(cf::python_round1(0.35) == 0.3);  // 0.35 is 0.34999... in binary
}

TEST_CASE("suite: skips what cannot be judged, aggregates ratings from standings files",
          "[codeforces][metrics]") {
  namespace fs = std::filesystem;
  std::string err;
  auto suite = make_suite(
      *parse_spec("codeforces:file=" + cf_dir() + "codeelo_special_judge_problems.json", &err));
  REQUIRE(suite.ok());
  REQUIRE((*suite)->load(0).ok());
  BackendInfo info;
  size_t skipped = 0;
  for (const auto& s : (*suite)->samples()) {
    auto reason = (*suite)->skip_reason(s, info);
    if (reason) {
      ++skipped;
      CHECK_THAT(*reason, Catch::Contains("checker"));
    } else {
      CHECK((s.id == "1997A" || s.id == "1998A"));  // the built-in checkers
      CHECK(s.metadata["judged_by"] == "checker (built-in)");
    }
  }
  CHECK(skipped == 19);
  auto compare_anyway =
      make_suite(*parse_spec("codeforces:file=" + cf_dir() +
                                 "codeelo_special_judge_problems.json,multiple_answers=compare",
                             &err));
  REQUIRE((*compare_anyway)->load(0).ok());
  CHECK(!(*compare_anyway)->skip_reason((*compare_anyway)->samples().front(), info));

  // Standings for contest 1997 (ICPC-style, 250 rated participants at 1500); none for 1998.
  fs::path dir = fs::temp_directory_path() / "v4eval_cf_standings_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  Json rows = Json::array(), changes = Json::array();
  for (int i = 0; i < 250; ++i) {
    rows.push_back({{"party", {{"members", {{{"handle", "h" + std::to_string(i)}}}}}},
                    {"points", i < 110 ? 2.0 : 1.0},
                    {"penalty", i < 110 ? 0 : 15}});
    changes.push_back({{"handle", "h" + std::to_string(i)}, {"oldRating", 1500}});
  }
  std::ofstream(dir / "1997.standings.json") << Json{
      {"status", "OK"},
      {"result",
       {{"contest", {{"id", 1997}, {"name", "Round"}}},
        {"problems",
         {{{"contestId", 1997}, {"index", "A"}}, {{"contestId", 1997}, {"index", "B"}}}},
        {"rows", rows}}}}.dump();
  std::ofstream(dir / "1997.ratingChanges.json")
      << Json{{"status", "OK"}, {"result", changes}}.dump();
  auto rated =
      make_suite(*parse_spec("codeforces:file=" + cf_dir() +
                                 "codeelo_special_judge_problems.json,standings=" + dir.string(),
                             &err));
  REQUIRE(rated.ok());
  // 1997A accepted at the 2nd attempt (penalty 10): rows with 1 point and penalty 15 are worse,
  // the first is at index 110 -> rank 110; 1998A attempted, never accepted.
  std::vector<GradedAttempt> attempts = {
      {"1997A",
       Mode::kNonThink,
       0,
       0,
       "WA",
       {{"contest_id", "1997"}, {"index", "A"}, {"rating", 800}, {"division", "Div. 2"}}},
      {"1997A",
       Mode::kNonThink,
       1,
       1,
       "AC",
       {{"contest_id", "1997"}, {"index", "A"}, {"rating", 800}, {"division", "Div. 2"}}},
      {"1998A",
       Mode::kNonThink,
       0,
       0,
       "WA",
       {{"contest_id", "1998"}, {"index", "A"}, {"rating", 800}, {"division", "Div. 2"}}},
      {"1998A",
       Mode::kNonThink,
       1,
       0,
       "NO_CODE",
       {{"contest_id", "1998"}, {"index", "A"}, {"rating", 800}, {"division", "Div. 2"}}},
  };
  std::map<std::string, Metric> by;
  for (const auto& m : (*rated)->aggregate(attempts)) by[m.name] = m;
  CHECK(by["pass@1"].value == Approx(0.25));
  CHECK(by["pass@2"].value == Approx(0.5));
  CHECK(by.count("pass@4") == 0);
  CHECK(by["pass@1@difficulty=easy"].n == 2);
  CHECK(by["pass@1@division=Div. 2"].n == 2);
  // 1 + 250 / (1 + 10^((m - 1500)/400)) >= 110  <=>  m <= 1500 + 400 log10(250/109 - 1) = 1544.7
  int64_t want = int64_t(std::floor(1500 + 400 * std::log10(250.0 / 109 - 1)));
  CHECK(want == 1544);
  CHECK(by["rating@contest=1997"].value == want);
  CHECK(by["rating"].value == want);
  CHECK(by["rating"].n == 1);
  CHECK(by["rating_contests"].value == 1);
  CHECK(by["rating_contests_without_standings"].value == 1);  // 1998: said, not guessed
  CHECK(by["rating_rule@attempts"].value == 8);
  CHECK(by.count("rating_percentile") == 1);  // codeelo_sorted_ratings.json beside the data
  CHECK(by["rate@verdict=NO_CODE"].value == Approx(0.25));
  fs::remove_all(dir);
}

TEST_CASE("judging in the sandbox: checkers, comparison rules, languages",
          "[codeforces][sandbox]") {
  sandbox::SandboxOptions o;
  o.slots = 2;
  auto box = sandbox::Sandbox::start(o);
  if (!box.ok()) {
    WARN("no sandbox on this machine: " << box.status().message());
    return;
  }
  std::string err;
  auto suite = make_suite(
      *parse_spec("codeforces:file=" + cf_dir() + "codeelo_special_judge_problems.json", &err));
  REQUIRE(suite.ok());
  REQUIRE((*suite)->load(0).ok());
  (*suite)->set_sandbox(box->get());
  const Sample* strong = nullptr;
  for (const auto& s : (*suite)->samples())
    if (s.id == "1997A") strong = &s;
  REQUIRE(strong);
  auto grade = [&](const std::string& text) {
    Generation g;
    g.text = text;
    auto r = (*suite)->grade(*strong, (*suite)->make_request(*strong, Mode::kNonThink), g);
    REQUIRE(r.ok());
    return *r;
  };
  // A correct answer different from the example output: accepted by the built-in checker.
  const char* good = R"(Plan first.
```cpp
#include <bits/stdc++.h>
int main() { int t; std::cin >> t; while (t--) { std::string s; std::cin >> s;
  size_t i = 1; while (i < s.size() && s[i] != s[i - 1]) ++i;
  char c = 'a'; while (c == s[i - 1] || (i < s.size() && c == s[i])) ++c;
  s.insert(s.begin() + i, c); std::cout << s << "\n"; } }
```)";
  Score ac = grade(good);
  CHECK(ac.verdict == "AC");
  CHECK(ac.value == 1);
  CHECK(ac.details["language"] == "cpp");
  CHECK(ac.details["judged_by"] == "checker (built-in)");
  CHECK(ac.details["tests"][0]["memory_kb"].get<int64_t>() > 0);
  // Valid insertions that are not optimal: the checker says why.
  Score wa =
      grade("```python\nfor _ in range(int(input())):\n    s = input()\n    print(s + s[-1])\n```");
  CHECK(wa.verdict == "WA");
  CHECK(wa.details["language"] == "python");
  CHECK_THAT(wa.details["tests"][0]["checker"].get<std::string>(), Catch::Contains("typing time"));
  CHECK(wa.details["failed_test"] == 1);
  CHECK(grade("I cannot solve this.").verdict == "NO_CODE");
  CHECK(grade("```py\nprint(1)\n```").verdict == "NO_SUBMISSION");
  CHECK(grade("```java\nclass Main {}\n```").verdict == "UNSUPPORTED_LANGUAGE");
  Score ce = grade("```\nint main() { return }\n```");
  CHECK(ce.verdict == "CE");
  CHECK(!ce.details["compile"]["log"].get<std::string>().empty());
  CHECK(grade("```cpp\nint main() { for (;;); }\n```").verdict == "TLE");
  CHECK(grade("```cpp\n#include <cstdlib>\nint main() { std::abort(); }\n```").verdict == "RE");
}

TEST_CASE("the v4eval problem format carries checkers and contest metadata", "[codeforces][data]") {
  namespace fs = std::filesystem;
  fs::path file = fs::temp_directory_path() / "v4eval_cf_format_test.jsonl";
  {
    std::ofstream out(file);
    out << Json{{"id", "2024C"},
                {"statement", "Print any permutation."},
                {"time_limit_ms", 1500},
                {"memory_limit_mb", 512},
                {"tests", {{{"input", "1\n"}, {"output", "1\n"}}}},
                {"checker", "int main() { return 0; }"},
                {"rating", 1300},
                {"division", "Div. 2"},
                {"multiple_answers", true}}
               .dump()
        << "\n\n"
        << Json{{"id", "x1"},
                {"contest_id", "77"},
                {"index", "B"},
                {"statement", "Print pi with absolute error 1e-9."},
                {"tests", {{{"input", ""}, {"output", "3.14159265359\n"}}}}}
               .dump()
        << "\n";
  }
  auto ps = cf::load_problems(file.string(), "auto");
  REQUIRE(ps.ok());
  REQUIRE(ps->size() == 2);
  const auto& a = (*ps)[0];
  CHECK(a.contest_id == "2024");
  CHECK(a.index == "C");
  CHECK(a.time_limit_ms == 1500);
  CHECK(a.memory_limit_bytes == 512ll << 20);
  CHECK(a.checker.value() == "int main() { return 0; }");
  CHECK(a.rating == 1300);
  CHECK(a.multiple_answers);
  const auto& b = (*ps)[1];
  CHECK(b.contest_id == "77");
  CHECK(b.index == "B");
  CHECK(b.compare == "float:1e-9");
  CHECK(b.time_limit_ms == 2000);  // Codeforces' usual limits when none is given
  {
    std::ofstream out(file);
    out << "{\"id\": \"a\", \"statement\": \"s\", \"tests\": []}\n";
  }
  auto empty = cf::load_problems(file.string(), "auto");
  REQUIRE(!empty.ok());
  CHECK_THAT(empty.status().message(), Catch::Contains("no tests"));
  {
    std::ofstream out(file);
    out << "{\"id\": \"a\", \"statement\": \"s\", \"tests\": [{\"input\": \"\"}]}\n";
  }
  auto bad = cf::load_problems(file.string(), "auto");
  REQUIRE(!bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains(":1:"));
  fs::remove(file);
}
