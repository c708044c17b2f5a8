#include "harness/evaluation.h"

#include <cmath>
#include <map>
#include <set>

#include "reports/stats.h"

#include "suites/suite.h"

namespace v4eval {
namespace {

struct SuiteModeData {
  std::vector<GradedAttempt> graded;
  std::set<std::string> samples;
  int64_t attempts = 0;
  int64_t errors = 0;
  int64_t skipped = 0;
};

// (suite, mode) -> attempts of one run.
Result<std::map<std::pair<std::string, Mode>, SuiteModeData>> collect(
    Store& store, const RunInfo& run, std::vector<AttemptRecord>* keep) {
  auto attempts = store.attempts(run.id);
  if (!attempts.ok()) return attempts.status();
  std::map<std::pair<std::string, Mode>, SuiteModeData> by;
  for (auto& a : *attempts) {
    auto& d = by[{a.key.suite, a.key.mode}];
    d.samples.insert(a.key.sample_id);
    ++d.attempts;
    if (a.error_stage == "skipped") {
      ++d.skipped;
    } else if (!a.score) {
      ++d.errors;
    } else {
      d.graded.push_back({a.key.sample_id, a.key.mode, a.key.repeat, a.score->value,
                          a.score->verdict, a.score->details});
    }
  }
  if (keep) *keep = std::move(*attempts);
  return by;
}

Result<std::map<std::string, std::unique_ptr<Suite>>> suites_of(const RunInfo& run) {
  std::map<std::string, std::unique_ptr<Suite>> out;
  if (!run.spec.contains("suites")) return out;
  for (const auto& text : run.spec["suites"]) {
    std::string err;
    auto spec = parse_spec(text.get<std::string>(), &err);
    if (!spec) return DataError("run '" + run.name + "': stored suite spec: " + err);
    auto suite = make_suite(*spec);
    if (!suite.ok()) return suite.status();
    out[spec->kind] = std::move(suite.value());
  }
  return out;
}

}  // namespace

Status refresh_metrics(Store& store, const RunInfo& run) {
  auto suites = suites_of(run);
  if (!suites.ok()) return suites.status();
  auto by = collect(store, run, nullptr);
  if (!by.ok()) return by.status();
  for (auto& [key, data] : *by) {
    auto it = suites->find(key.first);
    if (it == suites->end()) continue;
    auto metrics = it->second->aggregate(data.graded);
    if (auto s = store.replace_metrics(run.id, key.first, key.second, metrics); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<Json> report_json(Store& store, const std::vector<RunInfo>& runs, bool with_samples) {
  Json out = {{"runs", Json::array()}};
  for (const auto& run : runs) {
    auto suites = suites_of(run);
    if (!suites.ok()) return suites.status();
    std::vector<AttemptRecord> attempts;
    auto by = collect(store, run, with_samples ? &attempts : nullptr);
    if (!by.ok()) return by.status();
    Json r = {{"id", run.id},           {"name", run.name},
              {"backend", run.backend}, {"model", run.model},
              {"status", run.status},   {"started_at", run.started_at},
              {"finished_at", run.finished_at}, {"git_revision", run.git_revision},
              {"settings", run.spec},   {"suites", Json::array()}};
    for (auto& [key, data] : *by) {
      auto it = suites->find(key.first);
      Json metrics = Json::object();
      std::string version;
      if (it != suites->end()) {
        version = it->second->doc().version;
        for (const auto& m : it->second->aggregate(data.graded))
          metrics[m.name] = {{"value", m.value}, {"ci_low", m.ci_low}, {"ci_high", m.ci_high},
                             {"n", m.n}, {"small_n", too_small_to_compare(m)}};
      }
      Json s = {{"suite", key.first},
                {"version", version},
                {"mode", mode_name(key.second)},
                {"n_samples", int64_t(data.samples.size())},
                {"n_attempts", data.attempts},
                {"n_errors", data.errors},
                {"n_skipped", data.skipped},
                {"metrics", metrics}};
      if (run.suite_versions.contains(key.first))
        s["data_hash"] = run.suite_versions[key.first].value("data_hash", "");
      r["suites"].push_back(std::move(s));
    }
    if (with_samples) {
      Json samples = Json::array();
      for (const auto& a : attempts) {
        Json row = {{"suite", a.key.suite},
                    {"sample_id", a.key.sample_id},
                    {"mode", mode_name(a.key.mode)},
                    {"repeat", a.key.repeat},
                    {"score", a.score ? Json(a.score->value) : Json()},
                    {"verdict", a.score ? Json(a.score->verdict) : Json()},
                    {"error", a.error.empty() || a.error_stage == "skipped" ? Json() : Json(a.error)},
                    {"skipped", a.error_stage == "skipped" ? Json(a.error) : Json()},
                    {"details", a.score ? a.score->details : Json::object()},
                    {"finish_reason", a.generation.finish_reason},
                    {"tries", a.tries}};
        samples.push_back(std::move(row));
      }
      r["samples"] = std::move(samples);
    }
    out["runs"].push_back(std::move(r));
  }
  return out;
}

Result<RunData> load_run_data(Store& store, const RunInfo& run, const std::string& label,
                              bool keep_attempts) {
  RunData out;
  out.info = run;
  out.label = label;
  auto suites = suites_of(run);
  if (!suites.ok()) return suites.status();
  auto attempts = store.attempts(run.id);
  if (!attempts.ok()) return attempts.status();

  struct Acc {
    SuiteResults data;
    std::vector<GradedAttempt> graded;
    std::set<std::string> samples;
    std::vector<double> prompt_tokens, completion_tokens, reasoning_tokens, latency_ms;
  };
  std::map<std::pair<std::string, Mode>, Acc> by;
  for (const auto& a : *attempts) {
    Acc& acc = by[{a.key.suite, a.key.mode}];
    acc.samples.insert(a.key.sample_id);
    ++acc.data.n_attempts;
    auto& hash = acc.data.prompt_hash[a.key.sample_id];
    if (hash.empty() || a.key.repeat == 0) hash = a.prompt_hash;
    const Generation& g = a.generation;
    if (a.error_stage == "skipped") {
      ++acc.data.n_skipped;
      continue;
    }
    if (!a.score) {
      ++acc.data.n_errors;
      ++acc.data.error_classes[error_class(a.error_stage, a.error)];
      continue;
    }
    if (g.finish_reason == "length") ++acc.data.n_truncated;
    if (g.prompt_tokens >= 0) acc.prompt_tokens.push_back(double(g.prompt_tokens));
    if (g.completion_tokens >= 0) acc.completion_tokens.push_back(double(g.completion_tokens));
    if (g.reasoning_tokens >= 0) acc.reasoning_tokens.push_back(double(g.reasoning_tokens));
    if (g.latency_ms > 0) acc.latency_ms.push_back(g.latency_ms);
    acc.graded.push_back({a.key.sample_id, a.key.mode, a.key.repeat, a.score->value,
                          a.score->verdict, a.score->details});
  }
  for (auto& [key, acc] : by) {
    SuiteResults& d = acc.data;
    d.suite = key.first;
    d.mode = key.second;
    d.n_samples = int64_t(acc.samples.size());
    if (run.suite_versions.contains(d.suite) && run.suite_versions[d.suite].is_object()) {
      d.version = run.suite_versions[d.suite].value("version", "");
      d.data_hash = run.suite_versions[d.suite].value("data_hash", "");
    }
    d.prompt_tokens = summarize(std::move(acc.prompt_tokens));
    d.completion_tokens = summarize(std::move(acc.completion_tokens));
    d.reasoning_tokens = summarize(std::move(acc.reasoning_tokens));
    d.latency_ms = summarize(std::move(acc.latency_ms));
    auto it = suites->find(d.suite);
    if (it != suites->end()) {
      const Suite& suite = *it->second;
      if (d.version.empty()) d.version = suite.doc().version;
      auto totals = suite.aggregate(acc.graded);
      if (!totals.empty()) d.headline = totals.front().name;
      for (const auto& m : totals) d.metrics[m.name].total = m;
      // Each metric per sample: the suite's own aggregation over that sample's attempts.
      std::map<std::string, std::vector<GradedAttempt>> per_sample;
      for (auto& g : acc.graded) per_sample[g.sample_id].push_back(g);
      for (const auto& [sample, list] : per_sample)
        for (const auto& m : suite.aggregate(list)) {
          auto mit = d.metrics.find(m.name);
          if (mit != d.metrics.end() && m.n > 0) mit->second.per_sample[sample] = m.value;
        }
      for (auto& [name, mv] : d.metrics) {
        double sum = 0;
        for (const auto& [_, v] : mv.per_sample) sum += v;
        bool decomposes = int64_t(mv.per_sample.size()) == mv.total.n && mv.total.n > 0 &&
                          std::fabs(sum / double(mv.total.n) - mv.total.value) < 1e-9;
        if (!decomposes) mv.per_sample.clear();
      }
    }
    out.suites.push_back(std::move(d));
  }
  if (keep_attempts) out.attempts = std::move(*attempts);
  return out;
}

}  // namespace v4eval
