#include "backends/serve/grpc_server.h"

#include <grpcpp/grpcpp.h>

#include <deque>
#include <mutex>

#include "backends/grpc/proto_convert.h"
#include "backends/grpc/v4eval.grpc.pb.h"

namespace v4eval::serve {
namespace {

using Clock = std::chrono::steady_clock;

bool authorized(const grpc::CallbackServerContext* ctx, const std::string& key) {
  if (key.empty()) return true;
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return false;
  std::string_view given(it->second.data(), it->second.size());
  std::string expected = "Bearer " + key;
  if (given.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ expected[i]);
  return diff == 0;
}

// One Generate call. Messages are queued by the pool's callbacks (any thread) and written one at
// a time; Finish is called only once the generation is done, so the reactor outlives every
// callback that points at it.
class GenerateReactor final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  GenerateReactor(grpc::CallbackServerContext* ctx, const v1::GenerateRequest* request,
                  GenerationPool& pool, const BackendInfo& info, const GrpcServerOptions& options) {
    if (!authorized(ctx, options.api_key)) {
      Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong API key"));
      return;
    }
    GenerationPool::Job job;
    job.request = grpc_wire::from_proto(*request);
    if (std::find(info.modes.begin(), info.modes.end(), job.request.mode) == info.modes.end()) {
      Finish(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "mode " + std::string(mode_name(job.request.mode)) + " is not served by this backend"));
      return;
    }
    job.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.request_timeout_s));
    auto client_deadline = ctx->deadline();
    if (client_deadline != std::chrono::system_clock::time_point::max()) {
      auto left = client_deadline - std::chrono::system_clock::now();
      job.deadline =
          std::min(job.deadline, Clock::now() + std::chrono::duration_cast<Clock::duration>(left));
    }
    cancelled_ = job.cancelled;
    job.on_delta = [this](const GenerationDelta& d) {
      v1::GenerateResponse msg;
      msg.mutable_delta()->set_text(d.text);
      msg.mutable_delta()->set_reasoning(d.reasoning);
      push(std::move(msg), false);
    };
    job.on_done = [this](Generation&& g) {
      v1::GenerateResponse msg;
      grpc_wire::to_proto(g, msg.mutable_final());
      push(std::move(msg), true);
    };
    if (!pool.submit(std::move(job))) {
      ctx->AddTrailingMetadata("retry-after", "1");
      Finish(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          "server busy: " + std::to_string(pool.max_inflight()) + " generations in flight"));
    }
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(mu_);
      writing_ = false;
      if (!ok) broken_ = true;  // the client is gone; keep draining until the job ends
    }
    if (!ok && cancelled_) cancelled_->store(true);
    pump();
  }

  void OnCancel() override {
    if (cancelled_) cancelled_->store(true);
  }

  void OnDone() override { delete this; }

 private:
  void push(v1::GenerateResponse msg, bool last) {
    {
      std::lock_guard lock(mu_);
      if (!broken_) queue_.push_back(std::move(msg));
      if (last) finishing_ = true;
    }
    pump();
  }

  // Starts the next write, or Finish once the queue is empty and the job is done. gRPC calls are
  // made outside the lock (a reaction may run inline).
  void pump() {
    enum { kNothing, kWrite, kFinish } action = kNothing;
    {
      std::lock_guard lock(mu_);
      if (writing_ || finished_) return;
      if (broken_) queue_.clear();
      if (!queue_.empty()) {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        action = kWrite;
      } else if (finishing_) {
        finished_ = true;
        action = kFinish;
      }
    }
    if (action == kWrite) StartWrite(&current_);
    if (action == kFinish)
      Finish(broken_ ? grpc::Status(grpc::StatusCode::CANCELLED, "client went away")
                     : grpc::Status::OK);
  }

  std::shared_ptr<std::atomic<bool>> cancelled_;
  std::mutex mu_;
  std::deque<v1::GenerateResponse> queue_;
  v1::GenerateResponse current_;  // the message being written
  bool writing_ = false;
  bool finishing_ = false;  // the job is done: Finish once the queue drains
  bool finished_ = false;
  bool broken_ = false;
};

class Service final : public v1::V4Eval::CallbackService {
 public:
  Service(GenerationPool& pool, BackendInfo info, const GrpcServerOptions& options)
      : pool_(pool), info_(std::move(info)), options_(options) {}

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* ctx, const v1::GenerateRequest* request) override {
    return new GenerateReactor(ctx, request, pool_, info_, options_);
  }

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* ctx, const v1::InfoRequest*,
                                 v1::InfoResponse* response) override {
    auto* reactor = ctx->DefaultReactor();
    if (!authorized(ctx, options_.api_key)) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong API key"));
      return reactor;
    }
    grpc_wire::to_proto(info_, response);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  GenerationPool& pool_;
  BackendInfo info_;
  GrpcServerOptions options_;
};

}  // namespace

class GrpcServer::Impl {
 public:
  Impl(GenerationPool& pool, BackendInfo info, GrpcServerOptions options)
      : options_(std::move(options)), service_(pool, std::move(info), options_) {}

  Result<int> start() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(options_.address, grpc::InsecureServerCredentials(), &port);
    builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
    builder.SetMaxSendMessageSize(options_.max_message_bytes);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    if (!server_ || port == 0) {
      server_.reset();
      return Unavailable("cannot listen for gRPC on " + options_.address);
    }
    return port;
  }

  void shutdown(std::chrono::system_clock::time_point deadline) {
    if (!server_) return;
    server_->Shutdown(deadline);
    server_->Wait();
    server_.reset();
  }

  GrpcServerOptions options_;
  Service service_;
  std::unique_ptr<grpc::Server> server_;
};

GrpcServer::GrpcServer(GenerationPool& pool, BackendInfo info, GrpcServerOptions options)
    : impl_(std::make_unique<Impl>(pool, std::move(info), std::move(options))) {}
GrpcServer::~GrpcServer() { impl_->shutdown(std::chrono::system_clock::now()); }
Result<int> GrpcServer::start() { return impl_->start(); }
void GrpcServer::shutdown(std::chrono::system_clock::time_point deadline) {
  impl_->shutdown(deadline);
}

}  // namespace v4eval::serve
