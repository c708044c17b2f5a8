#pragma once
// What the commands compute from the store: per-run, per-suite, per-mode metrics (through each
// suite's own aggregate), and the `report --json` document (cli.md).

#include <vector>

#include "harness/status.h"
#include "harness/types.h"
#include "reports/run_data.h"
#include "reports/store.h"

namespace v4eval {

// Recomputes the metrics of every (suite, mode) of a run from its graded attempts and stores
// them in the metrics table.
Status refresh_metrics(Store& store, const RunInfo& run);

// Everything reports/ needs to compare, gate or render a run: per (suite, mode) the suite's
// metrics with intervals, each metric decomposed per sample (by aggregating each sample's
// attempts alone; kept only where the parts average to the whole), counts, prompt hashes and
// token/latency summaries. `label` names the run in messages. With `keep_attempts` the
// attempts themselves are kept too (the HTML report shows them).
Result<RunData> load_run_data(Store& store, const RunInfo& run, const std::string& label,
                              bool keep_attempts = false);

// The `report --json` object for the given runs; per-sample rows with `with_samples`.
Result<Json> report_json(Store& store, const std::vector<RunInfo>& runs, bool with_samples);

}  // namespace v4eval
