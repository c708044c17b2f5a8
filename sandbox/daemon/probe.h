#pragma once
// Capability detection at launcher start-up (sandbox.md §3, §10.1): which namespaces can be
// created, whether cgroups are writable under our own cgroup, seccomp, Landlock; and the tier
// that follows from them and from the operator's choice.

#include <linux/filter.h>

#include <string>
#include <vector>

#include "sandbox/daemon/cgroups.h"
#include "sandbox/sandbox.h"

namespace v4eval::sandbox {

struct ProbeResult {
  bool ok = false;
  std::string error;  // !ok: why no acceptable tier works
  TierReport report;
  CgroupLayout cgroups;
};

// `deny` names tiers to treat as unavailable (tests of the refusal path).
ProbeResult probe_tier(TierChoice choice, const std::vector<std::string>& deny,
                       const std::vector<sock_filter>& seccomp_filter);

}  // namespace v4eval::sandbox
