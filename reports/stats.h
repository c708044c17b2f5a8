#pragma once
// Statistics for comparing two runs (or two modes of one run) sample by sample, and for
// judging whether a metric can tell two runs apart at all. The per-metric intervals (Wilson,
// cluster bootstrap, t, pass@k) are in harness/stats.h, which suites aggregate with.
//
// Conventions: every comparison is candidate (B) minus baseline (A); a pair is one sample's
// value in A and in B (the mean over its repeats). "won" = B better than A on that sample.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "harness/stats.h"

namespace v4eval {

// P(X <= k) for X ~ Binomial(n, p), summed in log space (exact to ~1e-12 for n up to 10^7).
double binomial_cdf(int64_t k, int64_t n, double p);

// McNemar's exact test on discordant pairs: `won` samples pass only in B, `lost` only in A.
// Under H0 (no difference) won ~ Binomial(won + lost, 1/2).
struct McNemarResult {
  double p_two_sided = 1;  // min(1, 2 * P(X <= min(won, lost)))
  double p_b_worse = 1;    // one-sided, H1: B worse than A: P(X <= won)
  double p_b_better = 1;   // one-sided, H1: B better than A: P(X <= lost)
};
McNemarResult mcnemar_exact(int64_t won, int64_t lost);

// Tango's (1998) score statistic for the paired difference of proportions theta = pB - pA,
// testing theta = theta0 with n pairs of which `won`/`lost` are discordant. Standard normal
// under H0; equals McNemar's z (won - lost)/sqrt(won + lost) at theta0 = 0.
double tango_score_z(int64_t n, int64_t won, int64_t lost, double theta0);
// The (1 - alpha) two-sided interval for theta from inverting Tango's score test.
Interval tango_interval(int64_t n, int64_t won, int64_t lost, double confidence = 0.95);

// Which paired test produced a comparison.
inline constexpr const char* kTestMcNemar = "mcnemar-exact";       // pass/fail, no margin
inline constexpr const char* kTestTango = "tango-score";           // pass/fail, with a margin
inline constexpr const char* kTestBootstrap = "paired-bootstrap";  // continuous or repeats

struct PairedComparison {
  std::string test;          // one of kTest*
  int64_t n = 0;             // paired samples
  double mean_a = 0, mean_b = 0;
  double delta = 0;          // mean_b - mean_a
  double ci_low = 0, ci_high = 0;  // two-sided interval for delta at `confidence`
  double p_value = 1;        // two-sided, H0: delta = 0
  // One-sided test of a drop beyond the margin: H0 delta >= -margin, H1 delta < -margin.
  double margin = 0;
  double p_drop = 1;
  double drop_upper = 0;     // one-sided (1 - alpha) upper confidence bound of delta (bootstrap
                             // and Tango; the gate fails when it is below -margin)
  int64_t won = 0, lost = 0, tied = 0;
};

struct PairedOptions {
  double confidence = 0.95;
  double margin = 0;          // allowed drop for the one-sided test (absolute, metric units)
  double alpha_one_sided = 0.05;
  int resamples = 10000;      // paired bootstrap replicates
  uint64_t seed = 0;          // mixed with the data size; same data -> same result
};

// Paired comparison of per-sample values (A, B). Pass/fail data (every value 0 or 1) gets
// McNemar's exact test (Tango's score test for a non-zero margin) and Tango's interval;
// anything else the paired bootstrap over samples (percentile interval, bootstrap p-values).
PairedComparison compare_paired(const std::vector<std::pair<double, double>>& pairs,
                                const PairedOptions& options);

// Holm's step-down adjustment (family-wise error over a family of tests); same order as input.
std::vector<double> holm_adjust(const std::vector<double>& p_values);

// The smallest difference two independent runs of this size could tell apart (alpha 0.05
// two-sided, power 0.8), from the metric's interval: (z_.975 + z_.8) * sqrt(2) * se.
double min_detectable_difference(const Metric& metric);
// Marker shown beside n: too few samples to separate two runs by less than 10 points.
bool too_small_to_compare(const Metric& metric);

}  // namespace v4eval
