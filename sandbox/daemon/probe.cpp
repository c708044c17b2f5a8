#include "sandbox/daemon/probe.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <functional>

#include "sandbox/daemon/landlock.h"
#include "sandbox/daemon/sys.h"

namespace v4eval::sandbox {
namespace {

// Runs `fn` in a forked child (we are single-threaded); true when it exits 0 within 5 s.
bool in_child(const std::function<int()>& fn) {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) ::_exit(fn());
  for (int i = 0; i < 500; ++i) {
    int status = 0;
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (w < 0 && errno != EINTR) return false;
    ::usleep(10000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return false;
}

bool write_proc(const std::string& path, const std::string& text) {
  return sys::write_file(path, text).ok();
}

// Namespaces as we use them: (user namespace +) mount/net/ipc/uts, a private tmpfs mount, and
// a PID namespace with a child in it.
int namespaces_child(bool user) {
  if (user) {
    uid_t uid = ::geteuid();
    gid_t gid = ::getegid();
    if (::unshare(CLONE_NEWUSER) != 0) return 1;
    if (!write_proc("/proc/self/setgroups", "deny") ||
        !write_proc("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
        !write_proc("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
      return 2;
  }
  if (::unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID) != 0)
    return 3;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 4;
  if (::mount("v4eval-probe", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0) return 5;
  pid_t pid = ::fork();  // PID 1 of the new namespace
  if (pid < 0) return 6;
  if (pid == 0) ::_exit(::getpid() == 1 ? 0 : 1);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 7;
  return 0;
}

int seccomp_child(const std::vector<sock_filter>& filter) {
  sock_fprog prog{static_cast<unsigned short>(filter.size()),
                  const_cast<sock_filter*>(filter.data())};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 1;
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return 2;
  // unshare is denied with EPERM by our filter, whatever our privileges.
  return (::unshare(0) == -1 && errno == EPERM) ? 0 : 3;
}

bool denied(const std::vector<std::string>& deny, const char* name) {
  return std::find(deny.begin(), deny.end(), name) != deny.end();
}

}  // namespace

ProbeResult probe_tier(TierChoice choice, const std::vector<std::string>& deny,
                       const std::vector<sock_filter>& seccomp_filter) {
  ProbeResult r;
  TierReport& t = r.report;
  utsname u{};
  if (::uname(&u) == 0) t.kernel = u.release;
  std::vector<std::string> notes;

  bool seccomp_ok = in_child([&] { return seccomp_child(seccomp_filter); });
  if (!seccomp_ok) notes.push_back("seccomp filter could not be loaded");
  int landlock = landlock_abi();

  bool want_full = choice == TierChoice::kAuto || choice == TierChoice::kFull;
  bool want_userns = choice == TierChoice::kAuto || choice == TierChoice::kUserns;
  bool full_ok = false, userns_ok = false;
  std::vector<std::string> why;
  if (want_full) {
    if (denied(deny, "full")) {
      why.push_back("full: disabled by the operator");
    } else if (::geteuid() != 0) {
      why.push_back("full: needs root");
    } else if (!in_child([] { return namespaces_child(false); })) {
      why.push_back("full: cannot create mount/pid/net namespaces");
    } else {
      std::vector<std::string> cg_notes;
      r.cgroups = detect_cgroups(&cg_notes);
      if (r.cgroups.mode == CgroupLayout::Mode::kNone) {
        why.push_back("full: no writable cgroup (" +
                      (cg_notes.empty() ? std::string("?") : cg_notes.front()) + ")");
      } else {
        full_ok = true;
        notes.insert(notes.end(), cg_notes.begin(), cg_notes.end());
      }
    }
  }
  if (!full_ok && want_userns) {
    if (denied(deny, "userns"))
      why.push_back("userns: disabled by the operator");
    else if (!in_child([] { return namespaces_child(true); }))
      why.push_back("userns: unprivileged user namespaces are not allowed here");
    else
      userns_ok = true;
  }

  if (full_ok) {
    t.tier = Tier::kFull;
    t.pid_ns = t.mount_ns = t.net_ns = true;
    t.cgroup = r.cgroups.mode_name();
    t.memory_limit = t.cpu_time = t.process_limit = "cgroup";
    t.cell_uid = true;
  } else if (userns_ok) {
    t.tier = Tier::kUserns;
    t.user_ns = t.pid_ns = t.mount_ns = t.net_ns = true;
    t.memory_limit = t.process_limit = "rlimit";
    t.cpu_time = "rusage";
    if (choice == TierChoice::kAuto) notes.insert(notes.end(), why.begin(), why.end());
  } else if (choice == TierChoice::kWeak) {
    if (denied(deny, "weak")) {
      r.error = "sandbox: the weak tier is disabled by the operator";
      return r;
    }
    t.tier = Tier::kWeak;
    t.memory_limit = t.process_limit = "rlimit";
    t.cpu_time = "rusage";
    t.landlock = landlock > 0;
    t.cell_uid = ::geteuid() == 0;
    if (!t.landlock)
      notes.push_back("landlock unavailable: programs can read what our uid can read");
    notes.push_back("weak tier chosen explicitly: no namespaces, no cgroups");
  } else {
    std::string msg = "sandbox: no isolation tier available (";
    for (size_t i = 0; i < why.size(); ++i) msg += (i ? "; " : "") + why[i];
    msg +=
        "). Untrusted code is not run without isolation; choose the weak tier explicitly "
        "(--sandbox weak: rlimits, seccomp and Landlock only) to run anyway.";
    r.error = msg;
    return r;
  }
  t.seccomp = seccomp_ok;
  t.notes = notes;
  r.ok = true;
  return r;
}

}  // namespace v4eval::sandbox
