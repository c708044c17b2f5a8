#include "sandbox/wire.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace v4eval::sandbox::wire {

void Writer::i64(int64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  buf_.append(b, 8);
}
void Writer::f64(double v) {
  int64_t bits;
  std::memcpy(&bits, &v, 8);
  i64(bits);
}
void Writer::str(std::string_view s) {
  i64(static_cast<int64_t>(s.size()));
  buf_.append(s.data(), s.size());
}

bool Reader::take(size_t n) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}
uint8_t Reader::u8() {
  if (!take(1)) return 0;
  return static_cast<uint8_t>(data_[pos_++]);
}
int64_t Reader::i64() {
  if (!take(8)) return 0;
  int64_t v;
  std::memcpy(&v, data_.data() + pos_, 8);
  pos_ += 8;
  return v;
}
double Reader::f64() {
  int64_t bits = i64();
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}
std::string Reader::str() {
  int64_t n = i64();
  if (n < 0 || !take(static_cast<size_t>(n))) {
    ok_ = false;
    return {};
  }
  std::string s(data_.substr(pos_, static_cast<size_t>(n)));
  pos_ += static_cast<size_t>(n);
  return s;
}

namespace {
void put_strings(Writer& w, const std::vector<std::string>& v) {
  w.i64(static_cast<int64_t>(v.size()));
  for (const auto& s : v) w.str(s);
}
void get_strings(Reader& r, std::vector<std::string>* v) {
  int64_t n = r.i64();
  v->clear();
  for (int64_t i = 0; i < n && r.ok(); ++i) v->push_back(r.str());
}
void put_compile(Writer& w, const CompileReport& c) {
  w.u8(static_cast<uint8_t>(c.verdict));
  w.boolean(c.cached);
  w.str(c.log);
  w.i64(c.cpu_ms);
  w.i64(c.wall_ms);
  w.i64(c.memory_kb);
}
void get_compile(Reader& r, CompileReport* c) {
  c->verdict = static_cast<Verdict>(r.u8());
  c->cached = r.boolean();
  c->log = r.str();
  c->cpu_ms = r.i64();
  c->wall_ms = r.i64();
  c->memory_kb = r.i64();
}
void put_opt_compile(Writer& w, const std::optional<CompileReport>& c) {
  w.boolean(c.has_value());
  if (c) put_compile(w, *c);
}
void get_opt_compile(Reader& r, std::optional<CompileReport>* c) {
  if (r.boolean()) {
    CompileReport x;
    get_compile(r, &x);
    *c = std::move(x);
  } else {
    c->reset();
  }
}
}  // namespace

void put(Writer& w, const Limits& l) {
  w.i64(l.cpu_time_ms);
  w.i64(l.wall_time_ms);
  w.i64(l.memory_bytes);
  w.i64(l.stack_bytes);
  w.i64(l.max_processes);
  w.i64(l.stdout_bytes);
  w.i64(l.stderr_bytes);
  w.i64(l.file_size_bytes);
  w.i64(l.scratch_bytes);
}
void get(Reader& r, Limits* l) {
  l->cpu_time_ms = r.i64();
  l->wall_time_ms = r.i64();
  l->memory_bytes = r.i64();
  l->stack_bytes = r.i64();
  l->max_processes = static_cast<int32_t>(r.i64());
  l->stdout_bytes = r.i64();
  l->stderr_bytes = r.i64();
  l->file_size_bytes = r.i64();
  l->scratch_bytes = r.i64();
}

void put(Writer& w, const Program& p) {
  w.str(p.language);
  w.str(p.source);
  w.i64(static_cast<int64_t>(p.headers.size()));
  for (const auto& h : p.headers) {
    w.str(h.name);
    w.str(h.content);
  }
}
void get(Reader& r, Program* p) {
  p->language = r.str();
  p->source = r.str();
  int64_t n = r.i64();
  p->headers.clear();
  for (int64_t i = 0; i < n && r.ok(); ++i) {
    SourceFile f;
    f.name = r.str();
    f.content = r.str();
    p->headers.push_back(std::move(f));
  }
}

void put(Writer& w, const JudgeRequest& req) {
  put(w, req.solution);
  w.u8(static_cast<uint8_t>(req.run_mode));
  w.str(req.function_name);
  w.i64(static_cast<int64_t>(req.tests.size()));
  for (const auto& t : req.tests) {
    w.str(t.input);
    w.str(t.answer);
  }
  put(w, req.limits);
  w.u8(static_cast<uint8_t>(req.compare.kind));
  w.f64(req.compare.epsilon);
  w.boolean(req.checker.has_value());
  if (req.checker) put(w, *req.checker);
  w.boolean(req.interactor.has_value());
  if (req.interactor) put(w, *req.interactor);
  w.boolean(req.stop_at_first_failure);
  w.i64(req.compile_cpu_time_ms);
  w.i64(req.compile_memory_bytes);
}
void get(Reader& r, JudgeRequest* req) {
  get(r, &req->solution);
  req->run_mode = static_cast<RunMode>(r.u8());
  req->function_name = r.str();
  int64_t n = r.i64();
  req->tests.clear();
  for (int64_t i = 0; i < n && r.ok(); ++i) {
    TestCase t;
    t.input = r.str();
    t.answer = r.str();
    req->tests.push_back(std::move(t));
  }
  get(r, &req->limits);
  req->compare.kind = static_cast<CompareMode::Kind>(r.u8());
  req->compare.epsilon = r.f64();
  if (r.boolean()) {
    Program p;
    get(r, &p);
    req->checker = std::move(p);
  }
  if (r.boolean()) {
    Program p;
    get(r, &p);
    req->interactor = std::move(p);
  }
  req->stop_at_first_failure = r.boolean();
  req->compile_cpu_time_ms = r.i64();
  req->compile_memory_bytes = r.i64();
}

void put(Writer& w, const JudgeReport& rep) {
  w.u8(static_cast<uint8_t>(rep.verdict));
  w.str(rep.detail);
  put_compile(w, rep.compile);
  put_opt_compile(w, rep.checker_compile);
  put_opt_compile(w, rep.interactor_compile);
  w.i64(static_cast<int64_t>(rep.tests.size()));
  for (const auto& t : rep.tests) {
    w.u8(static_cast<uint8_t>(t.verdict));
    w.str(t.detail);
    w.i64(t.cpu_ms);
    w.i64(t.wall_ms);
    w.i64(t.memory_kb);
    w.boolean(t.exit_code.has_value());
    w.i64(t.exit_code.value_or(0));
    w.i64(t.signal);
    w.str(t.stderr_text);
    w.str(t.checker_message);
    w.i64(t.attempts);
  }
  w.i64(rep.internal_retries);
}
void get(Reader& r, JudgeReport* rep) {
  rep->verdict = static_cast<Verdict>(r.u8());
  rep->detail = r.str();
  get_compile(r, &rep->compile);
  get_opt_compile(r, &rep->checker_compile);
  get_opt_compile(r, &rep->interactor_compile);
  int64_t n = r.i64();
  rep->tests.clear();
  for (int64_t i = 0; i < n && r.ok(); ++i) {
    TestReport t;
    t.verdict = static_cast<Verdict>(r.u8());
    t.detail = r.str();
    t.cpu_ms = r.i64();
    t.wall_ms = r.i64();
    t.memory_kb = r.i64();
    bool has_exit = r.boolean();
    int64_t code = r.i64();
    if (has_exit) t.exit_code = static_cast<int>(code);
    t.signal = static_cast<int>(r.i64());
    t.stderr_text = r.str();
    t.checker_message = r.str();
    t.attempts = static_cast<int>(r.i64());
    rep->tests.push_back(std::move(t));
  }
  rep->internal_retries = static_cast<int>(r.i64());
}

void put(Writer& w, const TierReport& t) {
  w.u8(static_cast<uint8_t>(t.tier));
  w.str(t.cgroup);
  w.str(t.memory_limit);
  w.str(t.cpu_time);
  w.str(t.process_limit);
  for (bool b : {t.user_ns, t.pid_ns, t.mount_ns, t.net_ns, t.seccomp, t.landlock, t.cell_uid})
    w.boolean(b);
  w.str(t.kernel);
  put_strings(w, t.notes);
}
void get(Reader& r, TierReport* t) {
  t->tier = static_cast<Tier>(r.u8());
  t->cgroup = r.str();
  t->memory_limit = r.str();
  t->cpu_time = r.str();
  t->process_limit = r.str();
  for (bool* b :
       {&t->user_ns, &t->pid_ns, &t->mount_ns, &t->net_ns, &t->seccomp, &t->landlock, &t->cell_uid})
    *b = r.boolean();
  t->kernel = r.str();
  get_strings(r, &t->notes);
}

namespace {

using Clock = std::chrono::steady_clock;

// Waits until fd is ready for `events` or the deadline passes.
Status wait_ready(int fd, short events, Clock::time_point deadline, bool has_deadline) {
  while (true) {
    int timeout = -1;
    if (has_deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return {StatusCode::kDeadlineExceeded, "sandbox: no reply in time"};
      timeout = static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
    }
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(std::string("sandbox: poll: ") + std::strerror(errno));
    if (n > 0) return Status::Ok();
  }
}

}  // namespace

Status write_frame(int fd, std::string_view body) {
  std::string frame(8, '\0');
  uint64_t n = body.size();
  std::memcpy(frame.data(), &n, 8);
  frame.append(body.data(), body.size());
  size_t off = 0;
  while (off < frame.size()) {
    ssize_t w = ::send(fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto s = wait_ready(fd, POLLOUT, Clock::now(), false);
      if (!s.ok()) return s;
      continue;
    }
    if (w < 0) return Unavailable(std::string("sandbox: peer gone (") + std::strerror(errno) + ")");
    off += static_cast<size_t>(w);
  }
  return Status::Ok();
}

Result<std::string> read_frame(int fd, int64_t timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  bool has_deadline = timeout_ms >= 0;
  auto read_exact = [&](char* p, size_t n) -> Status {
    size_t off = 0;
    while (off < n) {
      auto s = wait_ready(fd, POLLIN, deadline, has_deadline);
      if (!s.ok()) return s;
      ssize_t r = ::recv(fd, p + off, n - off, MSG_DONTWAIT);
      if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (r < 0) return Unavailable(std::string("sandbox: read: ") + std::strerror(errno));
      if (r == 0) return Unavailable("sandbox: peer closed the connection");
      off += static_cast<size_t>(r);
    }
    return Status::Ok();
  };
  char len_bytes[8];
  if (auto s = read_exact(len_bytes, 8); !s.ok()) return s;
  uint64_t n;
  std::memcpy(&n, len_bytes, 8);
  if (n > (uint64_t{16} << 30)) return Unavailable("sandbox: corrupt frame length");
  std::string body(n, '\0');
  if (auto s = read_exact(body.data(), n); !s.ok()) return s;
  return body;
}

Status send_fd(int sock, int fd, uint8_t tag) {
  char byte = static_cast<char>(tag);
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  while (true) {
    ssize_t w = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Unavailable(std::string("sandbox: sendmsg: ") + std::strerror(errno));
    return Status::Ok();
  }
}

Result<std::pair<int, uint8_t>> recv_fd(int sock, int64_t timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  if (auto s = wait_ready(sock, POLLIN, deadline, timeout_ms >= 0); !s.ok()) return s;
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t r;
  do r = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return Unavailable("sandbox: launcher closed the control socket");
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return Unavailable("sandbox: no descriptor received");
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return std::make_pair(fd, static_cast<uint8_t>(byte));
}

}  // namespace v4eval::sandbox::wire
