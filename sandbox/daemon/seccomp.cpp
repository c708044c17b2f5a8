#include "sandbox/daemon/seccomp.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cerrno>
#include <map>
#include <stdexcept>
#include <string>

namespace v4eval::sandbox {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
constexpr uint32_t kForeignAbiBit = 0x40000000;  // x32 system calls
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
constexpr uint32_t kForeignAbiBit = 0;
#else
#error "seccomp filter: unsupported architecture"
#endif

#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

// A tiny assembler: instructions with symbolic jump targets, resolved at the end.
class Program {
 public:
  void stmt(uint16_t code, uint32_t k) { code_.push_back({code, 0, 0, k, "", ""}); }
  void jump(uint16_t code, uint32_t k, std::string jt, std::string jf) {
    code_.push_back({code, 0, 0, k, std::move(jt), std::move(jf)});
  }
  void label(const std::string& name) { labels_[name] = code_.size(); }
  std::vector<sock_filter> build() const {
    std::vector<sock_filter> out;
    for (size_t i = 0; i < code_.size(); ++i) {
      const auto& c = code_[i];
      sock_filter f{c.code, 0, 0, c.k};
      f.jt = target(c.jt_label, i);
      f.jf = target(c.jf_label, i);
      out.push_back(f);
    }
    return out;
  }

 private:
  struct Insn {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
    std::string jt_label, jf_label;
  };
  uint8_t target(const std::string& label, size_t at) const {
    if (label.empty()) return 0;  // fall through
    size_t to = labels_.at(label);
    if (to <= at || to - at - 1 > 255)
      throw std::logic_error("seccomp: jump out of range: " + label);
    return static_cast<uint8_t>(to - at - 1);
  }
  std::vector<Insn> code_;
  std::map<std::string, size_t> labels_;
};

constexpr uint32_t kArg0 = offsetof(seccomp_data, args[0]);  // low 32 bits (little endian)
constexpr uint32_t kArg1 = offsetof(seccomp_data, args[1]);

}  // namespace

std::vector<sock_filter> build_seccomp_filter() {
  const int denied[] = {
      // tracing and other processes' memory
      __NR_ptrace,
      __NR_process_vm_readv,
      __NR_process_vm_writev,
      __NR_kcmp,
#ifdef __NR_pidfd_getfd
      __NR_pidfd_getfd,
#endif
#ifdef __NR_process_madvise
      __NR_process_madvise,
#endif
      // kernel control
      __NR_perf_event_open,
      __NR_bpf,
      __NR_userfaultfd,
      __NR_kexec_load,
#ifdef __NR_kexec_file_load
      __NR_kexec_file_load,
#endif
      __NR_init_module,
      __NR_finit_module,
      __NR_delete_module,
      __NR_reboot,
      __NR_swapon,
      __NR_swapoff,
      __NR_acct,
      __NR_syslog,
      __NR_quotactl,
#ifdef __NR_quotactl_fd
      __NR_quotactl_fd,
#endif
#ifdef __NR_iopl
      __NR_iopl,
      __NR_ioperm,
#endif
#ifdef __NR_uselib
      __NR_uselib,
#endif
#ifdef __NR__sysctl
      __NR__sysctl,
#endif
      __NR_lookup_dcookie,
      __NR_open_by_handle_at,
      __NR_name_to_handle_at,
      __NR_fanotify_init,
      __NR_vhangup,
      __NR_settimeofday,
      __NR_clock_settime,
      __NR_clock_adjtime,
      __NR_adjtimex,
      __NR_sethostname,
      __NR_setdomainname,
      // namespaces and mounts
      __NR_unshare,
      __NR_setns,
      __NR_mount,
      __NR_umount2,
      __NR_pivot_root,
      __NR_chroot,
#ifdef __NR_move_mount
      __NR_move_mount,
      __NR_open_tree,
      __NR_fsopen,
      __NR_fsconfig,
      __NR_fsmount,
      __NR_fspick,
#endif
#ifdef __NR_mount_setattr
      __NR_mount_setattr,
#endif
      // side channels between sandboxes (isolate's list)
      __NR_keyctl,
      __NR_add_key,
      __NR_request_key,
#ifdef __NR_io_uring_setup
      __NR_io_uring_setup,
      __NR_io_uring_enter,
      __NR_io_uring_register,
#endif
  };
  // CLONE_NEWTIME shares its bit with the exit signal in clone(): not part of the mask.
  const uint32_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                   CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

  Program p;
  p.stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, kArch, "", "kill");
  p.stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  if (kForeignAbiBit) p.jump(BPF_JMP | BPF_JGE | BPF_K, kForeignAbiBit, "kill", "");
  for (int nr : denied) p.jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), "eperm", "");
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, "clone", "");
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, "enosys", "");
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, "socket", "");
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, "ioctl", "");
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, "personality", "");
  p.stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

  p.label("clone");
  p.stmt(BPF_LD | BPF_W | BPF_ABS, kArg0);
  p.jump(BPF_JMP | BPF_JSET | BPF_K, kNamespaceFlags, "eperm", "");
  p.stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

  p.label("socket");
  p.stmt(BPF_LD | BPF_W | BPF_ABS, kArg0);
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, "allow", "");
  p.stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAFNOSUPPORT);

  p.label("ioctl");  // the request's low 32 bits (CVE-2019-10063: never compare all 64)
  p.stmt(BPF_LD | BPF_W | BPF_ABS, kArg1);
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, "eperm", "");
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, "eperm", "");
  p.stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

  p.label("personality");  // query (0xffffffff) and PER_LINUX only: no READ_IMPLIES_EXEC
  p.stmt(BPF_LD | BPF_W | BPF_ABS, kArg0);
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, 0, "allow", "");
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, "allow", "eperm");

  p.label("allow");
  p.stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  p.label("eperm");
  p.stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  p.label("enosys");
  p.stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  p.label("kill");
  p.stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  return p.build();
}

}  // namespace v4eval::sandbox
