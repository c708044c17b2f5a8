// Statistics of reports/stats.h and harness/stats.h against closed forms, hand-worked values and
// values computed independently in Python (tests/tools/stats_reference.py: exact rationals,
// statistics.NormalDist), plus coverage and false-positive rates by simulation.

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/stats.h"
#include "reports/stats.h"
#include "test_support.h"

using namespace v4eval;

namespace {

// Runs the Python reference once over `cases`; one JSON result per case.
std::vector<Json> python_reference(const std::vector<Json>& cases) {
  if (std::system("command -v python3 >/dev/null 2>&1") != 0)
    FAIL("python3 is not on PATH: statistics are checked against tests/tools/stats_reference.py");
  auto dir = std::filesystem::temp_directory_path() / ("v4eval_stats_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "in.jsonl");
    for (const auto& c : cases) out << c.dump() << "\n";
  }
  std::string script = test::source_dir() + "/tests/tools/stats_reference.py";
  int status = std::system(("python3 '" + script + "' < '" + (dir / "in.jsonl").string() + "' > '" +
                            (dir / "out.jsonl").string() + "' 2> '" + (dir / "err.txt").string() + "'")
                               .c_str());
  std::ifstream err(dir / "err.txt");
  std::stringstream ss;
  ss << err.rdbuf();
  INFO("stats_reference.py stderr: " << ss.str());
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  std::vector<Json> out;
  std::ifstream in(dir / "out.jsonl");
  for (std::string line; std::getline(in, line);) out.push_back(Json::parse(line));
  std::filesystem::remove_all(dir);
  REQUIRE(out.size() == cases.size());
  return out;
}

}  // namespace

TEST_CASE("normal quantile and cdf against Python's NormalDist", "[stats][python]") {
  std::vector<Json> cases;
  for (double x : {-4.0, -1.96, -0.5, 0.0, 0.3, 1.0, 2.5758})
    for (double q : {0.001, 0.025, 0.2, 0.5, 0.8, 0.975, 0.999}) cases.push_back({{"f", "normal"}, {"x", x}, {"q", q}});
  auto want = python_reference(cases);
  for (size_t i = 0; i < cases.size(); ++i) {
    CHECK(normal_cdf(cases[i]["x"]) == Approx(want[i]["cdf"].get<double>()).margin(1e-12));
    CHECK(normal_quantile(cases[i]["q"]) == Approx(want[i]["quantile"].get<double>()).epsilon(1e-8));
  }
}

TEST_CASE("Wilson interval against Python over a grid", "[stats][python]") {
  std::vector<Json> cases;
  for (int n : {1, 2, 5, 10, 30, 100, 1000, 12345})
    for (int k : {0, 1, n / 3, n / 2, n - 1, n})
      if (k >= 0 && k <= n) cases.push_back({{"f", "wilson"}, {"k", k}, {"n", n}});
  auto want = python_reference(cases);
  for (size_t i = 0; i < cases.size(); ++i) {
    Metric m = wilson_metric("x", cases[i]["k"], cases[i]["n"]);
    INFO(cases[i].dump());
    CHECK(m.ci_low == Approx(want[i]["low"].get<double>()).margin(1e-9));
    CHECK(m.ci_high == Approx(want[i]["high"].get<double>()).margin(1e-9));
    CHECK(m.n == cases[i]["n"].get<int64_t>());
  }
}

TEST_CASE("unbiased pass@k: closed forms and Python's exact binomials", "[stats][python]") {
  // Closed forms: pass@1 = c/n; c = 0 gives 0; n - c < k gives 1; pass@n = 1 iff c > 0.
  for (int n : {1, 3, 10, 50})
    for (int c = 0; c <= n; ++c) {
      CHECK(pass_at_k(n, c, 1) == Approx(double(c) / n));
      CHECK(pass_at_k(n, c, n) == (c > 0 ? 1.0 : 0.0));
    }
  CHECK(pass_at_k(20, 0, 5) == 0.0);
  CHECK(pass_at_k(10, 8, 5) == 1.0);
  // n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10.
  CHECK(pass_at_k(5, 2, 2) == Approx(0.7));
  std::vector<Json> cases;
  for (int n : {2, 7, 16, 100, 200})
    for (int c : {0, 1, 3, n / 2, n - 1})
      for (int k : {1, 2, 5, 10, 50})
        if (k <= n && c <= n && c >= 0) cases.push_back({{"f", "pass_at_k"}, {"n", n}, {"c", c}, {"k", k}});
  auto want = python_reference(cases);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].dump());
    CHECK(pass_at_k(cases[i]["n"], cases[i]["c"], cases[i]["k"]) ==
          Approx(want[i]["value"].get<double>()).margin(1e-12));
  }
}

TEST_CASE("pass@k metric: mean over problems, undefined when n < k", "[stats]") {
  std::vector<std::pair<int64_t, int64_t>> problems = {{10, 0}, {10, 3}, {10, 10}, {10, 5}};
  auto m = pass_at_k_metric("pass@5", problems, 5);
  REQUIRE(m);
  double want = (0 + pass_at_k(10, 3, 5) + 1 + pass_at_k(10, 5, 5)) / 4;
  CHECK(m->value == Approx(want));
  CHECK(m->n == 4);
  CHECK(m->ci_low <= m->value);
  CHECK(m->ci_high >= m->value);
  CHECK_FALSE(pass_at_k_metric("pass@5", {{10, 2}, {4, 1}}, 5));  // one problem has 4 < 5 samples
  // One generation per problem and k = 1: a proportion, Wilson.
  auto w = pass_at_k_metric("pass@1", {{1, 1}, {1, 0}, {1, 1}, {1, 1}, {1, 0}}, 1);
  REQUIRE(w);
  Metric ref = wilson_metric("pass@1", 3, 5);
  CHECK(w->ci_low == ref.ci_low);
  CHECK(w->ci_high == ref.ci_high);
  // Deterministic: the same data gives the same interval.
  auto again = pass_at_k_metric("pass@5", problems, 5);
  CHECK(again->ci_low == m->ci_low);
  CHECK(again->ci_high == m->ci_high);
}

TEST_CASE("binomial cdf and McNemar's exact test against Python's exact sums", "[stats][python]") {
  // Closed forms: won = lost -> two-sided p = 1; all discordant one way: 2 * 0.5^n.
  CHECK(mcnemar_exact(7, 7).p_two_sided == 1.0);
  CHECK(mcnemar_exact(0, 10).p_two_sided == Approx(2 * std::pow(0.5, 10)));
  CHECK(mcnemar_exact(0, 10).p_b_worse == Approx(std::pow(0.5, 10)));
  CHECK(mcnemar_exact(0, 0).p_two_sided == 1.0);
  std::vector<Json> cases;
  for (auto [w, l] : std::vector<std::pair<int, int>>{{0, 1}, {1, 0}, {3, 9}, {9, 3}, {20, 20}, {25, 60}, {70, 20}, {150, 210}, {400, 350}})
    cases.push_back({{"f", "mcnemar"}, {"won", w}, {"lost", l}});
  for (auto [k, n, p] : std::vector<std::tuple<int, int, double>>{{0, 5, 0.3}, {3, 10, 0.5}, {40, 100, 0.45}, {600, 1000, 0.63}, {7, 7, 0.2}})
    cases.push_back({{"f", "binom_cdf"}, {"k", k}, {"n", n}, {"p", p}});
  auto want = python_reference(cases);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].dump());
    if (cases[i]["f"] == "mcnemar") {
      auto r = mcnemar_exact(cases[i]["won"], cases[i]["lost"]);
      CHECK(r.p_two_sided == Approx(want[i]["two_sided"].get<double>()).epsilon(1e-9).margin(1e-300));
      CHECK(r.p_b_worse == Approx(want[i]["b_worse"].get<double>()).epsilon(1e-9).margin(1e-300));
      CHECK(r.p_b_better == Approx(want[i]["b_better"].get<double>()).epsilon(1e-9).margin(1e-300));
    } else {
      CHECK(binomial_cdf(cases[i]["k"], cases[i]["n"], cases[i]["p"]) ==
            Approx(want[i]["value"].get<double>()).epsilon(1e-9));
    }
  }
}

TEST_CASE("Tango's score test: McNemar at zero, Python's numerical MLE elsewhere", "[stats][python]") {
  CHECK(tango_score_z(100, 10, 20, 0.0) == Approx((10.0 - 20.0) / std::sqrt(30.0)));
  std::vector<Json> cases;
  for (auto [n, w, l] : std::vector<std::tuple<int, int, int>>{{100, 10, 20}, {1000, 20, 70}, {1000, 30, 30}, {50, 0, 0}, {200, 0, 15}, {200, 15, 0}, {500, 100, 60}})
    for (double theta : {-0.2, -0.05, -0.02, 0.0, 0.03, 0.1}) cases.push_back({{"f", "tango_z"}, {"n", n}, {"won", w}, {"lost", l}, {"theta", theta}});
  auto want = python_reference(cases);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].dump());
    CHECK(tango_score_z(cases[i]["n"], cases[i]["won"], cases[i]["lost"], cases[i]["theta"]) ==
          Approx(want[i]["z"].get<double>()).epsilon(1e-6).margin(1e-6));
  }
  // Its interval holds the estimate and has width even without discordant pairs.
  Interval ci = tango_interval(1000, 20, 70);
  CHECK(ci.low < -0.05);
  CHECK(ci.high > -0.05);
  Interval none = tango_interval(100, 0, 0);
  CHECK(none.low < 0);
  CHECK(none.high > 0);
}

TEST_CASE("Holm adjustment against Python and a hand-worked family", "[stats][python]") {
  // p = (0.01, 0.04, 0.03): sorted 0.01*3 = 0.03, 0.03*2 = 0.06, max(0.06, 0.04*1) = 0.06.
  auto adj = holm_adjust({0.01, 0.04, 0.03});
  CHECK(adj[0] == Approx(0.03));
  CHECK(adj[1] == Approx(0.06));
  CHECK(adj[2] == Approx(0.06));
  std::vector<double> p = {0.2, 0.001, 0.04, 0.5, 0.012, 0.012, 0.9};
  auto want = python_reference({{{"f", "holm"}, {"p", p}}});
  auto got = holm_adjust(p);
  for (size_t i = 0; i < p.size(); ++i) CHECK(got[i] == Approx(want[0]["adjusted"][i].get<double>()));
  CHECK(holm_adjust({}).empty());
}

TEST_CASE("bootstrap interval of a mean agrees with normal theory for large n", "[stats]") {
  StatsRng rng(42);
  std::vector<double> x(4000);
  for (auto& v : x) v = rng.uniform01() * rng.uniform01();  // skewed, mean 1/4
  double mean = 0, ss = 0;
  for (double v : x) mean += v;
  mean /= double(x.size());
  for (double v : x) ss += (v - mean) * (v - mean);
  double se = std::sqrt(ss / double(x.size() - 1) / double(x.size()));
  Interval ci = bootstrap_mean_interval(x, 0.95, 4000, 7);
  CHECK(ci.low == Approx(mean - 1.959964 * se).margin(0.15 * 1.96 * se));
  CHECK(ci.high == Approx(mean + 1.959964 * se).margin(0.15 * 1.96 * se));
  Interval again = bootstrap_mean_interval(x, 0.95, 4000, 7);
  CHECK(again.low == ci.low);  // reproducible
}

TEST_CASE("mean metric: Wilson, t or cluster bootstrap as the data asks", "[stats]") {
  // Pass/fail, one attempt each: Wilson.
  std::vector<std::pair<std::string, double>> binary;
  for (int i = 0; i < 40; ++i) binary.push_back({std::to_string(i), i % 4 == 0 ? 1.0 : 0.0});
  Metric w = mean_metric("acc", binary), ref = wilson_metric("acc", 10, 40);
  CHECK(w.value == 0.25);
  CHECK(w.ci_low == ref.ci_low);
  CHECK(w.ci_high == ref.ci_high);
  // Repeats that agree within a sample carry no more information than one attempt: the
  // cluster bootstrap keeps the width of n = 200 samples, not of the 800 attempts.
  std::vector<std::pair<std::string, double>> repeated;
  for (int i = 0; i < 200; ++i)
    for (int r = 0; r < 4; ++r) repeated.push_back({std::to_string(i), i % 2 ? 1.0 : 0.0});
  Metric c = mean_metric("acc", repeated);
  CHECK(c.n == 200);
  double half = (c.ci_high - c.ci_low) / 2, per_sample = 1.96 * std::sqrt(0.25 / 200);
  CHECK(half == Approx(per_sample).epsilon(0.15));
  CHECK(half > 1.5 * 1.96 * std::sqrt(0.25 / 800));
}

TEST_CASE("cluster bootstrap covers the true mean about 95% of the time", "[stats][simulation]") {
  // 300 data sets: 60 problems with their own difficulty, 3 repeats each.
  StatsRng rng(2024);
  int covered = 0;
  const int sets = 300;
  for (int s = 0; s < sets; ++s) {
    std::vector<std::pair<std::string, double>> values;
    double truth = 0;
    for (int p = 0; p < 60; ++p) {
      double difficulty = 0.2 + 0.6 * rng.uniform01();  // problem success rate, mean 0.5
      for (int r = 0; r < 3; ++r) values.push_back({std::to_string(p), rng.uniform01() < difficulty ? 1.0 : 0.0});
    }
    truth = 0.5;
    Metric m = mean_metric("m" + std::to_string(s), values);
    covered += m.ci_low <= truth && truth <= m.ci_high;
  }
  double rate = double(covered) / sets;
  CHECK(rate > 0.90);
  CHECK(rate < 0.99);
}

TEST_CASE("paired comparison: tests, intervals and flips", "[stats]") {
  PairedOptions o;
  // Pass/fail: McNemar on the discordant pairs.
  std::vector<std::pair<double, double>> pairs;
  for (int i = 0; i < 100; ++i) pairs.push_back({1, 1});
  for (int i = 0; i < 3; ++i) pairs.push_back({0, 1});
  for (int i = 0; i < 9; ++i) pairs.push_back({1, 0});
  auto r = compare_paired(pairs, o);
  CHECK(r.test == std::string(kTestMcNemar));
  CHECK(r.won == 3);
  CHECK(r.lost == 9);
  CHECK(r.tied == 100);
  CHECK(r.p_value == Approx(mcnemar_exact(3, 9).p_two_sided));
  CHECK(r.delta == Approx(-6.0 / 112));
  CHECK(r.ci_low < r.delta);
  CHECK(r.ci_high > r.delta);
  o.margin = 0.02;
  CHECK(compare_paired(pairs, o).test == std::string(kTestTango));
  // Continuous: paired bootstrap; a constant shift is detected, its interval is exact.
  std::vector<std::pair<double, double>> shifted;
  StatsRng rng(3);
  for (int i = 0; i < 300; ++i) {
    double a = rng.uniform01();
    shifted.push_back({a, std::max(0.0, a - 0.1)});
  }
  PairedOptions c;
  auto s = compare_paired(shifted, c);
  CHECK(s.test == std::string(kTestBootstrap));
  CHECK(s.p_value < 0.001);
  CHECK(s.p_drop < 0.001);
  CHECK(s.ci_high < 0);
  CHECK(s.drop_upper < 0);
  // Identical runs: nothing to see.
  std::vector<std::pair<double, double>> same;
  for (int i = 0; i < 50; ++i) same.push_back({0.3 + i * 0.01, 0.3 + i * 0.01});
  auto z = compare_paired(same, c);
  CHECK(z.p_value == 1.0);
  CHECK(z.p_drop == 1.0);
  CHECK(z.delta == 0.0);
}

TEST_CASE("paired bootstrap keeps its false-positive rate under the null", "[stats][simulation]") {
  StatsRng rng(99);
  int rejected = 0, rejected_drop = 0;
  const int sims = 300;
  PairedOptions o;
  o.resamples = 1000;
  for (int s = 0; s < sims; ++s) {
    std::vector<std::pair<double, double>> pairs;
    for (int i = 0; i < 150; ++i) {
      double base = rng.uniform01();
      // Exchangeable noise around the same per-sample level: no difference between A and B.
      pairs.push_back({std::clamp(base + 0.2 * (rng.uniform01() - 0.5), 0.0, 1.0),
                       std::clamp(base + 0.2 * (rng.uniform01() - 0.5), 0.0, 1.0)});
    }
    o.seed = uint64_t(s);
    auto r = compare_paired(pairs, o);
    rejected += r.p_value < 0.05;
    rejected_drop += r.p_drop < 0.05;
  }
  CHECK(double(rejected) / sims < 0.09);
  CHECK(double(rejected) / sims > 0.01);
  CHECK(double(rejected_drop) / sims < 0.09);
}

TEST_CASE("minimum detectable difference and the small-n marker", "[stats]") {
  Metric m{"score", 0.5, 0.4, 0.6, 100};
  // se = 0.1/1.96; mde = (1.96 + 0.8416) * sqrt(2) * se.
  CHECK(min_detectable_difference(m) == Approx((1.959964 + 0.841621) * std::sqrt(2.0) * 0.1 / 1.959964).epsilon(1e-5));
  CHECK(too_small_to_compare(m));  // cannot separate runs 10 points apart
  CHECK(too_small_to_compare(Metric{"s", 0.5, 0.49, 0.51, 20}));  // n < 30
  CHECK_FALSE(too_small_to_compare(Metric{"s", 0.5, 0.47, 0.53, 1000}));
}
