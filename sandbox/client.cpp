// The harness side of the sandbox: spawns v4eval-sandboxd (posix_spawn, safe in a
// multi-threaded process: no fork of our address space), keeps a pool of slot connections and
// serves `judge` calls from any thread.

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "sandbox/daemon/sys.h"
#include "sandbox/sandbox.h"
#include "sandbox/wire.h"

#ifndef V4EVAL_SANDBOXD_BUILD_PATH
#define V4EVAL_SANDBOXD_BUILD_PATH ""
#endif

namespace v4eval::sandbox {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string find_launcher(const SandboxOptions& o) {
  if (!o.launcher_path.empty()) return o.launcher_path;
  std::vector<std::string> candidates;
  if (const char* e = std::getenv("V4EVAL_SANDBOXD"); e && *e) return e;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string exe(self, static_cast<size_t>(n));
    candidates.push_back(exe.substr(0, exe.rfind('/')) + "/v4eval-sandboxd");
  }
  candidates.push_back(V4EVAL_SANDBOXD_BUILD_PATH);
  for (const auto& c : candidates)
    if (!c.empty() && ::access(c.c_str(), X_OK) == 0) return c;
  return "";
}

std::string default_cache_dir() {
  if (const char* e = std::getenv("V4EVAL_CACHE_DIR"); e && *e) return e;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/v4eval";
  // Root's home is private (0700): a sandbox worker running under another uid (userns tier)
  // could not read a precompiled header kept there.
  if (::geteuid() == 0) return "/var/cache/v4eval";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/v4eval";
  return "";
}

int default_slots() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
}

// A deadline for one request: every limit it could use, three attempts, and slack.
int64_t request_timeout_ms(const JudgeRequest& r) {
  int64_t compile = 2 * r.compile_cpu_time_ms + 5000;
  int64_t total = 60000 + 3 * compile * (1 + (r.checker ? 1 : 0) + (r.interactor ? 1 : 0));
  int64_t per_test = r.limits.effective_wall_ms() * 4 + 2000;  // time multipliers are small
  if (r.interactor) per_test += r.limits.effective_wall_ms() + 4000;
  if (r.checker) per_test += 26000;
  total += 3 * per_test * static_cast<int64_t>(r.tests.size());
  return total;
}

JudgeReport internal_error(const JudgeRequest& req, std::string message) {
  JudgeReport rep;
  rep.verdict = Verdict::kInternalError;
  rep.detail = std::move(message);
  rep.compile.verdict = Verdict::kInternalError;
  rep.tests.assign(req.tests.size(), TestReport{});
  for (auto& t : rep.tests) t.attempts = 0;
  return rep;
}

}  // namespace

struct Sandbox::Impl {
  SandboxOptions options;
  TierReport tier;
  pid_t launcher_pid = -1;
  sys::Fd launcher_pidfd;
  std::mutex control_mu;  // the control socket: respawn requests, shutdown
  sys::Fd control;
  bool launcher_lost = false;

  std::mutex mu;  // the slot pool
  std::condition_variable free_cv;
  struct Slot {
    sys::Fd fd;
    bool busy = false;
  };
  std::vector<Slot> slots;

  int acquire() {
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      for (size_t i = 0; i < slots.size(); ++i)
        if (!slots[i].busy) {
          slots[i].busy = true;
          return static_cast<int>(i);
        }
      free_cv.wait(lock);
    }
  }
  void release(int slot) {
    {
      std::lock_guard<std::mutex> lock(mu);
      slots[slot].busy = false;
    }
    free_cv.notify_one();
  }

  // The slot's worker died or stopped answering: the launcher replaces it. Called by the
  // thread holding the slot.
  Status respawn(int slot) {
    std::lock_guard<std::mutex> lock(control_mu);
    slots[slot].fd.reset();
    if (launcher_lost) return Unavailable("sandbox launcher is gone");
    wire::Writer w;
    w.u8(wire::kRespawn);
    w.i64(slot);
    Status s = wire::write_frame(control.get(), w.buffer());
    if (s.ok()) {
      auto fd = wire::recv_fd(control.get(), 30000);
      if (fd.ok()) {
        slots[slot].fd.reset(fd->first);
        return Status::Ok();
      }
      s = fd.status();
    }
    launcher_lost = true;
    return Unavailable("sandbox launcher is gone: " + s.message());
  }
};

Sandbox::Sandbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Sandbox>> Sandbox::start(const SandboxOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::string launcher = find_launcher(options);
  if (launcher.empty())
    return Unavailable(
        "sandbox: v4eval-sandboxd not found (beside the executable, or set V4EVAL_SANDBOXD)");
  int slots = options.slots > 0 ? options.slots : default_slots();
  std::string runtime = !options.runtime_dir.empty()
                            ? options.runtime_dir
                            : env_or("V4EVAL_SANDBOX_DIR", env_or("TMPDIR", "/tmp"));
  std::string cache = !options.cache_dir.empty() ? options.cache_dir : default_cache_dir();
  if (auto s = sys::make_dirs(runtime, 0755); !s.ok())
    return Unavailable("sandbox: runtime directory " + runtime + ": " + s.message());
  std::string tier = "auto";
  switch (options.tier) {
    case TierChoice::kAuto:
      tier = "auto";
      break;
    case TierChoice::kFull:
      tier = "full";
      break;
    case TierChoice::kUserns:
      tier = "userns";
      break;
    case TierChoice::kWeak:
      tier = "weak";
      break;
  }
  std::string deny;
  for (const auto& d : options.deny_tiers) deny += (deny.empty() ? "" : ",") + d;
  if (const char* e = std::getenv("V4EVAL_SANDBOX_DENY"); e && *e)
    deny += (deny.empty() ? "" : ",") + std::string(e);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Unavailable(sys::errno_message("sandbox: socketpair"));
  sys::Fd ours(sv[0]), theirs(sv[1]);
  if (theirs.get() <= 3) theirs.reset(::fcntl(theirs.get(), F_DUPFD_CLOEXEC, 10));

  std::vector<std::string> args = {launcher,
                                   "--control-fd",
                                   "3",
                                   "--slots",
                                   std::to_string(slots),
                                   "--tier",
                                   tier,
                                   "--runtime-dir",
                                   runtime,
                                   "--cache-dir",
                                   cache};
  if (!deny.empty()) args.insert(args.end(), {"--deny", deny});
  if (options.pin_cpus) args.push_back("--pin");
  const char* no_zygote = std::getenv("V4EVAL_SANDBOX_NO_ZYGOTE");
  if (!options.lcb_zygote || (no_zygote && *no_zygote && std::string(no_zygote) != "0"))
    args.push_back("--no-zygote");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // A fixed environment: nothing of the harness's (API keys) reaches the sandbox side.
  std::string path = "PATH=/usr/bin:/bin", lang = "LANG=C.UTF-8";
  char* envp[] = {path.data(), lang.data(), nullptr};

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, 2, 1);  // our stdout carries machine output: keep it clean
  posix_spawn_file_actions_adddup2(&fa, theirs.get(), 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  // Its own session: a Ctrl-C aimed at the harness does not kill it before it cleans up.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, launcher.c_str(), &fa, &attr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Unavailable("sandbox: cannot start " + launcher + ": " + sys::errno_text(rc));
  theirs.reset();
  impl->launcher_pid = pid;
  impl->launcher_pidfd.reset(sys::pidfd_open(pid));
  impl->control = std::move(ours);

  auto fail = [&](const std::string& message) -> Status {
    impl->control.reset();  // the launcher sees EOF, cleans up and exits
    ::waitpid(pid, nullptr, 0);
    return Unavailable(message);
  };
  auto hello = wire::read_frame(impl->control.get(), 120000);
  if (!hello.ok()) return fail("sandbox: launcher did not start: " + hello.status().message());
  wire::Reader r(*hello);
  if (r.u8() != wire::kHello) return fail("sandbox: launcher spoke nonsense");
  if (!r.boolean()) return fail(r.str());
  wire::get(r, &impl->tier);
  int64_t n = r.i64();
  if (!r.ok() || n != slots) return fail("sandbox: malformed hello from the launcher");
  impl->slots.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto fd = wire::recv_fd(impl->control.get(), 30000);
    if (!fd.ok()) return fail("sandbox: " + fd.status().message());
    if (fd->second >= n) return fail("sandbox: bad slot index from the launcher");
    impl->slots[fd->second].fd.reset(fd->first);
  }
  return std::unique_ptr<Sandbox>(new Sandbox(std::move(impl)));
}

Sandbox::~Sandbox() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->control_mu);
    wire::Writer w;
    w.u8(wire::kShutdown);
    (void)wire::write_frame(impl_->control.get(), w.buffer());
    for (auto& s : impl_->slots) s.fd.reset();
    impl_->control.reset();
  }
  // The launcher kills its workers and removes its cgroups and files; give it time.
  if (impl_->launcher_pidfd.valid()) {
    pollfd p{impl_->launcher_pidfd.get(), POLLIN, 0};
    if (::poll(&p, 1, 15000) == 0) ::kill(impl_->launcher_pid, SIGKILL);
  }
  ::waitpid(impl_->launcher_pid, nullptr, 0);
}

const TierReport& Sandbox::tier() const { return impl_->tier; }
int Sandbox::slots() const { return static_cast<int>(impl_->slots.size()); }
int Sandbox::launcher_pid() const { return impl_->launcher_pid; }

JudgeReport Sandbox::judge(const JudgeRequest& req) {
  for (const Program* p : {&req.solution, req.checker ? &*req.checker : nullptr,
                           req.interactor ? &*req.interactor : nullptr})
    if (p && !find_language(p->language))
      return internal_error(req, "unknown language '" + p->language + "'");
  wire::Writer w;
  wire::put(w, req);
  const std::string& body = w.buffer();
  int64_t timeout = request_timeout_ms(req);
  std::string last_error;
  for (int retry = 0; retry <= impl_->options.max_internal_retries; ++retry) {
    int slot = impl_->acquire();
    int fd = impl_->slots[slot].fd.get();
    Status s = fd >= 0 ? wire::write_frame(fd, body) : Unavailable("slot has no worker");
    if (s.ok()) {
      auto reply = wire::read_frame(fd, timeout);
      if (reply.ok()) {
        wire::Reader r(*reply);
        JudgeReport rep;
        wire::get(r, &rep);
        if (r.ok() && r.at_end()) {
          impl_->release(slot);
          rep.internal_retries = retry;
          return rep;
        }
        s = Internal("sandbox: malformed reply");
      } else {
        s = reply.status();
      }
    }
    last_error = s.message();
    // The worker is dead, stuck or confused: replace it, then try again.
    Status respawned = impl_->respawn(slot);
    impl_->release(slot);
    if (!respawned.ok()) return internal_error(req, respawned.message());
  }
  JudgeReport rep = internal_error(
      req, "sandbox worker failed " + std::to_string(impl_->options.max_internal_retries + 1) +
               " times: " + last_error);
  rep.internal_retries = impl_->options.max_internal_retries;
  return rep;
}

}  // namespace v4eval::sandbox
