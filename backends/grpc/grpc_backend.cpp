#include "backends/grpc/grpc_backend.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "backends/grpc/proto_convert.h"
#include "backends/grpc/v4eval.grpc.pb.h"
#include "backends/serve/streaming_backend.h"

namespace v4eval {
namespace {

using Clock = std::chrono::steady_clock;

// How a failed RPC is treated. Transport trouble and overload are retryable; a request the
// server refuses (bad argument, wrong key, unknown method) is final.
ErrorKind kind_of(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNIMPLEMENTED:
      return ErrorKind::kFinal;
    default:
      return ErrorKind::kRetryable;
  }
}

std::string code_name(grpc::StatusCode code) {
  static const char* names[] = {"OK",
                                "CANCELLED",
                                "UNKNOWN",
                                "INVALID_ARGUMENT",
                                "DEADLINE_EXCEEDED",
                                "NOT_FOUND",
                                "ALREADY_EXISTS",
                                "PERMISSION_DENIED",
                                "RESOURCE_EXHAUSTED",
                                "FAILED_PRECONDITION",
                                "ABORTED",
                                "OUT_OF_RANGE",
                                "UNIMPLEMENTED",
                                "INTERNAL",
                                "UNAVAILABLE",
                                "DATA_LOSS",
                                "UNAUTHENTICATED"};
  int c = int(code);
  return c >= 0 && c < 17 ? names[c] : "code " + std::to_string(c);
}

// One Generate call, driven by gRPC's own threads (callback API): the caller waits on a
// condition variable and polls its cancellation flag, so no thread is created per call.
class GenerateCall final : public grpc::ClientReadReactor<v1::GenerateResponse> {
 public:
  GenerateCall(v1::V4Eval::Stub* stub, const v1::GenerateRequest& request,
               Clock::time_point deadline, const std::string& auth, const DeltaSink& on_delta)
      : on_delta_(on_delta), start_(Clock::now()) {
    if (deadline != Clock::time_point::max())
      context_.set_deadline(std::chrono::system_clock::now() + (deadline - Clock::now()));
    if (!auth.empty()) context_.AddMetadata("authorization", auth);
    stub->async()->Generate(&context_, &request, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    if (response_.has_delta()) {
      const auto& d = response_.delta();
      if (first_delta_ms_ < 0 && (!d.text().empty() || !d.reasoning().empty()))
        first_delta_ms_ = std::chrono::duration<double, std::milli>(Clock::now() - start_).count();
      if (on_delta_) on_delta_(GenerationDelta{d.text(), d.reasoning()});
    } else if (response_.has_final()) {
      final_ = std::move(*response_.mutable_final());
      has_final_ = true;
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    std::lock_guard lock(mu_);
    status_ = status;
    done_ = true;
    cv_.notify_one();
  }

  // Waits for the end of the call, cancelling it once `cancelled` is set.
  void wait(const std::atomic<bool>* cancelled) {
    std::unique_lock lock(mu_);
    bool cancel_sent = false;
    while (!done_) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (!done_ && !cancel_sent && cancelled && cancelled->load()) {
        context_.TryCancel();
        cancel_sent = true;
      }
    }
  }

  Generation result(const std::string& addr) {
    Generation g;
    double latency = std::chrono::duration<double, std::milli>(Clock::now() - start_).count();
    if (status_.ok() && has_final_) {
      g = grpc_wire::from_proto(final_);
      g.latency_ms = latency;
      if (first_delta_ms_ >= 0) g.time_to_first_token_ms = first_delta_ms_;
      return g;
    }
    GenerationError e;
    if (status_.ok()) {
      e = {ErrorKind::kRetryable, "grpc " + addr + ": stream ended without a final generation",
           std::nullopt};
    } else {
      e.kind = kind_of(status_.error_code());
      e.message =
          "grpc " + addr + ": " + code_name(status_.error_code()) + ": " + status_.error_message();
      const auto& trailers = context_.GetServerTrailingMetadata();
      if (auto it = trailers.find("retry-after"); it != trailers.end()) {
        std::string v(it->second.data(), it->second.size());
        char* end = nullptr;
        double s = std::strtod(v.c_str(), &end);
        if (end != v.c_str() && std::isfinite(s) && s >= 0) e.retry_after_s = s;
      }
    }
    g.error = e;
    g.latency_ms = latency;
    return g;
  }

 private:
  grpc::ClientContext context_;
  v1::GenerateResponse response_;
  const DeltaSink& on_delta_;
  Clock::time_point start_;
  double first_delta_ms_ = -1;
  v1::Generation final_;
  bool has_final_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  grpc::Status status_;
};

struct GrpcConfig {
  std::string addr;
  std::string api_key_env;
  bool tls = false;
  std::string ca_file;
  double timeout_s = 0;
  double connect_timeout_s = 10;
  int retries = 0;
  double retry_base_s = 0.5;
  int max_message_mb = 256;
};

class GrpcBackend final : public Backend, public StreamingBackend {
 public:
  GrpcBackend(GrpcConfig config, std::shared_ptr<grpc::Channel> channel, std::string auth,
              BackendInfo remote)
      : config_(std::move(config)),
        channel_(std::move(channel)),
        stub_(v1::V4Eval::NewStub(channel_)),
        auth_(std::move(auth)),
        remote_(std::move(remote)) {}

  BackendInfo info() const override {
    BackendInfo info = remote_;
    // The served backend decides the answers: its identity, marked as reached over gRPC so that
    // a response cache never mixes the two paths unknowingly.
    info.kind = "grpc";
    info.identity = "grpc>" + remote_.identity;
    return info;
  }

  Generation generate(const GenerationRequest& request, const CallContext& context) override {
    return generate_streaming(request, context, nullptr);
  }

  Generation generate_streaming(const GenerationRequest& request, const CallContext& ctx,
                                const DeltaSink& on_delta) override {
    v1::GenerateRequest proto;
    grpc_wire::to_proto(request, &proto);
    thread_local std::mt19937_64 rng(std::random_device{}());
    for (int retry = 0;; ++retry) {
      auto deadline = ctx.deadline;
      if (config_.timeout_s > 0)
        deadline = std::min(deadline,
                            Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(config_.timeout_s)));
      GenerateCall call(stub_.get(), proto, deadline, auth_, on_delta);
      call.wait(ctx.cancelled);
      Generation g = call.result(config_.addr);
      if (ctx.is_cancelled() && g.error) g.error->message = "cancelled";
      if (!g.error || g.error->kind == ErrorKind::kFinal || retry >= config_.retries ||
          ctx.is_cancelled())
        return g;
      double delay = std::min(30.0, config_.retry_base_s * std::ldexp(1.0, retry)) *
                     std::uniform_real_distribution<double>(0.5, 1.0)(rng);
      if (g.error->retry_after_s) delay = std::max(delay, *g.error->retry_after_s);
      if (ctx.deadline != Clock::time_point::max() &&
          delay >= std::chrono::duration<double>(ctx.deadline - Clock::now()).count())
        return g;
      auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(delay));
      while (Clock::now() < until && !ctx.is_cancelled())
        std::this_thread::sleep_for(
            std::min<Clock::duration>(std::chrono::milliseconds(50), until - Clock::now()));
      if (ctx.is_cancelled()) return g;
    }
  }

 private:
  GrpcConfig config_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::V4Eval::Stub> stub_;
  std::string auth_;  // "Bearer <key>", in memory only
  BackendInfo remote_;
};

std::optional<double> to_double(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || !end || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

Result<std::unique_ptr<Backend>> make_grpc_backend(const Spec& spec) {
  static const std::set<std::string> known = {"addr",    "api_key_env",   "tls",
                                              "ca_file", "timeout_s",     "connect_timeout_s",
                                              "retries", "retry_base_ms", "max_message_mb"};
  for (const auto& [key, value] : spec.options) {
    if (key == "api_key" || key == "key" || key == "token")
      return InvalidArgument("grpc backend: option " + key +
                             ": secrets do not go in a spec; "
                             "name an environment variable with api_key_env=VAR");
    if (!known.count(key))
      return InvalidArgument(
          "grpc backend: unknown option '" + key +
          "' (known: addr, api_key_env, tls, ca_file, timeout_s, connect_timeout_s, "
          "retries, retry_base_ms, max_message_mb)");
  }
  GrpcConfig c;
  c.addr = spec.get("addr").value_or("");
  if (c.addr.empty()) return InvalidArgument("grpc backend needs addr=HOST:PORT");
  c.api_key_env = spec.get("api_key_env").value_or("");
  if (auto v = spec.get("tls")) {
    if (*v != "true" && *v != "false")
      return InvalidArgument("grpc backend: tls must be true or false");
    c.tls = *v == "true";
  }
  c.ca_file = spec.get("ca_file").value_or("");
  double retries = c.retries, retry_base_ms = c.retry_base_s * 1000, max_mb = c.max_message_mb;
  struct Num {
    const char* key;
    double* slot;
    double min;
  };
  for (auto [key, slot, min] :
       {Num{"timeout_s", &c.timeout_s, 0}, Num{"connect_timeout_s", &c.connect_timeout_s, 0.001},
        Num{"retries", &retries, 0}, Num{"retry_base_ms", &retry_base_ms, 0},
        Num{"max_message_mb", &max_mb, 1}}) {
    if (auto v = spec.get(key)) {
      auto d = to_double(*v);
      if (!d || *d < min)
        return InvalidArgument(std::string("grpc backend: ") + key +
                               " must be a number >= " + std::to_string(int(min)));
      *slot = *d;
    }
  }
  c.retries = int(retries);
  c.retry_base_s = retry_base_ms / 1000;
  c.max_message_mb = int(max_mb);

  std::string auth;
  if (!c.api_key_env.empty()) {
    const char* key = std::getenv(c.api_key_env.c_str());
    if (!key || !*key)
      return InvalidArgument("grpc backend: environment variable " + c.api_key_env +
                             " (api_key_env) is not set or empty");
    auth = std::string("Bearer ") + key;
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (c.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!c.ca_file.empty()) {
      std::ifstream in(c.ca_file);
      if (!in) return InvalidArgument("grpc backend: cannot read ca_file " + c.ca_file);
      std::stringstream pem;
      pem << in.rdbuf();
      ssl.pem_root_certs = pem.str();
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(c.max_message_mb * 1024 * 1024);
  args.SetMaxSendMessageSize(c.max_message_mb * 1024 * 1024);
  auto channel = grpc::CreateCustomChannel(c.addr, creds, args);

  // Info now: the run records the served model, and an unreachable server is reported before
  // anything runs rather than as N failed attempts.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::duration_cast<std::chrono::system_clock::duration>(
                       std::chrono::duration<double>(c.connect_timeout_s)));
  ctx.set_wait_for_ready(true);
  if (!auth.empty()) ctx.AddMetadata("authorization", auth);
  v1::InfoResponse info;
  auto stub = v1::V4Eval::NewStub(channel);
  grpc::Status status = stub->Info(&ctx, v1::InfoRequest(), &info);
  if (!status.ok())
    return Unavailable("grpc backend: Info from " + c.addr +
                       " failed: " + code_name(status.error_code()) +
                       (status.error_message().empty() ? "" : ": " + status.error_message()));
  BackendInfo remote = grpc_wire::from_proto(info);
  return std::unique_ptr<Backend>(
      new GrpcBackend(std::move(c), channel, std::move(auth), std::move(remote)));
}

}  // namespace v4eval
