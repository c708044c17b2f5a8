#include "sandbox/daemon/exec.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "sandbox/daemon/sys.h"

namespace v4eval::sandbox {
namespace detail {

// What a child writes on its error pipe when setup fails before exec.
struct SetupError {
  char step[64];
  int32_t err;
};

// What the init writes on its status pipe when the program (PID 2) is gone.
struct InitReport {
  uint32_t magic;
  int32_t status;  // wait status of PID 2
  int32_t reaped;  // PID 2 was reaped (status valid)
  int32_t kill_requested;
  int64_t utime_us, stime_us, maxrss_kb;  // RUSAGE_CHILDREN: every process the init reaped
};
constexpr uint32_t kInitMagic = 0x76346576;

struct RlimitSetting {
  int resource;
  rlimit value;
};

// Everything the child needs, prepared before clone: after clone the child only makes system
// calls on this memory (no allocation, no locks, no exceptions).
struct ChildPlan {
  Tier tier;
  const char* root = nullptr;  // chroot directory (full/userns)
  const char* cwd = nullptr;
  std::vector<char*> argv, envp;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1, err_fd = -1, status_fd = -1;
  std::vector<int> join_fds;
  std::vector<RlimitSetting> rlimits;
  bool change_uid = false;
  uid_t uid = 0;
  gid_t gid = 0;
  bool drop_caps = false;
  const sock_fprog* seccomp = nullptr;
  int landlock_fd = -1;
  int cpu = -1;
};

[[noreturn]] void fail_setup(int err_fd, const char* step, int err) {
  SetupError e{};
  std::strncpy(e.step, step, sizeof e.step - 1);
  e.err = err;
  ssize_t ignored = ::write(err_fd, &e, sizeof e);
  (void)ignored;
  ::_exit(126);
}

// PID 2 (or, in the weak tier, the clone child itself): becomes the program.
[[noreturn]] void exec_program(const ChildPlan& p) {
  if (::dup2(p.stdin_fd, 0) < 0) fail_setup(p.err_fd, "dup2 stdin", errno);
  if (::dup2(p.stdout_fd, 1) < 0) fail_setup(p.err_fd, "dup2 stdout", errno);
  if (::dup2(p.stderr_fd, 2) < 0) fail_setup(p.err_fd, "dup2 stderr", errno);
  const int err = p.err_fd;  // close-on-exec: EOF on it tells the worker exec happened
  // Ignored signals and the blocked mask survive exec: give the program defaults.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  for (const auto& r : p.rlimits)
    if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &r.value) != 0)
      fail_setup(err, "setrlimit", errno);
  if (p.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(p.cpu, &set);
    ::sched_setaffinity(0, sizeof set, &set);
  }
  if (p.change_uid) {
    if (::setgroups(0, nullptr) != 0) fail_setup(err, "setgroups", errno);
    if (::setresgid(p.gid, p.gid, p.gid) != 0) fail_setup(err, "setresgid", errno);
    if (::setresuid(p.uid, p.uid, p.uid) != 0) fail_setup(err, "setresuid", errno);
  }
  if (p.drop_caps) {
    // userns tier: we are uid 0 of the user namespace; make sure exec grants nothing back.
    if (::prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                       SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                       SECBIT_NO_CAP_AMBIENT_RAISE |
                                       SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) != 0)
      fail_setup(err, "securebits", errno);
    for (int cap = 0; cap <= 63; ++cap) ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capset, &header, data) != 0) fail_setup(err, "capset", errno);
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail_setup(err, "no_new_privs", errno);
  if (p.landlock_fd >= 0 && ::syscall(SYS_landlock_restrict_self, p.landlock_fd, 0) != 0)
    fail_setup(err, "landlock_restrict_self", errno);
  // No descriptor of ours reaches the program (the error pipe closes at exec).
  sys::close_range(3, static_cast<unsigned>(err) - 1, 0);
  sys::close_range(static_cast<unsigned>(err) + 1, ~0U, 0);
  if (p.seccomp && ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, p.seccomp) != 0)
    fail_setup(err, "seccomp", errno);
  ::execve(p.argv[0], p.argv.data(), p.envp.data());
  fail_setup(err, "execve", errno);
}

volatile sig_atomic_t g_kill_requested = 0;
// The worker asks the init (SIGUSR1) to end the run: kill everything else in the namespace,
// reap it and report the rusage. Done in the handler itself so no wait can miss it.
void on_kill_request(int) {
  g_kill_requested = 1;
  ::kill(-1, SIGKILL);
}

// Closes every descriptor except 0-2 and `keep` (no allocation: runs after clone).
void close_except(int* keep, int n) {
  for (int i = 1; i < n; ++i)
    for (int k = i; k > 0 && keep[k - 1] > keep[k]; --k) std::swap(keep[k - 1], keep[k]);
  unsigned next = 3;
  for (int i = 0; i < n; ++i) {
    if (keep[i] < 3) continue;
    unsigned fd = static_cast<unsigned>(keep[i]);
    if (fd > next) sys::close_range(next, fd - 1, 0);
    if (fd + 1 > next) next = fd + 1;
  }
  sys::close_range(next, ~0U, 0);
}

// The clone child: joins the cgroups, enters the root, and (full/userns) becomes PID 1.
[[noreturn]] void child_main(const ChildPlan& p) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::prctl(PR_SET_NAME, "v4eval-init");
  for (int fd : p.join_fds)
    if (::write(fd, "0", 1) != 1) fail_setup(p.err_fd, "join cgroup", errno);
  // The worker's other descriptors (the other side's pipes in an interactive pair, its
  // sockets) must not stay open here, or EOF never comes.
  int keep[] = {p.stdin_fd, p.stdout_fd, p.stderr_fd, p.err_fd, p.status_fd, p.landlock_fd};
  close_except(keep, 6);
  if (p.root && ::chroot(p.root) != 0) fail_setup(p.err_fd, "chroot", errno);
  if (::chdir(p.cwd) != 0) fail_setup(p.err_fd, "chdir", errno);
  ::setsid();  // no controlling terminal (TIOCSTI), own process group
  if (p.tier == Tier::kWeak) exec_program(p);

  struct sigaction sa {};
  sa.sa_handler = on_kill_request;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGUSR1, &sa, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  sys::CloneArgs args;
  args.exit_signal = SIGCHLD;
  pid_t pid = sys::clone3(&args);
  if (pid == 0) exec_program(p);
  if (pid < 0) fail_setup(p.err_fd, "fork program", errno);
  // The init keeps only its status pipe: EOF on the error pipe means exec happened, and no
  // pipe of the program stays open because of us.
  for (int fd : {p.stdin_fd, p.stdout_fd, p.stderr_fd, p.err_fd, 0, 1, 2}) ::close(fd);

  InitReport r{};
  r.magic = kInitMagic;
  while (true) {
    int status = 0;
    pid_t w = ::wait4(-1, &status, 0, nullptr);
    if (w == pid) {
      r.status = status;
      r.reaped = 1;
      break;
    }
    if (w < 0 && errno != EINTR) break;
  }
  // The program is gone: whatever it left behind goes with the namespace.
  ::kill(-1, SIGKILL);
  while (::wait4(-1, nullptr, 0, nullptr) > 0 || errno == EINTR) {
  }
  rusage ru{};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  r.utime_us = ru.ru_utime.tv_sec * 1000000ll + ru.ru_utime.tv_usec;
  r.stime_us = ru.ru_stime.tv_sec * 1000000ll + ru.ru_stime.tv_usec;
  r.maxrss_kb = ru.ru_maxrss;
  r.kill_requested = g_kill_requested;
  ssize_t ignored = ::write(p.status_fd, &r, sizeof r);
  (void)ignored;
  ::_exit(0);
}

// Keeps the first and the last bytes of a stream within a cap.
class HeadTail {
 public:
  explicit HeadTail(int64_t cap) : half_(static_cast<size_t>(std::max<int64_t>(cap, 2) / 2)) {}
  void append(const char* p, size_t n) {
    total_ += n;
    size_t to_head = std::min(n, half_ - std::min(half_, head_.size()));
    head_.append(p, to_head);
    p += to_head;
    n -= to_head;
    if (n == 0) return;
    tail_.append(p, n);
    if (tail_.size() > 2 * half_) tail_.erase(0, tail_.size() - half_);
  }
  std::string text() const {
    if (tail_.size() <= half_ && head_.size() + tail_.size() == total_) return head_ + tail_;
    std::string t = tail_.size() > half_ ? tail_.substr(tail_.size() - half_) : tail_;
    return head_ + "\n[... " + std::to_string(total_ - head_.size() - t.size()) +
           " bytes dropped ...]\n" + t;
  }

 private:
  size_t half_;
  size_t total_ = 0;
  std::string head_, tail_;
};

struct Proc {
  ExecSpec* spec = nullptr;
  Conversation* conv = nullptr;
  ChildPlan plan;
  std::vector<std::string> strings;  // storage behind plan.argv / plan.envp
  std::string root, cwd;
  sys::Fd stdin_fd, stdout_r, stdout_w, stderr_r, stderr_w, err_r, err_w, status_r, status_w;
  sys::Fd pidfd;
  pid_t pid = -1;
  bool started = false, exec_done = false, reaped = false;
  int64_t start_us = 0, exec_us = 0, end_us = 0;
  int64_t next_poll_us = 0, kill_escalate_us = 0, grace_deadline_us = 0;
  bool kill_sent = false;
  RunFacts::End kill_reason = RunFacts::End::kExited;
  std::string setup_error;
  int wait_status = 0;
  rusage ru{};
  std::string out;
  bool out_overflow = false;
  HeadTail err{65536};
  pid_t program_host_pid = 0;  // userns tier: polled for CPU time
  int64_t polled_cpu_us = 0;
  // Conversation: our end of the program's stdin, bytes not yet written, its stdout so far.
  sys::Fd input_w;
  std::string pending;
  bool close_pending = false;
  std::string conv_buffer;
};

std::string describe_setup_error(const SetupError& e) {
  std::string step(e.step, strnlen(e.step, sizeof e.step));
  return "sandbox setup failed at " + step + ": " + sys::errno_text(e.err);
}

Status make_pipe(sys::Fd* r, sys::Fd* w) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Internal(sys::errno_message("pipe2"));
  r->reset(fds[0]);
  w->reset(fds[1]);
  return Status::Ok();
}

Status make_stdin(std::string_view data, sys::Fd* fd) {
  fd->reset(static_cast<int>(::memfd_create("stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING)));
  if (!fd->valid()) return Internal(sys::errno_message("memfd_create"));
  if (!sys::write_all(fd->get(), data)) return Internal(sys::errno_message("write stdin"));
  ::fcntl(fd->get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  if (::lseek(fd->get(), 0, SEEK_SET) != 0) return Internal(sys::errno_message("lseek stdin"));
  return Status::Ok();
}

rlimit clamp_rlimit(int resource, rlim_t soft, rlim_t hard) {
  rlimit cur{};
  ::getrlimit(static_cast<__rlimit_resource>(resource), &cur);
  hard = std::min(hard, cur.rlim_max);
  soft = std::min(soft, hard);
  return {soft, hard};
}

// The program's own CPU time (and its reaped children's) from /proc, for the userns tier.
int64_t proc_cpu_us(pid_t pid) {
  auto stat = sys::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat.ok()) return -1;
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return -1;
  // Fields after the command: state(3) ... utime(14) stime(15) cutime(16) cstime(17).
  std::vector<int64_t> f;
  size_t i = close + 2;
  while (i < stat->size() && f.size() < 16) {
    size_t sp = stat->find(' ', i);
    f.push_back(sys::parse_i64(stat->substr(i, sp - i), 0));
    if (sp == std::string::npos) break;
    i = sp + 1;
  }
  if (f.size() < 15) return -1;
  static const int64_t ticks = ::sysconf(_SC_CLK_TCK);
  return (f[11] + f[12] + f[13] + f[14]) * 1000000 / ticks;
}

pid_t first_child(pid_t pid) {
  auto text = sys::read_file(
      "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children", 4096);
  if (!text.ok()) return 0;
  return static_cast<pid_t>(sys::parse_i64(*text, 0));
}

void drain(int fd, Proc& p, bool is_stdout) {
  char buf[65536];
  while (true) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    if (is_stdout) {
      int64_t cap = p.spec->limits.stdout_bytes;
      size_t room =
          static_cast<size_t>(std::max<int64_t>(0, cap - static_cast<int64_t>(p.out.size())));
      p.out.append(buf, std::min(room, static_cast<size_t>(r)));
      if (static_cast<size_t>(r) > room) p.out_overflow = true;
    } else {
      p.err.append(buf, static_cast<size_t>(r));
    }
  }
}

// Kills every remaining descendant of this (subreaper) worker: the weak tier's cleanup.
void kill_descendants() {
  for (int round = 0; round < 1000; ++round) {
    pid_t self = ::getpid();
    auto text = sys::read_file(
        "/proc/" + std::to_string(self) + "/task/" + std::to_string(self) + "/children", 1 << 20);
    bool any = false;
    if (text.ok()) {
      size_t i = 0;
      while (i < text->size()) {
        size_t sp = text->find(' ', i);
        int64_t pid = sys::parse_i64(
            text->substr(i, sp == std::string::npos ? std::string::npos : sp - i), 0);
        if (pid > 0) {
          any = true;
          ::kill(static_cast<pid_t>(pid), SIGKILL);
        }
        if (sp == std::string::npos) break;
        i = sp + 1;
      }
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (!any) return;
    ::usleep(1000);
  }
}

}  // namespace detail

using namespace detail;

// The processes of one run and the loop that watches them. Executor::run drives it from start
// to end; a Persistent process keeps it across several dialogues (pump until the dialogue
// says it is finished).
class ExecSession {
 public:
  ExecSession(Tier tier, const std::vector<sock_filter>* filter, bool interactive)
      : tier_(tier), filter_(filter), interactive_(interactive) {}
  void start(const std::vector<ExecSpec*>& specs);
  // Watches until every process has ended (false) or `until` holds (true).
  bool pump(const std::function<bool()>& until);
  std::vector<ExecOutcome> collect();
  bool all_ended() const {
    for (const auto& p : procs_)
      if (p.started && !p.reaped) return false;
    return true;
  }
  void kill_all(RunFacts::End reason) {
    for (auto& p : procs_) send_kill(p, reason);
  }
  std::string take_stderr(size_t i) {
    Proc& p = procs_[i];
    if (p.stderr_r.valid()) drain(p.stderr_r.get(), p, false);
    std::string text = p.err.text();
    p.err = HeadTail(p.spec->limits.stderr_bytes);
    return text;
  }
  void set_conversation(size_t i, Conversation* c) {
    Proc& p = procs_[i];
    p.conv = c;
    p.conv_buffer.clear();
    if (c && p.started && !p.reaped) apply(p, c->start());
  }

 private:
  void send_kill(Proc& p, RunFacts::End reason);
  int64_t cpu_now(Proc& p);
  void flush_input(Proc& p);
  void apply(Proc& p, const Conversation::Action& a);

  Tier tier_;
  const std::vector<sock_filter>* filter_;
  bool interactive_;
  sock_fprog filter_prog_{};
  std::vector<Proc> procs_;
};

void ExecSession::send_kill(Proc& p, RunFacts::End reason) {
  if (p.reaped || p.kill_sent || !p.started) return;
  p.kill_sent = true;
  p.kill_reason = reason;
  if (tier_ == Tier::kWeak) {
    ::kill(-p.pid, SIGKILL);
    ::kill(p.pid, SIGKILL);
  } else {
    sys::pidfd_send_signal(p.pidfd.get(), SIGUSR1);
    p.kill_escalate_us = sys::monotonic_us() + 300000;
  }
}

int64_t ExecSession::cpu_now(Proc& p) {
  int64_t used = p.spec->cell->cgroup().cpu_us_since_start();
  if (used < 0 && tier_ == Tier::kUserns) {
    if (!p.program_host_pid) p.program_host_pid = first_child(p.pid);
    if (p.program_host_pid) used = proc_cpu_us(p.program_host_pid);
  }
  if (used >= 0) p.polled_cpu_us = std::max(p.polled_cpu_us, used);
  return used;
}

void ExecSession::flush_input(Proc& p) {
  while (!p.pending.empty() && p.input_w.valid()) {
    ssize_t w = ::write(p.input_w.get(), p.pending.data(), p.pending.size());
    if (w > 0) {
      p.pending.erase(0, static_cast<size_t>(w));
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && errno == EAGAIN) {
      return;  // POLLOUT will bring us back
    } else {
      p.pending.clear();  // the program stopped reading (EPIPE): nothing more to say
      p.input_w.reset();
    }
  }
  if (p.pending.empty() && p.close_pending) p.input_w.reset();
}

void ExecSession::apply(Proc& p, const Conversation::Action& a) {
  p.pending += a.write;
  if (a.close_input) p.close_pending = true;
  if (a.stop) send_kill(p, RunFacts::End::kKilled);
  flush_input(p);
}

void ExecSession::start(const std::vector<ExecSpec*>& specs) {
  const size_t n = specs.size();
  procs_ = std::vector<Proc>(n);
  auto& procs = procs_;
  if (filter_ && !filter_->empty())
    filter_prog_ = {static_cast<unsigned short>(filter_->size()),
                    const_cast<sock_filter*>(filter_->data())};

  // ---- prepare and start every process
  for (size_t i = 0; i < n; ++i) {
    Proc& p = procs[i];
    p.spec = specs[i];
    p.conv = specs[i]->conversation;
    ExecSpec& s = *p.spec;
    Cell& cell = *s.cell;
    const Limits& lim = s.limits;
    p.err = HeadTail(lim.stderr_bytes);
    auto fail = [&](const Status& st) { p.setup_error = st.message(); };

    if (auto st = cell.cgroup().set_limits(lim.memory_bytes, lim.max_processes + 1); !st.ok()) {
      fail(st);
      continue;
    }
    if (auto st = cell.cgroup().before_run(); !st.ok()) {
      fail(st);
      continue;
    }
    if (s.conversation) {
      if (auto st = make_pipe(&p.stdin_fd, &p.input_w); !st.ok()) {
        fail(st);
        continue;
      }
      ::fcntl(p.input_w.get(), F_SETFL, O_NONBLOCK);
      ::fcntl(p.input_w.get(), F_SETPIPE_SZ, 1 << 20);
    } else if (s.stdin_fd < 0) {
      if (auto st = make_stdin(s.stdin_data, &p.stdin_fd); !st.ok()) {
        fail(st);
        continue;
      }
    }
    if (s.stdout_fd < 0) {
      if (auto st = make_pipe(&p.stdout_r, &p.stdout_w); !st.ok()) {
        fail(st);
        continue;
      }
      ::fcntl(p.stdout_r.get(), F_SETPIPE_SZ, 1 << 20);
    }
    Status st = make_pipe(&p.stderr_r, &p.stderr_w);
    if (st.ok()) st = make_pipe(&p.err_r, &p.err_w);
    if (st.ok()) st = make_pipe(&p.status_r, &p.status_w);
    if (!st.ok()) {
      fail(st);
      continue;
    }

    ChildPlan& plan = p.plan;
    plan.tier = tier_;
    p.root = cell.root();
    p.cwd = cell.box();
    plan.root = p.root.empty() ? nullptr : p.root.c_str();
    plan.cwd = p.cwd.c_str();
    p.strings = s.argv;
    p.strings.insert(p.strings.end(), s.env.begin(), s.env.end());
    for (size_t k = 0; k < s.argv.size(); ++k) plan.argv.push_back(p.strings[k].data());
    plan.argv.push_back(nullptr);
    for (size_t k = s.argv.size(); k < p.strings.size(); ++k)
      plan.envp.push_back(p.strings[k].data());
    plan.envp.push_back(nullptr);
    plan.stdin_fd = s.stdin_fd >= 0 ? s.stdin_fd : p.stdin_fd.get();
    plan.stdout_fd = s.stdout_fd >= 0 ? s.stdout_fd : p.stdout_w.get();
    plan.stderr_fd = p.stderr_w.get();
    plan.err_fd = p.err_w.get();
    plan.status_fd = p.status_w.get();
    plan.join_fds = cell.cgroup().join_fds();
    plan.seccomp = filter_prog_.len ? &filter_prog_ : nullptr;
    plan.landlock_fd = tier_ == Tier::kWeak ? cell.landlock_fd() : -1;
    plan.cpu = s.cpu;
    bool root_user = ::geteuid() == 0;
    plan.change_uid = tier_ == Tier::kFull || (tier_ == Tier::kWeak && root_user);
    plan.uid = cell.uid();
    plan.gid = cell.gid();
    plan.drop_caps = tier_ == Tier::kUserns;

    // rlimits: backstops in the full tier, the limits themselves in the others.
    int64_t cpu_s = (std::max(lim.cpu_time_ms, s.cpu_kill_ms) + 999) / 1000 + 1;
    auto add = [&](int res, rlim_t soft, rlim_t hard) {
      plan.rlimits.push_back({res, clamp_rlimit(res, soft, hard)});
    };
    add(RLIMIT_CPU, static_cast<rlim_t>(cpu_s), static_cast<rlim_t>(cpu_s + 1));
    add(RLIMIT_STACK, static_cast<rlim_t>(lim.effective_stack_bytes()),
        static_cast<rlim_t>(lim.effective_stack_bytes()));
    add(RLIMIT_FSIZE, static_cast<rlim_t>(lim.file_size_bytes),
        static_cast<rlim_t>(lim.file_size_bytes));
    add(RLIMIT_NOFILE, 256, 256);
    add(RLIMIT_CORE, 0, 0);
    add(RLIMIT_MEMLOCK, 0, 0);
    add(RLIMIT_MSGQUEUE, 0, 0);
    if (tier_ != Tier::kFull) {
      add(RLIMIT_NPROC, static_cast<rlim_t>(lim.max_processes),
          static_cast<rlim_t>(lim.max_processes));
      rlim_t mem = static_cast<rlim_t>(lim.memory_bytes + s.rlimit_headroom_bytes);
      add(s.rlimit_data_not_as ? RLIMIT_DATA : RLIMIT_AS, mem, mem);
    }

    sys::CloneArgs args;
    int pidfd = -1;
    args.flags = CLONE_PIDFD;
    if (tier_ != Tier::kWeak) args.flags |= CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (cell.cgroup().clone_into_fd() >= 0) {
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = static_cast<uint64_t>(cell.cgroup().clone_into_fd());
    }
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    p.start_us = sys::monotonic_us();
    pid_t pid = sys::clone3(&args);
    if (pid == 0) child_main(plan);  // never returns
    if (pid < 0) {
      fail(Internal(sys::errno_message("clone3")));
      continue;
    }
    p.pid = pid;
    p.pidfd.reset(pidfd);
    p.started = true;
    // Our copies of the child's ends: closing them makes EOF mean what it should.
    p.stdout_w.reset();
    p.stderr_w.reset();
    p.err_w.reset();
    p.status_w.reset();
    p.stdin_fd.reset();
    for (sys::Fd* fd : {&p.stdout_r, &p.stderr_r, &p.err_r, &p.status_r})
      if (fd->valid()) ::fcntl(fd->get(), F_SETFL, O_NONBLOCK);
  }

  // Pipes given by the caller now live in the children only: EOF must be able to happen.
  for (auto* s : specs) {
    if (s->stdin_fd >= 0) ::close(std::exchange(s->stdin_fd, -1));
    if (s->stdout_fd >= 0) ::close(std::exchange(s->stdout_fd, -1));
  }

  for (auto& p : procs)
    if (p.started && p.conv) apply(p, p.conv->start());

  // A process that could not start: in an interactive pair the other side cannot run either.
  if (interactive_)
    for (auto& p : procs)
      if (!p.started)
        for (auto& q : procs) send_kill(q, RunFacts::End::kKilled);
}

bool ExecSession::pump(const std::function<bool()>& until) {
  auto& procs = procs_;
  while (true) {
    if (until && until()) return true;
    int64_t now = sys::monotonic_us();
    bool running = false;
    int64_t wake = now + 1000000;
    for (auto& p : procs) {
      if (!p.started || p.reaped) continue;
      running = true;
      const Limits& lim = p.spec->limits;
      if (p.kill_sent) {
        if (p.kill_escalate_us && now >= p.kill_escalate_us) {
          sys::pidfd_send_signal(p.pidfd.get(), SIGKILL);
          p.kill_escalate_us = 0;
        }
        if (p.kill_escalate_us) wake = std::min(wake, p.kill_escalate_us);
        continue;
      }
      int64_t base = p.exec_done ? p.exec_us : p.start_us;
      int64_t wall_deadline = base + lim.effective_wall_ms() * 1000;
      if (now >= wall_deadline) {
        send_kill(p, RunFacts::End::kWallLimit);
        continue;
      }
      wake = std::min(wake, wall_deadline);
      if (p.grace_deadline_us) {
        if (now >= p.grace_deadline_us) {
          send_kill(p, RunFacts::End::kKilled);
          continue;
        }
        wake = std::min(wake, p.grace_deadline_us);
      }
      if (p.out_overflow) {
        send_kill(p, RunFacts::End::kOutputLimit);
        continue;
      }
      // CPU polling: at most every 50 ms, sooner as the limit approaches.
      if (p.exec_done && now >= p.next_poll_us) {
        int64_t used = cpu_now(p);
        int64_t kill_ms = p.spec->cpu_kill_ms > 0 ? p.spec->cpu_kill_ms : lim.cpu_time_ms;
        if (used > kill_ms * 1000) {
          send_kill(p, RunFacts::End::kCpuLimit);
          continue;
        }
        if (p.conv) {
          apply(p, p.conv->on_tick(used, now));
          if (p.kill_sent) continue;
        }
        int64_t left_us = used >= 0 ? kill_ms * 1000 - used : 50000;
        p.next_poll_us = now + std::clamp<int64_t>(left_us / 4, 2000, p.conv ? 10000 : 50000);
      }
      if (p.exec_done) wake = std::min(wake, p.next_poll_us);
    }
    if (!running) return false;

    std::vector<pollfd> fds;
    std::vector<std::pair<Proc*, int>> what;  // 0 pidfd, 1 stdout, 2 stderr, 3 exec-error pipe
    for (auto& p : procs) {
      if (!p.started || p.reaped) continue;
      fds.push_back({p.pidfd.get(), POLLIN, 0});
      what.emplace_back(&p, 0);
      if (p.stdout_r.valid()) {
        fds.push_back({p.stdout_r.get(), POLLIN, 0});
        what.emplace_back(&p, 1);
      }
      if (p.stderr_r.valid()) {
        fds.push_back({p.stderr_r.get(), POLLIN, 0});
        what.emplace_back(&p, 2);
      }
      if (p.err_r.valid()) {
        fds.push_back({p.err_r.get(), POLLIN, 0});
        what.emplace_back(&p, 3);
      }
      if (p.input_w.valid() && !p.pending.empty()) {
        fds.push_back({p.input_w.get(), POLLOUT, 0});
        what.emplace_back(&p, 4);
      }
    }
    int timeout_ms = static_cast<int>(std::max<int64_t>(0, (wake - now + 999) / 1000));
    int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    for (size_t k = 0; k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      Proc& p = *what[k].first;
      switch (what[k].second) {
        case 1:
        case 2: {
          bool is_out = what[k].second == 1;
          sys::Fd& fd = is_out ? p.stdout_r : p.stderr_r;
          char buf[65536];
          ssize_t r = ::read(fd.get(), buf, sizeof buf);
          if (r > 0 && is_out && p.conv) {
            p.conv_buffer.append(buf, static_cast<size_t>(r));
            if (!p.kill_sent)
              apply(p, p.conv->on_output(&p.conv_buffer, cpu_now(p), sys::monotonic_us()));
          } else if (r > 0) {
            if (is_out) {
              int64_t cap = p.spec->limits.stdout_bytes;
              size_t room = static_cast<size_t>(
                  std::max<int64_t>(0, cap - static_cast<int64_t>(p.out.size())));
              p.out.append(buf, std::min(room, static_cast<size_t>(r)));
              if (static_cast<size_t>(r) > room) p.out_overflow = true;
            } else {
              p.err.append(buf, static_cast<size_t>(r));
            }
          } else if (r == 0) {
            fd.reset();  // EOF (never waited for: the pidfd decides the end)
          }
          break;
        }
        case 4:
          flush_input(p);
          break;
        case 3: {
          SetupError e{};
          ssize_t r = ::read(p.err_r.get(), &e, sizeof e);
          if (r == static_cast<ssize_t>(sizeof e)) p.setup_error = describe_setup_error(e);
          if (r >= 0 || errno != EAGAIN) {
            p.err_r.reset();
            if (p.setup_error.empty()) {
              p.exec_done = true;
              p.exec_us = sys::monotonic_us();
              p.next_poll_us = p.exec_us + 2000;
            }
          }
          break;
        }
        case 0: {
          if (tier_ == Tier::kWeak) {
            if (::wait4(p.pid, &p.wait_status, WNOHANG, &p.ru) != p.pid) break;
          } else {
            siginfo_t si{};
            if (::waitid(static_cast<idtype_t>(3) /* P_PIDFD, 5.4 */,
                         static_cast<id_t>(p.pidfd.get()), &si, WEXITED | WNOHANG) != 0 ||
                si.si_pid == 0)
              break;
          }
          p.reaped = true;
          p.end_us = sys::monotonic_us();
          if (interactive_) {
            size_t self = static_cast<size_t>(&p - procs.data());
            for (size_t q = 0; q < procs.size(); ++q) {
              if (q == self || procs[q].reaped) continue;
              if (p.kill_sent && p.kill_reason != RunFacts::End::kKilled) {
                send_kill(procs[q], RunFacts::End::kKilled);  // a side hit its limits
              } else if (self == 1) {
                procs[q].grace_deadline_us = p.end_us + 1000000;  // interactor done: 1 s more
              }
            }
          }
          break;
        }
      }
    }
  }
}

std::vector<ExecOutcome> ExecSession::collect() {
  auto& procs = procs_;
  const size_t n = procs.size();
  if (tier_ == Tier::kWeak) kill_descendants();
  std::vector<ExecOutcome> out(n);
  for (size_t i = 0; i < n; ++i) {
    Proc& p = procs[i];
    RunFacts& f = out[i].facts;
    if (p.stdout_r.valid() && p.conv) {
      char buf[65536];
      ssize_t r;
      while ((r = ::read(p.stdout_r.get(), buf, sizeof buf)) > 0)
        p.conv_buffer.append(buf, static_cast<size_t>(r));
      if (!p.conv_buffer.empty())
        p.conv->on_output(&p.conv_buffer, p.polled_cpu_us, sys::monotonic_us());
    } else if (p.stdout_r.valid()) {
      drain(p.stdout_r.get(), p, true);
    }
    if (p.stderr_r.valid()) drain(p.stderr_r.get(), p, false);
    if (p.err_r.valid()) {  // an error written just before the end
      SetupError e{};
      if (::read(p.err_r.get(), &e, sizeof e) == static_cast<ssize_t>(sizeof e))
        p.setup_error = describe_setup_error(e);
    }
    out[i].stdout_data = std::move(p.out);
    out[i].stderr_data = p.err.text();
    if (!p.setup_error.empty() || !p.started) {
      f.end = RunFacts::End::kSetupError;
      f.error = p.setup_error.empty() ? "sandbox: process not started" : p.setup_error;
      if (p.started) p.spec->cell->cgroup().wait_empty(2000);
      continue;
    }
    f.wall_ms = p.exec_done ? (p.end_us - p.exec_us) / 1000 : 0;
    int status = 0;
    bool have_status = false;
    int64_t cpu_us = -1, maxrss_kb = 0;
    if (tier_ == Tier::kWeak) {
      status = p.wait_status;
      have_status = true;
      cpu_us = (p.ru.ru_utime.tv_sec + p.ru.ru_stime.tv_sec) * 1000000ll + p.ru.ru_utime.tv_usec +
               p.ru.ru_stime.tv_usec;
      maxrss_kb = p.ru.ru_maxrss;
    } else {
      InitReport r{};
      if (::read(p.status_r.get(), &r, sizeof r) == static_cast<ssize_t>(sizeof r) &&
          r.magic == kInitMagic) {
        if (r.reaped) {
          status = r.status;
          have_status = true;
        }
        cpu_us = r.utime_us + r.stime_us;
        maxrss_kb = r.maxrss_kb;
      }
    }
    // The cgroup, where there is one, is the authority on CPU time and memory.
    auto& cg = p.spec->cell->cgroup();
    bool emptied = cg.wait_empty(2000);
    CellCgroup::Usage usage = cg.after_run();
    if (!usage.ok || !emptied) {
      f.end = RunFacts::End::kSetupError;
      f.error = !emptied ? "sandbox: processes left in the cell's cgroup" : usage.error;
      continue;
    }
    bool by_cgroup = tier_ == Tier::kFull;
    if (by_cgroup) {
      cpu_us = usage.cpu_us;
      f.memory_kb = usage.peak_bytes / 1024;
      f.oom_killed = usage.oom_killed;
    } else {
      f.memory_kb = maxrss_kb;
      cpu_us = std::max(cpu_us, p.polled_cpu_us);
    }
    f.cpu_ms = std::max<int64_t>(0, cpu_us) / 1000;

    if (p.kill_sent) {
      f.end = p.kill_reason;
      if (have_status && WIFSIGNALED(status)) f.signal = WTERMSIG(status);
    } else if (!have_status) {
      // The init died without a report: killed from outside (OOM in its cgroup) or broken.
      if (f.oom_killed) {
        f.end = RunFacts::End::kSignaled;
        f.signal = SIGKILL;
      } else {
        f.end = RunFacts::End::kSetupError;
        f.error = "sandbox: the init process ended without a report";
      }
    } else if (WIFSIGNALED(status)) {
      f.end = RunFacts::End::kSignaled;
      f.signal = WTERMSIG(status);
    } else {
      f.end = RunFacts::End::kExited;
      f.exit_code = WEXITSTATUS(status);
    }
    // rlimit tiers: a death near the memory limit, or the runtime saying it ran out, is MLE.
    if (!by_cgroup && (f.end == RunFacts::End::kSignaled ||
                       (f.end == RunFacts::End::kExited && f.exit_code != 0))) {
      const std::string& e = out[i].stderr_data;
      bool near_limit = f.memory_kb * 1024 >= p.spec->limits.memory_bytes * 9 / 10;
      bool says_so = e.find("std::bad_alloc") != std::string::npos ||
                     e.find("MemoryError") != std::string::npos ||
                     e.find("Cannot allocate memory") != std::string::npos;
      f.memory_limit_hit = near_limit || says_so;
    }
  }
  return out;
}

std::vector<ExecOutcome> Executor::run(const std::vector<ExecSpec*>& specs, bool interactive) {
  ExecSession s(tier_, filter_, interactive);
  s.start(specs);
  s.pump(nullptr);
  return s.collect();
}

Executor::Persistent::~Persistent() {
  if (session_) finish();
}

bool Executor::Persistent::alive() const { return session_ && !session_->all_ended(); }

bool Executor::Persistent::converse(Conversation* conv) {
  if (!alive()) return false;
  session_->set_conversation(0, conv);
  bool finished = session_->pump([conv] { return conv->finished(); });
  session_->set_conversation(0, nullptr);
  return finished;
}

ExecOutcome Executor::Persistent::finish() {
  session_->kill_all(RunFacts::End::kKilled);
  session_->pump(nullptr);
  ExecOutcome out = std::move(session_->collect()[0]);
  session_.reset();
  return out;
}

std::string Executor::Persistent::take_stderr() { return session_ ? session_->take_stderr(0) : ""; }

std::unique_ptr<Executor::Persistent> Executor::start_persistent(ExecSpec* spec) {
  auto p = std::unique_ptr<Persistent>(new Persistent());
  p->session_ = std::make_unique<ExecSession>(tier_, filter_, false);
  p->session_->start({spec});
  return p;
}

}  // namespace v4eval::sandbox
