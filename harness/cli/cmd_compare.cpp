// `v4eval compare`: two runs, or two modes of one run, side by side, paired per sample, with
// intervals, p-values (Holm-adjusted) and flipped samples (cli.md, "compare").

#include <cstdio>
#include <fstream>
#include <memory>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/evaluation.h"
#include "reports/comparison.h"
#include "reports/store.h"

namespace v4eval::cli {

// A run named on the command line: `NAME` (in --db), `FILE` (the file's only run) or
// `FILE:NAME`. Keeps its store open (the data refers to nothing in it, but the HTML report and
// callers may read prompts).
struct LoadedRun {
  std::unique_ptr<Store> store;
  RunData data;
};

bool is_sqlite_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[16] = {0};
  if (!in.read(head, sizeof head)) return false;
  return std::string(head, 15) == "SQLite format 3";
}

Result<LoadedRun> load_run_ref(const std::string& ref, const std::string& default_db) {
  std::string db = default_db, name = ref, label = ref;
  bool from_file = false;
  if (is_sqlite_file(ref)) {
    db = ref;
    name.clear();
    from_file = true;
  } else if (auto colon = ref.rfind(':'); colon != std::string::npos && colon > 0 &&
                                         is_sqlite_file(ref.substr(0, colon))) {
    db = ref.substr(0, colon);
    name = ref.substr(colon + 1);
    from_file = true;
  }
  if (!from_file && !is_sqlite_file(db)) {
    std::ifstream probe(db);
    return InvalidArgument("run '" + ref + "': " +
                           (probe ? db + " is not a v4eval database"
                                  : "no such file, and no database " + db +
                                        " to look the name up in (--db FILE)"));
  }
  auto store = Store::open(db, /*read_only=*/true);
  if (!store.ok()) return store.status();
  RunInfo run;
  if (name.empty()) {
    auto runs = (*store)->runs();
    if (!runs.ok()) return runs.status();
    if (runs->empty()) return InvalidArgument(db + " holds no run");
    if (runs->size() > 1) {
      std::string names;
      for (const auto& r : *runs) names += (names.empty() ? "" : ", ") + r.name;
      return InvalidArgument(db + " holds several runs (" + names + "): name one as " + db + ":NAME");
    }
    run = runs->front();
    label = db + ":" + run.name;
  } else {
    auto found = (*store)->find_run(name);
    if (!found.ok()) return found.status();
    if (!found->has_value()) {
      auto runs = (*store)->runs();
      std::string names;
      if (runs.ok())
        for (const auto& r : *runs) names += (names.empty() ? "" : ", ") + r.name;
      return InvalidArgument("no run named '" + name + "' in " + db +
                             (names.empty() ? "" : " (runs: " + names + ")"));
    }
    run = **found;
    label = from_file ? db + ":" + run.name : run.name;
  }
  auto data = load_run_data(**store, run, label, false);
  if (!data.ok()) return data.status();
  return LoadedRun{std::move(store.value()), std::move(data.value())};
}

// "non-think,think-max" -> modes; an error names the bad one.
Result<std::vector<Mode>> parse_mode_list(const std::string& flag, const std::string& text) {
  std::vector<Mode> out;
  size_t pos = 0;
  while (true) {
    size_t comma = text.find(',', pos);
    std::string name = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    auto m = parse_mode(name);
    if (!m)
      return InvalidArgument("--" + flag + ": unknown mode '" + name +
                             "' (non-think, think-high, think-max)");
    out.push_back(*m);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

int cmd_compare(const Argv& argv) {
  Args args("compare",
            "A B [--db FILE] [--metric [SUITE:]NAME ...] [--json]\n"
            "       v4eval compare --modes M1,M2 [RUN] [--db FILE] ...\n\n"
            "Runs are NAME (in --db), FILE.sqlite (its only run) or FILE.sqlite:NAME. B is\n"
            "compared against A (delta = B - A), sample by sample: McNemar's exact test for\n"
            "pass/fail scores, a paired bootstrap for continuous ones; p-values Holm-adjusted over\n"
            "the rows. Exit 0, or 3 when the runs are not comparable (the table still prints).",
            {
                {"db", "FILE", "SQLite store run names are looked up in (default ./v4eval.sqlite)"},
                {"modes", "M1,M2", "compare two modes of one run (M2 against M1)"},
                {"suite", "NAME", "only this suite", true},
                {"mode", "M1,M2", "run-vs-run: only these modes (default every common mode)"},
                {"metric", "[SUITE:]NAME", "metric to compare (default: each suite's headline)", true},
                {"all-metrics", "", "every metric both sides have (Holm over all rows)"},
                {"flips", "N", "flipped sample ids listed per row (default 10; 0: none)"},
                {"bootstrap", "N", "paired bootstrap replicates (default 10000)"},
                {"json", "", "print the comparison as JSON (rows, tests, flipped samples)"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  std::string db = args.get("db").value_or("v4eval.sqlite");
  auto flips = args.get_int("flips", 10, 0);
  auto resamples = args.get_int("bootstrap", 10000, 100);
  for (const Status* s : {&flips.status(), &resamples.status()})
    if (!s->ok()) return fail(s->message(), kExitBadInput);
  CompareOptions options;
  options.suites = args.all("suite");
  options.metrics = args.all("metric");
  options.all_metrics = args.has("all-metrics");
  options.paired.resamples = int(*resamples);
  if (auto m = args.get("mode")) {
    auto modes = parse_mode_list("mode", *m);
    if (!modes.ok()) return fail(modes.status().message(), kExitBadInput);
    options.modes = *modes;
  }
  const auto& pos = args.positional();
  Comparison comparison;
  if (auto modes_flag = args.get("modes")) {
    auto modes = parse_mode_list("modes", *modes_flag);
    if (!modes.ok()) return fail(modes.status().message(), kExitBadInput);
    if (modes->size() != 2 || (*modes)[0] == (*modes)[1])
      return fail("--modes takes two different modes, e.g. --modes non-think,think-max", kExitBadInput);
    if (pos.size() > 1) return fail("compare --modes takes at most one run", kExitBadInput);
    std::string ref = pos.empty() ? db : pos[0];
    auto run = load_run_ref(ref, db);
    if (!run.ok()) return fail(run.status().message(), kExitBadInput);
    comparison = compare_modes(run->data, (*modes)[0], (*modes)[1], options);
  } else {
    if (pos.size() != 2)
      return fail("compare needs two runs (A B), or --modes M1,M2 [RUN] (see v4eval compare --help)",
                  kExitBadInput);
    auto a = load_run_ref(pos[0], db);
    if (!a.ok()) return fail(a.status().message(), kExitBadInput);
    auto b = load_run_ref(pos[1], db);
    if (!b.ok()) return fail(b.status().message(), kExitBadInput);
    comparison = compare_runs(a->data, b->data, options);
  }
  for (const auto& m : options.metrics) {
    std::string name = m.substr(m.find(':') == std::string::npos ? 0 : m.find(':') + 1);
    bool found = false;
    for (const auto& r : comparison.rows) found = found || r.metric == name;
    if (!found && comparison.comparability.comparable())
      return fail("--metric " + m + ": no such metric on both sides", kExitBadInput);
  }
  if (args.has("json"))
    std::printf("%s\n", comparison_to_json(comparison).dump(2).c_str());
  else
    std::fputs(comparison_to_text(comparison, int(*flips)).c_str(), stdout);
  if (!comparison.comparability.comparable()) {
    for (const auto& d : comparison.comparability.differences)
      std::fprintf(stderr, "v4eval: not comparable: %s\n", d.c_str());
    return kExitNotComparable;
  }
  return kExitOk;
}

}  // namespace v4eval::cli
