#include "sandbox/daemon/cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <thread>

namespace v4eval::sandbox {
namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == s.npos ? s.npos : p - start));
    if (p == s.npos) break;
    start = p + 1;
  }
  return out;
}

struct Mount {
  std::string point, fstype, super_options;
};

std::vector<Mount> cgroup_mounts() {
  std::vector<Mount> out;
  auto text = sys::read_file("/proc/self/mountinfo", 1 << 22);
  if (!text.ok()) return out;
  for (const auto& line : split(*text, '\n')) {
    // id parent maj:min root point options [optional...] - fstype source super
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto left = split(line.substr(0, dash), ' ');
    auto right = split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    if (right[0] != "cgroup" && right[0] != "cgroup2") continue;
    out.push_back({left[4], right[0], right[2]});
  }
  return out;
}

// Our cgroup path in the v1 hierarchy holding `controller`, or in v2 ("" controller).
std::string own_path(std::string_view controller) {
  auto text = sys::read_file("/proc/self/cgroup", 1 << 16);
  if (!text.ok()) return "";
  for (const auto& line : split(*text, '\n')) {
    auto f = split(line, ':');
    if (f.size() < 3) continue;
    std::string path = line.substr(f[0].size() + f[1].size() + 2);
    if (controller.empty()) {
      if (f[0] == "0" && f[1].empty()) return path;
      continue;
    }
    for (const auto& c : split(f[1], ','))
      if (c == controller) return path;
  }
  return "";
}

std::string v1_base(const std::vector<Mount>& mounts, std::string_view controller) {
  for (const auto& m : mounts) {
    if (m.fstype != "cgroup") continue;
    for (const auto& opt : split(m.super_options, ','))
      if (opt == controller) {
        std::string path = own_path(controller);
        if (path.empty()) return "";
        return path == "/" ? m.point : m.point + path;
      }
  }
  return "";
}

bool can_create_under(const std::string& base) {
  std::string probe = base + "/v4eval-probe-" + std::to_string(::getpid());
  if (::mkdir(probe.c_str(), 0755) != 0) return false;
  ::rmdir(probe.c_str());
  return true;
}

bool has_word(const std::string& text, std::string_view word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w)
    if (w == word) return true;
  return false;
}

bool kill_and_wait_empty(const std::string& dir, int timeout_ms) {
  int64_t deadline = sys::monotonic_us() + int64_t{timeout_ms} * 1000;
  while (true) {
    auto procs = sys::read_file(dir + "/cgroup.procs");
    if (!procs.ok()) return false;
    bool any = false;
    for (const auto& p : split(*procs, '\n')) {
      int64_t pid = sys::parse_i64(p);
      if (pid > 0) {
        any = true;
        ::kill(static_cast<pid_t>(pid), SIGKILL);
      }
    }
    if (!any) return true;
    if (sys::monotonic_us() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void remove_cgroup_tree(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> subs;
    while (dirent* e = ::readdir(d))
      if (e->d_type == DT_DIR && e->d_name[0] != '.') subs.push_back(dir + "/" + e->d_name);
    ::closedir(d);
    for (const auto& s : subs) remove_cgroup_tree(s);
  }
  kill_and_wait_empty(dir, 2000);
  for (int i = 0; i < 200 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

}  // namespace

std::string CgroupLayout::mode_name() const {
  switch (mode) {
    case Mode::kNone:
      return "none";
    case Mode::kV1:
      return "v1";
    case Mode::kHybrid:
      return "hybrid";
    case Mode::kV2:
      return "v2";
  }
  return "?";
}

CgroupLayout detect_cgroups(std::vector<std::string>* notes) {
  CgroupLayout layout;
  auto mounts = cgroup_mounts();
  std::string unified;
  for (const auto& m : mounts)
    if (m.fstype == "cgroup2") unified = m.point;
  std::string unified_base;
  if (!unified.empty()) {
    std::string path = own_path("");
    unified_base = (path.empty() || path == "/") ? unified : unified + path;
  }

  // v1 (or hybrid): memory and pids controllers mounted and writable under our cgroup.
  std::string mem = v1_base(mounts, "memory"), pids = v1_base(mounts, "pids");
  if (!mem.empty() && !pids.empty()) {
    if (can_create_under(mem) && can_create_under(pids)) {
      layout.memory_base = mem;
      layout.pids_base = pids;
      std::string cpuacct = v1_base(mounts, "cpuacct");
      if (!cpuacct.empty() && can_create_under(cpuacct)) {
        layout.cpu_base = cpuacct;
      } else if (!unified_base.empty() && can_create_under(unified_base)) {
        layout.cpu_base = unified_base;
        layout.cpu_v2 = true;
      } else {
        notes->push_back("cgroup v1: no writable cpuacct or cgroup2 for CPU time");
        return layout;
      }
      layout.mode = unified.empty() ? CgroupLayout::Mode::kV1 : CgroupLayout::Mode::kHybrid;
      return layout;
    }
    notes->push_back("cgroup v1 memory/pids not writable under our cgroup");
  }

  // v2: memory and pids delegated to our cgroup's subtree.
  if (unified_base.empty()) {
    notes->push_back("no usable cgroup hierarchy");
    return layout;
  }
  auto controllers = sys::read_file(unified_base + "/cgroup.controllers");
  if (!controllers.ok() || !has_word(*controllers, "memory") || !has_word(*controllers, "pids")) {
    notes->push_back("cgroup v2: memory/pids controllers not available in " + unified_base);
    return layout;
  }
  if (!can_create_under(unified_base)) {
    notes->push_back("cgroup v2: " + unified_base + " is not writable");
    return layout;
  }
  auto enable = [&] {
    return sys::write_file(unified_base + "/cgroup.subtree_control", "+memory +pids");
  };
  auto subtree = sys::read_file(unified_base + "/cgroup.subtree_control");
  bool enabled = subtree.ok() && has_word(*subtree, "memory") && has_word(*subtree, "pids");
  if (!enabled && !enable().ok()) {
    // No internal processes: move our cgroup's processes (the harness, us) into a leaf.
    std::string leaf = unified_base + "/v4eval-host";
    ::mkdir(leaf.c_str(), 0755);
    int moved = 0;
    if (auto procs = sys::read_file(unified_base + "/cgroup.procs"); procs.ok())
      for (const auto& p : split(*procs, '\n'))
        if (!p.empty() && sys::write_file(leaf + "/cgroup.procs", p).ok()) ++moved;
    if (!enable().ok()) {
      notes->push_back("cgroup v2: cannot enable memory/pids in " + unified_base);
      return layout;
    }
    notes->push_back("cgroup v2: moved " + std::to_string(moved) + " processes of " + unified_base +
                     " into v4eval-host to enable controllers");
  }
  layout.mode = CgroupLayout::Mode::kV2;
  layout.memory_base = layout.pids_base = layout.cpu_base = unified_base;
  layout.cpu_v2 = true;
  return layout;
}

void collect_stale_cgroups(const CgroupLayout& layout) {
  std::vector<std::string> bases = {layout.memory_base, layout.pids_base, layout.cpu_base};
  for (size_t i = 0; i < bases.size(); ++i) {
    const auto& base = bases[i];
    if (base.empty() || (i > 0 && (base == bases[0] || (i == 2 && base == bases[1])))) continue;
    DIR* d = ::opendir(base.c_str());
    if (!d) continue;
    std::vector<std::string> stale;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind("v4eval-", 0) != 0) continue;
      int64_t pid = sys::parse_i64(name.substr(7));
      if (name.rfind("v4eval-probe-", 0) == 0) pid = sys::parse_i64(name.substr(13));
      if (pid <= 0) continue;  // v4eval-host and the like
      if (pid == ::getpid() || sys::process_alive(static_cast<pid_t>(pid), "v4eval-sandbox"))
        continue;
      stale.push_back(base + "/" + name);
    }
    ::closedir(d);
    for (const auto& s : stale) remove_cgroup_tree(s);
  }
}

CellCgroup::CellCgroup(const CgroupLayout& layout, std::string relative_name)
    : mode_(layout.mode), cpu_v2_(layout.cpu_v2) {
  if (mode_ == CgroupLayout::Mode::kNone) return;
  memory_dir_ = layout.memory_base + "/" + relative_name;
  pids_dir_ = layout.pids_base + "/" + relative_name;
  cpu_dir_ = layout.cpu_base + "/" + relative_name;
}

Status CellCgroup::create_dirs() {
  if (mode_ == CgroupLayout::Mode::kNone) return Status::Ok();
  for (const auto* dir : {&memory_dir_, &pids_dir_, &cpu_dir_})
    if (auto s = sys::make_dirs(*dir, 0755); !s.ok()) return s;
  if (mode_ == CgroupLayout::Mode::kV2) {
    // Controllers for the cells: enabled in their parent (ours, with no processes).
    std::string parent = memory_dir_.substr(0, memory_dir_.rfind('/'));
    auto sub = sys::read_file(parent + "/cgroup.subtree_control");
    if (!sub.ok() || !has_word(*sub, "memory"))
      if (auto s = sys::write_file(parent + "/cgroup.subtree_control", "+memory +pids"); !s.ok())
        return s;
    sys::write_file(memory_dir_ + "/memory.swap.max", "0");
    sys::write_file(memory_dir_ + "/memory.oom.group", "1");
  }
  return Status::Ok();
}

void CellCgroup::remove_dirs() {
  if (mode_ == CgroupLayout::Mode::kNone) return;
  for (const auto* dir : {&memory_dir_, &pids_dir_, &cpu_dir_}) {
    kill_and_wait_empty(*dir, 2000);
    ::rmdir(dir->c_str());
  }
}

Status CellCgroup::open() {
  if (mode_ == CgroupLayout::Mode::kNone) return Status::Ok();
  auto open_file = [](const std::string& path, int flags, sys::Fd* fd) -> Status {
    fd->reset(::open(path.c_str(), flags | O_CLOEXEC));
    if (!fd->valid()) return Internal(sys::errno_message("open " + path));
    return Status::Ok();
  };
  if (mode_ == CgroupLayout::Mode::kV2) {
    dir_fd_.reset(::open(memory_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd_.valid()) return Internal(sys::errno_message("open " + memory_dir_));
    if (auto s = open_file(memory_dir_ + "/memory.peak", O_RDWR, &peak_fd_); !s.ok()) return s;
    if (auto s = open_file(memory_dir_ + "/memory.events", O_RDONLY, &events_fd_); !s.ok())
      return s;
  } else {
    if (auto s = open_file(memory_dir_ + "/memory.max_usage_in_bytes", O_RDWR, &peak_fd_); !s.ok())
      return s;
    if (auto s = open_file(memory_dir_ + "/memory.oom_control", O_RDONLY, &events_fd_); !s.ok())
      return s;
    has_memsw_ = ::access((memory_dir_ + "/memory.memsw.limit_in_bytes").c_str(), W_OK) == 0;
    for (const auto* dir : {&memory_dir_, &pids_dir_, &cpu_dir_}) {
      sys::Fd fd;
      if (auto s = open_file(*dir + "/cgroup.procs", O_WRONLY, &fd); !s.ok()) return s;
      join_fds_.push_back(fd.get());
      join_owned_.push_back(std::move(fd));
    }
  }
  std::string cpu_file = cpu_v2_ ? cpu_dir_ + "/cpu.stat" : cpu_dir_ + "/cpuacct.usage";
  return open_file(cpu_file, O_RDONLY, &cpu_fd_);
}

Status CellCgroup::set_limits(int64_t memory_bytes, int32_t max_processes) {
  if (mode_ == CgroupLayout::Mode::kNone) return Status::Ok();
  if (memory_bytes != memory_limit_) {
    std::string v = std::to_string(memory_bytes);
    if (mode_ == CgroupLayout::Mode::kV2) {
      if (auto s = sys::write_file(memory_dir_ + "/memory.max", v); !s.ok()) return s;
    } else {
      // memsw must stay >= the memory limit at every step.
      std::string limit = memory_dir_ + "/memory.limit_in_bytes";
      std::string memsw = memory_dir_ + "/memory.memsw.limit_in_bytes";
      bool raising = memory_limit_ < 0 || memory_bytes > memory_limit_;
      if (has_memsw_ && raising) sys::write_file(memsw, v);
      if (auto s = sys::write_file(limit, v); !s.ok()) return s;
      if (has_memsw_ && !raising)
        if (auto s = sys::write_file(memsw, v); !s.ok()) return s;
    }
    memory_limit_ = memory_bytes;
  }
  if (max_processes != pids_limit_) {
    if (auto s = sys::write_file(pids_dir_ + "/pids.max", std::to_string(max_processes)); !s.ok())
      return s;
    pids_limit_ = max_processes;
  }
  return Status::Ok();
}

int64_t CellCgroup::read_cpu_us() {
  std::string text;
  if (!sys::pread_text(cpu_fd_.get(), &text)) return -1;
  if (cpu_v2_) return sys::keyed_value(text, "usage_usec");
  int64_t ns = sys::parse_i64(text);
  return ns < 0 ? -1 : ns / 1000;
}

Status CellCgroup::recreate_v2() {
  // Kernels before 6.12 cannot reset memory.peak: a fresh cgroup gives a per-run peak.
  dir_fd_.reset();
  peak_fd_.reset();
  events_fd_.reset();
  cpu_fd_.reset();
  if (::rmdir(memory_dir_.c_str()) != 0)
    return Internal(sys::errno_message("rmdir " + memory_dir_));
  if (auto s = create_dirs(); !s.ok()) return s;
  if (auto s = open(); !s.ok()) return s;
  int64_t memory = memory_limit_;
  int32_t pids = pids_limit_;
  memory_limit_ = -1;
  pids_limit_ = -1;
  return set_limits(memory, pids);
}

Status CellCgroup::before_run() {
  if (mode_ == CgroupLayout::Mode::kNone) return Status::Ok();
  if (mode_ == CgroupLayout::Mode::kV2 && !peak_resettable_)
    if (auto s = recreate_v2(); !s.ok()) return s;
  // The peak restarts at the current usage: v1 by writing 0, v2 (kernel >= 6.12) by writing
  // to the descriptor we read it from.
  if (peak_resettable_ && ::pwrite(peak_fd_.get(), "0\n", 2, 0) < 0) {
    if (mode_ != CgroupLayout::Mode::kV2) return Internal(sys::errno_message("reset memory peak"));
    peak_resettable_ = false;
    if (auto s = recreate_v2(); !s.ok()) return s;
  }
  std::string text;
  if (!sys::pread_text(events_fd_.get(), &text))
    return Internal(sys::errno_message("read oom counter"));
  oom_base_ = std::max<int64_t>(0, sys::keyed_value(text, "oom_kill"));
  cpu_base_us_ = read_cpu_us();
  if (cpu_base_us_ < 0) return Internal(sys::errno_message("read cpu usage"));
  return Status::Ok();
}

int64_t CellCgroup::cpu_us_since_start() {
  if (mode_ == CgroupLayout::Mode::kNone) return -1;
  int64_t now = read_cpu_us();
  return now < 0 ? -1 : now - cpu_base_us_;
}

CellCgroup::Usage CellCgroup::after_run() {
  Usage u;
  if (mode_ == CgroupLayout::Mode::kNone) return u;
  int64_t cpu = read_cpu_us();
  std::string peak, events;
  if (cpu < 0 || !sys::pread_text(peak_fd_.get(), &peak) ||
      !sys::pread_text(events_fd_.get(), &events)) {
    u.ok = false;
    u.error = sys::errno_message("read cgroup counters");
    return u;
  }
  u.cpu_us = cpu - cpu_base_us_;
  u.peak_bytes = sys::parse_i64(peak, 0);
  u.oom_killed = sys::keyed_value(events, "oom_kill") > oom_base_;
  return u;
}

bool CellCgroup::wait_empty(int timeout_ms) {
  if (mode_ == CgroupLayout::Mode::kNone) return true;
  int64_t deadline = sys::monotonic_us() + int64_t{timeout_ms} * 1000;
  while (true) {
    bool empty;
    if (mode_ == CgroupLayout::Mode::kV2) {
      auto events = sys::read_file(memory_dir_ + "/cgroup.events");
      empty = events.ok() && sys::keyed_value(*events, "populated") == 0;
    } else {
      // A fresh open each time: v1 caches the pid list of an open cgroup.procs for as long as
      // it keeps being read, so a kept descriptor would report a stale list.
      auto procs = sys::read_file(memory_dir_ + "/cgroup.procs");
      auto cur = sys::read_file(pids_dir_ + "/pids.current");
      // The pids controller releases a task when it is reaped, after it left cgroup.procs.
      empty = procs.ok() && sys::parse_i64(*procs) <= 0 && cur.ok() && sys::parse_i64(*cur) <= 0;
    }
    if (empty) return true;
    if (sys::monotonic_us() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace v4eval::sandbox

namespace v4eval::sandbox {
std::string CellCgroup::describe() {
  std::string out;
  if (auto procs = sys::read_file(memory_dir_ + "/cgroup.procs"); procs.ok())
    out += "procs [" + *procs + "]";
  if (auto cur = sys::read_file(pids_dir_ + "/pids.current"); cur.ok())
    out += " pids.current " + *cur;
  return out;
}
}  // namespace v4eval::sandbox
