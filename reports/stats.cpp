#include "reports/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace v4eval {

double binomial_cdf(int64_t k, int64_t n, double p) {
  if (k < 0) return 0.0;
  if (k >= n) return 1.0;
  if (p <= 0) return 1.0;
  if (p >= 1) return 0.0;
  const double lp = std::log(p), lq = std::log1p(-p), ln = std::lgamma(double(n) + 1);
  // log-sum-exp over the terms i = 0..k, anchored at the largest term.
  std::vector<double> logs(size_t(k) + 1);
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i <= k; ++i) {
    double t = ln - std::lgamma(double(i) + 1) - std::lgamma(double(n - i) + 1) + double(i) * lp +
               double(n - i) * lq;
    logs[size_t(i)] = t;
    top = std::max(top, t);
  }
  double sum = 0;
  for (double t : logs) sum += std::exp(t - top);
  return std::min(1.0, std::exp(top + std::log(sum)));
}

McNemarResult mcnemar_exact(int64_t won, int64_t lost) {
  McNemarResult r;
  int64_t n = won + lost;
  if (n == 0) return r;
  r.p_two_sided = std::min(1.0, 2 * binomial_cdf(std::min(won, lost), n, 0.5));
  r.p_b_worse = binomial_cdf(won, n, 0.5);
  r.p_b_better = binomial_cdf(lost, n, 0.5);
  return r;
}

double tango_score_z(int64_t n, int64_t won, int64_t lost, double theta0) {
  // Tango, Statistics in Medicine 17:891-908 (1998), eq. (3)-(4), with the first measurement
  // = B: n12 = won (B pass, A fail), n21 = lost. q21 is the MLE of P(lost) under theta = theta0.
  if (n <= 0) return 0;
  const double nn = double(n), n12 = double(won), n21 = double(lost);
  const double numerator = n12 - n21 - nn * theta0;
  if (numerator == 0) return 0;
  const double a = 2 * nn, b = -n12 - n21 + (2 * nn - n12 + n21) * theta0,
               c = -n21 * theta0 * (1 - theta0);
  const double q21 = (std::sqrt(std::max(0.0, b * b - 4 * a * c)) - b) / (2 * a);
  const double variance = nn * (2 * q21 + theta0 * (1 - theta0));
  if (variance <= 0) return numerator > 0 ? std::numeric_limits<double>::infinity()
                                          : -std::numeric_limits<double>::infinity();
  return numerator / std::sqrt(variance);
}

namespace {

// theta with tango_score_z(theta) == z; Z decreases in theta. Bisection on [-1, 1].
double tango_root(int64_t n, int64_t won, int64_t lost, double z) {
  double lo = -1.0, hi = 1.0;
  if (tango_score_z(n, won, lost, lo + 1e-12) <= z) return -1.0;
  if (tango_score_z(n, won, lost, hi - 1e-12) >= z) return 1.0;
  for (int i = 0; i < 200 && hi - lo > 1e-13; ++i) {
    double mid = 0.5 * (lo + hi);
    if (tango_score_z(n, won, lost, mid) > z) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// Value of the q-quantile (0..1) of `x` (partially reorders x).
double quantile_inplace(std::vector<double>& x, double q) {
  size_t i = size_t(std::floor(q * double(x.size() - 1) + 0.5));
  std::nth_element(x.begin(), x.begin() + i, x.end());
  return x[i];
}

}  // namespace

Interval tango_interval(int64_t n, int64_t won, int64_t lost, double confidence) {
  double z = normal_quantile(1 - (1 - confidence) / 2);
  return {tango_root(n, won, lost, z), tango_root(n, won, lost, -z)};
}

PairedComparison compare_paired(const std::vector<std::pair<double, double>>& pairs,
                                const PairedOptions& o) {
  PairedComparison r;
  r.margin = o.margin;
  r.n = int64_t(pairs.size());
  if (pairs.empty()) {
    r.test = kTestBootstrap;
    return r;
  }
  bool binary = true;
  std::vector<double> diffs;
  diffs.reserve(pairs.size());
  double sum_a = 0, sum_b = 0;
  for (const auto& [a, b] : pairs) {
    binary = binary && (a == 0.0 || a == 1.0) && (b == 0.0 || b == 1.0);
    sum_a += a;
    sum_b += b;
    diffs.push_back(b - a);
    if (b > a) ++r.won;
    else if (b < a) ++r.lost;
    else ++r.tied;
  }
  const double n = double(pairs.size());
  r.mean_a = sum_a / n;
  r.mean_b = sum_b / n;
  r.delta = r.mean_b - r.mean_a;

  if (binary) {
    Interval ci = tango_interval(r.n, r.won, r.lost, o.confidence);
    r.ci_low = std::min(ci.low, r.delta);
    r.ci_high = std::max(ci.high, r.delta);
    McNemarResult m = mcnemar_exact(r.won, r.lost);
    r.p_value = m.p_two_sided;
    double z_one = normal_quantile(1 - o.alpha_one_sided);
    r.drop_upper = std::max(r.delta, tango_root(r.n, r.won, r.lost, -z_one));
    if (o.margin == 0) {
      r.test = kTestMcNemar;
      r.p_drop = m.p_b_worse;
    } else {
      r.test = kTestTango;
      r.p_drop = normal_cdf(tango_score_z(r.n, r.won, r.lost, -o.margin));
    }
    return r;
  }

  r.test = kTestBootstrap;
  if (pairs.size() < 2) {  // one pair: no evidence either way
    r.ci_low = -1;
    r.ci_high = 1;
    r.drop_upper = 1;
    return r;
  }
  const int resamples = std::max(100, o.resamples);
  StatsRng rng(o.seed ^ stats_seed("paired", pairs.size()));
  std::vector<double> reps(static_cast<size_t>(resamples));
  const size_t m = diffs.size();
  for (auto& rep : reps) {
    double s = 0;
    for (size_t i = 0; i < m; ++i) s += diffs[rng.below(m)];
    rep = s / double(m);
  }
  int64_t extreme = 0, below = 0;
  for (double rep : reps) {
    double centered = rep - r.delta;
    if (std::fabs(centered) >= std::fabs(r.delta) - 1e-15) ++extreme;
    if (centered <= r.delta + o.margin + 1e-15) ++below;
  }
  r.p_value = r.delta == 0 ? 1.0 : std::min(1.0, double(1 + extreme) / double(resamples + 1));
  r.p_drop = std::min(1.0, double(1 + below) / double(resamples + 1));
  const double alpha = 1 - o.confidence;
  r.ci_low = std::min(quantile_inplace(reps, alpha / 2), r.delta);
  r.ci_high = std::max(quantile_inplace(reps, 1 - alpha / 2), r.delta);
  // Basic bootstrap one-sided upper bound: 2*delta - q_alpha(replicates).
  r.drop_upper = 2 * r.delta - quantile_inplace(reps, o.alpha_one_sided);
  return r;
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> out(m);
  double running = 0;
  for (size_t rank = 0; rank < m; ++rank) {
    double adj = std::min(1.0, double(m - rank) * p[order[rank]]);
    running = std::max(running, adj);  // monotone: never smaller than an earlier step
    out[order[rank]] = running;
  }
  return out;
}

double min_detectable_difference(const Metric& metric) {
  const double z975 = normal_quantile(0.975), z80 = normal_quantile(0.8);
  double se = (metric.ci_high - metric.ci_low) / (2 * z975);
  return (z975 + z80) * std::sqrt(2.0) * se;
}

bool too_small_to_compare(const Metric& metric) {
  return metric.n < 30 || min_detectable_difference(metric) > 0.10;
}

}  // namespace v4eval
