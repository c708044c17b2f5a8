// Maps a backend spec's kind to its implementation.
#include "backends/backend.h"
#include "backends/replay/replay_backend.h"

namespace v4eval {

Result<std::unique_ptr<Backend>> make_backend(const Spec& spec) {
  if (spec.kind == "replay") return make_replay_backend(spec);
  if (spec.kind == "openai" || spec.kind == "deepseek" || spec.kind == "grpc" || spec.kind == "v4")
    return InvalidArgument("backend '" + spec.kind + "' is not built into this version yet "
                           "(available: replay)");
  return InvalidArgument("unknown backend kind '" + spec.kind +
                         "' (known: replay; planned: openai, deepseek, grpc, v4)");
}

}  // namespace v4eval
