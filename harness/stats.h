#pragma once
// Confidence intervals for headline metrics. Every metric carries n and a 95% interval.
// These are the per-metric estimators suites aggregate with (suites/ must not depend on
// reports/); the paired comparisons between runs and modes are in reports/stats.h.
//
// Which interval a mean gets (mean_metric):
//   - one attempt per sample, every value 0 or 1: a proportion, Wilson score interval;
//   - repeats (some sample attempted more than once): cluster bootstrap by sample, so that
//     repeats of one problem do not count as independent evidence (percentile interval);
//   - otherwise (continuous scores, one attempt each): Student-t interval.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/types.h"

namespace v4eval {

// Standard normal quantile (Acklam, relative error < 1.2e-9) and CDF (erfc based).
double normal_quantile(double p);
double normal_cdf(double x);

// Two-sided Student-t quantile t_{1-alpha/2, df} (Hill 1970 approximation, |error| < 1e-6 for
// df >= 1 at the levels we use).
double student_t_quantile(double p, double df);

// A small, fast, seedable generator (xoshiro256**, seeded through splitmix64), so bootstrap
// intervals are reproducible: the same data gives the same interval on every machine.
class StatsRng {
 public:
  explicit StatsRng(uint64_t seed);
  uint64_t next();
  // Uniform integer in [0, n) (Lemire's multiply-shift; the bias is below 2^-40 for our n).
  uint64_t below(uint64_t n) { return uint64_t((static_cast<unsigned __int128>(next()) * n) >> 64); }
  double uniform01() { return double(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_[4];
};

// A seed derived from a label and the data size: deterministic, different per metric.
uint64_t stats_seed(const std::string& label, uint64_t n);

struct Interval {
  double low = 0;
  double high = 0;
};

// Percentile bootstrap interval of the mean of `values` (one value per cluster, e.g. the mean
// of one problem's repeats). `resamples` bootstrap replicates, clipped to [lo, hi].
Interval bootstrap_mean_interval(const std::vector<double>& values, double confidence,
                                 int resamples, uint64_t seed, double lo = 0.0, double hi = 1.0);

// Mean of per-cluster means with a 95% interval chosen as described at the top of this file.
// `values` are (cluster, value); n = number of clusters (problems). The interval is clipped to
// [lo, hi]; a single cluster gives [lo, hi] (it says nothing about the spread).
Metric mean_metric(const std::string& name, const std::vector<std::pair<std::string, double>>& values,
                   double lo = 0.0, double hi = 1.0, double confidence = 0.95);

// Wilson score interval for k successes in n trials.
Metric wilson_metric(const std::string& name, int64_t k, int64_t n, double confidence = 0.95);

// Unbiased pass@k estimator for one problem with n generations of which c are correct:
// 1 - C(n-c, k) / C(n, k), computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i) (Chen et al. 2021;
// LiveCodeBench's compute_metrics); 1 when n - c < k. Requires 0 <= c <= n and 1 <= k <= n.
double pass_at_k(int64_t n, int64_t c, int64_t k);

// pass@k over problems given as (n, c): the mean of the per-problem estimates, with a cluster
// bootstrap interval over problems (Wilson when k = 1 and every problem has one generation).
// Absent when some problem has fewer than k generations (the estimator is undefined there;
// LiveCodeBench reports k only when n >= k for all problems).
std::optional<Metric> pass_at_k_metric(const std::string& name,
                                       const std::vector<std::pair<int64_t, int64_t>>& problems,
                                       int64_t k, double confidence = 0.95);

}  // namespace v4eval
