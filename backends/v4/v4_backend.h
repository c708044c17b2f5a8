#pragma once
// `v4:checkpoint=DIR[,device=cpu|cuda][,max_context=N][,max_tokens=N]`: the built-in
// DeepSeek-V4 engine as a Backend (cli.md). Renders the chat prompt (v4-model.md §5.2),
// tokenizes it with the checkpoint's tokenizer.json, generates on the CPU reference path and
// splits reasoning from the answer.
//
// One model and one sequence per backend: generate() is serialised by a mutex (calls from the
// runner's threads queue up; the ops use the cores inside each call).

#include <memory>

#include "backends/backend.h"

namespace v4eval {

// Loads and validates the checkpoint. Errors: InvalidArgument (an unknown or bad option,
// device=cuda), NotFound / DataError (checkpoint or tokenizer.json missing or malformed).
Result<std::unique_ptr<Backend>> make_v4_backend(const Spec& spec);

// Mode think-max needs at least this context window (the V4 README asks for >= 384K).
inline constexpr int64_t kThinkMaxMinContext = 384 * 1024;

}  // namespace v4eval
