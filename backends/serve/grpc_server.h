#pragma once
// The gRPC front-end of `v4eval serve` (backends/grpc/v4eval.proto): Generate streams deltas and
// then the final generation; Info describes the served backend. Uses gRPC's callback API, so
// its threads never block on a model: generations run on the GenerationPool.

#include <chrono>
#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/serve/generation_pool.h"
#include "harness/status.h"

namespace v4eval::serve {

struct GrpcServerOptions {
  std::string address = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free one
  std::string api_key;                  // non-empty: metadata "authorization: Bearer KEY" required
  int max_message_bytes = 256 << 20;
  double request_timeout_s = 900;  // cap on each generation (the client's deadline also applies)
};

class GrpcServer {
 public:
  GrpcServer(GenerationPool& pool, BackendInfo info, GrpcServerOptions options);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Binds and starts serving. Returns the bound port.
  Result<int> start();
  // Stops accepting calls, waits for those in flight until `deadline`, then cancels them.
  // Blocks; run it beside GenerationPool::shutdown.
  void shutdown(std::chrono::system_clock::time_point deadline);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace v4eval::serve
