#pragma once
// `replay:file=FILE.jsonl`: answers from recorded generations (cli.md, "Replay file").

#include <memory>
#include <string>

#include "backends/backend.h"

namespace v4eval {

// Loads the whole file up front; errors name the file and line. Options: `file` (required),
// `model` (a label for reports, default "replay"), `delay_ms` (simulated latency per call).
Result<std::unique_ptr<Backend>> make_replay_backend(const Spec& spec);

}  // namespace v4eval
