// The shared HTTP client (backends/http/http_client.h) against a real loopback socket server:
// keep-alive reuse, many requests in flight on one I/O thread, streamed bodies, and every way a
// request can end badly (refused, reset, truncated, timeout, cancellation). Each test runs on
// both transports of http://: the native HTTP/1.1 one and libcurl's, which must agree.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "backends/http/http_client.h"

using namespace v4eval::http;

namespace {

// A loopback server: one thread per connection, a scripted reply per request. Stops (and joins)
// when destroyed.
class LoopbackServer {
 public:
  // Gets the raw request; writes whatever it wants to fd. Returns false to close the connection.
  // A connection is served on a thread of its own: a thread_local in `reply` counts per
  // connection.
  using Reply = std::function<bool(int fd, const std::string& request)>;
  explicit LoopbackServer(Reply reply, bool ipv6 = false) : reply_(std::move(reply)), ipv6_(ipv6) {
    if (ipv6) {
      fd_ = socket(AF_INET6, SOCK_STREAM, 0);
      sockaddr_in6 addr{};
      addr.sin6_family = AF_INET6;
      addr.sin6_addr = in6addr_loopback;
      REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      socklen_t len = sizeof addr;
      getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
      port_ = ntohs(addr.sin6_port);
    } else {
      fd_ = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      socklen_t len = sizeof addr;
      getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
      port_ = ntohs(addr.sin_port);
    }
    REQUIRE(listen(fd_, 128) == 0);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  static bool ipv6_available() {
    int s = socket(AF_INET6, SOCK_STREAM, 0);
    if (s < 0) return false;
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    bool ok = bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(s);
    return ok;
  }
  ~LoopbackServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      for (int c : open_) shutdown(c, SHUT_RDWR);
      threads.swap(connections_);
    }
    for (auto& t : threads) t.join();  // outside the lock: finish() takes it
  }
  std::string url(const std::string& path = "/x") const {
    return (ipv6_ ? "http://[::1]:" : "http://127.0.0.1:") + std::to_string(port_) + path;
  }
  int port() const { return port_; }
  int connections() const { return accepted_.load(); }

  static void send_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += size_t(n);
    }
  }
  static std::string ok(const std::string& body, const std::string& extra = "") {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
           "\r\n" + body;
  }
  static void reset(int fd) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }

 private:
  void accept_loop() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++accepted_;
      std::lock_guard lock(mu_);
      open_.push_back(c);
      connections_.emplace_back([this, c] { serve(c); });
    }
  }
  void serve(int c) {
    std::string buf;
    char tmp[65536];
    while (true) {
      size_t head_end;
      while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = recv(c, tmp, sizeof tmp, 0);
        if (n <= 0) return finish(c);
        buf.append(tmp, size_t(n));
      }
      size_t length = 0;
      if (auto p = buf.find("Content-Length: "); p != std::string::npos && p < head_end)
        length = std::stoul(buf.substr(p + 16));
      while (buf.size() < head_end + 4 + length) {
        ssize_t n = recv(c, tmp, sizeof tmp, 0);
        if (n <= 0) return finish(c);
        buf.append(tmp, size_t(n));
      }
      std::string request = buf.substr(0, head_end + 4 + length);
      buf.erase(0, request.size());
      if (!reply_(c, request)) return finish(c);
    }
  }
  void finish(int c) {
    std::lock_guard lock(mu_);
    open_.erase(std::remove(open_.begin(), open_.end(), c), open_.end());
    close(c);
  }

  Reply reply_;
  bool ipv6_ = false;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> open_;
  std::vector<std::thread> connections_;
};

Request post(const std::string& url, const std::string& body = "{}") {
  Request r;
  r.url = url;
  r.body = body;
  r.headers = {"Content-Type: application/json"};
  r.deadline = Clock::now() + std::chrono::seconds(20);
  return r;
}

Client::Options transport(bool native) {
  Client::Options options;
  options.native_http = native;
  return options;
}

// A port nobody listens on.
int dead_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  close(s);
  return ntohs(addr.sin_port);
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("http client: keep-alive reuses one connection; headers and body come back", "[http]") {
  LoopbackServer server([](int fd, const std::string& req) {
    bool has_expect = req.find("Expect:") != std::string::npos;
    std::string body = req.substr(req.find("\r\n\r\n") + 4);
    LoopbackServer::send_all(
        fd, LoopbackServer::ok(
                has_expect ? "expect!" : "echo:" + body,
                "Retry-After: 3\r\nretry-after-ms: 250\r\nContent-Type: application/json\r\n"));
    return true;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  for (int i = 0; i < 20; ++i) {
    // A large body too: curl would otherwise wait on "Expect: 100-continue".
    std::string body = i == 5 ? std::string(2 << 20, 'x') : "{\"i\":" + std::to_string(i) + "}";
    Response r = client.perform(post(server.url(), body));
    REQUIRE(r.error == TransportError::kNone);
    CHECK(r.status == 200);
    CHECK(r.body == "echo:" + body);
    CHECK(r.retry_after == "3");
    CHECK(r.retry_after_ms == "250");
    CHECK(r.content_type == "application/json");
    CHECK(r.first_byte_ms >= 0);
    CHECK(r.total_ms >= r.first_byte_ms);
  }
  CHECK(server.connections() == 1);
}

TEST_CASE("http client: many requests in flight from many threads", "[http]") {
  LoopbackServer server([](int fd, const std::string& req) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // all 64 must overlap
    std::string body = req.substr(req.find("\r\n\r\n") + 4);
    LoopbackServer::send_all(fd, LoopbackServer::ok(body));
    return true;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 64; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        std::string body = std::to_string(t * 100 + i);
        Response r = client.perform(post(server.url(), body));
        if (r.error == TransportError::kNone && r.body == body) ++good;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(good == 64 * 3);
  CHECK(server.connections() <= 64);  // reused across the three rounds
}

TEST_CASE("http client: a body sink sees the stream piece by piece", "[http]") {
  LoopbackServer server([](int fd, const std::string&) {
    LoopbackServer::send_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; ++i) {
      LoopbackServer::send_all(fd, "2\r\np" + std::to_string(i) + "\r\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    LoopbackServer::send_all(fd, "0\r\n\r\n");
    return true;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  std::vector<std::string> pieces;
  Response r = client.perform(post(server.url()), [&](long status, std::string_view bytes) {
    CHECK(status == 200);
    pieces.emplace_back(bytes);
    return true;
  });
  REQUIRE(r.error == TransportError::kNone);
  CHECK(r.body.empty());
  std::string all;
  for (auto& p : pieces) all += p;
  CHECK(all == "p0p1p2p3p4");
  CHECK(pieces.size() >= 2);
}

TEST_CASE("http client: refused / reset / truncated / malformed", "[http]") {
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  int port = dead_port();
  Response refused = client.perform(post("http://127.0.0.1:" + std::to_string(port) + "/x"));
  CHECK(refused.error == TransportError::kConnect);
  CHECK_FALSE(refused.error_message.empty());
  if (native)  // (also tells that the switch between the transports works)
    CHECK(refused.error_message ==
          "connect to 127.0.0.1:" + std::to_string(port) + " failed: Connection refused");

  LoopbackServer reset([](int fd, const std::string&) {
    LoopbackServer::reset(fd);
    return false;
  });
  CHECK(client.perform(post(reset.url())).error == TransportError::kConnectionLost);

  LoopbackServer empty([](int, const std::string&) { return false; });
  Response nothing = client.perform(post(empty.url()));
  CHECK(nothing.error == TransportError::kConnectionLost);
  CHECK(nothing.error_message == "Empty reply from server");

  LoopbackServer truncated([](int fd, const std::string&) {
    LoopbackServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
    return false;
  });
  Response t = client.perform(post(truncated.url()));
  CHECK(t.error == TransportError::kConnectionLost);
  CHECK(t.status == 200);

  LoopbackServer garbage([](int fd, const std::string&) {
    LoopbackServer::send_all(fd, "SMTP ready\r\n\r\n");
    return false;
  });
  Response g = client.perform(post(garbage.url()));
  CHECK((g.error == TransportError::kProtocol || g.error == TransportError::kConnectionLost));

  Response bad = client.perform(post("gopher://127.0.0.1/x"));
  CHECK(bad.error == TransportError::kBadUrl);
  for (const char* url : {"http://127.0.0.1:99999/x", "http:///x", "http://[::1/x"}) {
    CAPTURE(url);
    Response r = client.perform(post(url));
    CHECK(r.error != TransportError::kNone);
    if (native) CHECK(r.error == TransportError::kBadUrl);  // libcurl has its own views
  }
}

TEST_CASE("http client: deadline / idle timeout and cancellation end a stalled request", "[http]") {
  std::atomic<bool> release{false};
  LoopbackServer stall([&](int, const std::string&) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return false;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  Request r = post(stall.url());
  r.deadline = Clock::now() + std::chrono::milliseconds(200);
  auto start = Clock::now();
  Response timed_out = client.perform(r);
  CHECK(timed_out.error == TransportError::kTimeout);
  CHECK(Clock::now() - start < std::chrono::seconds(5));

  Request idle = post(stall.url());
  idle.idle_timeout_s = 1;
  CHECK(client.perform(idle).error == TransportError::kTimeout);

  std::atomic<bool> cancel{false};
  Request c = post(stall.url());
  c.cancelled = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel = true;
  });
  Response cancelled = client.perform(c);
  canceller.join();
  CHECK(cancelled.error == TransportError::kCancelled);
  release = true;
}

TEST_CASE("http client: shutting down completes what is in flight", "[http]") {
  std::atomic<bool> release{false};
  LoopbackServer stall([&](int, const std::string&) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return false;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  std::vector<Response> results(3);
  {
    auto client = std::make_unique<Client>(transport(native));
    std::atomic<int> done{0};
    for (int i = 0; i < 3; ++i)
      client->start(post(stall.url()), nullptr, [&, i](Response&& r) {
        results[size_t(i)] = std::move(r);
        ++done;
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    client.reset();  // joins its thread after completing every request
    CHECK(done == 3);
  }
  for (auto& r : results) CHECK(r.error == TransportError::kCancelled);
  release = true;
}

TEST_CASE("endpoint labels never show paths / queries or credentials", "[http]") {
  CHECK(endpoint_label("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000");
  CHECK(endpoint_label("https://api.deepseek.com") == "https://api.deepseek.com:443");
  CHECK(endpoint_label("https://u:secret@h/v1?key=k") == "https://h:443");
  CHECK(endpoint_label("http://[::1]/v1") == "http://[::1]:80");
}

TEST_CASE("http client: several I/O threads share the load; a lone caller keeps one connection",
          "[http]") {
  std::atomic<int> concurrent{0}, most{0};
  LoopbackServer server([&](int fd, const std::string& req) {
    int now = ++concurrent;
    for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --concurrent;
    LoopbackServer::send_all(fd, LoopbackServer::ok(req.substr(req.find("\r\n\r\n") + 4)));
    return true;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client::Options options = transport(native);
  options.io_threads = 3;
  Client client(options);
  for (int i = 0; i < 5; ++i) CHECK(client.perform(post(server.url(), "s")).body == "s");
  CHECK(server.connections() == 1);  // sequential requests always go to the first loop

  std::mutex mu;
  std::condition_variable cv;
  int done = 0, good = 0;
  for (int i = 0; i < 48; ++i) {
    std::string body = std::to_string(i);
    client.start(post(server.url(), body), nullptr, [&, body](Response&& r) {
      std::lock_guard lock(mu);
      good += r.error == TransportError::kNone && r.body == body;
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  CHECK(cv.wait_for(lock, std::chrono::seconds(20), [&] { return done == 48; }));
  CHECK(good == 48);
  CHECK(most.load() > 16);  // overlapping on every loop, not queued behind one
}

TEST_CASE("http client: timers run on the I/O thread in time order; at shutdown they are told",
          "[http]") {
  std::vector<int> order;
  std::mutex mu;
  std::vector<bool> shutdown_flags;
  {
    Client client;
    auto now = Clock::now();
    std::atomic<int> fired{0};
    for (int i : {3, 1, 2}) {
      client.post_after(now + std::chrono::milliseconds(20 * i), [&, i](bool shutting_down) {
        std::lock_guard lock(mu);
        order.push_back(i);
        shutdown_flags.push_back(shutting_down);
        ++fired;
      });
    }
    auto t0 = Clock::now();
    while (fired < 3 && Clock::now() - t0 < std::chrono::seconds(5))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(Clock::now() - now >= std::chrono::milliseconds(60));
    // A far timer is not waited for: the client's end runs it, saying so.
    client.post_after(Clock::now() + std::chrono::hours(1), [&](bool shutting_down) {
      std::lock_guard lock(mu);
      order.push_back(99);
      shutdown_flags.push_back(shutting_down);
    });
  }
  CHECK(order == std::vector<int>{1, 2, 3, 99});
  CHECK(shutdown_flags == std::vector<bool>{false, false, false, true});
}

TEST_CASE(
    "openai backend, asynchronous calls: admission limit, in-backend retries, one answer "
    "each",
    "[http][openai][async]") {
  std::atomic<int> concurrent{0}, most{0}, requests{0};
  LoopbackServer server([&](int fd, const std::string&) {
    int n = ++requests;
    int now = ++concurrent;
    for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    --concurrent;
    if (n <= 3) {  // the first three are refused: retried inside the backend
      LoopbackServer::send_all(
          fd, "HTTP/1.1 503 Busy\r\nContent-Length: 2\r\nRetry-After: 0\r\n\r\n{}");
      return true;
    }
    LoopbackServer::send_all(
        fd,
        LoopbackServer::ok(R"({"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],)"
                           R"("usage":{"prompt_tokens":1,"completion_tokens":1}})",
                           "Content-Type: application/json\r\n"));
    return true;
  });
  const char* http_transport = GENERATE("native", "curl");
  CAPTURE(http_transport);
  ScopedEnv env("V4EVAL_HTTP_TRANSPORT", http_transport);
  std::string err;
  std::string base = server.url("/v1");
  auto spec = v4eval::parse_spec("openai:base_url=" + base +
                                     ",model=m,mode_style=none,stream=false,max_inflight=2,"
                                     "retries=2,retry_base_ms=1",
                                 &err);
  REQUIRE(spec);
  auto backend = v4eval::make_backend(*spec);
  REQUIRE(backend.ok());
  auto* async = dynamic_cast<v4eval::AsyncBackend*>(backend->get());
  REQUIRE(async);
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, good = 0;
  auto messages = std::make_shared<v4eval::Messages>(v4eval::Messages{{"user", "hello"}});
  for (int i = 0; i < 20; ++i) {
    v4eval::GenerationRequest r;
    r.messages = messages;
    v4eval::CallContext ctx;
    ctx.deadline = Clock::now() + std::chrono::seconds(20);
    async->generate_async(r, ctx, [&](v4eval::Generation&& g) {
      std::lock_guard lock(mu);
      good += !g.error && g.text == "hi";
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  CHECK(cv.wait_for(lock, std::chrono::seconds(20), [&] { return done == 20; }));
  CHECK(good == 20);
  CHECK(requests == 23);
  CHECK(most <= 2);  // max_inflight, with no thread waiting
}

// ---- HTTP/1.1 framing and connection handling, on both transports

TEST_CASE("http client: chunked bytes one at a time, 100 Continue, GET", "[http]") {
  const std::string chunked =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
      "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n";
  std::atomic<int> gets{0};
  LoopbackServer server([&](int fd, const std::string& req) {
    if (req.rfind("GET /x HTTP/1.1\r\n", 0) == 0 && req.find("Content-Length") == std::string::npos)
      ++gets;
    for (char c : chunked) {  // TCP_NODELAY is off here, yet many reads split the head
      LoopbackServer::send_all(fd, std::string(1, c));
      if (c == '\n') std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  for (bool is_post : {true, false}) {
    Request r = post(server.url());
    r.post = is_post;
    Response resp = client.perform(r);
    REQUIRE(resp.error == TransportError::kNone);
    CHECK(resp.status == 200);
    CHECK(resp.body == "hello world");
    CHECK(resp.content_type == "text/plain");
  }
  CHECK(gets == 1);
  CHECK(server.connections() == 1);
}

TEST_CASE("http client: HTTP/1.0 and Connection: close end a connection; 204 keeps it", "[http]") {
  std::atomic<int> n{0};
  LoopbackServer server([&](int fd, const std::string&) {
    int i = ++n;
    if (i == 1) LoopbackServer::send_all(fd, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nv0");
    if (i == 2) LoopbackServer::send_all(fd, LoopbackServer::ok("cl", "Connection: close\r\n"));
    if (i == 3) LoopbackServer::send_all(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    if (i >= 4) LoopbackServer::send_all(fd, LoopbackServer::ok("ka"));
    // The server keeps every connection open: only the client's choice closes one.
    return true;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  std::vector<std::string> bodies;
  for (int i = 0; i < 5; ++i) {
    Response r = client.perform(post(server.url()));
    REQUIRE(r.error == TransportError::kNone);
    bodies.push_back(std::to_string(r.status) + ":" + r.body);
  }
  CHECK(bodies == std::vector<std::string>{"200:v0", "200:cl", "204:", "200:ka", "200:ka"});
  CHECK(server.connections() == 3);  // 1.0, close, then one for 204 and the rest
}

TEST_CASE("http client: a server that drops idle keep-alive connections", "[http]") {
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));

  SECTION("closed while idle: the next request takes a new connection") {
    LoopbackServer server([](int fd, const std::string&) {
      LoopbackServer::send_all(fd, LoopbackServer::ok("once"));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return false;  // then closes it (keep-alive announced all the same)
    });
    for (int i = 0; i < 3; ++i) {
      Response r = client.perform(post(server.url()));
      REQUIRE(r.error == TransportError::kNone);
      CHECK(r.body == "once");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(server.connections() == 3);
  }
  SECTION("closed (or reset) as the next request arrives: retried once on a new connection") {
    bool rst = GENERATE(false, true);
    CAPTURE(rst);
    LoopbackServer server([&](int fd, const std::string&) {
      thread_local int on_this_connection = 0;
      if (++on_this_connection == 2) {  // the race a server's idle timeout causes
        if (rst) LoopbackServer::reset(fd);
        return false;
      }
      LoopbackServer::send_all(fd, LoopbackServer::ok("fine"));
      return true;
    });
    for (int i = 0; i < 4; ++i) {
      Response r = client.perform(post(server.url()));
      REQUIRE(r.error == TransportError::kNone);
      CHECK(r.body == "fine");
    }
    CHECK(server.connections() == 4);  // 1 and 2; 2 again and 3; 3 again and 4; 4 again
  }
  SECTION("a fresh connection that fails is not retried") {
    std::atomic<int> requests{0};
    LoopbackServer server([&](int, const std::string&) {
      ++requests;
      return false;
    });
    Response r = client.perform(post(server.url()));
    CHECK(r.error == TransportError::kConnectionLost);
    CHECK(requests == 1);
  }
}

TEST_CASE("http client: bytes after a response, large bodies, many connections", "[http]") {
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  SECTION("junk after a response: the connection is not reused") {
    LoopbackServer server([](int fd, const std::string&) {
      LoopbackServer::send_all(fd, LoopbackServer::ok("a") + "JUNK");
      return true;
    });
    for (int i = 0; i < 2; ++i) {
      Response r = client.perform(post(server.url()));
      REQUIRE(r.error == TransportError::kNone);
      CHECK(r.body == "a");
    }
    CHECK(server.connections() == 2);
  }
  SECTION("32 large responses at once, by length and chunked") {
    LoopbackServer server([](int fd, const std::string& req) {
      std::string id = req.substr(req.find("\r\n\r\n") + 4);
      std::string body;
      for (int i = 0; body.size() < 300000; ++i) body += id + ":" + std::to_string(i) + ",";
      if (std::stoi(id) % 2) {
        LoopbackServer::send_all(fd, LoopbackServer::ok(body));
        return true;
      }
      std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      for (size_t off = 0, step = 1; off < body.size(); off += step, step = step * 3 % 9973 + 1) {
        std::string piece = body.substr(off, step);
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
        out += size + piece + "\r\n";
      }
      LoopbackServer::send_all(fd, out + "0\r\n\r\n");
      return true;
    });
    std::mutex mu;
    std::condition_variable cv;
    int done = 0, good = 0;
    for (int i = 0; i < 32; ++i) {
      std::string id = std::to_string(i);
      client.start(post(server.url(), id), nullptr, [&, id](Response&& r) {
        std::string want;
        for (int k = 0; want.size() < 300000; ++k) want += id + ":" + std::to_string(k) + ",";
        std::lock_guard lock(mu);
        good += r.error == TransportError::kNone && r.body == want;
        ++done;
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    CHECK(cv.wait_for(lock, std::chrono::seconds(30), [&] { return done == 32; }));
    CHECK(good == 32);
  }
}

TEST_CASE("http client: sink abort, too large, a deadline in a stalled body", "[http]") {
  std::atomic<bool> release{false};
  LoopbackServer server([&](int fd, const std::string& req) {
    if (req.find("stall") != std::string::npos) {
      LoopbackServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome");
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return false;
    }
    LoopbackServer::send_all(fd, LoopbackServer::ok(std::string(1000, 'b')));
    return true;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));

  Response aborted =
      client.perform(post(server.url()), [](long, std::string_view) { return false; });
  CHECK(aborted.error == TransportError::kAborted);
  CHECK(aborted.status == 200);
  Request small = post(server.url());
  small.max_response_bytes = 999;
  CHECK(client.perform(small).error == TransportError::kTooLarge);
  Response fine = client.perform(post(server.url()));
  CHECK(fine.error == TransportError::kNone);
  CHECK(fine.body.size() == 1000);
  CHECK(server.connections() == 3);  // neither the aborted nor the oversized one was reused
  // total_ms ends after the sink's last call (callers compare their time to first byte with it),
  // also when the whole response came in one read.
  Response slow_sink = client.perform(post(server.url()), [](long, std::string_view) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    return true;
  });
  CHECK(slow_sink.error == TransportError::kNone);
  CHECK(slow_sink.total_ms >= slow_sink.first_byte_ms + 30);

  Request stalled = post(server.url(), "stall");
  stalled.deadline = Clock::now() + std::chrono::milliseconds(300);
  auto start = Clock::now();
  Response late = client.perform(stalled);
  CHECK(late.error == TransportError::kTimeout);
  CHECK(late.status == 200);
  CHECK(late.first_byte_ms >= 0);
  CHECK(Clock::now() - start >= std::chrono::milliseconds(250));
  CHECK(Clock::now() - start < std::chrono::seconds(5));
  release = true;
}

TEST_CASE("http client: connecting fails or times out as kConnect", "[http]") {
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  // TEST-NET-1 (RFC 5737) is never routed: the connect hangs or is refused at once.
  Request r = post("http://192.0.2.1:9/x");
  r.connect_timeout_ms = 200;
  auto start = Clock::now();
  Response slow = client.perform(r);
  CHECK(slow.error == TransportError::kConnect);
  CHECK(Clock::now() - start < std::chrono::seconds(5));

  Request d = post("http://192.0.2.1:9/x");
  d.deadline = Clock::now() + std::chrono::milliseconds(200);
  CHECK(client.perform(d).error == TransportError::kConnect);

  // A listener that never accepts, its queue full: a new connection hangs in SYN_SENT.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  REQUIRE(listen(listener, 0) == 0);
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    fillers.push_back(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    connect(fillers.back(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::string full = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x";
  Request hang = post(full);
  hang.connect_timeout_ms = 300;
  start = Clock::now();
  Response hung = client.perform(hang);
  CHECK(hung.error == TransportError::kConnect);
  CHECK(Clock::now() - start < std::chrono::seconds(5));
  if (native) CHECK(hung.error_message.find("timed out after") != std::string::npos);
  Request hang_deadline = post(full);
  hang_deadline.deadline = Clock::now() + std::chrono::milliseconds(300);
  CHECK(client.perform(hang_deadline).error == TransportError::kConnect);
  for (int f : fillers) close(f);
  close(listener);

  Response unknown = client.perform(post("http://no-such-host.invalid:8000/x"));
  CHECK(unknown.error == TransportError::kConnect);
  if (native) CHECK(unknown.error_message.find("no-such-host.invalid") != std::string::npos);
}

TEST_CASE("http client: hosts by name and IPv6 literals", "[http]") {
  LoopbackServer server([](int fd, const std::string& req) {
    bool has_host = req.find("\r\nHost: localhost:") != std::string::npos;
    LoopbackServer::send_all(fd, LoopbackServer::ok(has_host ? "named" : "?"));
    return true;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  // "localhost" may name ::1 first, where nobody listens: the next address is tried.
  for (int i = 0; i < 3; ++i) {
    Response r = client.perform(post("http://localhost:" + std::to_string(server.port()) + "/x"));
    REQUIRE(r.error == TransportError::kNone);
    CHECK(r.body == "named");
  }
  CHECK(server.connections() == 1);

  if (!LoopbackServer::ipv6_available()) {
    WARN("no IPv6 loopback here: [::1] not tested");
    return;
  }
  LoopbackServer v6(
      [](int fd, const std::string& req) {
        bool has_host = req.find("\r\nHost: [::1]:") != std::string::npos;
        LoopbackServer::send_all(fd, LoopbackServer::ok(has_host ? "six" : "?"));
        return true;
      },
      /*ipv6=*/true);
  Response r = client.perform(post(v6.url()));
  REQUIRE(r.error == TransportError::kNone);
  CHECK(r.body == "six");
}

TEST_CASE("http client: malformed responses; error messages never show request headers", "[http]") {
  std::string reply;
  LoopbackServer server([&](int fd, const std::string&) {
    LoopbackServer::send_all(fd, reply);
    return false;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& bad :
       {std::string("HTTP/1.1 2OO OK\r\n\r\n"), std::string("NOT HTTP AT ALL\r\n\r\n"),
        chunked + "zz\r\nabc\r\n0\r\n\r\n", chunked + "3\r\nabcXX\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Big: " + std::string(200000, 'h') + "\r\n\r\n",
        std::string("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")}) {
    CAPTURE(bad.substr(0, 60));
    reply = bad;
    Request r = post(server.url());
    r.headers.push_back("Authorization: Bearer sk-secret-key");
    Response resp = client.perform(r);
    CAPTURE(resp.error_message);
    if (native)
      CHECK(resp.error == TransportError::kProtocol);
    else  // libcurl calls some of these a receive error, a 200 KB head "Out of memory"
      CHECK(resp.error != TransportError::kNone);
    CHECK_FALSE(resp.error_message.empty());
    CHECK(resp.error_message.find("sk-secret") == std::string::npos);
  }
}

TEST_CASE("http client: with a proxy variable set, http:// goes through libcurl and its proxy",
          "[http]") {
  LoopbackServer server([](int fd, const std::string&) {
    LoopbackServer::send_all(fd, LoopbackServer::ok("direct"));
    return true;
  });
  // A proxy nobody listens on: a request that honours it cannot connect.
  std::string proxy = "http://127.0.0.1:" + std::to_string(dead_port());
  ScopedEnv http_proxy("http_proxy", proxy.c_str());
  ScopedEnv no_proxy("no_proxy", "");
  ScopedEnv no_proxy_upper("NO_PROXY", "");
  Client client(transport(true));
  Response r = client.perform(post(server.url()));
  CHECK(r.error == TransportError::kConnect);
  CHECK(server.connections() == 0);
}

TEST_CASE("http client: a body delimited by the close; user info goes through libcurl", "[http]") {
  LoopbackServer server([](int fd, const std::string& req) {
    if (req.find("\r\nAuthorization: Basic ") != std::string::npos) {
      LoopbackServer::send_all(fd, LoopbackServer::ok("authorized"));
      return true;
    }
    LoopbackServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    LoopbackServer::send_all(fd, "the close");
    return false;
  });
  bool native = GENERATE(true, false);
  CAPTURE(native);
  Client client(transport(native));
  for (int i = 0; i < 2; ++i) {
    Response r = client.perform(post(server.url()));
    REQUIRE(r.error == TransportError::kNone);
    CHECK(r.body == "until the close");
  }
  CHECK(server.connections() == 2);
  Response basic =
      client.perform(post("http://user:pw@127.0.0.1:" + std::to_string(server.port()) + "/x"));
  REQUIRE(basic.error == TransportError::kNone);
  CHECK(basic.body == "authorized");
}

TEST_CASE("http client: a deadline weeks away neither wraps the loop's wait nor starves timers",
          "[http]") {
  // epoll_wait takes an int of milliseconds: 30 days is past 2^31. The request outlives its
  // connect timeout, so the loop's next check is that far deadline when the timer is posted.
  bool native = GENERATE(true, false);
  CAPTURE(native);
  LoopbackServer server([](int fd, const std::string&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    LoopbackServer::send_all(fd, LoopbackServer::ok("late"));
    return true;
  });
  Client client(transport(native));
  Request r = post(server.url());
  r.deadline = Clock::now() + std::chrono::hours(24 * 30);
  r.connect_timeout_ms = 100;
  Response response = client.perform(r);
  REQUIRE(response.error == TransportError::kNone);
  CHECK(response.body == "late");
  std::atomic<bool> fired{false};
  auto posted = Clock::now();
  client.post_after(posted + std::chrono::milliseconds(100), [&](bool) { fired = true; });
  while (!fired && Clock::now() - posted < std::chrono::seconds(3))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(fired);
}

TEST_CASE("http client: an upload the server reads slowly is not idle", "[http]") {
  // 24 MiB read at 2 MiB per 150 ms: ~1.5 s with nothing coming back, against a 1 s idle
  // timeout (libcurl counts upload progress too; so must we).
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(listener, 4) == 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const size_t body_bytes = size_t{24} << 20;
  std::thread server([&] {
    int c = accept(listener, nullptr, nullptr);
    if (c < 0) return;
    std::vector<char> buf(size_t{2} << 20);
    size_t got = 0, want = 0;
    std::string head;
    while (true) {
      ssize_t n = recv(c, buf.data(), head.empty() || want == 0 ? 4096 : buf.size(), 0);
      if (n <= 0) break;
      if (want == 0) {  // still in the head
        head.append(buf.data(), size_t(n));
        size_t end = head.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        want = body_bytes;
        got = head.size() - end - 4;
      } else {
        got += size_t(n);
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
      }
      if (got >= want) {
        LoopbackServer::send_all(c, LoopbackServer::ok(std::to_string(got)));
        break;
      }
    }
    close(c);
  });
  {
    Client client(transport(true));
    Request r = post("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/up",
                     std::string(body_bytes, 'x'));
    r.idle_timeout_s = 1;
    auto t0 = Clock::now();
    Response response = client.perform(r);
    CHECK(response.error == TransportError::kNone);
    CHECK(response.body == std::to_string(body_bytes));
    CHECK(Clock::now() - t0 > std::chrono::milliseconds(1100));  // the server was that slow
  }
  shutdown(listener, SHUT_RDWR);
  close(listener);
  server.join();
}

TEST_CASE("http client: bytes left in the socket past a response that filled the read buffer",
          "[http]") {
  // A response of exactly 64 KiB (the transport's read buffer) followed by a stray response:
  // after a read that filled the buffer, edge-triggered epoll announces nothing more, so the
  // connection must be looked at before reuse. libcurl is no better here: native only.
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: ";
  const size_t body = 65536 - head.size() - 9;  // 5 digits + "\r\n\r\n"
  LoopbackServer server([&](int fd, const std::string& request) {
    if (request.find("/first") == std::string::npos) {
      LoopbackServer::send_all(fd, LoopbackServer::ok("right"));
      return true;
    }
    std::string out = head + std::to_string(body) + "\r\n\r\n" + std::string(body, 'a');
    REQUIRE(out.size() == 65536);
    LoopbackServer::send_all(fd, out + LoopbackServer::ok("WRONG"));
    return true;
  });
  Client client(transport(true));
  // Whether the stray bytes are already there when the client reads is a race (the kernel
  // delivers 64 KiB + 43 bytes on loopback in two segments): enough rounds to lose it.
  for (int round = 0; round < 40; ++round) {
    Response first = client.perform(post(server.url("/first")));
    REQUIRE(first.error == TransportError::kNone);
    CHECK(first.body.size() == body);
    Response second = client.perform(post(server.url("/second")));
    REQUIRE(second.error == TransportError::kNone);
    CHECK(second.body == "right");
  }
}
