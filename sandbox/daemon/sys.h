#pragma once
// Private to the launcher: file-descriptor ownership, small syscall helpers, and kernel
// constants newer than Debian 12's headers (each with the kernel version that added it).

#include <linux/types.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "harness/status.h"

// clone3 (5.3), pidfd_open (5.3), pidfd_send_signal (5.1), close_range (5.9), openat2 (5.6).
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL  // 5.7
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080  // 5.6
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444  // 5.13
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

namespace v4eval::sandbox::sys {

struct CloneArgs {  // struct clone_args (5.3 layout, with cgroup from 5.7)
  uint64_t flags = 0, pidfd = 0, child_tid = 0, parent_tid = 0, exit_signal = 0, stack = 0,
           stack_size = 0, tls = 0, set_tid = 0, set_tid_size = 0, cgroup = 0;
};
// Returns the child's pid in the parent, 0 in the child, -1 with errno on failure. The child
// continues on a copy of the caller's stack, like fork(), but without glibc's fork handlers:
// it must only make raw system calls and exit with _exit.
inline pid_t clone3(CloneArgs* args) {
  return static_cast<pid_t>(::syscall(SYS_clone3, args, sizeof(CloneArgs)));
}
inline int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
inline int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}
inline int close_range(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

std::string errno_text(int err);                   // "ENOENT (No such file or directory)"
std::string errno_message(std::string_view what);  // "<what>: <errno_text(errno)>"

Status write_file(const std::string& path, std::string_view data);  // O_WRONLY|O_TRUNC, no create
Result<std::string> read_file(const std::string& path, size_t cap = 1 << 20);
bool write_all(int fd, std::string_view data);
// pread of a small kernel file (cgroup counters) kept open.
bool pread_text(int fd, std::string* out);
int64_t parse_i64(std::string_view s, int64_t fallback = -1);
// The value of `key` in "key value\n" files (memory.events, cpu.stat, memory.oom_control).
int64_t keyed_value(std::string_view text, std::string_view key);

// mkdir -p with a mode; ok when it exists.
Status make_dirs(const std::string& path, mode_t mode);
// Removes a directory tree without following symbolic links or crossing mount points.
Status remove_tree(const std::string& path);
// Is `pid` alive and named `comm_prefix` (so a reused pid of another program does not count)?
bool process_alive(pid_t pid, std::string_view comm_prefix);

int64_t monotonic_us();

}  // namespace v4eval::sandbox::sys
