#pragma once
// What the commands compute from the store: per-run, per-suite, per-mode metrics (through each
// suite's own aggregate), and the `report --json` document (cli.md).

#include <vector>

#include "harness/status.h"
#include "harness/types.h"
#include "reports/store.h"

namespace v4eval {

// Recomputes the metrics of every (suite, mode) of a run from its graded attempts and stores
// them in the metrics table.
Status refresh_metrics(Store& store, const RunInfo& run);

// The `report --json` object for the given runs; per-sample rows with `with_samples`.
Result<Json> report_json(Store& store, const std::vector<RunInfo>& runs, bool with_samples);

}  // namespace v4eval
