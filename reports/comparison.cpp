#include "reports/comparison.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace v4eval {
namespace {

const char* kTestUnpaired = "unpaired-normal";

// The run's suite spec for `suite` without its file path (paths differ between machines and
// shards; the content is compared through data_hash).
std::string suite_options(const RunInfo& run, const std::string& suite) {
  if (!run.spec.contains("suites") || !run.spec["suites"].is_array()) return "";
  for (const auto& text : run.spec["suites"]) {
    if (!text.is_string()) continue;
    std::string err;
    auto spec = parse_spec(text.get<std::string>(), &err);
    if (!spec || spec->kind != suite) continue;
    Spec stripped{spec->kind, {}};
    for (const auto& kv : spec->options)
      if (kv.first != "file") stripped.options.push_back(kv);
    return stripped.to_string();
  }
  return "";
}

std::string stored_suite_field(const RunInfo& run, const std::string& suite, const char* field) {
  if (!run.suite_versions.is_object() || !run.suite_versions.contains(suite)) return "";
  const Json& v = run.suite_versions[suite];
  return v.is_object() ? v.value(field, "") : "";
}

std::string spec_field(const RunInfo& run, const char* key) {
  if (!run.spec.is_object() || !run.spec.contains(key)) return "null";
  return run.spec[key].dump();
}

std::string short_hash(const std::string& h) { return h.size() > 12 ? h.substr(0, 12) : h; }

std::string mode_str(Mode m) { return std::string(mode_name(m)); }

std::set<std::string> suite_names(const RunData& r) {
  std::set<std::string> out;
  for (const auto& s : r.suites) out.insert(s.suite);
  return out;
}

bool wanted(const std::vector<std::string>& filter, const std::string& x) {
  return filter.empty() || std::find(filter.begin(), filter.end(), x) != filter.end();
}

// Metric names to compare for one suite, in the suite's order where possible.
std::vector<std::string> metric_names(const SuiteResults& a, const SuiteResults& b,
                                      const CompareOptions& o) {
  std::vector<std::string> out;
  if (!o.metrics.empty()) {
    for (const auto& m : o.metrics) {
      std::string name = m;
      if (auto colon = m.find(':'); colon != std::string::npos) {
        if (m.substr(0, colon) != a.suite) continue;
        name = m.substr(colon + 1);
      }
      if (a.metric(name) && b.metric(name) &&
          std::find(out.begin(), out.end(), name) == out.end())
        out.push_back(name);
    }
    return out;
  }
  if (!o.all_metrics) {
    if (a.metric(a.headline) && b.metric(a.headline)) out.push_back(a.headline);
    return out;
  }
  if (a.metric(a.headline) && b.metric(a.headline)) out.push_back(a.headline);
  for (const auto& [name, _] : a.metrics)
    if (name != a.headline && b.metric(name)) out.push_back(name);
  return out;
}

ComparisonRow compare_metric(const SuiteResults& sa, const SuiteResults& sb,
                             const std::string& name, const PairedOptions& base_options) {
  ComparisonRow row;
  row.suite = sa.suite;
  row.metric = name;
  row.mode_a = sa.mode;
  row.mode_b = sb.mode;
  const MetricValues& ma = *sa.metric(name);
  const MetricValues& mb = *sb.metric(name);
  row.a = ma.total;
  row.b = mb.total;
  row.small_n = too_small_to_compare(ma.total) || too_small_to_compare(mb.total);
  if (!ma.per_sample.empty() && !mb.per_sample.empty()) {
    std::vector<std::pair<double, double>> pairs;
    for (const auto& [sample, va] : ma.per_sample) {
      auto it = mb.per_sample.find(sample);
      if (it == mb.per_sample.end()) continue;
      pairs.emplace_back(va, it->second);
      if (it->second > va) row.won.push_back({sample, va, it->second});
      else if (it->second < va) row.lost.push_back({sample, va, it->second});
    }
    PairedOptions o = base_options;
    o.seed ^= stats_seed(sa.suite + "/" + name + "/" + mode_str(sa.mode) + "/" + mode_str(sb.mode),
                         pairs.size());
    row.test = compare_paired(pairs, o);
    row.paired = true;
    auto by_change = [](const SampleDelta& x, const SampleDelta& y) {
      double dx = std::fabs(x.b - x.a), dy = std::fabs(y.b - y.a);
      return dx != dy ? dx > dy : x.sample_id < y.sample_id;
    };
    std::sort(row.won.begin(), row.won.end(), by_change);
    std::sort(row.lost.begin(), row.lost.end(), by_change);
  } else {
    // No per-sample values: independent samples, normal approximation from the intervals.
    PairedComparison& t = row.test;
    t.test = kTestUnpaired;
    t.mean_a = row.a.value;
    t.mean_b = row.b.value;
    t.delta = row.b.value - row.a.value;
    const double z = normal_quantile(0.975);
    double se_a = (row.a.ci_high - row.a.ci_low) / (2 * z);
    double se_b = (row.b.ci_high - row.b.ci_low) / (2 * z);
    double se = std::sqrt(se_a * se_a + se_b * se_b);
    double zc = normal_quantile(1 - (1 - base_options.confidence) / 2);
    t.ci_low = t.delta - zc * se;
    t.ci_high = t.delta + zc * se;
    t.margin = base_options.margin;
    if (se > 0) {
      t.p_value = std::min(1.0, 2 * normal_cdf(-std::fabs(t.delta) / se));
      t.p_drop = normal_cdf((t.delta + base_options.margin) / se);
    } else {
      t.p_value = t.delta == 0 ? 1.0 : 0.0;
      t.p_drop = t.delta < -base_options.margin ? 0.0 : 1.0;
    }
    t.drop_upper = t.delta + normal_quantile(1 - base_options.alpha_one_sided) * se;
  }
  return row;
}

void finish(Comparison& c) {
  std::vector<double> p;
  for (const auto& r : c.rows) p.push_back(r.test.p_value);
  auto adj = holm_adjust(p);
  for (size_t i = 0; i < c.rows.size(); ++i) c.rows[i].p_holm = adj[i];
}

Comparison::Cost cost_of(const SuiteResults& a, const SuiteResults& b) {
  return {a.suite, a.mode, b.mode, a.completion_tokens, b.completion_tokens, a.reasoning_tokens,
          b.reasoning_tokens, a.latency_ms, b.latency_ms};
}

}  // namespace

Comparability check_comparable(const RunData& a, const RunData& b,
                               const std::vector<std::string>& suites) {
  Comparability c;
  auto sa = suite_names(a), sb = suite_names(b);
  std::vector<std::string> common;
  for (const auto& s : sa) {
    if (!wanted(suites, s)) continue;
    if (sb.count(s)) common.push_back(s);
    else c.notes.push_back("suite " + s + " is only in " + a.label);
  }
  for (const auto& s : sb)
    if (wanted(suites, s) && !sa.count(s)) c.notes.push_back("suite " + s + " is only in " + b.label);
  if (common.empty()) {
    c.differences.push_back("no suite in common between " + a.label + " and " + b.label);
    return c;
  }
  for (const auto& suite : common) {
    std::string va = stored_suite_field(a.info, suite, "version");
    std::string vb = stored_suite_field(b.info, suite, "version");
    if (va != vb)
      c.differences.push_back("suite " + suite + " version: " + a.label + " has " + va + ", " +
                              b.label + " has " + vb);
    std::string da = stored_suite_field(a.info, suite, "data_hash");
    std::string db = stored_suite_field(b.info, suite, "data_hash");
    if (da != db)
      c.differences.push_back("suite " + suite + " data (and prompt templates) differ: data hash " +
                              short_hash(da) + " vs " + short_hash(db));
    std::string oa = suite_options(a.info, suite), ob = suite_options(b.info, suite);
    if (oa != ob)
      c.differences.push_back("suite options differ: " + oa + " vs " + ob);
    // Prompts, sample by sample, per mode both have.
    for (const auto& x : a.suites) {
      if (x.suite != suite) continue;
      const SuiteResults* y = b.find(suite, x.mode);
      if (!y) {
        c.notes.push_back(suite + " mode " + mode_str(x.mode) + " is only in " + a.label);
        continue;
      }
      int64_t differing = 0, common_samples = 0, only_a = 0;
      std::string example;
      for (const auto& [sample, hash] : x.prompt_hash) {
        auto it = y->prompt_hash.find(sample);
        if (it == y->prompt_hash.end()) {
          ++only_a;
          continue;
        }
        ++common_samples;
        if (it->second != hash && !hash.empty() && !it->second.empty()) {
          if (example.empty()) example = sample;
          ++differing;
        }
      }
      int64_t only_b = int64_t(y->prompt_hash.size()) - common_samples;
      if (differing > 0)
        c.differences.push_back(suite + " " + mode_str(x.mode) + ": the prompt differs for " +
                                std::to_string(differing) + " of " + std::to_string(common_samples) +
                                " samples (e.g. sample " + example + "): another prompt template");
      if (common_samples == 0)
        c.differences.push_back(suite + " " + mode_str(x.mode) + ": no sample in common");
      else if (only_a || only_b)
        c.notes.push_back(suite + " " + mode_str(x.mode) + ": paired on " +
                          std::to_string(common_samples) + " common samples (" +
                          std::to_string(only_a) + " only in " + a.label + ", " +
                          std::to_string(only_b) + " only in " + b.label + ")");
    }
    for (const auto& y : b.suites)
      if (y.suite == suite && !a.find(suite, y.mode))
        c.notes.push_back(suite + " mode " + mode_str(y.mode) + " is only in " + b.label);
  }
  // Settings that change what the model is asked, or how it is graded.
  for (std::string key : {"judge", "temperature", "top_p", "max_tokens"}) {
    std::string x = spec_field(a.info, key.c_str()), y = spec_field(b.info, key.c_str());
    if (x != y)
      c.differences.push_back((key == "judge" ? "judge" : "sampling setting " + key) + ": " +
                              a.label + " " + x + ", " + b.label + " " + y);
  }
  for (const char* key : {"seed", "repeats"}) {
    std::string x = spec_field(a.info, key), y = spec_field(b.info, key);
    if (x != y)
      c.notes.push_back(std::string(key) + " differs: " + a.label + " " + x + ", " + b.label + " " + y);
  }
  for (const RunData* r : {&a, &b})
    if (r->info.spec.is_object() && r->info.spec.contains("shard") && !r->info.spec["shard"].is_null())
      c.notes.push_back(r->label + " is shard " + r->info.spec["shard"].get<std::string>() +
                        " only (merge the shards for the whole run)");
  return c;
}

Comparison compare_runs(const RunData& a, const RunData& b, const CompareOptions& o) {
  Comparison c;
  c.label_a = a.label;
  c.label_b = b.label;
  c.comparability = check_comparable(a, b, o.suites);
  for (const auto& sa : a.suites) {
    if (!wanted(o.suites, sa.suite)) continue;
    if (!o.modes.empty() && std::find(o.modes.begin(), o.modes.end(), sa.mode) == o.modes.end())
      continue;
    const SuiteResults* sb = b.find(sa.suite, sa.mode);
    if (!sb) continue;
    for (const auto& name : metric_names(sa, *sb, o))
      c.rows.push_back(compare_metric(sa, *sb, name, o.paired));
    c.costs.push_back(cost_of(sa, *sb));
  }
  finish(c);
  return c;
}

Comparison compare_modes(const RunData& run, Mode mode_a, Mode mode_b, const CompareOptions& o) {
  Comparison c;
  c.by_mode = true;
  c.label_a = run.label + "/" + mode_str(mode_a);
  c.label_b = run.label + "/" + mode_str(mode_b);
  bool any = false;
  for (const auto& sa : run.suites) {
    if (sa.mode != mode_a || !wanted(o.suites, sa.suite)) continue;
    const SuiteResults* sb = run.find(sa.suite, mode_b);
    if (!sb) {
      c.comparability.notes.push_back(sa.suite + " has no " + mode_str(mode_b) + " attempts");
      continue;
    }
    any = true;
    for (const auto& name : metric_names(sa, *sb, o))
      c.rows.push_back(compare_metric(sa, *sb, name, o.paired));
    c.costs.push_back(cost_of(sa, *sb));
  }
  if (!any)
    c.comparability.differences.push_back("run " + run.label + " has no suite with both " +
                                          mode_str(mode_a) + " and " + mode_str(mode_b));
  finish(c);
  return c;
}

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string format_p(double p) {
  char buf[32];
  if (p < 1e-4) std::snprintf(buf, sizeof buf, "%.1e", p);
  else std::snprintf(buf, sizeof buf, "%.4f", p);
  return buf;
}

namespace {

Json metric_json(const Metric& m) {
  return {{"value", m.value}, {"ci_low", m.ci_low}, {"ci_high", m.ci_high}, {"n", m.n},
          {"small_n", too_small_to_compare(m)}};
}

Json deltas_json(const std::vector<SampleDelta>& v) {
  Json out = Json::array();
  for (const auto& d : v) out.push_back({{"sample_id", d.sample_id}, {"a", d.a}, {"b", d.b}});
  return out;
}

Json dist_json(const Distribution& d) {
  return {{"count", d.count}, {"mean", d.mean}, {"p50", d.p50}, {"p90", d.p90}, {"max", d.max}};
}

}  // namespace

Json comparison_to_json(const Comparison& c) {
  Json rows = Json::array();
  for (const auto& r : c.rows) {
    rows.push_back({{"suite", r.suite},
                    {"metric", r.metric},
                    {"mode_a", mode_str(r.mode_a)},
                    {"mode_b", mode_str(r.mode_b)},
                    {"a", metric_json(r.a)},
                    {"b", metric_json(r.b)},
                    {"paired", r.paired},
                    {"test", r.test.test},
                    {"n_paired", r.test.n},
                    {"mean_a", r.test.mean_a},
                    {"mean_b", r.test.mean_b},
                    {"delta", r.test.delta},
                    {"ci_low", r.test.ci_low},
                    {"ci_high", r.test.ci_high},
                    {"p_value", r.test.p_value},
                    {"p_holm", r.p_holm},
                    {"won", r.test.won},
                    {"lost", r.test.lost},
                    {"tied", r.test.tied},
                    {"small_n", r.small_n},
                    {"flips", {{"won", deltas_json(r.won)}, {"lost", deltas_json(r.lost)}}}});
  }
  Json costs = Json::array();
  for (const auto& k : c.costs)
    costs.push_back({{"suite", k.suite},
                     {"mode_a", mode_str(k.mode_a)},
                     {"mode_b", mode_str(k.mode_b)},
                     {"completion_tokens", {{"a", dist_json(k.completion_a)}, {"b", dist_json(k.completion_b)}}},
                     {"reasoning_tokens", {{"a", dist_json(k.reasoning_a)}, {"b", dist_json(k.reasoning_b)}}},
                     {"latency_ms", {{"a", dist_json(k.latency_a)}, {"b", dist_json(k.latency_b)}}}});
  return {{"a", c.label_a},
          {"b", c.label_b},
          {"by_mode", c.by_mode},
          {"comparable", c.comparability.comparable()},
          {"differences", c.comparability.differences},
          {"notes", c.comparability.notes},
          {"rows", rows},
          {"costs", costs}};
}

std::string comparison_to_text(const Comparison& c, int max_flips) {
  std::string out;
  char buf[512];
  out += "A: " + c.label_a + "\nB: " + c.label_b + "\n";
  if (!c.comparability.comparable()) {
    out += "NOT COMPARABLE:\n";
    for (const auto& d : c.comparability.differences) out += "  - " + d + "\n";
  }
  for (const auto& n : c.comparability.notes) out += "note: " + n + "\n";
  if (c.rows.empty()) return out + "(nothing to compare)\n";
  std::snprintf(buf, sizeof buf, "\n%-8s %-22s %-20s %6s  %-24s %-24s %-27s %-8s %-8s %s\n",
                "suite", c.by_mode ? "modes (A -> B)" : "mode", "metric", "n", "A [95% CI]",
                "B [95% CI]", "delta B-A [95% CI]", "p", "p(Holm)", "won/lost  test");
  out += buf;
  auto ci = [](double v, double lo, double hi) {
    char b[64];
    std::snprintf(b, sizeof b, "%.4f [%.4f, %.4f]", v, lo, hi);
    return std::string(b);
  };
  auto signed_ci = [](double v, double lo, double hi) {
    char b[64];
    std::snprintf(b, sizeof b, "%+.4f [%+.4f, %+.4f]", v, lo, hi);
    return std::string(b);
  };
  for (const auto& r : c.rows) {
    std::string mode = c.by_mode ? mode_str(r.mode_a) + " -> " + mode_str(r.mode_b) : mode_str(r.mode_a);
    std::string n = std::to_string(r.paired ? r.test.n : std::min(r.a.n, r.b.n)) + (r.small_n ? "!" : "");
    std::string flips = r.paired ? std::to_string(r.test.won) + "/" + std::to_string(r.test.lost) : "-";
    std::snprintf(buf, sizeof buf, "%-8s %-22s %-20s %6s  %-24s %-24s %-27s %-8s %-8s %-9s %s\n",
                  r.suite.c_str(), mode.c_str(), r.metric.c_str(), n.c_str(),
                  ci(r.a.value, r.a.ci_low, r.a.ci_high).c_str(),
                  ci(r.b.value, r.b.ci_low, r.b.ci_high).c_str(),
                  signed_ci(r.test.delta, r.test.ci_low, r.test.ci_high).c_str(),
                  format_p(r.test.p_value).c_str(), format_p(r.p_holm).c_str(), flips.c_str(),
                  r.test.test.c_str());
    out += buf;
  }
  bool any_small = false;
  for (const auto& r : c.rows) any_small = any_small || r.small_n;
  if (any_small)
    out += "! n too small to separate two runs by less than 10 points (see report --json \"small_n\")\n";
  if (max_flips > 0) {
    for (const auto& r : c.rows) {
      if (!r.paired || (r.won.empty() && r.lost.empty())) continue;
      std::string mode = c.by_mode ? mode_str(r.mode_a) + " -> " + mode_str(r.mode_b) : mode_str(r.mode_a);
      out += "\n" + r.suite + " " + mode + " " + r.metric + ":\n";
      for (auto [title, list] : {std::pair{"  lost (B worse)", &r.lost}, std::pair{"  won (B better)", &r.won}}) {
        if (list->empty()) continue;
        out += std::string(title) + " " + std::to_string(list->size()) + ":";
        int shown = 0;
        for (const auto& d : *list) {
          if (shown++ == max_flips) break;
          std::snprintf(buf, sizeof buf, " %s (%.3f->%.3f)", d.sample_id.c_str(), d.a, d.b);
          out += buf;
        }
        if (int(list->size()) > max_flips) out += " ...";
        out += "\n";
      }
    }
  }
  if (!c.costs.empty()) {
    out += "\ncost per attempt (mean): completion tokens, reasoning tokens, latency ms\n";
    for (const auto& k : c.costs) {
      auto tok = [](const Distribution& d) {
        char b[32];
        if (d.count == 0) return std::string("-");
        std::snprintf(b, sizeof b, "%.0f", d.mean);
        return std::string(b);
      };
      std::snprintf(buf, sizeof buf, "  %-8s A %-10s %8s %8s %8s | B %-10s %8s %8s %8s\n",
                    k.suite.c_str(), mode_str(k.mode_a).c_str(), tok(k.completion_a).c_str(),
                    tok(k.reasoning_a).c_str(), tok(k.latency_a).c_str(),
                    mode_str(k.mode_b).c_str(), tok(k.completion_b).c_str(),
                    tok(k.reasoning_b).c_str(), tok(k.latency_b).c_str());
      out += buf;
    }
  }
  return out;
}

}  // namespace v4eval
