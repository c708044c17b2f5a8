// Maps a backend spec's kind to its implementation.
#include "backends/backend.h"
#include "backends/grpc/grpc_backend.h"
#include "backends/openai/openai_backend.h"
#include "backends/replay/replay_backend.h"

namespace v4eval {

Result<std::unique_ptr<Backend>> make_backend(const Spec& spec) {
  if (spec.kind == "replay") return make_replay_backend(spec);
  if (spec.kind == "openai" || spec.kind == "deepseek") return openai::make_openai_backend(spec);
  if (spec.kind == "grpc") return make_grpc_backend(spec);
  if (spec.kind == "v4")
    return InvalidArgument("backend '" + spec.kind + "' is not built into this version yet "
                           "(available: replay, openai, deepseek, grpc)");
  return InvalidArgument("unknown backend kind '" + spec.kind +
                         "' (known: replay, openai, deepseek, grpc; planned: v4)");
}

}  // namespace v4eval
