#pragma once
// The optional extension a Backend implements to hand out text while it is being generated.
// `v4eval serve` streams those pieces to its clients (SSE, gRPC deltas); for a backend without
// it the whole answer goes out in one piece once generate() returns.

#include <functional>
#include <string>

#include "backends/backend.h"

namespace v4eval {

struct GenerationDelta {
  std::string text;       // answer text since the last delta
  std::string reasoning;  // reasoning text since the last delta
};

// Called in generation order, from a thread the backend chooses (often its I/O thread), so it
// must not block: queue the piece and return.
using DeltaSink = std::function<void(const GenerationDelta&)>;

class StreamingBackend {
 public:
  virtual ~StreamingBackend() = default;
  // As Backend::generate, calling `on_delta` for each piece before returning the whole
  // generation (which stays the authority: deltas are a preview and may be retracted by an
  // error). `on_delta` may be empty.
  virtual Generation generate_streaming(const GenerationRequest& request,
                                        const CallContext& context, const DeltaSink& on_delta) = 0;
};

}  // namespace v4eval
