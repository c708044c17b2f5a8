#pragma once
// A slot worker: one process per slot, forked by the launcher, single-threaded. It owns the
// slot's two cells and serves judge requests from the harness one at a time: compile (cached
// by content hash, in the sandbox, with its own limits), run the tests back to back, compare
// or run the checker/interactor, retry internal errors (sandbox.md §5, §6.3, §7).

#include <linux/filter.h>

#include <string>
#include <vector>

#include "sandbox/daemon/cgroups.h"
#include "sandbox/sandbox.h"

namespace v4eval::sandbox {

// Cells per slot: 0 runs solutions, 1 compiles and runs checkers and interactors, 2 holds the
// LiveCodeBench zygote (a warm interpreter that forks one child per generation).
constexpr int kCells = 3;

struct WorkerConfig {
  Tier tier = Tier::kFull;
  int slot = 0;
  std::string slot_dir;      // <runtime>/slot<k>: cell0/ .. cell2/ inside
  std::string binary_cache;  // compiled programs of this launcher (shared by slots)
  CgroupLayout cgroups;
  std::string cgroup_prefix;  // "v4eval-<launcher pid>"
  uid_t cell_uid[kCells] = {};
  gid_t cell_gid[kCells] = {};
  bool lcb_zygote = true;  // full tier: LCB modes fork generations from a warm interpreter
  int pch_dir_fd = -1;     // precompiled-header directory (may still be empty)
  std::string pch_host_path;
  int cpu = -1;                                       // pin programs of this slot to this CPU
  const std::vector<sock_filter>* seccomp = nullptr;  // null: no seccomp layer
};

// Serves requests on `sock` until it closes. Returns the process exit code.
int worker_main(const WorkerConfig& config, int sock);

}  // namespace v4eval::sandbox
