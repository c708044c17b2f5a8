// `v4eval serve`: exposes any backend over gRPC (backends/grpc/v4eval.proto) and
// OpenAI-compatible HTTP (cli.md, issue 4). Loopback by default; graceful shutdown on
// SIGINT/SIGTERM (a second signal leaves at once).

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "backends/backend.h"
#include "backends/serve/generation_pool.h"
#include "backends/serve/grpc_server.h"
#include "backends/serve/http_server.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"

namespace v4eval::cli {
namespace {

struct Address {
  std::string host;
  uint16_t port = 0;
};

// "PORT", "HOST:PORT" or "[V6]:PORT"; a bare port binds to loopback.
Result<Address> parse_address(const std::string& flag, const std::string& text) {
  Address a{"127.0.0.1", 0};
  std::string port = text;
  if (size_t colon = text.rfind(':'); colon != std::string::npos) {
    a.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
      a.host = a.host.substr(1, a.host.size() - 2);
    if (a.host == "localhost") a.host = "127.0.0.1";
    if (a.host.empty()) return InvalidArgument("--" + flag + ": empty host in '" + text + "'");
  }
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535)
    return InvalidArgument("--" + flag + ": '" + text + "' is not PORT or HOST:PORT");
  a.port = uint16_t(p);
  return a;
}

bool is_loopback(const std::string& host) { return host == "::1" || host.rfind("127.", 0) == 0; }

std::string host_port(const Address& a, int port) {
  return (a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host) + ":" +
         std::to_string(port);
}

}  // namespace

int cmd_serve(const Argv& argv) {
  Args args(
      "serve",
      "--backend SPEC [--grpc ADDR] [--http ADDR] [--api-key-env VAR] [--max-inflight N] ...",
      {
          {"backend", "SPEC",
           "the backend to serve, KIND[:key=value,...] (v4:..., replay:..., openai:...)"},
          {"grpc", "ADDR", "serve gRPC (v4eval.proto) on PORT or HOST:PORT (bare port: 127.0.0.1)"},
          {"http", "ADDR",
           "serve OpenAI-compatible HTTP on PORT or HOST:PORT (bare port: 127.0.0.1)"},
          {"api-key-env", "VAR", "require this environment variable's value as a bearer token"},
          {"max-inflight", "N",
           "generations at once; more are refused with 429 / RESOURCE_EXHAUSTED (default 64)"},
          {"max-body-mb", "N", "largest request accepted, MiB (default 64)"},
          {"timeout", "SECONDS", "deadline of each generation (default 900)"},
          {"grace", "SECONDS", "on SIGINT/SIGTERM, time given to requests in flight (default 30)"},
          {"ready-file", "FILE",
           "write {\"grpc\": ADDR, \"http\": ADDR, \"pid\": N} here once listening"},
          {"exit-after", "SECONDS", "shut down by itself after this long (for scripts and CI)"},
      });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  if (!args.positional().empty())
    return fail("serve: unexpected argument '" + args.positional()[0] + "'", kExitBadInput);
  if (!args.get("backend")) return fail("serve: --backend is required", kExitBadInput);
  if (!args.get("grpc") && !args.get("http"))
    return fail("serve: give --grpc ADDR and/or --http ADDR", kExitBadInput);
  std::optional<Address> grpc_addr, http_addr;
  if (auto v = args.get("grpc")) {
    auto a = parse_address("grpc", *v);
    if (!a.ok()) return fail(a.status().message(), kExitBadInput);
    grpc_addr = *a;
  }
  if (auto v = args.get("http")) {
    auto a = parse_address("http", *v);
    if (!a.ok()) return fail(a.status().message(), kExitBadInput);
    http_addr = *a;
  }
  auto max_inflight = args.get_int("max-inflight", 64, 1);
  auto max_body_mb = args.get_int("max-body-mb", 64, 1);
  auto timeout = args.get_double("timeout");
  auto grace = args.get_double("grace");
  auto exit_after = args.get_double("exit-after");
  for (const Status* s : {&max_inflight.status(), &max_body_mb.status(), &timeout.status(),
                          &grace.status(), &exit_after.status()})
    if (!s->ok()) return fail(s->message(), kExitBadInput);
  double timeout_s = timeout->value_or(900), grace_s = grace->value_or(30);
  if (timeout_s <= 0 || grace_s < 0)
    return fail("--timeout must be > 0 and --grace >= 0", kExitBadInput);
  if (*max_body_mb > 2047) return fail("--max-body-mb must be at most 2047", kExitBadInput);

  std::string api_key;
  if (auto var = args.get("api-key-env")) {
    const char* v = std::getenv(var->c_str());
    if (!v || !*v)
      return fail("--api-key-env: environment variable " + *var + " is not set or empty",
                  kExitBadInput);
    api_key = v;
  }
  for (const auto* a : {&grpc_addr, &http_addr})
    if (*a && !is_loopback((*a)->host) && api_key.empty())
      std::fprintf(stderr,
                   "v4eval: warning: serving on %s without --api-key-env: anyone who can reach it "
                   "can use it\n",
                   (*a)->host.c_str());

  // Signals are taken synchronously by this thread (sigwait); every thread started from here on
  // inherits the mask, so none of them is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::string err;
  auto spec = parse_spec(*args.get("backend"), &err);
  if (!spec) return fail("--backend: " + err, kExitBadInput);
  auto backend = make_backend(*spec);
  if (!backend.ok()) return fail(backend.status().message(), kExitBadInput);
  BackendInfo info = (*backend)->info();

  serve::GenerationPool pool(**backend, int(*max_inflight));
  std::unique_ptr<serve::GrpcServer> grpc_server;
  std::unique_ptr<serve::HttpServer> http_server;
  Json ready = {{"pid", int64_t(getpid())}, {"model", info.model}};
  std::string listening;
  if (grpc_addr) {
    serve::GrpcServerOptions o;
    o.address = host_port(*grpc_addr, grpc_addr->port);
    o.api_key = api_key;
    o.max_message_bytes = int(*max_body_mb) << 20;
    o.request_timeout_s = timeout_s;
    grpc_server = std::make_unique<serve::GrpcServer>(pool, info, o);
    auto port = grpc_server->start();
    if (!port.ok()) return fail(port.status().message(), kExitFailure);
    ready["grpc"] = host_port(*grpc_addr, *port);
    listening += " gRPC on " + host_port(*grpc_addr, *port);
  }
  if (http_addr) {
    serve::HttpServerOptions o;
    o.host = http_addr->host;
    o.port = http_addr->port;
    o.api_key = api_key;
    o.max_body_bytes = size_t(*max_body_mb) << 20;
    o.request_timeout_s = timeout_s;
    http_server = std::make_unique<serve::HttpServer>(pool, info, o);
    auto port = http_server->start();
    if (!port.ok()) {
      if (grpc_server) grpc_server->shutdown(std::chrono::system_clock::now());
      return fail(port.status().message(), kExitFailure);
    }
    ready["http"] = host_port(*http_addr, *port);
    listening += std::string(grpc_server ? "," : "") + " HTTP on http://" +
                 host_port(*http_addr, *port) + "/v1";
  }
  std::fprintf(stderr, "v4eval: serving %s model '%s' (%s) on%s; %lld generations at once%s\n",
               info.kind.c_str(), info.model.c_str(), spec->kind.c_str(), listening.c_str(),
               (long long)*max_inflight, api_key.empty() ? "" : "; API key required");
  if (auto path = args.get("ready-file")) {
    std::string tmp = *path + ".tmp";
    std::ofstream(tmp) << ready.dump() << "\n";
    if (std::rename(tmp.c_str(), path->c_str()) != 0)
      std::fprintf(stderr, "v4eval: warning: cannot write --ready-file %s\n", path->c_str());
  }

  // Wait for a signal (or --exit-after), then shut down gracefully.
  int sig = 0;
  if (*exit_after) {
    timespec ts{time_t(**exit_after), long((**exit_after - double(time_t(**exit_after))) * 1e9)};
    siginfo_t si;
    sig = sigtimedwait(&signals, &si, &ts);
    if (sig < 0) sig = 0;
  } else {
    while (sigwait(&signals, &sig) != 0) {
    }
  }
  std::fprintf(stderr,
               "v4eval: %s: finishing requests in flight (up to %.0f s; again to stop at once)\n",
               sig == 0 ? "--exit-after reached" : (sig == SIGINT ? "SIGINT" : "SIGTERM"), grace_s);
  // The shutdown runs on its own thread while this one watches for a second signal.
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    auto grace_ms = std::chrono::milliseconds(int64_t(grace_s * 1000));
    if (http_server) http_server->begin_shutdown();
    std::thread grpc_stop;
    if (grpc_server)
      grpc_stop =
          std::thread([&] { grpc_server->shutdown(std::chrono::system_clock::now() + grace_ms); });
    pool.shutdown(grace_ms);
    if (http_server)
      http_server->finish_shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(2));
    if (grpc_stop.joinable()) grpc_stop.join();
    stopped.store(true);
  });
  while (!stopped.load()) {
    timespec tick{0, 50 * 1000 * 1000};
    siginfo_t si;
    int s = sigtimedwait(&signals, &si, &tick);
    if (s == SIGINT || s == SIGTERM) {
      std::fprintf(stderr, "v4eval: stopping now\n");
      _exit(kExitInterrupted);
    }
  }
  stopper.join();
  std::fprintf(stderr, "v4eval: stopped\n");
  return kExitOk;
}

}  // namespace v4eval::cli
