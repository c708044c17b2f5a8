#pragma once
// Backoff for retries of infrastructure errors (runner: model calls; suites: judge calls).

#include <optional>

namespace v4eval {

// Delay before retry number `retry` (1-based): min(max, base·2^(retry-1)) scaled by a jitter
// factor in [0.5, 1], and never less than the server's Retry-After hint.
double backoff_delay_s(int retry, double base_s, double max_s, double jitter01,
                       std::optional<double> retry_after_s);

}  // namespace v4eval
