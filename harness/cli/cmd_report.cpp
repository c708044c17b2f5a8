// `v4eval report`: aggregate runs into metrics with confidence intervals (cli.md, "report").

#include <cstdio>
#include <fstream>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/evaluation.h"
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

int cmd_report(const Argv& argv) {
  Args args("report", "[--db FILE] [--run NAME ...] [--json FILE] [--samples]",
            {
                {"db", "FILE", "SQLite store (default ./v4eval.sqlite)"},
                {"run", "NAME", "run to report (default: every run in the file)", true},
                {"json", "FILE", "write the machine-readable report here ('-' for stdout)"},
                {"samples", "", "include per-sample rows (score, verdict, error, details)"},
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
  auto report = report_json(**store, *runs, args.has("samples"));
  if (!report.ok()) return fail(report.status().message(), kExitFailure);

  if (auto path = args.get("json")) {
    if (*path == "-") {
      std::printf("%s\n", report->dump(2).c_str());
    } else {
      std::ofstream out(*path);
      out << report->dump(2) << "\n";
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
      }
      std::printf("\n");
    }
  }
  return kExitOk;
}

}  // namespace v4eval::cli
