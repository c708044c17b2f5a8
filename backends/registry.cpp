// Maps a backend spec's kind to its implementation.
#include "backends/backend.h"
#include "backends/grpc/grpc_backend.h"
#include "backends/openai/openai_backend.h"
#include "backends/replay/replay_backend.h"
#include "backends/v4/v4_backend.h"

namespace v4eval {

Result<std::unique_ptr<Backend>> make_backend(const Spec& spec) {
  if (spec.kind == "replay") return make_replay_backend(spec);
  if (spec.kind == "openai" || spec.kind == "deepseek") return openai::make_openai_backend(spec);
  if (spec.kind == "grpc") return make_grpc_backend(spec);
  if (spec.kind == "v4") return make_v4_backend(spec);
  return InvalidArgument("unknown backend kind '" + spec.kind +
                         "' (known: replay, openai, deepseek, grpc, v4)");
}

}  // namespace v4eval
