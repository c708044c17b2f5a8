// Throughput of the `openai:` backend (libcurl multi + one I/O thread) against a fast loopback
// Chat Completions server, at 1, 64 and 512 requests in flight, next to Python asyncio clients
// (bench/http_reference_client.py: a lean raw-socket one always, and aiohttp where
// python3-aiohttp is installed) against the same server in the same run.
//
//   bench_http [--seconds S] [--python PATH] [--no-python] [--threads] [--only C] [--repeat N]
//
// --repeat N runs every row N times, our client's and Python's alternating round by round (so
// a slow patch of the machine hits both), and ends with each row's median and the ratio of the
// medians.
//
// The server is a child process (epoll, one thread, HTTP/1.1 keep-alive, a canned completion),
// bound to 127.0.0.1 and stopped at the end. The harness side is what the runner does with a
// backend that implements AsyncBackend (harness/runner.cpp, run_async): C chains through
// harness/AsyncCaller, each call's continuation (where the runner grades and stores) starting
// the next call, no thread per call. --threads adds rows for the runner's other path (C
// threads each calling Backend::generate in a loop), which backends without AsyncBackend get.
// "CPU/req" is this process's user+system time over the requests it completed; the server's
// CPU is printed beside it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backends/backend.h"
#include "harness/async_caller.h"

using namespace v4eval;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kCompletion =
    R"({"id":"chatcmpl-bench","object":"chat.completion","created":0,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}})";
const std::string kStream =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello! How can I help\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" you "
    "today?\"},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":9}}\n\n"
    "data: [DONE]\n\n";

std::string http_response(const std::string& body, const char* type) {
  return std::string("HTTP/1.1 200 OK\r\nContent-Type: ") + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The fast server: runs until `stop_fd` becomes readable (the parent closed it) or 10 minutes.
[[noreturn]] void serve(int listen_fd, int stop_fd) {
  const std::string plain = http_response(kCompletion, "application/json");
  const std::string sse = http_response(kStream, "text/event-stream");
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
  ev.data.fd = stop_fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd, &ev);
  struct Conn {
    std::string in, out;
    bool want_out = false;  // registered for EPOLLOUT too
  };
  std::unordered_map<int, Conn> conns;
  std::vector<epoll_event> events(1024);
  char buf[65536];
  auto started = Clock::now();
  while (Clock::now() - started < std::chrono::minutes(10)) {
    int n = epoll_wait(ep, events.data(), int(events.size()), 1000);
    for (int i = 0; i < n; ++i) {
      int fd = events[size_t(i)].data.fd;
      if (fd == stop_fd) _exit(0);
      if (fd == listen_fd) {
        while (true) {
          int c = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK);
          if (c < 0) break;
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns[c];
        }
        continue;
      }
      Conn& conn = conns[fd];
      bool closed = false;
      while (true) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) {
          conn.in.append(buf, size_t(r));
          // A short read emptied the socket: no second read just to hear EAGAIN (the epoll
          // set is level-triggered, so later bytes are announced again).
          if (size_t(r) < sizeof buf) break;
          continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
        break;
      }
      // Answer every complete request in the buffer (clients may pipeline).
      while (true) {
        size_t head = conn.in.find("\r\n\r\n");
        if (head == std::string::npos) break;
        size_t length = 0;
        for (const char* key : {"Content-Length:", "content-length:"}) {
          size_t p = conn.in.find(key);
          if (p != std::string::npos && p < head)
            length = std::strtoul(conn.in.c_str() + p + 15, nullptr, 10);
        }
        if (conn.in.size() < head + 4 + length) break;
        bool stream = conn.in.find("\"stream\":true", head) != std::string::npos;
        conn.out += stream ? sse : plain;
        conn.in.erase(0, head + 4 + length);
      }
      while (!conn.out.empty()) {
        ssize_t w = write(fd, conn.out.data(), conn.out.size());
        if (w <= 0) break;
        conn.out.erase(0, size_t(w));
      }
      // Only when the interest changes: a server that asks the kernel for the same thing
      // after every request would charge its waste to the client's ratio.
      if (bool want_out = !conn.out.empty(); want_out != conn.want_out && !closed) {
        epoll_event cev{};
        cev.events = EPOLLIN | (want_out ? uint32_t(EPOLLOUT) : 0u);
        cev.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
        conn.want_out = want_out;
      }
      if (closed) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        close(fd);
        conns.erase(fd);
      }
    }
  }
  _exit(0);
}

double cpu_seconds_self() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double cpu_seconds_of(pid_t pid) {  // from /proc/PID/stat: utime + stime, in clock ticks
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char line[2048];
  size_t n = std::fread(line, 1, sizeof line - 1, f);
  std::fclose(f);
  line[n] = 0;
  const char* p = std::strrchr(line, ')');
  if (!p) return 0;
  unsigned long utime = 0, stime = 0;
  int field = 2;
  for (const char* q = p + 1; *q && field < 15; ++q)
    if (*q == ' ') {
      ++field;
      if (field == 14) utime = std::strtoul(q + 1, nullptr, 10);
      if (field == 15) stime = std::strtoul(q + 1, nullptr, 10);
    }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

struct Row {
  double rps = 0, cpu_us_per_req = 0, server_cpu_us_per_req = 0;
  long errors = 0;
  int workers = 0;  // worker threads the asynchronous path had at the end
};

// Runs `concurrency` requests in flight until `stop`, counting into done/errors while
// `measuring`: the runner's asynchronous path, or its thread-per-call path.
struct Load {
  std::atomic<bool> stop{false}, measuring{false};
  std::atomic<long> done{0}, errors{0};
  void count(const Generation& g) {
    if (!measuring.load(std::memory_order_relaxed)) return;
    if (g.error || g.text.empty())
      ++errors;
    else
      ++done;
  }
};

GenerationRequest bench_request() {
  static auto messages = std::make_shared<Messages>(Messages{{"user", "Say hello."}});
  GenerationRequest r;
  r.messages = messages;
  r.max_tokens = 16;
  return r;
}

Row measure(Backend& backend, int concurrency, double seconds, pid_t server, bool threaded) {
  Load load;
  std::vector<std::thread> threads;
  std::unique_ptr<AsyncCaller> caller;
  std::atomic<int> chains_live{0};
  std::function<void()> next;
  auto* async = dynamic_cast<AsyncBackend*>(&backend);
  if (threaded || !async) {
    for (int t = 0; t < concurrency; ++t)
      threads.emplace_back([&] {
        GenerationRequest r = bench_request();
        while (!load.stop.load(std::memory_order_relaxed)) {
          CallContext ctx;
          ctx.deadline = Clock::now() + std::chrono::seconds(30);
          load.count(backend.generate(r, ctx));
        }
      });
  } else {
    AsyncCaller::Options o;  // as Runner::run_async sets them (defaults of RunnerOptions)
    o.attempt_timeout_s = 30;
    o.max_workers = concurrency;
    caller = std::make_unique<AsyncCaller>(*async, o, nullptr);
    // A chain: call, then (the runner grades and stores here) count and call again.
    next = [&] {
      if (load.stop.load(std::memory_order_relaxed)) {
        --chains_live;
        return;
      }
      caller->call(bench_request(), [&](CallOutcome&& outcome) {
        load.count(outcome.generation);
        next();
      });
    };
    chains_live = concurrency;
    for (int c = 0; c < concurrency; ++c) caller->post([&] { next(); });
  }
  std::this_thread::sleep_for(
      std::chrono::milliseconds(concurrency >= 256 ? 1000 : 300));  // warm-up
  double cpu0 = cpu_seconds_self(), server0 = cpu_seconds_of(server);
  auto t0 = Clock::now();
  load.measuring = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  load.measuring = false;
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = cpu_seconds_self() - cpu0, server_cpu = cpu_seconds_of(server) - server0;
  int workers = caller ? caller->workers() : 0;
  load.stop = true;
  for (auto& t : threads) t.join();
  while (chains_live.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  caller.reset();
  Row row;
  long n = load.done.load();
  row.rps = double(n) / elapsed;
  row.cpu_us_per_req = n ? cpu / double(n) * 1e6 : 0;
  row.server_cpu_us_per_req = n ? server_cpu / double(n) * 1e6 : 0;
  row.errors = load.errors.load();
  row.workers = workers;
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::string python = V4EVAL_SOURCE_DIR "/bench/http_reference_client.py";
  bool run_python = true;
  bool threaded_rows = false;
  int only = 0;  // --only C: one non-streaming row at C in flight (for profiling)
  int repeat = 1;  // --repeat N: N rounds, ours and Python's alternating, then the medians
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--python") && i + 1 < argc)
      python = argv[++i];
    else if (!std::strcmp(argv[i], "--no-python"))
      run_python = false;
    else if (!std::strcmp(argv[i], "--threads"))
      threaded_rows = true;
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc)
      only = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc)
      repeat = std::max(1, std::atoi(argv[++i]));
  }
  signal(SIGPIPE, SIG_IGN);
  int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd, 4096) != 0) {
    std::perror("bench_http: listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  int stop_pipe[2];
  if (pipe(stop_pipe) != 0) return 1;
  pid_t server = fork();
  if (server == 0) {
    close(stop_pipe[1]);
    serve(listen_fd, stop_pipe[0]);
  }
  close(stop_pipe[0]);
  close(listen_fd);

  std::printf(
      "bench_http: openai: backend vs Python asyncio client, loopback server on 127.0.0.1:%d, "
      "%.0f s per row, %u CPUs\n",
      port, seconds, std::thread::hardware_concurrency());
  std::printf("%-28s %11s %11s %14s %8s\n", "client", "in flight", "requests/s", "CPU/req (us)",
              "errors");
  std::string base = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  struct Level {
    int concurrency;
    bool stream;
    bool threaded = false;
  };
  std::vector<Level> levels = {{1, false}, {64, false}, {512, false}, {512, true}};
  if (threaded_rows)
    for (int c : {1, 64, 512}) levels.push_back({c, false, true});
  if (only > 0) levels = {{only, false, threaded_rows}};
  // The raw-socket client always; the aiohttp one where python3-aiohttp is installed.
  // (Debian's python3-aiohttp lives in /usr/bin/python3's path, which may not be PATH's python3.)
  struct Client {
    std::string name, label, interpreter;
  };
  std::vector<Client> clients = {{"raw", "python asyncio (reference)", "python3"}};
  for (const char* py : {"python3", "/usr/bin/python3"}) {
    if (!run_python) break;
    if (std::system((std::string(py) + " -c 'import aiohttp' >/dev/null 2>&1").c_str()) == 0) {
      clients.push_back({"aiohttp", "python aiohttp", py});
      break;
    }
  }
  if (!run_python) clients.clear();
  // Requests/s per (client, in flight), one entry per round.
  std::map<std::pair<std::string, int>, std::vector<double>> results;
  for (int round = 0; round < repeat; ++round) {
    if (repeat > 1) std::printf("-- round %d of %d\n", round + 1, repeat);
    std::vector<std::pair<int, double>> ours;
    for (Level level : levels) {
      std::string err;
      auto spec = parse_spec("openai:base_url=" + base +
                                 ",model=bench,mode_style=none,max_inflight=1024,stream=" +
                                 (level.stream ? "true" : "false"),
                             &err);
      auto backend = make_backend(*spec);
      if (!backend.ok()) {
        std::fprintf(stderr, "bench_http: %s\n", backend.status().message().c_str());
        return 1;
      }
      Row row = measure(**backend, level.concurrency, seconds, server, level.threaded);
      const char* label = level.threaded ? "v4eval openai: thread/call"
                          : level.stream ? "v4eval openai: (SSE)"
                                         : "v4eval openai:";
      std::printf("%-28s %11d %11.0f %14.1f %8ld   (server %.1f us/req", label,
                  level.concurrency, row.rps, row.cpu_us_per_req, row.errors,
                  row.server_cpu_us_per_req);
      if (!level.threaded) std::printf(", %d worker threads", row.workers);
      std::printf(")\n");
      std::fflush(stdout);
      if (!level.stream && !level.threaded) ours.emplace_back(level.concurrency, row.rps);
      results[{label, level.concurrency}].push_back(row.rps);
    }
    for (const auto& [client, label, interpreter] : clients) {
      for (auto [concurrency, our_rps] : ours) {
        std::string cmd = interpreter + " " + python + " --client " + client + " --port " +
                          std::to_string(port) + " --concurrency " + std::to_string(concurrency) +
                          " --seconds " + std::to_string(seconds);
        FILE* p = popen(cmd.c_str(), "r");
        char out[512] = {0};
        size_t n = p ? std::fread(out, 1, sizeof out - 1, p) : 0;
        int rc = p ? pclose(p) : -1;
        out[n] = 0;
        double rps = 0, cpu_us = 0;
        long errors = 0;
        if (rc != 0 || std::sscanf(out, "%lf %lf %ld", &rps, &cpu_us, &errors) != 3) {
          std::printf("%-28s %11d   (failed: %s)\n", label.c_str(), concurrency, out);
          continue;
        }
        results[{label, concurrency}].push_back(rps);
        std::printf("%-28s %11d %11.0f %14.1f %8ld   -> v4eval is %.1fx\n",
                    label.c_str(), concurrency, rps, cpu_us, errors,
                    rps > 0 ? our_rps / rps : 0.0);
        std::fflush(stdout);
      }
    }
  }
  if (repeat > 1) {
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    std::printf("-- medians of %d rounds (min-max)\n", repeat);
    for (const auto& [key, values] : results) {
      if (key.first.rfind("v4eval", 0) == 0) continue;  // ours: the left-hand side
      auto ours_it = results.find({"v4eval openai:", key.second});
      if (ours_it == results.end() || values.empty()) continue;
      double ours_median = median(ours_it->second), theirs = median(values);
      auto [ours_lo, ours_hi] = std::minmax_element(ours_it->second.begin(), ours_it->second.end());
      auto [lo, hi] = std::minmax_element(values.begin(), values.end());
      std::printf("%5d in flight: v4eval %.0f (%.0f-%.0f) vs %s %.0f (%.0f-%.0f) -> %.2fx\n",
                  key.second, ours_median, *ours_lo, *ours_hi, key.first.c_str(), theirs, *lo,
                  *hi, theirs > 0 ? ours_median / theirs : 0.0);
    }
  }
  close(stop_pipe[1]);
  int status = 0;
  waitpid(server, &status, 0);
  return 0;
}
