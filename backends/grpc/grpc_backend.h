#pragma once
// `grpc:addr=HOST:PORT`: a model served by `v4eval serve --grpc` elsewhere (backends/grpc/
// v4eval.proto). Asks the server's Info at creation (model, context window, modes, identity),
// then streams each Generate with a deadline, cancellation and optional retries.

#include <memory>

#include "backends/backend.h"

namespace v4eval {

// Options: addr=HOST:PORT (required), api_key_env=VAR (sent as "authorization: Bearer"),
// tls=true|false (default false), ca_file=PATH, timeout_s (cap per call; default the caller's
// deadline), connect_timeout_s (default 10, also bounds the Info call at creation),
// retries=N (default 0: the runner retries), retry_base_ms (default 500),
// max_message_mb (default 256). Creation fails when the server cannot be reached.
// The backend also implements StreamingBackend.
Result<std::unique_ptr<Backend>> make_grpc_backend(const Spec& spec);

}  // namespace v4eval
