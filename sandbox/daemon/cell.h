#pragma once
// One cell: the file system a sandboxed program sees, its uid and its cgroup (sandbox.md §4.3).
// A slot has two cells: cell 0 runs the solution, cell 1 compiles and runs checkers and
// interactors, so the answer file never exists where the solution runs and the compiler's page
// cache is never charged to the solution's memory cgroup.
//
// full/userns tiers: the worker (in its own mount namespace) mounts a tmpfs at the cell's
// directory, binds /usr and five /dev nodes read-only, writes a minimal /etc, and remounts it
// read-only; /box (= /tmp, cwd) is a fresh tmpfs per run, /prog a read-only tmpfs per program,
// /pch the precompiled header. Programs chroot into it. weak tier: real directories, Landlock.

#include <string>
#include <utility>
#include <vector>

#include "harness/status.h"
#include "sandbox/daemon/cgroups.h"
#include "sandbox/daemon/sys.h"
#include "sandbox/sandbox.h"

namespace v4eval::sandbox {

struct ProgramFile {
  std::string name;
  std::string content;
  bool executable = false;
};

class Cell {
 public:
  Cell(Tier tier, std::string dir, uid_t uid, gid_t gid, CellCgroup cgroup);

  Status setup();  // in the worker, after its namespaces exist

  // Paths as the program sees them (chroot) or as they are on the host (weak tier).
  std::string root() const { return tier_ == Tier::kWeak ? "" : dir_; }
  std::string box() const { return tier_ == Tier::kWeak ? dir_ + "/box" : "/box"; }
  std::string prog() const { return tier_ == Tier::kWeak ? dir_ + "/prog" : "/prog"; }
  std::string pch() const { return tier_ == Tier::kWeak ? pch_host_ : "/pch"; }
  bool pch_ready() const { return pch_ready_; }
  // Makes the precompiled-header directory visible (read-only) in the cell as pch().
  Status attach_pch(const std::string& host_path);

  Status reset_box(int64_t bytes);
  // Replaces /prog with these files (read-only). `key` identifies the set: installing the same
  // key again is free.
  Status install(const std::string& key, const std::vector<ProgramFile>& files);
  Status write_box_file(const std::string& name, std::string_view content);
  // Reads a regular file of the box without following links (openat2 RESOLVE_BENEATH |
  // NO_SYMLINKS | NO_MAGICLINKS | NO_XDEV); fails beyond `cap` bytes.
  Result<std::string> read_box_file(const std::string& name, size_t cap);

  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }
  int landlock_fd() const { return landlock_fd_.get(); }
  CellCgroup& cgroup() { return cgroup_; }

 private:
  Status build_root();
  Status build_landlock();
  Tier tier_;
  std::string dir_;
  uid_t uid_;
  gid_t gid_;
  CellCgroup cgroup_;
  sys::Fd box_fd_, landlock_fd_;
  std::string installed_key_;
  bool box_mounted_ = false, prog_mounted_ = false, pch_ready_ = false;
  int64_t box_bytes_ = -1;
  std::string pch_host_;
};

}  // namespace v4eval::sandbox
