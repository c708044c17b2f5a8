// `v4eval run`: evaluate suites against one backend; resumable (cli.md, "run").

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "backends/backend.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/caching_backend.h"
#include "harness/evaluation.h"
#include "harness/hash.h"
#include "harness/runner.h"
#include "reports/store.h"
#include "sandbox/sandbox.h"
#include "suites/suite.h"

namespace v4eval::cli {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signals{0};

void on_signal(int) {
  // First signal: stop scheduling and let in-flight attempts end. Second: leave now; every
  // finished attempt is already committed.
  if (g_signals.fetch_add(1) >= 1) _exit(kExitInterrupted);
  g_stop.store(true);
  const char msg[] = "\nv4eval: stopping: finishing attempts in flight (again to abandon them)\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// The settings that define a run: a resume must match them exactly.
Json settings_json(const std::vector<Spec>& suites, const Spec& backend,
                   const std::optional<Spec>& judge, const std::vector<Mode>& modes,
                   const RunnerOptions& o) {
  Json s = Json::array();
  for (const auto& x : suites) s.push_back(x.to_string());
  Json m = Json::array();
  for (Mode x : modes) m.push_back(mode_name(x));
  return {{"suites", s},
          {"backend", backend.to_string()},
          {"judge", judge ? Json(judge->to_string()) : Json()},
          {"modes", m},
          {"repeats", o.repeats},
          {"max_tokens", o.max_tokens},
          {"temperature", o.temperature ? Json(*o.temperature) : Json()},
          {"top_p", o.top_p ? Json(*o.top_p) : Json()},
          {"seed", o.seed ? Json(*o.seed) : Json()}};
}

std::string describe_difference(const Json& stored, const Json& given) {
  std::string out;
  for (auto& [key, value] : given.items()) {
    Json old = stored.contains(key) ? stored[key] : Json();
    if (old != value)
      out += "\n  " + key + ": stored " + old.dump() + ", given " + value.dump();
  }
  for (auto& [key, value] : stored.items())
    if (!given.contains(key)) out += "\n  " + key + ": stored " + value.dump() + ", given nothing";
  return out;
}

// `--shard I/N`, `auto` or `auto/N` -> (I, N). `auto` reads the array index the scheduler
// sets: Slurm job arrays (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT)
// or Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX; the count from N or V4EVAL_SHARD_COUNT).
Result<std::pair<int, int>> parse_shard(const std::string& text) {
  auto number = [](const std::string& what, const std::string& v) -> Result<int64_t> {
    try {
      size_t used = 0;
      long long x = std::stoll(v, &used);
      if (used != v.size() || x < 0) throw std::invalid_argument(v);
      return int64_t(x);
    } catch (const std::exception&) {
      return InvalidArgument("--shard: " + what + " must be a non-negative integer, got '" + v + "'");
    }
  };
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
  std::string index_text = text, count_text;
  if (auto slash = text.find('/'); slash != std::string::npos) {
    index_text = text.substr(0, slash);
    count_text = text.substr(slash + 1);
  }
  int64_t index = 0, count = 0;
  if (index_text == "auto") {
    if (auto id = env("SLURM_ARRAY_TASK_ID")) {
      auto i = number("SLURM_ARRAY_TASK_ID", *id);
      if (!i.ok()) return i.status();
      auto min = number("SLURM_ARRAY_TASK_MIN", env("SLURM_ARRAY_TASK_MIN").value_or("0"));
      if (!min.ok()) return min.status();
      index = *i - *min;
      if (count_text.empty()) {
        auto c = env("SLURM_ARRAY_TASK_COUNT");
        if (!c) return InvalidArgument("--shard auto: SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT; give --shard auto/N");
        count_text = *c;
      }
    } else if (auto k8s = env("JOB_COMPLETION_INDEX")) {
      auto i = number("JOB_COMPLETION_INDEX", *k8s);
      if (!i.ok()) return i.status();
      index = *i;
      if (count_text.empty()) {
        auto c = env("V4EVAL_SHARD_COUNT");
        if (!c) return InvalidArgument("--shard auto: JOB_COMPLETION_INDEX is set but not the shard count; give --shard auto/N or set V4EVAL_SHARD_COUNT (the Job's completions)");
        count_text = *c;
      }
    } else {
      return InvalidArgument("--shard auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set");
    }
  } else {
    if (count_text.empty()) return InvalidArgument("--shard: expected I/N (e.g. 0/4), auto or auto/N, got '" + text + "'");
    auto i = number("I", index_text);
    if (!i.ok()) return i.status();
    index = *i;
  }
  auto c = number("N", count_text);
  if (!c.ok()) return c.status();
  count = *c;
  if (count < 1 || count > 1000000) return InvalidArgument("--shard: N must be in 1..1000000");
  if (index >= count)
    return InvalidArgument("--shard: index " + std::to_string(index) + " is not below the count " +
                           std::to_string(count) + " (indices are 0-based)");
  return std::pair<int, int>(int(index), int(count));
}

}  // namespace

int cmd_run(const Argv& argv) {
  Args args("run",
            "--suite SPEC [--suite SPEC ...] --backend SPEC [--mode M1,M2] [--repeats N] "
            "[--db FILE] [--run-name NAME] ...",
            {
                {"suite", "SPEC", "suite to evaluate, NAME[:key=value,...]", true},
                {"backend", "SPEC", "model backend, KIND[:key=value,...] (replay:file=F.jsonl)"},
                {"judge", "SPEC", "judge model for suites graded by a model (simpleqa, "
                                  "chinese_simpleqa, corpusqa); any backend spec"},
                {"mode", "M1,M2", "reasoning modes: non-think, think-high, think-max (default non-think)"},
                {"repeats", "N", "attempts per sample and mode (default 1)"},
                {"db", "FILE", "SQLite store (default ./v4eval.sqlite)"},
                {"run-name", "NAME", "run to create or resume (default: derived from the settings)"},
                {"concurrency", "N", "attempts in flight (default 8)"},
                {"limit", "N", "first N samples of each suite"},
                {"max-tokens", "N", "generation limit per attempt"},
                {"temperature", "T", "sampling temperature"},
                {"top-p", "P", "nucleus sampling"},
                {"seed", "S", "sampling seed (repeat r uses S + r)"},
                {"timeout", "SECONDS", "deadline per backend call (default 900)"},
                {"retries", "N", "retries of retryable backend errors (default 4)"},
                {"retry-base-ms", "MS", "first backoff delay (default 1000; doubles, with jitter)"},
                {"no-cache", "", "always ask the backend, even when the store has the response"},
                {"quiet", "", "no progress output"},
                {"progress", "STYLE", "tty | lines | none (default: tty on a terminal, else lines)"},
                {"shard", "I/N", "run only shard I of N (0-based; by sample, all modes and repeats "
                                  "together); 'auto' or 'auto/N' reads SLURM_ARRAY_TASK_ID/"
                                  "SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX (count: N or "
                                  "V4EVAL_SHARD_COUNT); join shard files with v4eval merge"},
                {"sandbox", "TIER", "isolation for suites that run generated code (livecodebench, "
                                    "codeforces): auto (default: full, else userns), full, userns, "
                                    "weak"},
                {"config", "FILE.json", "the same keys as the flags; flags win"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  if (auto config = args.get("config"))
    if (auto s = args.merge_config(*config); !s.ok()) return fail(s.message(), kExitBadInput);
  if (!args.positional().empty())
    return fail("run: unexpected argument '" + args.positional()[0] + "'", kExitBadInput);

  // ---- settings
  if (args.all("suite").empty()) return fail("run: --suite is required", kExitBadInput);
  if (!args.get("backend")) return fail("run: --backend is required", kExitBadInput);
  std::string err;
  std::vector<Spec> suite_specs;
  for (const auto& text : args.all("suite")) {
    auto spec = parse_spec(text, &err);
    if (!spec) return fail("--suite: " + err, kExitBadInput);
    for (const auto& other : suite_specs)
      if (other.kind == spec->kind)
        return fail("--suite " + spec->kind + " given twice (one run evaluates a suite once)",
                    kExitBadInput);
    suite_specs.push_back(*spec);
  }
  auto backend_spec = parse_spec(*args.get("backend"), &err);
  if (!backend_spec) return fail("--backend: " + err, kExitBadInput);
  std::optional<Spec> judge_spec;
  if (auto j = args.get("judge")) {
    judge_spec = parse_spec(*j, &err);
    if (!judge_spec) return fail("--judge: " + err, kExitBadInput);
  }

  RunnerOptions options;
  options.modes.clear();
  {
    std::string modes = args.get("mode").value_or("non-think");
    size_t pos = 0;
    while (true) {
      size_t comma = modes.find(',', pos);
      std::string name = modes.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      auto mode = parse_mode(name);
      if (!mode)
        return fail("--mode: unknown mode '" + name + "' (non-think, think-high, think-max)",
                    kExitBadInput);
      if (std::find(options.modes.begin(), options.modes.end(), *mode) == options.modes.end())
        options.modes.push_back(*mode);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  auto repeats = args.get_int("repeats", 1, 1);
  auto concurrency = args.get_int("concurrency", 8, 1);
  auto limit = args.get_int("limit", 0, 1);
  auto max_tokens = args.get_int("max-tokens", 0, 1);
  auto retries = args.get_int("retries", 4, 0);
  auto retry_base = args.get_int("retry-base-ms", 1000, 0);
  auto seed = args.get_int("seed", -1, 0);
  auto temperature = args.get_double("temperature");
  auto top_p = args.get_double("top-p");
  auto timeout = args.get_double("timeout");
  for (const Status* s : {&repeats.status(), &concurrency.status(), &limit.status(),
                          &max_tokens.status(), &retries.status(), &retry_base.status(),
                          &seed.status(), &temperature.status(), &top_p.status(),
                          &timeout.status()})
    if (!s->ok()) return fail(s->message(), kExitBadInput);
  options.repeats = int(*repeats);
  options.concurrency = int(*concurrency);
  options.max_tokens = *max_tokens;
  options.max_retries = int(*retries);
  options.retry_base_s = double(*retry_base) / 1000.0;
  if (*seed >= 0) options.seed = uint64_t(*seed);
  options.temperature = *temperature;
  options.top_p = *top_p;
  if (*timeout) {
    if (**timeout <= 0) return fail("--timeout must be positive", kExitBadInput);
    options.attempt_timeout_s = **timeout;
  }
  if (options.temperature && (*options.temperature < 0))
    return fail("--temperature must be >= 0", kExitBadInput);
  if (options.top_p && (*options.top_p <= 0 || *options.top_p > 1))
    return fail("--top-p must be in (0, 1]", kExitBadInput);
  options.use_cache = !args.has("no-cache");
  if (auto shard = args.get("shard")) {
    auto parsed = parse_shard(*shard);
    if (!parsed.ok()) return fail(parsed.status().message(), kExitBadInput);
    options.shard_index = parsed->first;
    options.shard_count = parsed->second;
  }
  if (args.has("quiet")) {
    options.progress = RunnerOptions::Progress::kQuiet;
  } else if (auto p = args.get("progress")) {
    if (*p == "tty") options.progress = RunnerOptions::Progress::kTty;
    else if (*p == "lines") options.progress = RunnerOptions::Progress::kLines;
    else if (*p == "none") options.progress = RunnerOptions::Progress::kQuiet;
    else return fail("--progress must be tty, lines or none", kExitBadInput);
  }
  Json settings = settings_json(suite_specs, *backend_spec, judge_spec, options.modes, options);
  std::string run_name =
      args.get("run-name").value_or("run-" + sha256_hex(settings.dump()).substr(0, 12));
  // Every shard of a run has the same default name (the settings without the shard), and its
  // own file; `merge` joins them into the unsharded run.
  if (options.shard_count > 1)
    settings["shard"] = std::to_string(options.shard_index) + "/" + std::to_string(options.shard_count);

  // ---- suites, backend, store: every failure here happens before anything runs
  std::vector<std::unique_ptr<Suite>> suites;
  Json suite_versions = Json::object();
  for (const auto& spec : suite_specs) {
    auto suite = make_suite(spec);
    if (!suite.ok()) return fail(suite.status().message(), kExitBadInput);
    if (auto s = (*suite)->load(*limit); !s.ok()) return fail(s.message(), kExitBadInput);
    if ((*suite)->samples().empty())
      return fail("suite " + spec.to_string() + ": no samples after filtering", kExitBadInput);
    suite_versions[spec.kind] = {{"version", (*suite)->doc().version},
                                 {"data_hash", (*suite)->data_hash()}};
    if ((*suite)->needs_judge()) {
      if (!judge_spec)
        return fail("suite " + spec.kind + " is graded by a judge model: give --judge SPEC",
                    kExitBadInput);
      suite_versions[spec.kind]["judge_prompt_sha256"] = (*suite)->judge_prompt_hash();
      suite_versions[spec.kind]["judge_settings"] = (*suite)->judge_settings();
    }
    suites.push_back(std::move(suite.value()));
  }
  auto backend = make_backend(*backend_spec);
  if (!backend.ok()) return fail(backend.status().message(), kExitBadInput);
  BackendInfo info = (*backend)->info();
  for (Mode m : options.modes)
    if (std::find(info.modes.begin(), info.modes.end(), m) == info.modes.end())
      return fail("backend " + info.kind + " cannot serve mode " + std::string(mode_name(m)),
                  kExitBadInput);

  std::unique_ptr<Backend> judge;
  if (judge_spec) {
    auto j = make_backend(*judge_spec);
    if (!j.ok()) return fail("--judge: " + j.status().message(), kExitBadInput);
    judge = std::move(j.value());
  }

  // One sandbox for every suite that runs generated code, started before any attempt.
  std::unique_ptr<sandbox::Sandbox> code_sandbox;
  for (auto& suite : suites) {
    if (!suite->needs_sandbox()) continue;
    if (!code_sandbox) {
      sandbox::SandboxOptions sandbox_options;
      auto tier = sandbox::parse_tier_choice(args.get("sandbox").value_or("auto"));
      if (!tier.ok()) return fail("--sandbox: " + tier.status().message(), kExitBadInput);
      sandbox_options.tier = *tier;
      auto started = sandbox::Sandbox::start(sandbox_options);
      if (!started.ok())
        return fail("the sandbox could not be started (suite " + suite->doc().name +
                        " runs generated code): " + started.status().message(),
                    kExitBadInput);
      code_sandbox = std::move(started.value());
      std::fprintf(stderr, "v4eval: sandbox: %s, %d slots\n",
                   code_sandbox->tier().summary().c_str(), code_sandbox->slots());
    }
    suite->set_sandbox(code_sandbox.get());
  }

  std::string db_path = args.get("db").value_or("v4eval.sqlite");
  auto store = Store::open(db_path);
  if (!store.ok()) return fail(store.status().message(), kExitBadInput);
  // Judge calls go through the response cache: a resume or re-grade never asks twice.
  std::unique_ptr<CachingBackend> cached_judge;
  if (judge) {
    cached_judge = std::make_unique<CachingBackend>(*judge, **store);
    for (auto& suite : suites)
      if (suite->needs_judge()) suite->set_judge(cached_judge.get());
  }

  auto existing = (*store)->find_run(run_name);
  if (!existing.ok()) return fail(existing.status().message(), kExitBadInput);
  RunInfo run;
  if (existing->has_value()) {
    run = **existing;
    std::string diff = describe_difference(run.spec, settings);
    if (!diff.empty())
      return fail("run '" + run_name + "' already exists in " + db_path +
                      " with different settings; use another --run-name or the same settings:" +
                      diff,
                  kExitBadInput);
    for (auto& [name, v] : suite_versions.items()) {
      if (!run.suite_versions.contains(name)) continue;
      const Json& old = run.suite_versions[name];
      if (old != v)
        return fail("run '" + run_name + "': suite " + name +
                        " changed since the run started (stored version " +
                        old.value("version", "") + ", data " +
                        old.value("data_hash", "").substr(0, 12) + "; now version " +
                        v.value("version", "") + ", data " +
                        v.value("data_hash", "").substr(0, 12) + "); use another --run-name",
                    kExitBadInput);
    }
    std::fprintf(stderr, "v4eval: resuming run '%s' (id %lld) in %s\n", run_name.c_str(),
                 (long long)run.id, db_path.c_str());
  } else {
    run.name = run_name;
    run.spec = settings;
    run.suite_versions = suite_versions;
    run.backend = backend_spec->to_string();
    run.model = info.model;
    run.git_revision = version_string();
    run.host = host_name();
    run.started_at = now_iso8601();
    run.status = "running";
    auto created = (*store)->create_run(run);
    if (!created.ok()) return fail(created.status().message(), kExitBadInput);
    run = *created;
    std::fprintf(stderr, "v4eval: run '%s' (id %lld) in %s\n", run_name.c_str(),
                 (long long)run.id, db_path.c_str());
  }

  // ---- run
  install_signal_handlers();
  std::vector<Suite*> suite_ptrs;
  for (auto& s : suites) suite_ptrs.push_back(s.get());
  Runner runner(**store, **backend, suite_ptrs, options, &g_stop);
  RunSummary summary = runner.run(run.id);

  for (auto& [name, v] : suite_versions.items()) run.suite_versions[name] = v;
  int64_t graded = summary.already_done + summary.graded_now + summary.skipped_now;
  run.status = summary.interrupted ? "interrupted" : (graded == summary.total ? "complete" : "incomplete");
  run.finished_at = now_iso8601();
  Status updated = (*store)->update_run(run);
  Status metrics = updated.ok() ? refresh_metrics(**store, run) : updated;

  std::fprintf(stderr,
               "v4eval: %lld/%lld attempts graded (%lld now, %lld from the response cache, "
               "%lld backend calls), %lld errors in this invocation\n",
               (long long)graded, (long long)summary.total, (long long)summary.graded_now,
               (long long)summary.from_cache, (long long)summary.backend_calls,
               (long long)summary.errors_now);
  if (summary.skipped_now)
    std::fprintf(stderr, "v4eval: %lld attempts skipped (reasons stored; see report --samples)\n",
                 (long long)summary.skipped_now);
  if (!summary.store_failure.ok())
    return fail(summary.store_failure.message() +
                    "; finished attempts are stored, the rest will be redone on resume",
                kExitAttemptsFailed);
  if (!metrics.ok()) std::fprintf(stderr, "v4eval: warning: %s\n", metrics.message().c_str());
  std::fprintf(stderr, "v4eval: results in %s (run '%s'); report: v4eval report --db %s --run %s --json FILE\n",
               db_path.c_str(), run.name.c_str(), db_path.c_str(), run.name.c_str());
  if (summary.interrupted) {
    std::fprintf(stderr, "v4eval: interrupted; the same command resumes the run\n");
    return kExitInterrupted;
  }
  if (graded < summary.total) {
    std::fprintf(stderr,
                 "v4eval: %lld attempts ended as errors (stored; the same command retries them)\n",
                 (long long)(summary.total - graded));
    return kExitAttemptsFailed;
  }
  return kExitOk;
}

}  // namespace v4eval::cli
