#pragma once
// cgroup back-ends behind one interface (sandbox.md §4.6, §4.7): v2 (memory.max, memory.peak,
// memory.events, pids.max, cpu.stat, joined by CLONE_INTO_CGROUP), v1 (memory + memsw, pids,
// cpuacct, joined by writing cgroup.procs from the child) and hybrid (v1 controllers, v2 core
// files for CPU time when cpuacct is absent). Cgroups are created under the launcher's own
// cgroup, never at the root, as `v4eval-<launcher pid>/s<slot>c<cell>`.

#include <string>
#include <vector>

#include "harness/status.h"
#include "sandbox/daemon/sys.h"

namespace v4eval::sandbox {

struct CgroupLayout {
  enum class Mode { kNone, kV1, kHybrid, kV2 };
  Mode mode = Mode::kNone;
  // The launcher's own cgroup in each hierarchy we use (v2: memory/pids/cpu all = unified).
  std::string memory_base, pids_base, cpu_base;
  bool cpu_v2 = false;            // CPU time from cpu.stat (v2 core) rather than cpuacct.usage
  std::string mode_name() const;  // "v2", "v1", "hybrid", "none"
};

// Finds the hierarchies and checks that we may create cgroups and set limits under our own
// cgroup (v2: enables memory and pids in the subtree, moving processes of our cgroup into a
// leaf `v4eval-host` when the no-internal-process rule requires it). Notes say what was done
// or why cgroups are unusable.
CgroupLayout detect_cgroups(std::vector<std::string>* notes);

// Removes `v4eval-<pid>` cgroups whose launcher is dead (killing anything left inside).
void collect_stale_cgroups(const CgroupLayout& layout);

// The cgroup of one cell. Created by the launcher (create_dirs), opened by the worker (open).
class CellCgroup {
 public:
  CellCgroup() = default;
  CellCgroup(const CgroupLayout& layout, std::string relative_name);

  Status create_dirs();  // launcher
  Status open();         // worker: opens the files it polls and the join handles
  void remove_dirs();    // launcher at shutdown: kill leftovers, wait, rmdir

  // Sets memory (+swap) and process limits; cheap when unchanged.
  Status set_limits(int64_t memory_bytes, int32_t max_processes);
  // Resets the peak and records the counters' baselines. Call with the cgroup empty.
  Status before_run();
  struct Usage {
    int64_t cpu_us = 0;
    int64_t peak_bytes = 0;
    bool oom_killed = false;
    bool ok = true;  // false: a counter could not be read (the run becomes IE)
    std::string error;
  };
  int64_t cpu_us_since_start();  // while running (polling); -1 if unreadable
  Usage after_run();             // after the init is reaped

  // v1/hybrid: descriptors of cgroup.procs the child writes "0" to (joins itself).
  const std::vector<int>& join_fds() const { return join_fds_; }
  // v2: the directory descriptor for CLONE_INTO_CGROUP, else -1.
  int clone_into_fd() const { return mode_ == CgroupLayout::Mode::kV2 ? dir_fd_.get() : -1; }
  bool wait_empty(int timeout_ms);
  std::string describe();  // processes and counters, for error messages

 private:
  int64_t read_cpu_us();
  Status recreate_v2();
  CgroupLayout::Mode mode_ = CgroupLayout::Mode::kNone;
  std::string memory_dir_, pids_dir_, cpu_dir_;
  bool cpu_v2_ = false;
  sys::Fd dir_fd_;  // v2
  sys::Fd cpu_fd_, peak_fd_, events_fd_;
  std::vector<sys::Fd> join_owned_;
  std::vector<int> join_fds_;
  bool has_memsw_ = false, peak_resettable_ = true;
  int64_t memory_limit_ = -1;
  int32_t pids_limit_ = -1;
  int64_t cpu_base_us_ = 0, oom_base_ = 0;
};

}  // namespace v4eval::sandbox
