// Token sampling: greedy, temperature and top-p (nucleus) with a caller-supplied uniform.

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/ops.h"

namespace v4eval::kernels {

int64_t sample_token(const float* logits, int64_t vocab, float temperature, float top_p, double u) {
  if (vocab <= 0) return -1;
  if (temperature <= 0.0f) {
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (logits[i] > logits[best]) best = i;
    return best;
  }
  // Softmax in double; the maximum logit has probability mass > 0 always.
  const double inv_t = 1.0 / static_cast<double>(temperature);
  double mx = logits[0];
  for (int64_t i = 1; i < vocab; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  std::vector<double> p(static_cast<size_t>(vocab));
  double total = 0.0;
  for (int64_t i = 0; i < vocab; ++i) total += p[i] = std::exp((logits[i] - mx) * inv_t);
  for (auto& v : p) v /= total;
  // Most probable first, lower index first among equals. Sort a growing prefix only: the
  // nucleus is usually a few tokens of a vocabulary of 10^5.
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  auto before = [&p](int32_t x, int32_t y) { return p[x] != p[y] ? p[x] > p[y] : x < y; };
  const double target = std::min(1.0, static_cast<double>(top_p));
  int64_t sorted = 0, kept = 0;
  double mass = 0.0;
  while (kept < vocab) {
    if (kept == sorted) {
      const int64_t next = std::min(vocab, std::max<int64_t>(64, sorted * 4));
      std::partial_sort(order.begin() + sorted, order.begin() + next, order.end(), before);
      sorted = next;
    }
    mass += p[order[kept++]];
    if (mass >= target) break;
  }
  // Inverse CDF over the kept tokens in that order.
  const double threshold = u * mass;
  double cum = 0.0;
  for (int64_t i = 0; i < kept; ++i) {
    cum += p[order[i]];
    if (cum > threshold) return order[i];
  }
  return order[kept - 1];
}

}  // namespace v4eval::kernels
