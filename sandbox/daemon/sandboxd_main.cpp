// v4eval-sandboxd: the launcher (sandbox.md §4.1). Spawned once by the harness (`Sandbox::start`)
// with a control socket; single-threaded. It probes the tier, collects what dead launchers left
// behind, prepares one cgroup pair and one directory pair per slot, starts the background build
// of the precompiled header, forks one worker per slot and hands the harness a socket to each.
// It respawns workers on request and, when the harness goes away, kills them and removes every
// cgroup, mount and file it made.
//
//   v4eval-sandboxd --control-fd N --slots N --tier auto|full|userns|weak
//                   --runtime-dir DIR --cache-dir DIR [--deny TIER,...] [--pin] [--no-zygote]

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "harness/hash.h"
#include "sandbox/daemon/cgroups.h"
#include "sandbox/daemon/probe.h"
#include "sandbox/daemon/seccomp.h"
#include "sandbox/daemon/sys.h"
#include "sandbox/daemon/worker.h"
#include "sandbox/sandbox.h"
#include "sandbox/wire.h"

namespace v4eval::sandbox {
namespace {

constexpr uid_t kCellUidBase = 61000;  // full tier: cell c of slot k runs as 61000 + 3k + c

struct Options {
  bool zygote = true;
  int control_fd = -1;
  int slots = 1;
  TierChoice tier = TierChoice::kAuto;
  std::string runtime_dir = "/tmp", cache_dir;
  std::vector<std::string> deny;
  bool pin = false;
};

struct WorkerProc {
  pid_t pid = -1;
  sys::Fd pidfd;
};

void log_line(const std::string& s) { std::fprintf(stderr, "v4eval-sandboxd: %s\n", s.c_str()); }

// Closes every descriptor except 0-2 and `keep`.
void close_all_but(std::vector<int> keep) {
  keep.push_back(0);
  keep.push_back(1);
  keep.push_back(2);
  std::sort(keep.begin(), keep.end());
  unsigned next = 0;
  for (int fd : keep) {
    if (static_cast<unsigned>(fd) > next) sys::close_range(next, static_cast<unsigned>(fd) - 1, 0);
    next = static_cast<unsigned>(fd) + 1;
  }
  sys::close_range(next, ~0U, 0);
}

class Launcher {
 public:
  explicit Launcher(Options o) : opt_(std::move(o)), self_(::getpid()) {}
  int run();

 private:
  void hello_error(const std::string& message);
  Status prepare(const ProbeResult& probe);
  void start_pch_build();
  void kill_pch_build();
  void finish_pch_build(bool ok);
  void reap_children();
  Status spawn_worker(int slot, sys::Fd* harness_end);
  void stop_worker(int slot);
  void shutdown();
  void collect_stale_dirs();

  Options opt_;
  pid_t self_;
  std::string rt_;  // <runtime-dir>/v4eval-sandboxd-<pid>
  WorkerConfig base_;
  std::vector<sock_filter> filter_;
  std::vector<CellCgroup> cgroups_;
  std::vector<WorkerProc> workers_;
  uid_t worker_uid_ = 0;
  gid_t worker_gid_ = 0;
  // Background build of the precompiled header.
  pid_t pch_pid_ = -1;
  sys::Fd pch_lock_;
  std::string pch_tmp_, pch_final_;
};

void Launcher::hello_error(const std::string& message) {
  wire::Writer w;
  w.u8(wire::kHello);
  w.boolean(false);
  w.str(message);
  (void)wire::write_frame(opt_.control_fd, w.buffer());
}

void Launcher::collect_stale_dirs() {
  DIR* d = ::opendir(opt_.runtime_dir.c_str());
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("v4eval-sandboxd-", 0) != 0) continue;
    int64_t pid = sys::parse_i64(name.substr(16));
    if (pid <= 0 || pid == self_ || sys::process_alive(static_cast<pid_t>(pid), "v4eval-sandbox"))
      continue;
    stale.push_back(opt_.runtime_dir + "/" + name);
  }
  ::closedir(d);
  for (const auto& s : stale) (void)sys::remove_tree(s);
}

Status Launcher::prepare(const ProbeResult& probe) {
  const Tier tier = probe.report.tier;
  bool root = ::geteuid() == 0;
  worker_uid_ = ::geteuid();
  worker_gid_ = ::getegid();
  if (tier == Tier::kUserns && root) {
    // Root testing the unprivileged tier: the workers' user namespace maps to an unprivileged
    // host uid, so RLIMIT_NPROC applies (it never does for host root).
    worker_uid_ = kCellUidBase;
    worker_gid_ = kCellUidBase;
  }
  collect_stale_dirs();
  rt_ = opt_.runtime_dir + "/v4eval-sandboxd-" + std::to_string(self_);
  if (worker_uid_ != ::geteuid()) {
    // The workers run under another uid: every directory above the runtime one must let
    // them through.
    for (size_t p = opt_.runtime_dir.find('/', 1);; p = opt_.runtime_dir.find('/', p + 1)) {
      std::string dir = opt_.runtime_dir.substr(0, p);
      struct stat st;
      if (::stat(dir.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH))
        return InvalidArgument("runtime directory " + dir + " is not traversable by uid " +
                               std::to_string(worker_uid_) + " (the userns tier run as root)");
      if (p == std::string::npos) break;
    }
  }
  if (auto s = sys::make_dirs(rt_, 0711); !s.ok()) return s;
  ::chmod(rt_.c_str(), 0711);
  std::string bin = rt_ + "/bin";
  if (::mkdir(bin.c_str(), 0700) != 0) return Internal(sys::errno_message("mkdir " + bin));
  if (worker_uid_ != ::geteuid() && ::chown(bin.c_str(), worker_uid_, worker_gid_) != 0)
    return Internal(sys::errno_message("chown " + bin));
  for (int k = 0; k < opt_.slots; ++k)
    for (int c = 0; c < kCells; ++c) {
      std::string dir = rt_ + "/slot" + std::to_string(k) + "/cell" + std::to_string(c);
      if (auto s = sys::make_dirs(dir, 0755); !s.ok()) return s;
    }

  base_.tier = tier;
  base_.lcb_zygote = opt_.zygote;
  base_.binary_cache = bin;
  base_.cgroups = probe.cgroups;
  base_.cgroup_prefix = "v4eval-" + std::to_string(self_);
  if (tier == Tier::kFull) {
    collect_stale_cgroups(probe.cgroups);
    for (int k = 0; k < opt_.slots; ++k)
      for (int c = 0; c < kCells; ++c) {
        CellCgroup cg(probe.cgroups,
                      base_.cgroup_prefix + "/s" + std::to_string(k) + "c" + std::to_string(c));
        Status s = cg.create_dirs();
        cgroups_.push_back(std::move(cg));
        if (!s.ok()) return s;
      }
  }
  filter_ = build_seccomp_filter();
  base_.seccomp = probe.report.seccomp ? &filter_ : nullptr;
  return Status::Ok();
}

// The precompiled bits/stdc++.h: built once per toolchain and flags into the persistent cache,
// in the background (about 3 s), outside the sandbox (it compiles only system headers). Until it
// exists, C++ compiles simply run without it.
void Launcher::start_pch_build() {
  const LanguageProfile* cpp = find_language("cpp");
  struct stat st;
  if (!cpp || opt_.cache_dir.empty() || ::stat(cpp->compile[0].c_str(), &st) != 0) return;
  std::vector<std::string> argv;
  for (const auto& a : cpp->compile)
    if (a != "{src}" && a != "{bin}" && a != "-o") argv.push_back(a);
  std::string key_text;
  for (const auto& a : argv) key_text += a + '\0';
  key_text += std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
              std::to_string(st.st_mtim.tv_sec);
  std::string dir = opt_.cache_dir + "/sandbox/pch-" + sha256_hex(key_text).substr(0, 16);
  base_.pch_host_path = dir;
  pch_final_ = dir + "/bits/stdc++.h.gch";
  if (::access(pch_final_.c_str(), R_OK) == 0) return;
  if (!sys::make_dirs(dir + "/bits", 0755).ok()) {
    base_.pch_host_path.clear();
    return;
  }
  ::chmod(opt_.cache_dir.c_str(), 0755);
  pch_lock_.reset(::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!pch_lock_.valid() || ::flock(pch_lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    pch_lock_.reset();  // another launcher is building it
    return;
  }
  if (::access(pch_final_.c_str(), R_OK) == 0) {
    pch_lock_.reset();
    return;
  }
  // Leftovers of builds that were killed.
  if (DIR* d = ::opendir((dir + "/bits").c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::strstr(e->d_name, ".tmp")) ::unlinkat(::dirfd(d), e->d_name, 0);
    ::closedir(d);
  }
  std::string wrapper = dir + "/stdc++.h";
  if (!sys::write_all(
          sys::Fd(::open(wrapper.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)).get(),
          "#include <bits/stdc++.h>\n")) {
    pch_lock_.reset();
    return;
  }
  pch_tmp_ = pch_final_ + ".tmp" + std::to_string(self_);
  argv.insert(argv.end(), {"-x", "c++-header", wrapper, "-o", pch_tmp_});
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), const_cast<char*>("LANG=C"), nullptr};
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    close_all_but({});
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::setpriority(PRIO_PROCESS, 0, 10);
    ::umask(022);
    ::execve(cargv[0], cargv.data(), envp);
    ::_exit(127);
  }
  if (pid < 0) {
    pch_lock_.reset();
    return;
  }
  pch_pid_ = pid;
}

void Launcher::kill_pch_build() {
  if (pch_pid_ <= 0) return;
  ::kill(pch_pid_, SIGKILL);
  ::waitpid(pch_pid_, nullptr, 0);
  finish_pch_build(false);
}

void Launcher::finish_pch_build(bool ok) {
  if (ok) {
    ::chmod(pch_tmp_.c_str(), 0644);
    ::rename(pch_tmp_.c_str(), pch_final_.c_str());
  } else {
    ::unlink(pch_tmp_.c_str());
  }
  pch_pid_ = -1;
  pch_lock_.reset();
}

Status Launcher::spawn_worker(int slot, sys::Fd* harness_end) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Internal(sys::errno_message("socketpair"));
  sys::Fd ours(sv[0]), theirs(sv[1]);
  int sync_to_child[2], sync_to_parent[2];
  if (::pipe2(sync_to_child, O_CLOEXEC) != 0 || ::pipe2(sync_to_parent, O_CLOEXEC) != 0)
    return Internal(sys::errno_message("pipe2"));
  sys::Fd c_read(sync_to_child[0]), c_write(sync_to_child[1]);
  sys::Fd p_read(sync_to_parent[0]), p_write(sync_to_parent[1]);

  WorkerConfig cfg = base_;
  cfg.slot = slot;
  cfg.slot_dir = rt_ + "/slot" + std::to_string(slot);
  for (int c = 0; c < kCells; ++c) {
    if (base_.tier == Tier::kFull || (base_.tier == Tier::kWeak && ::geteuid() == 0)) {
      cfg.cell_uid[c] = kCellUidBase + kCells * slot + c;
      cfg.cell_gid[c] = kCellUidBase + kCells * slot + c;
    } else if (base_.tier == Tier::kUserns) {
      cfg.cell_uid[c] = 0;  // root of the workers' user namespace, with every capability dropped
      cfg.cell_gid[c] = 0;
    } else {
      cfg.cell_uid[c] = ::geteuid();
      cfg.cell_gid[c] = ::getegid();
    }
  }
  if (opt_.pin) {
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
      int seen = 0;
      for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &set) && seen++ == slot % std::max(1, CPU_COUNT(&set))) {
          cfg.cpu = cpu;
          break;
        }
    }
  }

  pid_t pid = ::fork();
  if (pid < 0) return Internal(sys::errno_message("fork worker"));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != self_) ::_exit(0);
    close_all_but({theirs.get(), c_read.get(), p_write.get()});
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    std::string name = "v4eval-slot" + std::to_string(slot);
    ::prctl(PR_SET_NAME, name.c_str());
    if (base_.tier == Tier::kFull) {
      if (::unshare(CLONE_NEWNS | CLONE_NEWNET) != 0) ::_exit(10);
    } else if (base_.tier == Tier::kUserns) {
      if (::unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0) ::_exit(11);
      char b = 1;
      if (::write(p_write.get(), &b, 1) != 1 || ::read(c_read.get(), &b, 1) != 1 || b != 1)
        ::_exit(12);
      if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) ::_exit(13);
    } else {
      ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    }
    if (base_.tier != Tier::kWeak &&
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      ::_exit(14);
    ::_exit(worker_main(cfg, theirs.get()));
  }
  theirs.reset();
  if (base_.tier == Tier::kUserns) {
    // The worker's user namespace: its uid 0 is worker_uid_ on the host.
    char b = 0;
    bool ok = ::read(p_read.get(), &b, 1) == 1;
    std::string proc = "/proc/" + std::to_string(pid);
    ok = ok && sys::write_file(proc + "/setgroups", "deny").ok();
    ok = ok && sys::write_file(proc + "/uid_map", "0 " + std::to_string(worker_uid_) + " 1").ok();
    ok = ok && sys::write_file(proc + "/gid_map", "0 " + std::to_string(worker_gid_) + " 1").ok();
    b = ok ? 1 : 0;
    (void)!::write(c_write.get(), &b, 1);
    if (!ok) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return Internal("cannot map the worker's user namespace");
    }
  }
  if (static_cast<int>(workers_.size()) <= slot) workers_.resize(slot + 1);
  workers_[slot].pid = pid;
  workers_[slot].pidfd.reset(sys::pidfd_open(pid));
  *harness_end = std::move(ours);
  return Status::Ok();
}

// Reaps every child that has ended: workers (the harness sees EOF and asks for a respawn), the
// precompiled-header build, and orphans we inherited as subreaper.
void Launcher::reap_children() {
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (auto& w : workers_)
      if (w.pid == pid) {
        w.pid = -1;
        w.pidfd.reset();
      }
    if (pid == pch_pid_) finish_pch_build(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

void Launcher::stop_worker(int slot) {
  WorkerProc& w = workers_[slot];
  if (w.pid <= 0) return;
  ::kill(w.pid, SIGKILL);
  ::waitpid(w.pid, nullptr, 0);
  w.pid = -1;
  w.pidfd.reset();
  reap_children();  // its init, if it already went
}

void Launcher::shutdown() {
  for (size_t k = 0; k < workers_.size(); ++k) stop_worker(static_cast<int>(k));
  kill_pch_build();
  reap_children();
  // The workers' inits died with them (PDEATHSIG) and took their PID namespaces along; wait
  // for the cgroups to empty, then remove them, then the directories (their mounts lived only
  // in the workers' mount namespaces).
  for (auto& cg : cgroups_) cg.remove_dirs();
  if (!cgroups_.empty()) {
    for (const auto* base :
         {&base_.cgroups.memory_base, &base_.cgroups.pids_base, &base_.cgroups.cpu_base})
      ::rmdir((*base + "/" + base_.cgroup_prefix).c_str());
  }
  if (!rt_.empty()) (void)sys::remove_tree(rt_);
}

int Launcher::run() {
  ::prctl(PR_SET_NAME, "v4eval-sandboxd");
  // Orphans come back to us, not to the host's PID 1 (which may never reap them): a killed
  // worker's init then is our zombie to reap, and the slot's cgroup empties.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  sys::Fd sigfd(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
  ::umask(022);
  ProbeResult probe = probe_tier(opt_.tier, opt_.deny, build_seccomp_filter());
  if (!probe.ok) {
    hello_error(probe.error);
    return 2;
  }
  if (auto s = prepare(probe); !s.ok()) {
    shutdown();
    hello_error("sandbox set-up failed: " + s.message());
    return 2;
  }
  start_pch_build();
  std::vector<sys::Fd> ends(opt_.slots);
  for (int k = 0; k < opt_.slots; ++k)
    if (auto s = spawn_worker(k, &ends[k]); !s.ok()) {
      shutdown();
      hello_error("sandbox set-up failed: " + s.message());
      return 2;
    }
  {
    wire::Writer w;
    w.u8(wire::kHello);
    w.boolean(true);
    wire::put(w, probe.report);
    w.i64(opt_.slots);
    if (!wire::write_frame(opt_.control_fd, w.buffer()).ok()) {
      shutdown();
      return 0;
    }
    for (int k = 0; k < opt_.slots; ++k)
      if (!wire::send_fd(opt_.control_fd, ends[k].get(), static_cast<uint8_t>(k)).ok()) {
        shutdown();
        return 0;
      }
    ends.clear();
  }

  while (true) {
    pollfd fds[2] = {{opt_.control_fd, POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (fds[1].revents) {
      signalfd_siginfo info;
      while (::read(sigfd.get(), &info, sizeof info) > 0) {
      }
      reap_children();
    }
    if (!fds[0].revents) continue;
    auto frame = wire::read_frame(opt_.control_fd, 10000);
    if (!frame.ok() || frame->empty()) break;  // the harness is gone
    wire::Reader r(*frame);
    uint8_t kind = r.u8();
    if (kind == wire::kShutdown) break;
    if (kind == wire::kRespawn) {
      int slot = static_cast<int>(r.i64());
      if (slot < 0 || slot >= opt_.slots) break;
      stop_worker(slot);
      sys::Fd end;
      if (!spawn_worker(slot, &end).ok()) break;
      if (!wire::send_fd(opt_.control_fd, end.get(), static_cast<uint8_t>(slot)).ok()) break;
    }
  }
  shutdown();
  return 0;
}

}  // namespace
}  // namespace v4eval::sandbox

int main(int argc, char** argv) {
  using namespace v4eval::sandbox;
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--control-fd")
      o.control_fd = std::atoi(value().c_str());
    else if (a == "--slots")
      o.slots = std::max(1, std::atoi(value().c_str()));
    else if (a == "--runtime-dir")
      o.runtime_dir = value();
    else if (a == "--cache-dir")
      o.cache_dir = value();
    else if (a == "--pin")
      o.pin = true;
    else if (a == "--no-zygote")
      o.zygote = false;
    else if (a == "--tier") {
      auto t = parse_tier_choice(value());
      if (!t.ok()) {
        log_line(t.status().message());
        return 2;
      }
      o.tier = *t;
    } else if (a == "--deny") {
      std::string list = value();
      size_t start = 0;
      while (start <= list.size()) {
        size_t c = list.find(',', start);
        std::string item =
            list.substr(start, c == std::string::npos ? std::string::npos : c - start);
        if (!item.empty()) o.deny.push_back(item);
        if (c == std::string::npos) break;
        start = c + 1;
      }
    } else {
      log_line("unknown argument " + a + " (this program is started by v4eval, not by hand)");
      return 2;
    }
  }
  if (o.control_fd < 0 || ::fcntl(o.control_fd, F_GETFD) < 0) {
    log_line("no control socket (this program is started by v4eval, not by hand)");
    return 2;
  }
  // Descriptors 0-2 must be open so that no pipe of ours ever lands on them.
  for (int fd = 0; fd < 3; ++fd)
    if (::fcntl(fd, F_GETFD) < 0) ::open("/dev/null", O_RDWR);
  ::signal(SIGPIPE, SIG_IGN);
  ::fcntl(o.control_fd, F_SETFD, FD_CLOEXEC);
  Launcher launcher(o);
  return launcher.run();
}
