// `v4eval gate`: CI regression check of a candidate run against a baseline run or a JSON file
// of expected values (cli.md, "gate"). Exit 0 pass, 1 regression, 2 bad arguments, 3 the runs
// are not comparable.

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/evaluation.h"
#include "reports/gate.h"
#include "reports/store.h"

namespace v4eval::cli {

struct LoadedRun {
  std::unique_ptr<Store> store;
  RunData data;
};
Result<LoadedRun> load_run_ref(const std::string& ref, const std::string& default_db);
Result<std::vector<Mode>> parse_mode_list(const std::string& flag, const std::string& text);
bool is_sqlite_file(const std::string& path);

namespace {

Status write_file(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::fputs(text.c_str(), stdout);
    return Status::Ok();
  }
  // Written beside and renamed, so a CI step never picks up half a file.
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    out.close();
    if (!out) return IoError("cannot write " + path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return IoError("cannot write " + path);
  return Status::Ok();
}

// A baseline file of expected values: JSON (an object) rather than a database.
Result<std::optional<Json>> read_expected(const std::string& path) {
  if (is_sqlite_file(path)) return std::optional<Json>();
  std::ifstream in(path);
  if (!in) return std::optional<Json>();
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') return std::optional<Json>();
  try {
    return std::optional<Json>(Json::parse(text));
  } catch (const Json::parse_error& e) {
    return InvalidArgument("--baseline " + path + ": malformed JSON: " + e.what());
  }
}

}  // namespace

int cmd_gate(const Argv& argv) {
  Args args("gate",
            "--baseline RUN|FILE.json --candidate RUN [--metric SUITE:METRIC ...] [--max-drop X]\n"
            "       [--alpha A] [--junit FILE] [--markdown FILE] [--json]\n\n"
            "Fails (exit 1) when a gated metric drops by more than --max-drop with statistical\n"
            "support: a one-sided paired test per metric (McNemar exact, or Tango's score test\n"
            "with a margin, for pass/fail; paired bootstrap otherwise), Holm-adjusted over the\n"
            "gated metrics. Exit 0 pass, 1 regression, 2 bad arguments, 3 not comparable (suite\n"
            "version, data, prompts, judge or sampling settings differ). Runs are NAME (in --db),\n"
            "FILE.sqlite or FILE.sqlite:NAME; a JSON baseline holds expected values:\n"
            "  {\"metrics\": [{\"suite\": \"mrcr\", \"mode\": \"non-think\", \"metric\": \"score\",\n"
            "                \"value\": 0.62, \"max_drop\": 0.03}], \"suites\": {...}, \"settings\": {...}}\n"
            "(--write-baseline FILE writes one from --candidate).",
            {
                {"baseline", "RUN|FILE.json", "the reference: a run, or a JSON file of expected values"},
                {"candidate", "RUN", "the run under test"},
                {"db", "FILE", "SQLite store run names are looked up in (default ./v4eval.sqlite)"},
                {"metric", "SUITE:METRIC", "metric to gate (default: each suite's headline)", true},
                {"mode", "M1,M2", "only these modes (default: every mode the baseline has)"},
                {"max-drop", "X", "allowed drop, absolute (0.02 = 2 points; default 0)"},
                {"alpha", "A", "one-sided significance level, family-wise (default 0.05)"},
                {"junit", "FILE", "write JUnit XML: one test case per gated metric"},
                {"markdown", "FILE", "write a Markdown summary (for a pull-request comment)"},
                {"json", "", "print the decision as JSON on stdout instead of text"},
                {"bootstrap", "N", "paired bootstrap replicates (default 10000)"},
                {"write-baseline", "FILE", "write the candidate's values as a JSON baseline and exit"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  if (!args.positional().empty())
    return fail("gate: unexpected argument '" + args.positional()[0] + "'", kExitBadInput);
  GateOptions options;
  options.metrics = args.all("metric");
  auto max_drop = args.get_double("max-drop");
  auto alpha = args.get_double("alpha");
  auto resamples = args.get_int("bootstrap", 10000, 100);
  for (const Status* s : {&max_drop.status(), &alpha.status(), &resamples.status()})
    if (!s->ok()) return fail(s->message(), kExitBadInput);
  if (*max_drop) {
    if (**max_drop < 0 || **max_drop >= 1)
      return fail("--max-drop must be in [0, 1) (absolute, 0.02 = 2 points)", kExitBadInput);
    options.max_drop = **max_drop;
  }
  if (*alpha) {
    if (**alpha <= 0 || **alpha >= 0.5) return fail("--alpha must be in (0, 0.5)", kExitBadInput);
    options.alpha = **alpha;
  }
  options.resamples = int(*resamples);
  if (auto m = args.get("mode")) {
    auto modes = parse_mode_list("mode", *m);
    if (!modes.ok()) return fail(modes.status().message(), kExitBadInput);
    options.modes = *modes;
  }
  for (const auto& m : options.metrics)
    if (m.empty() || m.back() == ':') return fail("--metric: expected SUITE:METRIC, got '" + m + "'", kExitBadInput);
  std::string db = args.get("db").value_or("v4eval.sqlite");

  if (auto out = args.get("write-baseline")) {
    if (!args.get("candidate")) return fail("gate --write-baseline needs --candidate RUN", kExitBadInput);
    auto run = load_run_ref(*args.get("candidate"), db);
    if (!run.ok()) return fail(run.status().message(), kExitBadInput);
    Json expected = expected_values_of(run->data, options);
    if (expected["metrics"].empty()) return fail("gate: no metric to write", kExitBadInput);
    if (auto s = write_file(*out, expected.dump(2) + "\n"); !s.ok()) return fail(s.message(), kExitFailure);
    std::fprintf(stderr, "v4eval: wrote %zu expected values to %s\n", expected["metrics"].size(), out->c_str());
    return kExitOk;
  }
  if (!args.get("baseline") || !args.get("candidate"))
    return fail("gate needs --baseline and --candidate (see v4eval gate --help)", kExitBadInput);

  auto candidate = load_run_ref(*args.get("candidate"), db);
  if (!candidate.ok()) return fail("--candidate: " + candidate.status().message(), kExitBadInput);
  std::string baseline_ref = *args.get("baseline");
  auto expected = read_expected(baseline_ref);
  if (!expected.ok()) return fail(expected.status().message(), kExitBadInput);
  GateResult result;
  if (expected->has_value()) {
    auto r = gate_expected(**expected, baseline_ref, candidate->data, options);
    if (!r.ok()) return fail(r.status().message(), kExitBadInput);
    result = std::move(r.value());
  } else {
    auto baseline = load_run_ref(baseline_ref, db);
    if (!baseline.ok()) return fail("--baseline: " + baseline.status().message(), kExitBadInput);
    result = gate_runs(baseline->data, candidate->data, options);
  }

  // The reports are written whatever the decision, so CI can show why it failed.
  if (auto path = args.get("junit"))
    if (auto s = write_file(*path, gate_junit(result)); !s.ok()) return fail(s.message(), kExitFailure);
  if (auto path = args.get("markdown"))
    if (auto s = write_file(*path, gate_markdown(result)); !s.ok()) return fail(s.message(), kExitFailure);
  if (args.has("json"))
    std::printf("%s\n", gate_json(result).dump(2).c_str());
  else
    std::fputs(gate_text(result).c_str(), stdout);
  int code = result.exit_code();
  for (const auto& b : result.bad_arguments) std::fprintf(stderr, "v4eval: %s\n", b.c_str());
  if (code == 3)
    for (const auto& d : result.comparability.differences)
      std::fprintf(stderr, "v4eval: not comparable: %s\n", d.c_str());
  return code;
}

}  // namespace v4eval::cli
