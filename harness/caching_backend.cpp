#include "harness/caching_backend.h"

#include "harness/runner.h"

namespace v4eval {

Generation CachingBackend::generate(const GenerationRequest& request, const CallContext& context) {
  std::string key = request_hash(info_, prompt_hash(*request.messages), request);
  if (auto cached = store_.cached_generation(key); cached.ok() && cached->has_value())
    return **cached;
  Generation g = inner_.generate(request, context);
  if (!g.error && !g.text.empty()) {
    // A failed cache write only costs a repeated call later; the grade itself is unaffected.
    (void)store_.cache_generation(key, g);
  }
  return g;
}

}  // namespace v4eval
