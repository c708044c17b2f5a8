#include "reports/gate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace v4eval {
namespace {

std::string mode_str(Mode m) { return std::string(mode_name(m)); }

bool mode_wanted(const std::vector<Mode>& modes, Mode m) {
  return modes.empty() || std::find(modes.begin(), modes.end(), m) != modes.end();
}

// Splits "SUITE:METRIC" (suite empty when absent).
std::pair<std::string, std::string> split_metric(const std::string& spec) {
  auto colon = spec.find(':');
  if (colon == std::string::npos) return {"", spec};
  return {spec.substr(0, colon), spec.substr(colon + 1)};
}

void apply_holm(GateResult& r) {
  std::vector<double> p;
  for (const auto& c : r.checks) p.push_back(c.p_drop);
  auto adj = holm_adjust(p);
  for (size_t i = 0; i < r.checks.size(); ++i) {
    r.checks[i].p_holm = adj[i];
    r.checks[i].regression = adj[i] < r.alpha;
  }
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters, even escaped.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t' && ch != '\r')
          out += ' ';
        else
          out += ch;
    }
  }
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string check_summary(const GateResult& r, const GateCheck& c) {
  std::string s = c.suite + " " + mode_str(c.mode) + " " + c.metric + ": " +
                  (r.expected_values ? "expected " : "baseline ") + fmt("%.4f", c.baseline) +
                  ", candidate " + fmt("%.4f", c.candidate) + ", delta " + fmt("%+.4f", c.delta) +
                  " [" + fmt("%+.4f", c.ci_low) + ", " + fmt("%+.4f", c.ci_high) + "]" +
                  ", allowed drop " + fmt("%.4f", c.max_drop) + ", one-sided p " +
                  format_p(c.p_drop) + " (Holm " + format_p(c.p_holm) + "), n " +
                  std::to_string(c.n) + (c.small_n ? " (too small to separate runs)" : "") +
                  ", " + c.test;
  if (!r.expected_values) s += ", won/lost " + std::to_string(c.won) + "/" + std::to_string(c.lost);
  return s;
}

}  // namespace

int GateResult::exit_code() const {
  if (!bad_arguments.empty()) return 2;
  if (!comparability.comparable()) return 3;
  for (const auto& c : checks)
    if (c.regression) return 1;
  return 0;
}

GateResult gate_runs(const RunData& baseline, const RunData& candidate, const GateOptions& o) {
  GateResult r;
  r.baseline_label = baseline.label;
  r.candidate_label = candidate.label;
  r.alpha = o.alpha;
  // Metrics asked for must exist in the baseline somewhere.
  for (const auto& spec : o.metrics) {
    auto [suite, name] = split_metric(spec);
    bool found = false;
    for (const auto& s : baseline.suites)
      if ((suite.empty() || s.suite == suite) && mode_wanted(o.modes, s.mode) && s.metric(name))
        found = true;
    if (!found)
      r.bad_arguments.push_back("--metric " + spec + ": the baseline " + baseline.label +
                                " has no such metric" +
                                (o.modes.empty() ? "" : " in the modes asked for"));
  }
  for (Mode m : o.modes) {
    bool any = false;
    for (const auto& s : baseline.suites) any = any || s.mode == m;
    if (!any)
      r.bad_arguments.push_back("--mode " + mode_str(m) + ": the baseline has no such mode");
  }
  if (!r.bad_arguments.empty()) return r;

  std::vector<std::string> suites;
  for (const auto& s : baseline.suites) {
    if (!mode_wanted(o.modes, s.mode)) continue;
    bool gated = o.metrics.empty();
    for (const auto& spec : o.metrics) {
      auto [suite, name] = split_metric(spec);
      if ((suite.empty() || suite == s.suite) && s.metric(name)) gated = true;
    }
    if (!gated) continue;
    if (std::find(suites.begin(), suites.end(), s.suite) == suites.end()) suites.push_back(s.suite);
  }
  r.comparability = check_comparable(baseline, candidate, suites);
  // What is gated must exist in the candidate: a vanished mode or metric is not a pass.
  for (const auto& s : baseline.suites) {
    if (!mode_wanted(o.modes, s.mode) ||
        std::find(suites.begin(), suites.end(), s.suite) == suites.end())
      continue;
    const SuiteResults* c = candidate.find(s.suite, s.mode);
    if (!c) {
      r.comparability.differences.push_back("the candidate has no " + s.suite + " " +
                                            mode_str(s.mode) + " attempts");
      continue;
    }
    std::vector<std::string> names;
    if (o.metrics.empty()) names.push_back(s.headline);
    for (const auto& spec : o.metrics) {
      auto [suite, name] = split_metric(spec);
      if ((suite.empty() || suite == s.suite) && s.metric(name)) names.push_back(name);
    }
    for (const auto& n : names)
      if (!c->metric(n))
        r.comparability.differences.push_back("the candidate has no metric " + n + " for " +
                                              s.suite + " " + mode_str(s.mode));
  }
  if (!r.comparability.comparable()) return r;

  CompareOptions co;
  co.suites = suites;
  co.modes = o.modes;
  co.metrics = o.metrics;
  co.paired.margin = o.max_drop;
  co.paired.alpha_one_sided = o.alpha;
  co.paired.resamples = o.resamples;
  Comparison cmp = compare_runs(baseline, candidate, co);
  for (const auto& row : cmp.rows) {
    GateCheck c;
    c.suite = row.suite;
    c.metric = row.metric;
    c.mode = row.mode_a;
    c.baseline = row.paired ? row.test.mean_a : row.a.value;
    c.candidate = row.paired ? row.test.mean_b : row.b.value;
    c.delta = row.test.delta;
    c.ci_low = row.test.ci_low;
    c.ci_high = row.test.ci_high;
    c.upper = row.test.drop_upper;
    c.max_drop = o.max_drop;
    c.p_drop = row.test.p_drop;
    c.test = row.test.test;
    c.n = row.paired ? row.test.n : std::min(row.a.n, row.b.n);
    c.won = row.test.won;
    c.lost = row.test.lost;
    c.small_n = row.small_n;
    c.lost_samples.assign(row.lost.begin(), row.lost.begin() + std::min<size_t>(row.lost.size(), 20));
    r.checks.push_back(std::move(c));
  }
  apply_holm(r);
  return r;
}

namespace {

// One-sided test of a candidate mean against a fixed threshold: H0 mean >= threshold.
// Pass/fail data without repeats: exact binomial; otherwise bootstrap over samples.
void test_against_threshold(const MetricValues& mv, double threshold, const GateOptions& o,
                            GateCheck& c) {
  const Metric& m = mv.total;
  c.n = m.n;
  const double zc = normal_quantile(0.975), z1 = normal_quantile(1 - o.alpha);
  std::vector<double> x;
  bool binary = !mv.per_sample.empty();
  for (const auto& [_, v] : mv.per_sample) {
    x.push_back(v);
    binary = binary && (v == 0.0 || v == 1.0);
  }
  if (binary) {
    int64_t k = 0;
    for (double v : x) k += v == 1.0;
    int64_t n = int64_t(x.size());
    c.test = "binomial-exact";
    c.p_drop = threshold <= 0 ? 1.0 : threshold >= 1 ? (k < n ? 0.0 : 1.0)
                                                    : binomial_cdf(k, n, threshold);
    Metric w = wilson_metric(c.metric, k, n, 1 - 2 * o.alpha);  // its upper end is one-sided
    c.upper = w.ci_high - c.baseline;
    Metric w95 = wilson_metric(c.metric, k, n);
    c.ci_low = w95.ci_low - c.baseline;
    c.ci_high = w95.ci_high - c.baseline;
    return;
  }
  if (x.size() >= 2) {
    c.test = "bootstrap";
    const double mean = m.value;
    StatsRng rng(stats_seed(c.suite + "/" + c.metric + "/expected", x.size()));
    int B = std::max(100, o.resamples);
    std::vector<double> reps(static_cast<size_t>(B));
    for (auto& rep : reps) {
      double s = 0;
      for (size_t i = 0; i < x.size(); ++i) s += x[rng.below(x.size())];
      rep = s / double(x.size());
    }
    int64_t below = 0;
    for (double rep : reps) below += (rep - mean) <= (mean - threshold) + 1e-15;
    c.p_drop = std::min(1.0, double(1 + below) / double(B + 1));
    std::sort(reps.begin(), reps.end());
    auto q = [&](double p) { return reps[size_t(std::floor(p * (B - 1) + 0.5))]; };
    c.ci_low = q(0.025) - c.baseline;
    c.ci_high = q(0.975) - c.baseline;
    c.upper = 2 * mean - q(o.alpha) - c.baseline;
    return;
  }
  // Not decomposable (or a single sample): normal approximation from the metric's interval.
  c.test = "normal";
  double se = (m.ci_high - m.ci_low) / (2 * zc);
  c.ci_low = m.ci_low - c.baseline;
  c.ci_high = m.ci_high - c.baseline;
  c.upper = c.delta + z1 * se;
  c.p_drop = se > 0 ? normal_cdf((m.value - threshold) / se) : (m.value < threshold ? 0.0 : 1.0);
}

}  // namespace

Result<GateResult> gate_expected(const Json& expected, const std::string& label,
                                 const RunData& candidate, const GateOptions& o) {
  GateResult r;
  r.baseline_label = label;
  r.candidate_label = candidate.label;
  r.expected_values = true;
  r.alpha = o.alpha;
  if (!expected.is_object() || !expected.contains("metrics") || !expected["metrics"].is_array())
    return InvalidArgument(label + ": expected {\"metrics\": [{\"suite\", \"mode\", \"metric\", "
                                   "\"value\", \"max_drop\"}, ...]}");
  // Comparability: suite versions, data hashes, sampling settings, where the file names them.
  if (expected.contains("suites") && expected["suites"].is_object()) {
    for (auto& [suite, want] : expected["suites"].items()) {
      if (!want.is_object()) return InvalidArgument(label + ": \"suites\"." + suite + " must be an object");
      const Json& have = candidate.info.suite_versions.contains(suite)
                             ? candidate.info.suite_versions[suite] : Json::object();
      for (const char* field : {"version", "data_hash"}) {
        if (!want.contains(field)) continue;
        std::string w = want[field].is_string() ? want[field].get<std::string>() : want[field].dump();
        std::string h = have.value(field, "");
        if (w != h)
          r.comparability.differences.push_back("suite " + suite + " " + field + ": expected " +
                                                w + ", candidate has " + (h.empty() ? "none" : h));
      }
    }
  }
  if (expected.contains("settings") && expected["settings"].is_object()) {
    for (auto& [key, want] : expected["settings"].items()) {
      Json have = candidate.info.spec.contains(key) ? candidate.info.spec[key] : Json();
      if (have != want)
        r.comparability.differences.push_back("setting " + key + ": expected " + want.dump() +
                                              ", candidate has " + have.dump());
    }
  }
  std::set<std::string> asked(o.metrics.begin(), o.metrics.end());
  for (const auto& e : expected["metrics"]) {
    if (!e.is_object() || !e.contains("suite") || !e["suite"].is_string() ||
        !e.contains("metric") || !e["metric"].is_string() || !e.contains("value") ||
        !e["value"].is_number())
      return InvalidArgument(label + ": each metric needs \"suite\", \"metric\" and a numeric \"value\": " +
                             e.dump());
    GateCheck c;
    c.suite = e["suite"].get<std::string>();
    c.metric = e["metric"].get<std::string>();
    auto mode = parse_mode(e.value("mode", "non-think"));
    if (!mode) return InvalidArgument(label + ": unknown mode in " + e.dump());
    c.mode = *mode;
    if (!mode_wanted(o.modes, c.mode)) continue;
    if (!asked.empty() && !asked.count(c.suite + ":" + c.metric) && !asked.count(c.metric)) continue;
    c.baseline = e["value"].get<double>();
    c.max_drop = o.max_drop;
    for (const char* k : {"max_drop", "tolerance"})
      if (e.contains(k)) {
        if (!e[k].is_number() || e[k].get<double>() < 0)
          return InvalidArgument(label + ": \"" + k + "\" must be a non-negative number: " + e.dump());
        c.max_drop = e[k].get<double>();
      }
    const SuiteResults* s = candidate.find(c.suite, c.mode);
    const MetricValues* mv = s ? s->metric(c.metric) : nullptr;
    if (!mv) {
      r.comparability.differences.push_back("the candidate has no " + c.suite + " " +
                                            mode_str(c.mode) + " " + c.metric);
      continue;
    }
    c.candidate = mv->total.value;
    c.delta = c.candidate - c.baseline;
    c.small_n = too_small_to_compare(mv->total);
    test_against_threshold(*mv, c.baseline - c.max_drop, o, c);
    r.checks.push_back(std::move(c));
  }
  for (const auto& spec : o.metrics) {
    auto [suite, name] = split_metric(spec);
    bool found = false;
    for (const auto& c : r.checks) found = found || ((suite.empty() || c.suite == suite) && c.metric == name);
    if (!found) r.bad_arguments.push_back("--metric " + spec + ": not in " + label);
  }
  if (r.checks.empty() && r.comparability.comparable() && r.bad_arguments.empty())
    r.bad_arguments.push_back(label + ": no metric to gate (for the modes asked for)");
  apply_holm(r);
  return r;
}

Json expected_values_of(const RunData& run, const GateOptions& o) {
  Json metrics = Json::array();
  std::set<std::string> suites;
  for (const auto& s : run.suites) {
    if (!mode_wanted(o.modes, s.mode)) continue;
    std::vector<std::string> names;
    if (o.metrics.empty()) names.push_back(s.headline);
    for (const auto& spec : o.metrics) {
      auto [suite, name] = split_metric(spec);
      if ((suite.empty() || suite == s.suite) && s.metric(name)) names.push_back(name);
    }
    for (const auto& n : names) {
      const MetricValues* mv = s.metric(n);
      if (!mv) continue;
      suites.insert(s.suite);
      metrics.push_back({{"suite", s.suite}, {"mode", mode_str(s.mode)}, {"metric", n},
                         {"value", mv->total.value}, {"max_drop", o.max_drop},
                         {"n", mv->total.n}, {"ci_low", mv->total.ci_low},
                         {"ci_high", mv->total.ci_high}});
    }
  }
  Json sv = Json::object();
  for (const auto& s : suites)
    if (run.info.suite_versions.contains(s)) sv[s] = run.info.suite_versions[s];
  Json settings = Json::object();
  for (const char* k : {"temperature", "top_p", "max_tokens"})
    if (run.info.spec.contains(k)) settings[k] = run.info.spec[k];
  return {{"description", "expected values from run " + run.label + " (v4eval gate --write-baseline)"},
          {"model", run.info.model},
          {"suites", sv},
          {"settings", settings},
          {"metrics", metrics}};
}

std::string gate_text(const GateResult& r) {
  std::string out = "gate: baseline " + r.baseline_label + ", candidate " + r.candidate_label + "\n";
  for (const auto& b : r.bad_arguments) out += "bad argument: " + b + "\n";
  if (!r.comparability.comparable()) {
    out += "NOT COMPARABLE (exit 3):\n";
    for (const auto& d : r.comparability.differences) out += "  - " + d + "\n";
  }
  for (const auto& n : r.comparability.notes) out += "note: " + n + "\n";
  for (const auto& c : r.checks) {
    out += std::string(c.regression ? "FAIL " : "ok   ") + check_summary(r, c) + "\n";
    if (c.regression && !c.lost_samples.empty()) {
      out += "       largest drops:";
      for (size_t i = 0; i < c.lost_samples.size() && i < 10; ++i)
        out += " " + c.lost_samples[i].sample_id + " (" + fmt("%.3f", c.lost_samples[i].a) + "->" +
               fmt("%.3f", c.lost_samples[i].b) + ")";
      out += "\n";
    }
  }
  int code = r.exit_code();
  out += code == 0 ? "gate: pass\n" : code == 1 ? "gate: REGRESSION\n" : code == 3 ? "gate: runs not comparable\n" : "gate: bad arguments\n";
  return out;
}

std::string gate_junit(const GateResult& r) {
  int failures = 0, errors = 0, skipped = 0;
  std::string cases;
  bool comparable = r.comparability.comparable() && r.bad_arguments.empty();
  if (!comparable) {
    ++errors;
    std::string detail;
    for (const auto& d : r.bad_arguments) detail += d + "\n";
    for (const auto& d : r.comparability.differences) detail += d + "\n";
    cases += "    <testcase classname=\"v4eval.gate\" name=\"comparability\" time=\"0\">\n"
             "      <error message=\"" +
             xml_escape(r.bad_arguments.empty() ? "runs not comparable" : "bad arguments") +
             "\" type=\"" + (r.bad_arguments.empty() ? "incomparable" : "bad-arguments") + "\">" +
             xml_escape(detail) + "</error>\n    </testcase>\n";
  }
  for (const auto& c : r.checks) {
    cases += "    <testcase classname=\"" + xml_escape(c.suite + "." + mode_str(c.mode)) +
             "\" name=\"" + xml_escape(c.metric) + "\" time=\"0\">\n";
    std::string summary = check_summary(r, c);
    if (!comparable) {
      ++skipped;
      cases += "      <skipped message=\"runs not comparable\"/>\n";
    } else if (c.regression) {
      ++failures;
      std::string detail = summary + "\n";
      if (!c.lost_samples.empty()) {
        detail += "largest drops (sample: baseline -> candidate):\n";
        for (const auto& d : c.lost_samples)
          detail += "  " + d.sample_id + ": " + fmt("%.4f", d.a) + " -> " + fmt("%.4f", d.b) + "\n";
      }
      cases += "      <failure message=\"" +
               xml_escape(c.metric + " dropped by " + fmt("%.4f", -c.delta) + " (allowed " +
                          fmt("%.4f", c.max_drop) + ", p " + format_p(c.p_holm) + ")") +
               "\" type=\"regression\">" + xml_escape(detail) + "</failure>\n";
    }
    cases += "      <system-out>" + xml_escape(summary) + "</system-out>\n    </testcase>\n";
  }
  int tests = int(r.checks.size()) + (comparable ? 0 : 1);
  std::string head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"v4eval gate\" tests=\"" +
                     std::to_string(tests) + "\" failures=\"" + std::to_string(failures) +
                     "\" errors=\"" + std::to_string(errors) + "\" skipped=\"" + std::to_string(skipped) +
                     "\">\n  <testsuite name=\"v4eval.gate\" tests=\"" + std::to_string(tests) +
                     "\" failures=\"" + std::to_string(failures) + "\" errors=\"" +
                     std::to_string(errors) + "\" skipped=\"" + std::to_string(skipped) + "\">\n" +
                     "    <properties>\n      <property name=\"baseline\" value=\"" +
                     xml_escape(r.baseline_label) + "\"/>\n      <property name=\"candidate\" value=\"" +
                     xml_escape(r.candidate_label) + "\"/>\n      <property name=\"alpha\" value=\"" +
                     fmt("%g", r.alpha) + "\"/>\n    </properties>\n";
  return head + cases + "  </testsuite>\n</testsuites>\n";
}

std::string gate_markdown(const GateResult& r) {
  int code = r.exit_code();
  std::string out = "### v4eval gate: ";
  out += code == 0 ? "✅ pass" : code == 1 ? "❌ regression" : code == 3 ? "⚠️ runs not comparable" : "⚠️ bad arguments";
  out += "\n\n" + std::string(r.expected_values ? "Expected values" : "Baseline") + " `" +
         r.baseline_label + "` · candidate `" + r.candidate_label + "` · one-sided α = " +
         fmt("%g", r.alpha) + ", Holm-adjusted over " + std::to_string(r.checks.size()) +
         " metric(s)\n\n";
  for (const auto& b : r.bad_arguments) out += "- bad argument: " + b + "\n";
  for (const auto& d : r.comparability.differences) out += "- **not comparable:** " + d + "\n";
  for (const auto& n : r.comparability.notes) out += "- note: " + n + "\n";
  if (!r.checks.empty()) {
    out += "\n| | suite | mode | metric | n | " + std::string(r.expected_values ? "expected" : "baseline") +
           " | candidate | Δ [95% CI] | allowed drop | p (Holm) | won / lost | test |\n"
           "|---|---|---|---|---:|---:|---:|---|---:|---:|---:|---|\n";
    for (const auto& c : r.checks) {
      out += "| " + std::string(c.regression ? "❌" : "✅") + " | " + c.suite + " | " +
             mode_str(c.mode) + " | `" + c.metric + "` | " + std::to_string(c.n) +
             (c.small_n ? " ⚠️" : "") + " | " + fmt("%.4f", c.baseline) + " | " +
             fmt("%.4f", c.candidate) + " | " + fmt("%+.4f", c.delta) + " [" +
             fmt("%+.4f", c.ci_low) + ", " + fmt("%+.4f", c.ci_high) + "] | " +
             fmt("%.4f", c.max_drop) + " | " + format_p(c.p_holm) + " | " +
             (r.expected_values ? "–" : std::to_string(c.won) + " / " + std::to_string(c.lost)) +
             " | " + c.test + " |\n";
    }
    bool any_small = false;
    for (const auto& c : r.checks) any_small = any_small || c.small_n;
    if (any_small)
      out += "\n⚠️ n too small to separate two runs by less than 10 points.\n";
    for (const auto& c : r.checks) {
      if (!c.regression || c.lost_samples.empty()) continue;
      out += "\n<details><summary>" + c.suite + " " + mode_str(c.mode) + " " + c.metric +
             ": largest drops</summary>\n\n| sample | baseline | candidate |\n|---|---:|---:|\n";
      for (const auto& d : c.lost_samples)
        out += "| `" + d.sample_id + "` | " + fmt("%.4f", d.a) + " | " + fmt("%.4f", d.b) + " |\n";
      out += "\n</details>\n";
    }
  }
  return out;
}

Json gate_json(const GateResult& r) {
  Json checks = Json::array();
  for (const auto& c : r.checks) {
    Json lost = Json::array();
    for (const auto& d : c.lost_samples) lost.push_back({{"sample_id", d.sample_id}, {"a", d.a}, {"b", d.b}});
    checks.push_back({{"suite", c.suite}, {"mode", mode_str(c.mode)}, {"metric", c.metric},
                      {"baseline", c.baseline}, {"candidate", c.candidate}, {"delta", c.delta},
                      {"ci_low", c.ci_low}, {"ci_high", c.ci_high}, {"upper", c.upper},
                      {"max_drop", c.max_drop}, {"p_drop", c.p_drop}, {"p_holm", c.p_holm},
                      {"test", c.test}, {"n", c.n}, {"won", c.won}, {"lost", c.lost},
                      {"small_n", c.small_n}, {"regression", c.regression}, {"largest_drops", lost}});
  }
  return {{"baseline", r.baseline_label}, {"candidate", r.candidate_label},
          {"expected_values", r.expected_values}, {"alpha", r.alpha},
          {"exit_code", r.exit_code()}, {"comparable", r.comparability.comparable()},
          {"differences", r.comparability.differences}, {"notes", r.comparability.notes},
          {"bad_arguments", r.bad_arguments}, {"checks", checks}};
}

}  // namespace v4eval
