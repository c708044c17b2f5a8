#pragma once
// The OpenAI-compatible HTTP front-end of `v4eval serve`: POST /v1/chat/completions (JSON or
// SSE stream), GET /v1/models, GET /v1/models/{id}, GET /health. HTTP/1.1 keep-alive on one
// I/O thread (Boost.Beast); generations run on the GenerationPool.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/serve/generation_pool.h"
#include "harness/status.h"

namespace v4eval::serve {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                         // 0: any free port (start() returns it)
  std::string api_key;                       // non-empty: /v1/* require "Authorization: Bearer KEY"
  size_t max_body_bytes = size_t{64} << 20;  // larger requests get 413
  double request_timeout_s = 900;            // deadline of each generation
  int idle_timeout_s = 120;                  // an idle keep-alive connection is closed after this
  int max_connections = 4096;
};

class HttpServer {
 public:
  using Clock = std::chrono::steady_clock;
  HttpServer(GenerationPool& pool, BackendInfo info, HttpServerOptions options);
  ~HttpServer();  // stops at once if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts serving on its own thread. Returns the bound port.
  Result<uint16_t> start();
  // Stops accepting and closes idle connections; responses in progress go on.
  void begin_shutdown();
  // Waits until every connection has closed or `deadline` passes, then stops the thread.
  void finish_shutdown(Clock::time_point deadline);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace v4eval::serve
