// The shared HTTP client (backends/http/http_client.h) against a real loopback socket server:
// keep-alive reuse, many requests in flight on one I/O thread, streamed bodies, and every way a
// request can end badly (refused, reset, truncated, timeout, cancellation).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
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
  using Reply = std::function<bool(int fd, const std::string& request)>;
  explicit LoopbackServer(Reply reply) : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    REQUIRE(listen(fd_, 128) == 0);
    acceptor_ = std::thread([this] { accept_loop(); });
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
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
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
  Client client;
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
  Client client;
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
  Client client;
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
  Client client;
  int dead_port;
  {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
    dead_port = ntohs(addr.sin_port);
    close(s);
  }
  Response refused = client.perform(post("http://127.0.0.1:" + std::to_string(dead_port) + "/x"));
  CHECK(refused.error == TransportError::kConnect);
  CHECK_FALSE(refused.error_message.empty());

  LoopbackServer reset([](int fd, const std::string&) {
    LoopbackServer::reset(fd);
    return false;
  });
  CHECK(client.perform(post(reset.url())).error == TransportError::kConnectionLost);

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
}

TEST_CASE("http client: deadline / idle timeout and cancellation end a stalled request", "[http]") {
  std::atomic<bool> release{false};
  LoopbackServer stall([&](int, const std::string&) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return false;
  });
  Client client;
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
  std::vector<Response> results(3);
  {
    auto client = std::make_unique<Client>();
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
  Client::Options options;
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

TEST_CASE("openai backend, asynchronous calls: admission limit, in-backend retries, one answer "
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
      LoopbackServer::send_all(fd,
                               "HTTP/1.1 503 Busy\r\nContent-Length: 2\r\nRetry-After: 0\r\n\r\n{}");
      return true;
    }
    LoopbackServer::send_all(
        fd, LoopbackServer::ok(R"({"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],)"
                               R"("usage":{"prompt_tokens":1,"completion_tokens":1}})",
                               "Content-Type: application/json\r\n"));
    return true;
  });
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
