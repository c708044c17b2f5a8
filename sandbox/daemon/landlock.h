#pragma once
// Landlock (unprivileged file-system and TCP restrictions) for the weak tier (sandbox.md §3.3).
// Debian 12's headers know ABI <= 2; the newer constants are defined in landlock.cpp.

#include <string>
#include <vector>

#include "harness/status.h"

namespace v4eval::sandbox {

struct LandlockRules {
  std::vector<std::string> read_exec;         // directories: read and execute beneath
  std::vector<std::string> read_only;         // directories: read beneath
  std::vector<std::string> read_write;        // directories: everything beneath
  std::vector<std::string> read_write_files;  // single files (device nodes)
};

// The kernel's Landlock ABI version, 0 when unavailable.
int landlock_abi();
// A ruleset descriptor handling every file-system right of the running ABI (and TCP bind and
// connect from ABI 4, signal and abstract-socket scoping from ABI 6) with `rules` as the only
// exceptions. The child applies it with landlock_restrict_self after no_new_privs.
Result<int> landlock_ruleset(const LandlockRules& rules);

}  // namespace v4eval::sandbox
