#include "harness/stats.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace v4eval {
namespace {

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

}  // namespace

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

Metric mean_metric(const std::string& name,
                   const std::vector<std::pair<std::string, double>>& values, double lo,
                   double hi, double confidence) {
  std::map<std::string, std::pair<double, int>> clusters;
  for (const auto& [cluster, v] : values) {
    auto& c = clusters[cluster];
    c.first += v;
    c.second += 1;
  }
  Metric m{name, 0, 0, 0, int64_t(clusters.size())};
  if (clusters.empty()) return m;
  std::vector<double> means;
  for (const auto& [_, c] : clusters) means.push_back(c.first / c.second);
  double n = double(means.size()), sum = 0;
  for (double x : means) sum += x;
  m.value = sum / n;
  if (means.size() < 2) {
    m.ci_low = lo;  // one cluster says nothing about the spread
    m.ci_high = hi;
    return m;
  }
  double ss = 0;
  for (double x : means) ss += (x - m.value) * (x - m.value);
  double se = std::sqrt(ss / (n - 1) / n);
  double t = student_t_quantile(1 - (1 - confidence) / 2, n - 1);
  m.ci_low = std::clamp(m.value - t * se, lo, hi);
  m.ci_high = std::clamp(m.value + t * se, lo, hi);
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

}  // namespace v4eval
