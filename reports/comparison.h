#pragma once
// Run-vs-run and mode-vs-mode comparison: are the two comparable at all (same suite version,
// data, prompts, judge, sampling), and per (suite, mode, metric) the paired difference with its
// interval, p-value (Holm-adjusted over the table) and the samples that flipped.

#include <optional>
#include <string>
#include <vector>

#include "harness/types.h"
#include "reports/run_data.h"
#include "reports/stats.h"

namespace v4eval {

// What makes two runs comparable is everything that does not belong to the model: suite
// version, data hash, suite options, prompts, judge and sampling settings.
struct Comparability {
  std::vector<std::string> differences;  // each one makes the pair incomparable
  std::vector<std::string> notes;        // worth knowing, not disqualifying
  bool comparable() const { return differences.empty(); }
};

// Checks every suite present in both runs (or only `suites`, when not empty).
Comparability check_comparable(const RunData& a, const RunData& b,
                               const std::vector<std::string>& suites = {});

struct CompareOptions {
  std::vector<std::string> suites;   // empty: every suite in both
  std::vector<Mode> modes;           // run-vs-run: empty = every mode in both
  // Metrics to compare: "NAME" (every suite) or "SUITE:NAME"; empty = each suite's headline.
  std::vector<std::string> metrics;
  bool all_metrics = false;          // every metric both sides have
  PairedOptions paired;
};

struct SampleDelta {
  std::string sample_id;
  double a = 0, b = 0;
};

struct ComparisonRow {
  std::string suite, metric;
  Mode mode_a = Mode::kNonThink, mode_b = Mode::kNonThink;
  Metric a, b;                 // each side's own total (all of its samples)
  bool paired = false;         // false: the metric does not decompose per sample
  PairedComparison test;       // over the samples both sides have
  double p_holm = 1;           // Holm-adjusted over every row of the comparison
  std::vector<SampleDelta> won, lost;  // flipped samples, largest change first
  bool small_n = false;        // either side too small to separate runs (reports/stats.h)
};

struct Comparison {
  std::string label_a, label_b;  // "run" or "run/mode"
  bool by_mode = false;          // two modes of one run
  Comparability comparability;
  std::vector<ComparisonRow> rows;
  // Cost per side, per suite: mean tokens and latency (mode comparisons care).
  struct Cost {
    std::string suite;
    Mode mode_a, mode_b;
    Distribution completion_a, completion_b, reasoning_a, reasoning_b, latency_a, latency_b;
  };
  std::vector<Cost> costs;
};

// Run A (baseline) against run B (candidate), per common suite and mode.
Comparison compare_runs(const RunData& a, const RunData& b, const CompareOptions& options);
// Two modes of one run: mode_b against mode_a.
Comparison compare_modes(const RunData& run, Mode mode_a, Mode mode_b,
                         const CompareOptions& options);

Json comparison_to_json(const Comparison& c);
// The table printed by `v4eval compare`; up to `max_flips` sample ids per flip list.
std::string comparison_to_text(const Comparison& c, int max_flips);

// "0.6123 [0.5800, 0.6400]" style helpers shared by the text, Markdown and HTML outputs.
std::string format_value(double v);
std::string format_p(double p);

}  // namespace v4eval
