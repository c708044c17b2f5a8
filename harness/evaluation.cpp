#include "harness/evaluation.h"

#include <map>
#include <set>

#include "suites/suite.h"

namespace v4eval {
namespace {

struct SuiteModeData {
  std::vector<GradedAttempt> graded;
  std::set<std::string> samples;
  int64_t attempts = 0;
  int64_t errors = 0;
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
    if (!a.score) {
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
                             {"n", m.n}};
      }
      Json s = {{"suite", key.first},
                {"version", version},
                {"mode", mode_name(key.second)},
                {"n_samples", int64_t(data.samples.size())},
                {"n_attempts", data.attempts},
                {"n_errors", data.errors},
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
                    {"error", a.error.empty() ? Json() : Json(a.error)},
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

}  // namespace v4eval
