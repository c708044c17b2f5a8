#pragma once
// A Backend decorator that answers from the store's response cache and fills it: judge calls
// are asked once, so re-grading or resuming never pays for them twice.

#include "backends/backend.h"
#include "reports/store.h"

namespace v4eval {

class CachingBackend final : public Backend {
 public:
  // Neither is owned; both must outlive this object.
  CachingBackend(Backend& inner, Store& store) : inner_(inner), store_(store), info_(inner.info()) {}

  BackendInfo info() const override { return info_; }
  Generation generate(const GenerationRequest& request, const CallContext& context) override;

 private:
  Backend& inner_;
  Store& store_;
  BackendInfo info_;
};

}  // namespace v4eval
