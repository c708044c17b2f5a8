// `v4eval report`: aggregate runs into metrics with confidence intervals (cli.md, "report").

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/evaluation.h"
#include "reports/html_report.h"
#include "reports/store.h"

namespace v4eval::cli {

// Opens the store read-only and selects runs by name (all when none named).
Result<std::vector<RunInfo>> select_runs(Store& store, const std::vector<std::string>& names) {
  if (names.empty()) return store.runs();
  std::vector<RunInfo> out;
  for (const auto& name : names) {
    auto run = store.find_run(name);
    if (!run.ok()) return run.status();
    if (!run->has_value()) return NotFound("no run named '" + name + "' in " + store.path());
    out.push_back(**run);
  }
  return out;
}

namespace {

// The HTML report: every selected run with its attempts, run-vs-run comparisons (all pairs up to
// eight runs, else consecutive ones) and mode-vs-mode comparisons within each run.
Status write_html(Store& store, const std::vector<RunInfo>& runs, const std::string& path,
                  const HtmlOptions& options) {
  if (runs.empty()) return InvalidArgument("no runs in " + store.path());
  std::vector<RunData> data;
  data.reserve(runs.size());
  for (const auto& run : runs) {
    auto d = load_run_data(store, run, run.name, /*keep_attempts=*/true);
    if (!d.ok()) return d.status();
    data.push_back(std::move(d.value()));
  }
  CompareOptions co;
  co.paired.resamples = 2000;
  std::vector<Comparison> comparisons;
  for (size_t i = 0; i < data.size(); ++i)
    for (size_t j = i + 1; j < data.size(); ++j) {
      if (data.size() > 8 && j != i + 1) continue;
      Comparison c = compare_runs(data[i], data[j], co);
      if (!c.rows.empty()) comparisons.push_back(std::move(c));
    }
  const Mode all[] = {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax};
  for (const auto& d : data)
    for (Mode a : all)
      for (Mode b : all) {
        if (int(b) <= int(a)) continue;
        bool has_a = false, has_b = false;
        for (const auto& s : d.suites) {
          has_a = has_a || s.mode == a;
          has_b = has_b || s.mode == b;
        }
        if (!has_a || !has_b) continue;
        Comparison c = compare_modes(d, a, b, co);
        if (!c.rows.empty()) comparisons.push_back(std::move(c));
      }
  std::vector<HtmlRun> html_runs;
  for (auto& d : data) {
    auto shards = store.run_shards(d.info.id);
    if (!shards.ok()) return shards.status();
    html_runs.push_back({&d, &store, *shards});
  }
  auto stats = write_html_report(path, html_runs, comparisons, options);
  if (!stats.ok()) return stats.status();
  std::fprintf(stderr, "v4eval: HTML report written to %s (%.1f MB, %zu attempts, %zu prompts)\n",
               path.c_str(), double(stats->bytes) / 1e6, stats->attempts, stats->prompts);
  return Status::Ok();
}

}  // namespace

int cmd_report(const Argv& argv) {
  Args args("report", "[--db FILE] [--run NAME ...] [--json FILE] [--samples] [--html FILE]",
            {
                {"db", "FILE", "SQLite store (default ./v4eval.sqlite)"},
                {"run", "NAME", "run to report (default: every run in the file)", true},
                {"json", "FILE", "write the machine-readable report here ('-' for stdout)"},
                {"samples", "", "include per-sample rows (score, verdict, error, details)"},
                {"html", "FILE", "write a self-contained HTML report: overview, transcripts, "
                                 "filters, run-vs-run and mode-vs-mode diffs, plots"},
                {"title", "TEXT", "title of the HTML report (default: v4eval report)"},
                {"prompt-bytes", "N", "HTML: prompts up to N bytes are embedded whole, longer "
                                      "ones summarised (default 16384)"},
                {"compression", "LEVEL", "HTML: zlib level of the embedded data, 1 (fastest) to 9 "
                                         "(smallest); default 6"},
                {"text-bytes", "N", "HTML: answers and reasoning beyond N bytes keep their head "
                                    "and tail (default 32768)"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  std::string db_path = args.get("db").value_or("v4eval.sqlite");
  if (FILE* f = std::fopen(db_path.c_str(), "rb")) {
    std::fclose(f);
  } else {
    return fail("database " + db_path + " does not exist or is unreadable", kExitBadInput);
  }
  auto store = Store::open(db_path, /*read_only=*/true);
  if (!store.ok()) return fail(store.status().message(), kExitBadInput);
  auto runs = select_runs(**store, args.all("run"));
  if (!runs.ok()) return fail(runs.status().message(), kExitBadInput);
  if (auto html = args.get("html")) {
    auto prompt_bytes = args.get_int("prompt-bytes", 16384, 256);
    auto text_bytes = args.get_int("text-bytes", 32768, 256);
    for (const Status* st : {&prompt_bytes.status(), &text_bytes.status()})
      if (!st->ok()) return fail(st->message(), kExitBadInput);
    HtmlOptions options;
    options.title = args.get("title").value_or("v4eval report");
    options.generator = version_string();
    options.prompt_full_bytes = size_t(*prompt_bytes);
    options.prompt_summary_bytes = std::min<size_t>(options.prompt_full_bytes, 6144);
    options.text_bytes = size_t(*text_bytes);
    auto level = args.get_int("compression", 6, 1);
    if (!level.ok() || *level > 9) return fail("--compression must be 1..9", kExitBadInput);
    options.zlib_level = int(*level);
    if (auto s = write_html(**store, *runs, *html, options); !s.ok())
      return fail(s.message(), s.code() == StatusCode::kIoError ? kExitFailure : kExitBadInput);
    if (!args.get("json")) return kExitOk;
  }
  auto report = report_json(**store, *runs, args.has("samples"));
  if (!report.ok()) return fail(report.status().message(), kExitFailure);

  if (auto path = args.get("json")) {
    if (*path == "-") {
      std::printf("%s\n", json_text(*report, 2).c_str());
    } else {
      std::ofstream out(*path);
      out << json_text(*report, 2) << "\n";
      out.close();
      if (!out) return fail("cannot write " + *path, kExitFailure);
      std::fprintf(stderr, "v4eval: report written to %s\n", path->c_str());
    }
    return kExitOk;
  }
  // Human-readable summary: headline metric per run, suite and mode.
  for (const auto& run : (*report)["runs"]) {
    std::printf("run %s (id %lld, %s, %s)\n", run["name"].get<std::string>().c_str(),
                (long long)run["id"].get<int64_t>(), run["backend"].get<std::string>().c_str(),
                run["status"].get<std::string>().c_str());
    for (const auto& s : run["suites"]) {
      std::printf("  %-14s %-10s samples %-6lld attempts %-6lld errors %-5lld",
                  s["suite"].get<std::string>().c_str(), s["mode"].get<std::string>().c_str(),
                  (long long)s["n_samples"].get<int64_t>(), (long long)s["n_attempts"].get<int64_t>(),
                  (long long)s["n_errors"].get<int64_t>());
      if (s["metrics"].contains("score")) {
        const auto& m = s["metrics"]["score"];
        std::printf(" score %.4f [%.4f, %.4f] n=%lld", m["value"].get<double>(),
                    m["ci_low"].get<double>(), m["ci_high"].get<double>(),
                    (long long)m["n"].get<int64_t>());
        if (m.value("small_n", false)) std::printf(" (n too small to separate runs)");
      }
      std::printf("\n");
    }
  }
  return kExitOk;
}

}  // namespace v4eval::cli
