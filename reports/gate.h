#pragma once
// The CI gate: does the candidate run regress against a baseline (another run, or a JSON file
// of expected values with tolerances, as vLLM's CI keeps per-model expectations)? A metric
// fails when it drops by more than the allowed margin with statistical support: a one-sided
// test on paired per-sample data (McNemar exact / Tango score for pass/fail, paired bootstrap
// otherwise), Holm-adjusted over the gated metrics so gating many metrics does not multiply
// false alarms.

#include <string>
#include <vector>

#include "harness/status.h"
#include "harness/types.h"
#include "reports/comparison.h"
#include "reports/run_data.h"

namespace v4eval {

struct GateOptions {
  // "SUITE:METRIC" or "METRIC" (every suite); empty: each suite's headline metric.
  std::vector<std::string> metrics;
  std::vector<Mode> modes;  // empty: every mode both sides have
  double max_drop = 0;      // allowed drop, absolute in metric units (0.05 = 5 points)
  double alpha = 0.05;      // one-sided level, family-wise over the gated metrics
  int resamples = 10000;    // paired bootstrap replicates
};

struct GateCheck {
  std::string suite, metric;
  Mode mode = Mode::kNonThink;
  double baseline = 0, candidate = 0;  // baseline: the run's value, or the expected value
  double delta = 0;                    // candidate - baseline
  double ci_low = 0, ci_high = 0;      // two-sided 95% interval of delta
  double upper = 0;                    // one-sided (1 - alpha) upper bound of delta
  double max_drop = 0;
  double p_drop = 1, p_holm = 1;       // H0: delta >= -max_drop
  std::string test;
  int64_t n = 0, won = 0, lost = 0;
  bool small_n = false;
  bool regression = false;
  std::vector<SampleDelta> lost_samples;  // largest drops first (run baselines only)
};

struct GateResult {
  std::string baseline_label, candidate_label;
  bool expected_values = false;  // baseline is a JSON file of expected values
  double alpha = 0.05;
  Comparability comparability;
  std::vector<std::string> bad_arguments;  // metrics asked for that exist nowhere
  std::vector<GateCheck> checks;

  // 0 pass, 1 regression, 2 bad arguments, 3 not comparable.
  int exit_code() const;
};

GateResult gate_runs(const RunData& baseline, const RunData& candidate, const GateOptions& options);

// `expected` is the parsed baseline file:
//   {"suites": {"mrcr": {"version": "1", "data_hash": "..."}},          (optional)
//    "settings": {"temperature": 0, "max_tokens": 256},               (optional)
//    "metrics": [{"suite": "mrcr", "mode": "non-think", "metric": "score",
//                 "value": 0.62, "max_drop": 0.03}]}                    ("tolerance" also read)
// A metric's own max_drop wins over options.max_drop. Malformed files are InvalidArgument.
Result<GateResult> gate_expected(const Json& expected, const std::string& label,
                                 const RunData& candidate, const GateOptions& options);

// The expected-values file for `run` (what --write-baseline writes): every gated metric with
// its value and `max_drop`, plus the suite versions, data hashes and sampling settings.
Json expected_values_of(const RunData& run, const GateOptions& options);

std::string gate_text(const GateResult& result);
std::string gate_junit(const GateResult& result);
std::string gate_markdown(const GateResult& result);
Json gate_json(const GateResult& result);

}  // namespace v4eval
