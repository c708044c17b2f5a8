#include "harness/stats.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace v4eval {
// Inverse of the standard normal CDF (Acklam's algorithm, relative error < 1.2e-9).
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double plow = 0.02425;
  if (p < plow) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - plow) return -normal_quantile(1 - p);
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double student_t_quantile(double p, double df) {
  // Hill (1970), Algorithm 396, via the two-tailed probability.
  if (df <= 0) return NAN;
  double two_tail = 2 * (1 - p);
  if (df == 1) return std::tan(M_PI * (p - 0.5));
  if (df == 2) return std::sqrt(2 / (two_tail * (2 - two_tail)) - 2) * (p > 0.5 ? 1 : -1);
  double a = 1 / (df - 0.5), b = 48 / (a * a), c = ((20700 * a / b - 98) * a - 16) * a + 96.36;
  double d = ((94.5 / (b + c) - 3) / b + 1) * std::sqrt(a * M_PI / 2) * df;
  double x = d * two_tail, y = std::pow(x, 2 / df);
  if (y > 0.05 + a) {
    x = normal_quantile(two_tail * 0.5);
    y = x * x;
    if (df < 5) c += 0.3 * (df - 4.5) * (x + 0.6);
    c = (((0.05 * d * x - 5) * x - 7) * x - 2) * x + b + c;
    y = (((((0.4 * y + 6.3) * y + 36) * y + 94.5) / c - y - 3) / b + 1) * x;
    y = a * y * y;
    y = y > 0.002 ? std::exp(y) - 1 : 0.5 * y * y + y;
  } else {
    y = ((1 / (((df + 6) / (df * y) - 0.089 * d - 0.822) * (df + 2) * 3) + 0.5 / (df + 4)) * y - 1) *
            (df + 1) / (df + 2) + 1 / y;
  }
  return std::sqrt(df * y) * (p > 0.5 ? 1 : -1);
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

StatsRng::StatsRng(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t StatsRng::next() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t stats_seed(const std::string& label, uint64_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : label) h = (h ^ c) * 0x100000001b3ULL;
  return h ^ (n * 0x9e3779b97f4a7c15ULL);
}

Interval bootstrap_mean_interval(const std::vector<double>& values, double confidence,
                                 int resamples, uint64_t seed, double lo, double hi) {
  const size_t n = values.size();
  if (n < 2 || resamples < 2) return {lo, hi};
  StatsRng rng(seed);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (auto& m : means) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += values[rng.below(n)];
    m = sum / double(n);
  }
  double alpha = 1 - confidence;
  // Percentile interval: the alpha/2 and 1-alpha/2 order statistics of the replicates.
  size_t i_low = size_t(std::floor(alpha / 2 * (resamples - 1) + 0.5));
  size_t i_high = size_t(std::floor((1 - alpha / 2) * (resamples - 1) + 0.5));
  std::nth_element(means.begin(), means.begin() + i_low, means.end());
  double low = means[i_low];
  std::nth_element(means.begin(), means.begin() + i_high, means.end());
  double high = means[i_high];
  return {std::clamp(low, lo, hi), std::clamp(high, lo, hi)};
}

namespace {
constexpr int kBootstrapResamples = 2000;

Metric t_interval(const std::string& name, const std::vector<double>& means, double lo, double hi,
                  double confidence) {
  Metric m{name, 0, lo, hi, int64_t(means.size())};
  if (means.empty()) return m;
  double n = double(means.size());
  m.value = std::accumulate(means.begin(), means.end(), 0.0) / n;
  if (means.size() < 2) return m;  // one cluster says nothing about the spread
  double ss = 0;
  for (double x : means) ss += (x - m.value) * (x - m.value);
  double se = std::sqrt(ss / (n - 1) / n);
  double t = student_t_quantile(1 - (1 - confidence) / 2, n - 1);
  m.ci_low = std::clamp(m.value - t * se, lo, hi);
  m.ci_high = std::clamp(m.value + t * se, lo, hi);
  return m;
}
}  // namespace

Metric mean_metric(const std::string& name,
                   const std::vector<std::pair<std::string, double>>& values, double lo,
                   double hi, double confidence) {
  std::map<std::string, std::pair<double, int>> clusters;
  bool binary = true;
  for (const auto& [cluster, v] : values) {
    auto& c = clusters[cluster];
    c.first += v;
    c.second += 1;
    binary = binary && (v == 0.0 || v == 1.0);
  }
  Metric m{name, 0, 0, 0, int64_t(clusters.size())};
  if (clusters.empty()) return m;
  std::vector<double> means;
  means.reserve(clusters.size());
  bool repeats = false;
  for (const auto& [_, c] : clusters) {
    means.push_back(c.first / c.second);
    repeats = repeats || c.second > 1;
  }
  if (!repeats && binary && lo == 0.0 && hi == 1.0) {
    int64_t k = 0;
    for (double x : means) k += x == 1.0;
    Metric w = wilson_metric(name, k, int64_t(means.size()), confidence);
    return w;
  }
  if (!repeats) return t_interval(name, means, lo, hi, confidence);
  m.value = std::accumulate(means.begin(), means.end(), 0.0) / double(means.size());
  Interval ci = bootstrap_mean_interval(means, confidence, kBootstrapResamples,
                                        stats_seed(name, means.size()), lo, hi);
  m.ci_low = std::min(ci.low, m.value);
  m.ci_high = std::max(ci.high, m.value);
  return m;
}

Metric wilson_metric(const std::string& name, int64_t k, int64_t n, double confidence) {
  Metric m{name, 0, 0, 1, n};
  if (n <= 0) return m;
  double z = normal_quantile(1 - (1 - confidence) / 2);
  double p = double(k) / double(n), z2 = z * z, nn = double(n);
  double center = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  double half = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
  m.value = p;
  m.ci_low = std::max(0.0, center - half);
  m.ci_high = std::min(1.0, center + half);
  return m;
}

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n - c < k) return 1.0;
  double prod = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) prod *= 1.0 - double(k) / double(i);
  return 1.0 - prod;
}

std::optional<Metric> pass_at_k_metric(const std::string& name,
                                       const std::vector<std::pair<int64_t, int64_t>>& problems,
                                       int64_t k, double confidence) {
  if (k < 1) return std::nullopt;
  bool single = true;
  int64_t solved = 0;
  std::vector<double> per_problem;
  per_problem.reserve(problems.size());
  for (const auto& [n, c] : problems) {
    if (n < k || c < 0 || c > n) return std::nullopt;
    single = single && n == 1;
    solved += c;
    per_problem.push_back(pass_at_k(n, c, k));
  }
  if (per_problem.empty()) return Metric{name, 0, 0, 1, 0};
  if (single) return wilson_metric(name, solved, int64_t(problems.size()), confidence);
  Metric m{name, 0, 0, 1, int64_t(per_problem.size())};
  m.value = std::accumulate(per_problem.begin(), per_problem.end(), 0.0) / double(per_problem.size());
  Interval ci = bootstrap_mean_interval(per_problem, confidence, kBootstrapResamples,
                                        stats_seed(name, per_problem.size()));
  m.ci_low = std::min(ci.low, m.value);
  m.ci_high = std::max(ci.high, m.value);
  return m;
}

}  // namespace v4eval
