// Gate decisions and run comparisons on constructed runs: a planted 5-point drop on 1,000
// samples fails, noise passes (and keeps the false-alarm rate), an incomparable pair exits 3,
// bad arguments exit 2; JUnit and Markdown say what happened.

#include <catch2/catch.hpp>
#include <cmath>

#include "harness/stats.h"
#include "reports/comparison.h"
#include "reports/gate.h"

using namespace v4eval;

namespace {

// A run of one suite ("mrcr") with the given per-sample values per mode.
RunData make_run(const std::string& name, const std::map<Mode, std::vector<double>>& values,
                 const std::string& data_hash = "data-1") {
  RunData r;
  r.label = name;
  r.info.name = name;
  r.info.spec = {{"suites", {"mrcr:file=/data/x.jsonl"}}, {"backend", "replay:file=" + name},
                 {"judge", nullptr}, {"modes", {"non-think"}}, {"repeats", 1}, {"max_tokens", 0},
                 {"temperature", nullptr}, {"top_p", nullptr}, {"seed", nullptr}};
  r.info.suite_versions = {{"mrcr", {{"version", "1"}, {"data_hash", data_hash}}}};
  for (const auto& [mode, v] : values) {
    SuiteResults s;
    s.suite = "mrcr";
    s.mode = mode;
    s.version = "1";
    s.data_hash = data_hash;
    s.headline = "score";
    s.n_samples = s.n_attempts = int64_t(v.size());
    std::vector<std::pair<std::string, double>> pairs;
    MetricValues mv;
    for (size_t i = 0; i < v.size(); ++i) {
      pairs.push_back({std::to_string(i), v[i]});
      mv.per_sample[std::to_string(i)] = v[i];
      s.prompt_hash[std::to_string(i)] = "prompt-" + std::to_string(i);
    }
    mv.total = mean_metric("score", pairs);
    s.metrics["score"] = mv;
    r.suites.push_back(std::move(s));
  }
  return r;
}

// 1,000 pass/fail samples at 70%; the candidate loses `lost` and wins `won` of them.
std::pair<std::vector<double>, std::vector<double>> binary_pair(int lost, int won, uint64_t seed) {
  StatsRng rng(seed);
  std::vector<double> a(1000), b;
  for (auto& x : a) x = rng.uniform01() < 0.7 ? 1.0 : 0.0;
  b = a;
  std::vector<size_t> pass, fail;
  for (size_t i = 0; i < a.size(); ++i) (a[i] == 1.0 ? pass : fail).push_back(i);
  for (int k = 0; k < lost; ++k) b[pass[(k * 7919) % pass.size()]] = 0.0;
  for (int k = 0; k < won; ++k) b[fail[(k * 104729) % fail.size()]] = 1.0;
  return {a, b};
}

}  // namespace

TEST_CASE("gate: a planted 5-point drop on 1,000 pass/fail samples fails", "[gate]") {
  auto [a, b] = binary_pair(/*lost=*/65, /*won=*/15, 1);  // net -50 = -5 points
  RunData base = make_run("base", {{Mode::kNonThink, a}}), cand = make_run("cand", {{Mode::kNonThink, b}});
  GateResult r = gate_runs(base, cand, GateOptions{});
  REQUIRE(r.checks.size() == 1);
  CHECK(r.checks[0].delta == Approx(-0.05));
  CHECK(r.checks[0].test == std::string(kTestMcNemar));
  CHECK(r.checks[0].lost == 65);
  CHECK(r.checks[0].won == 15);
  CHECK(r.checks[0].p_drop == Approx(mcnemar_exact(15, 65).p_b_worse));
  CHECK(r.checks[0].regression);
  CHECK(r.exit_code() == 1);
  std::string junit = gate_junit(r);
  CHECK(junit.find("<testcase classname=\"mrcr.non-think\" name=\"score\"") != std::string::npos);
  CHECK(junit.find("<failure") != std::string::npos);
  CHECK(junit.find("failures=\"1\"") != std::string::npos);
  std::string md = gate_markdown(r);
  CHECK(md.find("❌ regression") != std::string::npos);
  CHECK(md.find("| ❌ | mrcr | non-think | `score`") != std::string::npos);
  // Within an allowed drop of 10 points the same data passes; 2 points still fails (Tango).
  GateOptions loose;
  loose.max_drop = 0.10;
  CHECK(gate_runs(base, cand, loose).exit_code() == 0);
  GateOptions tight;
  tight.max_drop = 0.02;
  GateResult t = gate_runs(base, cand, tight);
  CHECK(t.checks[0].test == std::string(kTestTango));
  CHECK(t.exit_code() == 1);
}

TEST_CASE("gate: noise passes, and rarely raises a false alarm", "[gate][simulation]") {
  auto [a, b] = binary_pair(/*lost=*/20, /*won=*/20, 2);
  GateResult r = gate_runs(make_run("base", {{Mode::kNonThink, a}}), make_run("cand", {{Mode::kNonThink, b}}), GateOptions{});
  CHECK(r.exit_code() == 0);
  CHECK(r.checks[0].delta == 0.0);
  CHECK(gate_junit(r).find("<failure") == std::string::npos);
  CHECK(gate_markdown(r).find("✅ pass") != std::string::npos);
  // Random symmetric flips: the candidate is the baseline re-sampled. Over 200 such pairs
  // the gate fails about alpha = 5% of the time at most.
  StatsRng rng(77);
  int alarms = 0;
  for (int s = 0; s < 200; ++s) {
    std::vector<double> x(1000), y(1000);
    for (size_t i = 0; i < x.size(); ++i) {
      double p = 0.3 + 0.5 * rng.uniform01();
      x[i] = rng.uniform01() < p ? 1.0 : 0.0;
      y[i] = rng.uniform01() < p ? 1.0 : 0.0;
    }
    alarms += gate_runs(make_run("a", {{Mode::kNonThink, x}}), make_run("b", {{Mode::kNonThink, y}}), GateOptions{}).exit_code() == 1;
  }
  CHECK(alarms <= 20);
}

TEST_CASE("gate: continuous scores (MRCR-like) use the paired bootstrap", "[gate]") {
  StatsRng rng(5);
  std::vector<double> a(1000), drop(1000), noise(1000);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = rng.uniform01();
    double e = 0.1 * (rng.uniform01() - 0.5);
    drop[i] = std::clamp(a[i] - 0.05 + e, 0.0, 1.0);
    noise[i] = std::clamp(a[i] + e, 0.0, 1.0);
  }
  RunData base = make_run("base", {{Mode::kNonThink, a}});
  GateOptions o;
  o.resamples = 4000;
  GateResult r = gate_runs(base, make_run("drop", {{Mode::kNonThink, drop}}), o);
  CHECK(r.checks[0].test == std::string(kTestBootstrap));
  CHECK(r.exit_code() == 1);
  CHECK(r.checks[0].upper < 0);
  CHECK(r.checks[0].lost > r.checks[0].won);
  CHECK_FALSE(r.checks[0].lost_samples.empty());
  CHECK(gate_runs(base, make_run("noise", {{Mode::kNonThink, noise}}), o).exit_code() == 0);
}

TEST_CASE("gate: Holm over several gated metrics", "[gate]") {
  auto [a, b] = binary_pair(65, 15, 3);
  auto [c, d] = binary_pair(20, 20, 4);
  RunData base = make_run("base", {{Mode::kNonThink, a}, {Mode::kThinkMax, c}});
  RunData cand = make_run("cand", {{Mode::kNonThink, b}, {Mode::kThinkMax, d}});
  GateResult r = gate_runs(base, cand, GateOptions{});
  REQUIRE(r.checks.size() == 2);
  CHECK(r.checks[0].p_holm == Approx(std::min(1.0, 2 * std::min(r.checks[0].p_drop, r.checks[1].p_drop))));
  CHECK(r.checks[0].regression);
  CHECK_FALSE(r.checks[1].regression);
  CHECK(r.exit_code() == 1);
  GateOptions only;
  only.modes = {Mode::kThinkMax};
  CHECK(gate_runs(base, cand, only).exit_code() == 0);
}

TEST_CASE("gate: incomparable runs exit 3 and say what differs", "[gate]") {
  auto [a, b] = binary_pair(65, 15, 6);
  RunData base = make_run("base", {{Mode::kNonThink, a}});
  SECTION("other data") {
    GateResult r = gate_runs(base, make_run("cand", {{Mode::kNonThink, b}}, "data-2"), GateOptions{});
    CHECK(r.exit_code() == 3);
    REQUIRE_FALSE(r.comparability.differences.empty());
    CHECK(r.comparability.differences[0].find("data") != std::string::npos);
    CHECK(gate_junit(r).find("<error message=\"runs not comparable\"") != std::string::npos);
    CHECK(gate_markdown(r).find("not comparable") != std::string::npos);
  }
  SECTION("other sampling settings") {
    RunData cand = make_run("cand", {{Mode::kNonThink, b}});
    cand.info.spec["temperature"] = 0.7;
    GateResult r = gate_runs(base, cand, GateOptions{});
    CHECK(r.exit_code() == 3);
    CHECK(r.comparability.differences[0].find("temperature") != std::string::npos);
  }
  SECTION("another suite version") {
    RunData cand = make_run("cand", {{Mode::kNonThink, b}});
    cand.info.suite_versions["mrcr"]["version"] = "2";
    CHECK(gate_runs(base, cand, GateOptions{}).exit_code() == 3);
  }
  SECTION("another judge") {
    RunData cand = make_run("cand", {{Mode::kNonThink, b}});
    cand.info.spec["judge"] = "openai:model=gpt-4.1";
    GateResult r = gate_runs(base, cand, GateOptions{});
    CHECK(r.exit_code() == 3);
    CHECK(r.comparability.differences[0].find("judge") != std::string::npos);
  }
  SECTION("another prompt template") {
    RunData cand = make_run("cand", {{Mode::kNonThink, b}});
    for (auto& [k, v] : cand.suites[0].prompt_hash) v += "-v2";
    GateResult r = gate_runs(base, cand, GateOptions{});
    CHECK(r.exit_code() == 3);
    CHECK(r.comparability.differences[0].find("prompt") != std::string::npos);
  }
  SECTION("the gated mode is missing") {
    RunData cand = make_run("cand", {{Mode::kThinkMax, b}});
    GateResult r = gate_runs(base, cand, GateOptions{});
    CHECK(r.exit_code() == 3);
  }
  SECTION("a different model is what gets compared: comparable") {
    RunData cand = make_run("cand", {{Mode::kNonThink, b}});
    cand.info.model = "other-model";
    cand.info.spec["seed"] = 7;
    GateResult r = gate_runs(base, cand, GateOptions{});
    CHECK(r.exit_code() == 1);
    CHECK_FALSE(r.comparability.notes.empty());  // the seed differs: noted
  }
}

TEST_CASE("gate: bad arguments exit 2", "[gate]") {
  auto [a, b] = binary_pair(0, 0, 7);
  GateOptions o;
  o.metrics = {"mrcr:nosuchmetric"};
  GateResult r = gate_runs(make_run("a", {{Mode::kNonThink, a}}), make_run("b", {{Mode::kNonThink, b}}), o);
  CHECK(r.exit_code() == 2);
  GateOptions m;
  m.modes = {Mode::kThinkHigh};
  CHECK(gate_runs(make_run("a", {{Mode::kNonThink, a}}), make_run("b", {{Mode::kNonThink, b}}), m).exit_code() == 2);
}

TEST_CASE("gate: a baseline of expected values with tolerances", "[gate]") {
  auto [a, b] = binary_pair(65, 15, 8);  // b is 5 points below a
  RunData base = make_run("base", {{Mode::kNonThink, a}}), cand = make_run("cand", {{Mode::kNonThink, b}});
  GateOptions o;
  o.max_drop = 0.01;
  Json expected = expected_values_of(base, o);
  REQUIRE(expected["metrics"].size() == 1);
  CHECK(expected["metrics"][0]["value"].get<double>() == Approx(base.suites[0].metrics["score"].total.value));
  CHECK(expected["suites"]["mrcr"]["data_hash"] == "data-1");
  auto r = gate_expected(expected, "expected.json", cand, GateOptions{});
  REQUIRE(r.ok());
  CHECK(r->checks[0].test == "binomial-exact");
  CHECK(r->exit_code() == 1);
  // The same values with a 10-point tolerance pass; the baseline run itself passes.
  expected["metrics"][0]["max_drop"] = 0.10;
  CHECK(gate_expected(expected, "expected.json", cand, GateOptions{})->exit_code() == 0);
  expected["metrics"][0]["max_drop"] = 0.0;
  CHECK(gate_expected(expected, "expected.json", base, GateOptions{})->exit_code() == 0);
  // Expected values for other data: not comparable.
  expected["suites"]["mrcr"]["data_hash"] = "data-9";
  CHECK(gate_expected(expected, "expected.json", cand, GateOptions{})->exit_code() == 3);
  // Malformed files are bad arguments.
  CHECK_FALSE(gate_expected(Json{{"metrics", {{{"suite", "mrcr"}}}}}, "x.json", cand, GateOptions{}).ok());
  CHECK_FALSE(gate_expected(Json::array(), "x.json", cand, GateOptions{}).ok());
}

TEST_CASE("compare: paired rows, flipped samples, Holm across suites and modes", "[compare]") {
  auto [a, b] = binary_pair(30, 10, 9);
  auto [c, d] = binary_pair(10, 30, 10);
  RunData base = make_run("base", {{Mode::kNonThink, a}, {Mode::kThinkMax, c}});
  RunData cand = make_run("cand", {{Mode::kNonThink, b}, {Mode::kThinkMax, d}});
  Comparison cmp = compare_runs(base, cand, CompareOptions{});
  REQUIRE(cmp.rows.size() == 2);
  CHECK(cmp.comparability.comparable());
  CHECK(cmp.rows[0].lost.size() == 30);
  CHECK(cmp.rows[0].won.size() == 10);
  CHECK(cmp.rows[1].won.size() == 30);
  auto holm = holm_adjust({cmp.rows[0].test.p_value, cmp.rows[1].test.p_value});
  CHECK(cmp.rows[0].p_holm == holm[0]);
  CHECK(cmp.rows[1].p_holm == holm[1]);
  Json j = comparison_to_json(cmp);
  CHECK(j["rows"][0]["flips"]["lost"].size() == 30);
  CHECK(j["rows"][0]["test"] == kTestMcNemar);
  std::string text = comparison_to_text(cmp, 5);
  CHECK(text.find("lost (B worse) 30:") != std::string::npos);
  // Two modes of one run.
  Comparison modes = compare_modes(base, Mode::kNonThink, Mode::kThinkMax, CompareOptions{});
  REQUIRE(modes.rows.size() == 1);
  CHECK(modes.by_mode);
  CHECK(modes.rows[0].test.n == 1000);
  CHECK(compare_modes(base, Mode::kNonThink, Mode::kThinkHigh, CompareOptions{}).comparability.comparable() == false);
}
