// `v4eval merge OUT IN...`: joins the SQLite files written by `run --shard I/N` into one run
// (cli.md, "merge"). Refuses inputs whose settings differ (other than the shard), is idempotent
// (merging the same file twice adds nothing) and safe to rerun after a crash: each input is
// copied in one transaction, and the run's status is recomputed from the shards it holds.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/evaluation.h"
#include "reports/store.h"

namespace v4eval::cli {

bool is_sqlite_file(const std::string& path);

namespace {

struct Member {
  std::string path;
  RunInfo run;
  int shard_index = 0, shard_count = 1;
};

// The settings every shard of one run shares: the spec without the shard, and without suite
// file paths (shards on other machines may mount the data elsewhere; data_hash compares the
// content).
Json shared_spec(const Json& spec) {
  Json s = spec;
  if (s.is_object()) {
    s.erase("shard");
    if (s.contains("suites") && s["suites"].is_array())
      for (auto& text : s["suites"]) {
        if (!text.is_string()) continue;
        std::string err;
        auto parsed = parse_spec(text.get<std::string>(), &err);
        if (!parsed) continue;
        Spec stripped{parsed->kind, {}};
        for (const auto& kv : parsed->options)
          if (kv.first != "file") stripped.options.push_back(kv);
        text = stripped.to_string();
      }
  }
  return s;
}

Result<std::pair<int, int>> shard_of_spec(const RunInfo& run, const std::string& path) {
  if (!run.spec.is_object() || !run.spec.contains("shard") || run.spec["shard"].is_null())
    return std::pair<int, int>(0, 1);
  std::string text = run.spec["shard"].is_string() ? run.spec["shard"].get<std::string>() : "";
  int i = -1, n = 0;
  if (std::sscanf(text.c_str(), "%d/%d", &i, &n) != 2 || n < 1 || i < 0 || i >= n)
    return DataError(path + ": run '" + run.name + "' has a malformed shard '" + text + "'");
  return std::pair<int, int>(i, n);
}

std::string describe_spec_difference(const Json& a, const Json& b) {
  std::string out;
  std::set<std::string> keys;
  for (auto& [k, _] : a.items()) keys.insert(k);
  for (auto& [k, _] : b.items()) keys.insert(k);
  for (const auto& k : keys) {
    Json x = a.contains(k) ? a[k] : Json(), y = b.contains(k) ? b[k] : Json();
    if (x != y) out += "\n  " + k + ": " + x.dump() + " vs " + y.dump();
  }
  return out;
}

}  // namespace

int cmd_merge(const Argv& argv) {
  Args args("merge",
            "OUT IN [IN ...] [--run NAME] [--run-name NAME]\n\n"
            "Joins runs from shard files (v4eval run --shard I/N --db shard-I.sqlite) into OUT,\n"
            "created if absent. Runs with the same name are one run: their settings must be\n"
            "equal but for the shard (and suite file paths; the data must hash alike). Merging\n"
            "again, or after a crash, is safe: nothing is stored twice. Exit 0 when every shard\n"
            "0..N-1 is merged and complete, 3 when some are missing or incomplete (merge them\n"
            "later), 2 on mismatched inputs (nothing written).",
            {
                {"run", "NAME", "merge only this run from the inputs (default: every run)"},
                {"run-name", "NAME", "name of the merged run in OUT (default: the shards' name)"},
                {"quiet", "", "no per-input lines"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  const auto& pos = args.positional();
  if (pos.size() < 2) return fail("merge needs OUT and at least one IN (see v4eval merge --help)", kExitBadInput);
  std::string out_path = pos[0];
  namespace fs = std::filesystem;
  std::error_code ec;
  bool quiet = args.has("quiet");

  // ---- read and check every input before writing anything
  std::map<std::string, std::vector<Member>> groups;  // run name -> members
  std::set<std::string> seen_paths;
  for (size_t i = 1; i < pos.size(); ++i) {
    const std::string& path = pos[i];
    if (fs::exists(out_path, ec) && fs::equivalent(path, out_path, ec))
      return fail("merge: input " + path + " is the output file", kExitBadInput);
    std::string canonical = fs::weakly_canonical(path, ec).string();
    if (!seen_paths.insert(canonical).second) {
      std::fprintf(stderr, "v4eval: %s given twice; merging it once\n", path.c_str());
      continue;
    }
    if (!is_sqlite_file(path)) return fail("merge: " + path + " is not a v4eval database", kExitBadInput);
    auto store = Store::open(path, /*read_only=*/true);
    if (!store.ok()) return fail(store.status().message(), kExitBadInput);
    auto runs = (*store)->runs();
    if (!runs.ok()) return fail(runs.status().message(), kExitBadInput);
    int taken = 0;
    for (const auto& run : *runs) {
      if (auto only = args.get("run"); only && run.name != *only) continue;
      auto shard = shard_of_spec(run, path);
      if (!shard.ok()) return fail(shard.status().message(), kExitBadInput);
      groups[run.name].push_back({path, run, shard->first, shard->second});
      ++taken;
    }
    if (taken == 0)
      return fail("merge: " + path + " holds no run" +
                      (args.get("run") ? " named '" + *args.get("run") + "'" : std::string()),
                  kExitBadInput);
  }
  if (args.get("run-name") && groups.size() != 1)
    return fail("merge: --run-name needs the inputs to hold one run (use --run NAME)", kExitBadInput);

  for (auto& [name, members] : groups) {
    const Member& first = members.front();
    Json spec = shared_spec(first.run.spec);
    for (const auto& m : members) {
      Json other = shared_spec(m.run.spec);
      if (other != spec)
        return fail("merge: run '" + name + "' in " + m.path + " has other settings than in " +
                        first.path + ":" + describe_spec_difference(spec, other) +
                        "\n(shards of one run differ only in --shard; nothing was merged)",
                    kExitBadInput);
      if (m.run.suite_versions != first.run.suite_versions)
        return fail("merge: run '" + name + "': suite versions or data differ between " +
                        first.path + " " + first.run.suite_versions.dump() + " and " + m.path +
                        " " + m.run.suite_versions.dump() + "; nothing was merged",
                    kExitBadInput);
      if (m.run.model != first.run.model)
        return fail("merge: run '" + name + "': model '" + first.run.model + "' in " + first.path +
                        " but '" + m.run.model + "' in " + m.path + "; nothing was merged",
                    kExitBadInput);
      if (m.shard_count != first.shard_count)
        return fail("merge: run '" + name + "': shard counts differ (" +
                        std::to_string(first.shard_count) + " in " + first.path + ", " +
                        std::to_string(m.shard_count) + " in " + m.path + "); nothing was merged",
                    kExitBadInput);
      if (m.run.git_revision != first.run.git_revision)
        std::fprintf(stderr, "v4eval: note: run '%s' was made by %s in %s but %s in %s\n",
                     name.c_str(), first.run.git_revision.c_str(), first.path.c_str(),
                     m.run.git_revision.c_str(), m.path.c_str());
    }
  }

  // ---- write
  auto out = Store::open(out_path);
  if (!out.ok()) return fail(out.status().message(), kExitBadInput);
  const char* abort_after = std::getenv("V4EVAL_TEST_MERGE_ABORT_AFTER");  // crash-safety test hook
  int imported = 0;
  bool all_complete = true;
  for (auto& [name, members] : groups) {
    std::string out_name = args.get("run-name").value_or(name);
    const Member& first = members.front();
    Json spec = first.run.spec;
    if (spec.is_object()) spec.erase("shard");
    auto existing = (*out)->find_run(out_name);
    if (!existing.ok()) return fail(existing.status().message(), kExitFailure);
    RunInfo run;
    if (existing->has_value()) {
      run = **existing;
      if (shared_spec(run.spec) != shared_spec(spec) || run.suite_versions != first.run.suite_versions ||
          run.model != first.run.model)
        return fail("merge: " + out_path + " already has a run '" + out_name +
                        "' with other settings:" + describe_spec_difference(shared_spec(run.spec), shared_spec(spec)) +
                        (run.suite_versions != first.run.suite_versions ? "\n  suite versions/data differ" : "") +
                        (run.model != first.run.model ? "\n  model differs" : "") +
                        "\n(use --run-name for another name)",
                    kExitBadInput);
    } else {
      run.name = out_name;
      run.spec = spec;
      run.suite_versions = first.run.suite_versions;
      run.backend = first.run.backend;
      run.model = first.run.model;
      run.git_revision = first.run.git_revision;
      run.host = "merged";
      run.started_at = first.run.started_at;
      for (const auto& m : members) run.started_at = std::min(run.started_at, m.run.started_at);
      run.status = "incomplete";
      auto created = (*out)->create_run(run);
      if (!created.ok()) return fail(created.status().message(), kExitFailure);
      run = *created;
    }
    for (const auto& m : members) {
      if (abort_after && imported >= std::atoi(abort_after)) _exit(137);
      ShardRecord shard{m.shard_index, m.shard_count, m.path, m.run.name, m.run.status, now_iso8601()};
      auto counts = (*out)->import_run(m.path, m.run.id, run.id, shard);
      if (!counts.ok())
        return fail(counts.status().message() + " (attempts merged before this input are kept; "
                                                 "rerun the same merge to finish)",
                    kExitFailure);
      ++imported;
      if (!quiet)
        std::fprintf(stderr,
                     "v4eval: %s: run '%s' shard %d/%d (%s): %lld attempts added, %lld replaced "
                     "errors, %lld already there\n",
                     m.path.c_str(), m.run.name.c_str(), m.shard_index, m.shard_count,
                     m.run.status.c_str(), (long long)counts->added, (long long)counts->replaced,
                     (long long)counts->unchanged);
      if (counts->conflicts > 0)
        std::fprintf(stderr,
                     "v4eval: warning: %lld attempts of %s were already graded in %s with another "
                     "score; the earlier ones are kept\n",
                     (long long)counts->conflicts, m.path.c_str(), out_path.c_str());
    }
    // Status from every shard merged so far (this invocation or earlier ones).
    auto shards = (*out)->run_shards(run.id);
    if (!shards.ok()) return fail(shards.status().message(), kExitFailure);
    std::map<int, std::string> status_by_index;
    int count = first.shard_count;
    for (const auto& sh : *shards)
      if (sh.shard_count == count) status_by_index[sh.shard_index] = sh.source_status;
    std::string missing, unfinished;
    for (int i = 0; i < count; ++i) {
      auto it = status_by_index.find(i);
      if (it == status_by_index.end()) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
      else if (it->second != "complete")
        unfinished += (unfinished.empty() ? "" : ", ") + std::to_string(i) + " (" + it->second + ")";
    }
    bool complete = missing.empty() && unfinished.empty();
    run.status = complete ? "complete" : "incomplete";
    run.finished_at = now_iso8601();
    if (auto s = (*out)->update_run(run); !s.ok()) return fail(s.message(), kExitFailure);
    if (auto s = refresh_metrics(**out, run); !s.ok())
      std::fprintf(stderr, "v4eval: warning: metrics not refreshed: %s\n", s.message().c_str());
    auto keys = (*out)->graded_keys(run.id);
    std::fprintf(stderr, "v4eval: run '%s' in %s: %lld attempts done, %s%s%s\n", run.name.c_str(),
                 out_path.c_str(), keys.ok() ? (long long)keys->size() : -1LL,
                 complete ? "complete (all " : "incomplete",
                 complete ? (std::to_string(count) + " shards)").c_str() : "",
                 complete ? ""
                          : ((missing.empty() ? "" : "; missing shards " + missing + " of " + std::to_string(count)) +
                             (unfinished.empty() ? "" : "; unfinished shards " + unfinished) +
                             " (resume them, then merge again)").c_str());
    all_complete = all_complete && complete;
  }
  return all_complete ? kExitOk : kExitAttemptsFailed;
}

}  // namespace v4eval::cli
