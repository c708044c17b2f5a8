#pragma once
// Confidence intervals for headline metrics. Every metric carries n and a 95% interval.

#include <string>
#include <utility>
#include <vector>

#include "harness/types.h"

namespace v4eval {

// Two-sided Student-t quantile t_{1-alpha/2, df} (Hill 1970 approximation, |error| < 1e-6 for
// df >= 1 at the levels we use).
double student_t_quantile(double p, double df);

// Mean of per-cluster means with a t-interval on the cluster means: repeats of one sample are
// one cluster, so they do not count as independent evidence. `values` are (cluster, value).
// The interval is clipped to [lo, hi]. n = number of clusters.
Metric mean_metric(const std::string& name, const std::vector<std::pair<std::string, double>>& values,
                   double lo = 0.0, double hi = 1.0, double confidence = 0.95);

// Wilson score interval for k successes in n trials.
Metric wilson_metric(const std::string& name, int64_t k, int64_t n, double confidence = 0.95);

}  // namespace v4eval
