#pragma once
// What the comparison, gate and HTML code need to know about one run, as plain values:
// per (suite, mode) the suite's metrics with their intervals and each metric decomposed per
// sample, so two runs (or two modes) can be paired sample by sample. Filled from the store and
// the suites' own aggregation by harness/evaluation.h (reports/ does not know suites).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/types.h"
#include "reports/store.h"

namespace v4eval {

struct MetricValues {
  Metric total;  // as the suite aggregates it (value, 95% interval, n)
  // The metric's value per sample (repeats averaged), when the metric is a mean over samples
  // (checked: the mean of these equals total.value). Empty when it does not decompose, e.g. a
  // rating estimate; such a metric is compared without pairing.
  std::map<std::string, double> per_sample;
};

// Summary of a numeric quantity over attempts (tokens, latency); count 0 when never reported.
struct Distribution {
  int64_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, max = 0;
};
Distribution summarize(std::vector<double> values);

struct SuiteResults {
  std::string suite;
  Mode mode = Mode::kNonThink;
  std::string version;    // suite version
  std::string data_hash;  // hash of the loaded data and prompt templates
  std::string headline;   // the suite's first metric ("score" for MRCR)
  int64_t n_samples = 0, n_attempts = 0, n_errors = 0;
  int64_t n_skipped = 0;    // attempts the suite declined to send (e.g. beyond the context)
  int64_t n_truncated = 0;  // graded attempts that stopped at the token limit (finish_reason length)
  std::map<std::string, int64_t> error_classes;  // class -> attempts
  std::map<std::string, MetricValues> metrics;
  std::map<std::string, std::string> prompt_hash;  // sample -> prompt hash (first repeat)
  Distribution prompt_tokens, completion_tokens, reasoning_tokens, latency_ms;

  const MetricValues* metric(const std::string& name) const {
    auto it = metrics.find(name);
    return it == metrics.end() ? nullptr : &it->second;
  }
};

struct RunData {
  RunInfo info;
  std::string label;  // how to name the run to a user: "name" or "file:name"
  std::vector<SuiteResults> suites;  // ordered by suite, then mode
  std::vector<AttemptRecord> attempts;  // only when asked for (HTML report)

  const SuiteResults* find(const std::string& suite, Mode mode) const {
    for (const auto& s : suites)
      if (s.suite == suite && s.mode == mode) return &s;
    return nullptr;
  }
};

// A coarse class for an error message, for filters and counts: the stage and the message with
// numbers and quoted parts blanked ("generate: no recorded generation in # for suite=#...").
std::string error_class(const std::string& stage, const std::string& message);

}  // namespace v4eval
