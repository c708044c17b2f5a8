#include "backends/serve/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_set>

#include "backends/openai/chat_protocol.h"

namespace v4eval::serve {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// Constant-time comparison: a bearer token check must not leak how much of it matched.
bool same_secret(std::string_view given, std::string_view expected) {
  if (given.size() != expected.size() || expected.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ expected[i]);
  return diff == 0;
}

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)rng());
  return std::string(prefix) + buf;
}

std::string sse_chunk(const Json& event) {
  std::string data = "data: " + event.dump() + "\n\n";
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

}  // namespace

class HttpServer::Impl {
 public:
  class Session;

  Impl(GenerationPool& pool, BackendInfo info, HttpServerOptions options)
      : pool_(pool), info_(std::move(info)), options_(std::move(options)), acceptor_(io_) {}

  ~Impl() {
    if (thread_.joinable()) {
      begin_shutdown();
      finish_shutdown(Clock::now());
    }
  }

  Result<uint16_t> start() {
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return InvalidArgument("--http: '" + options_.host + "' is not an IP address");
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                         ": " + ec.message());
    uint16_t port = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { io_.run(); });
    return port;
  }

  void begin_shutdown();
  void finish_shutdown(Clock::time_point deadline);

  // ---- called on the I/O thread
  void accept();
  void opened(Session* s) {
    sessions_.insert(s);
    std::lock_guard lock(mu_);
    ++open_;
  }
  void closed(Session* s) {
    sessions_.erase(s);
    {
      std::lock_guard lock(mu_);
      --open_;
    }
    closed_cv_.notify_all();
  }

  GenerationPool& pool_;
  BackendInfo info_;
  HttpServerOptions options_;
  asio::io_context io_{1};
  // Keeps run() going while sessions wait for the pool with no socket operation pending.
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  tcp::acceptor acceptor_;
  std::thread thread_;
  bool shutting_down_ = false;             // I/O thread only
  std::unordered_set<Session*> sessions_;  // I/O thread only; open (not yet closed) sessions
  std::mutex mu_;
  std::condition_variable closed_cv_;
  int open_ = 0;
};

// One connection. Every member is touched on the I/O thread only; pool callbacks post there.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl& server) : stream_(std::move(socket)), server_(server) {}

  void start() {
    server_.opened(this);
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    read();
  }

  bool idle() const { return reading_; }

  void close() {
    if (closed_) return;
    closed_ = true;
    reading_ = false;
    if (cancelled_) cancelled_->store(true);  // the client is gone: stop its generation
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    server_.closed(this);
  }

 private:
  void read() {
    if (closed_) return;
    if (server_.shutting_down_) return close();
    reading_ = true;
    parser_.emplace();
    parser_->body_limit(server_.options_.max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(std::chrono::seconds(server_.options_.idle_timeout_s));
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (closed_) return;
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        ec == asio::error::operation_aborted || ec == beast::error::timeout)
      return close();  // closed by the client (maybe mid-request), idle timeout, shutdown
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      drain_on_close_ = true;  // let the client finish sending, so that it reads the 413
      return send_error(
          bhttp::status::payload_too_large,
          "request body exceeds " + std::to_string(server_.options_.max_body_bytes) + " bytes",
          "invalid_request_error", "request_too_large");
    }
    if (ec && &ec.category() == &bhttp::make_error_code(bhttp::error::bad_target).category()) {
      keep_alive_ = false;  // a malformed request: say so, then hang up
      return send_error(bhttp::status::bad_request, "malformed HTTP request: " + ec.message(),
                        "invalid_request_error");
    }
    if (ec) return close();  // reset and other socket errors
    stream_.expires_never();
    request_ = parser_->release();
    keep_alive_ = request_.keep_alive();
    handle();
  }

  void handle() {
    std::string target(request_.target());
    std::string path = target.substr(0, target.find('?'));
    auto method = request_.method();
    if (path == "/health") {
      if (method != bhttp::verb::get && method != bhttp::verb::head) return method_not_allowed();
      return send_json(bhttp::status::ok, {{"status", server_.shutting_down_ ? "stopping" : "ok"},
                                           {"model", server_.info_.model},
                                           {"inflight", server_.pool_.inflight()}});
    }
    if (path.rfind("/v1/", 0) != 0)
      return send_error(bhttp::status::not_found, "no route " + path, "not_found");
    if (!server_.options_.api_key.empty()) {
      auto header = request_[bhttp::field::authorization];
      std::string_view auth(header.data(), header.size());
      constexpr std::string_view kBearer = "Bearer ";
      bool ok = auth.size() > kBearer.size() && auth.substr(0, kBearer.size()) == kBearer &&
                same_secret(auth.substr(kBearer.size()), server_.options_.api_key);
      if (!ok)
        return send_error(bhttp::status::unauthorized,
                          "missing or wrong API key (Authorization: Bearer …)",
                          "invalid_request_error", "invalid_api_key");
    }
    if (path == "/v1/models") {
      if (method != bhttp::verb::get) return method_not_allowed();
      return send_json(bhttp::status::ok,
                       {{"object", "list"}, {"data", Json::array({model_json()})}});
    }
    if (path.rfind("/v1/models/", 0) == 0) {
      if (method != bhttp::verb::get) return method_not_allowed();
      if (path.substr(11) != server_.info_.model)
        return send_error(bhttp::status::not_found,
                          "model '" + path.substr(11) + "' does not exist", "invalid_request_error",
                          "model_not_found");
      return send_json(bhttp::status::ok, model_json());
    }
    if (path == "/v1/chat/completions") {
      if (method != bhttp::verb::post) return method_not_allowed();
      return chat();
    }
    send_error(bhttp::status::not_found, "no route " + path, "not_found");
  }

  Json model_json() const {
    const BackendInfo& info = server_.info_;
    Json modes = Json::array();
    for (Mode m : info.modes) modes.push_back(mode_name(m));
    Json j = {{"id", info.model},
              {"object", "model"},
              {"created", 0},
              {"owned_by", "v4eval"},
              {"v4eval", {{"kind", info.kind}, {"modes", modes}}}};
    if (info.context_window > 0) j["max_model_len"] = info.context_window;
    return j;
  }

  void chat() {
    auto parsed = openai::parse_server_chat_request(request_.body());
    if (!parsed.ok())
      return send_error(bhttp::status::bad_request, parsed.status().message(),
                        "invalid_request_error");
    const BackendInfo& info = server_.info_;
    if (!parsed->model.empty() && parsed->model != info.model)
      return send_error(
          bhttp::status::not_found,
          "model '" + parsed->model + "' does not exist; this server serves '" + info.model + "'",
          "invalid_request_error", "model_not_found");
    requested_mode_ = parsed->request.mode;
    if (std::find(info.modes.begin(), info.modes.end(), requested_mode_) == info.modes.end())
      return send_error(
          bhttp::status::bad_request,
          "mode " + std::string(mode_name(requested_mode_)) + " is not served by this backend",
          "invalid_request_error");
    streaming_ = parsed->stream;
    include_usage_ = parsed->include_usage;
    streamed_ = false;
    id_ = random_id("chatcmpl-");
    created_ = int64_t(std::time(nullptr));

    GenerationPool::Job job;
    job.request = std::move(parsed->request);
    job.deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(server_.options_.request_timeout_s));
    cancelled_ = job.cancelled;
    auto self = shared_from_this();
    auto executor = stream_.get_executor();
    if (streaming_)
      job.on_delta = [self, executor](const GenerationDelta& d) {
        asio::post(executor, [self, d] { self->on_delta(d); });
      };
    job.on_done = [self, executor](Generation&& g) {
      asio::post(executor, [self, g = std::move(g)]() mutable { self->on_done(std::move(g)); });
    };
    if (!server_.pool_.submit(std::move(job))) {
      cancelled_.reset();
      return send_error(bhttp::status::too_many_requests,
                        server_.shutting_down_
                            ? "server is shutting down"
                            : "server busy: " + std::to_string(server_.pool_.max_inflight()) +
                                  " generations in flight",
                        "rate_limit_error", "server_busy", 1);
    }
    watch_for_disconnect();
    if (streaming_) {
      std::string head =
          "HTTP/1.1 200 OK\r\nServer: v4eval\r\nContent-Type: text/event-stream\r\n"
          "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n";
      head += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
      enqueue(std::move(head));
      std::string role = "assistant";
      enqueue(sse_chunk(
          openai::completion_chunk(id_, info.model, created_, &role, nullptr, nullptr, nullptr)));
    }
  }

  void on_delta(const GenerationDelta& d) {
    if (closed_ || !streaming_) return;
    streamed_ = true;
    const std::string* text = d.text.empty() ? nullptr : &d.text;
    const std::string* reasoning = d.reasoning.empty() ? nullptr : &d.reasoning;
    enqueue(sse_chunk(openai::completion_chunk(id_, server_.info_.model, created_, nullptr, text,
                                               reasoning, nullptr)));
  }

  void on_done(Generation&& g) {
    cancelled_.reset();
    if (closed_) return;
    const std::string& model = server_.info_.model;
    if (!streaming_) {
      if (g.error) return send_generation_error(*g.error);
      return send_json(bhttp::status::ok,
                       openai::completion_response(g, id_, model, created_, requested_mode_));
    }
    if (g.error) {
      bool retryable = g.error->kind == ErrorKind::kRetryable;
      enqueue(sse_chunk(
          openai::error_body(g.error->message, retryable ? "server_error" : "invalid_request_error",
                             retryable ? "backend_unavailable" : "generation_failed")));
    } else {
      if (!streamed_) {  // a backend that cannot stream: the whole answer in one piece
        if (!g.reasoning.empty())
          enqueue(sse_chunk(openai::completion_chunk(id_, model, created_, nullptr, nullptr,
                                                     &g.reasoning, nullptr)));
        if (!g.text.empty())
          enqueue(sse_chunk(
              openai::completion_chunk(id_, model, created_, nullptr, &g.text, nullptr, nullptr)));
      }
      std::string finish = g.finish_reason.empty() ? "stop" : g.finish_reason;
      Json last =
          openai::completion_chunk(id_, model, created_, nullptr, nullptr, nullptr, &finish);
      last["v4eval"] = {{"effective_mode", mode_name(g.effective_mode.value_or(requested_mode_))},
                        {"latency_ms", g.latency_ms}};
      enqueue(sse_chunk(last));
      if (include_usage_)
        enqueue(sse_chunk({{"id", id_},
                           {"object", "chat.completion.chunk"},
                           {"created", created_},
                           {"model", model},
                           {"choices", Json::array()},
                           {"usage", openai::usage_json(g)}}));
    }
    std::string done = "data: [DONE]\n\n";
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", done.size());
    enqueue(size + done + "\r\n0\r\n\r\n");
    response_complete_ = true;
    if (!writing_) after_response();
  }

  void send_generation_error(const GenerationError& e) {
    if (e.kind == ErrorKind::kRetryable) {
      int retry_after = e.retry_after_s ? int(std::ceil(*e.retry_after_s)) : 1;
      return send_error(bhttp::status::service_unavailable, e.message, "server_error",
                        "backend_unavailable", retry_after);
    }
    send_error(bhttp::status::bad_request, e.message, "invalid_request_error", "generation_failed");
  }

  void method_not_allowed() {
    send_error(bhttp::status::method_not_allowed, "method not allowed", "invalid_request_error");
  }

  void send_error(bhttp::status status, const std::string& message, const char* type,
                  const char* code = "", int retry_after_s = -1) {
    send_json(status, openai::error_body(message, type, code), retry_after_s);
  }

  void send_json(bhttp::status status, const Json& body, int retry_after_s = -1) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        status, request_.version() ? request_.version() : 11);
    res->set(bhttp::field::server, "v4eval");
    res->set(bhttp::field::content_type, "application/json");
    if (retry_after_s >= 0) res->set(bhttp::field::retry_after, std::to_string(retry_after_s));
    res->keep_alive(keep_alive_ && !server_.shutting_down_);
    res->body() = body.dump();
    res->prepare_payload();
    if (request_.method() == bhttp::verb::head) res->body().clear();
    writing_ = true;
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         if (!ec && self->drain_on_close_) return self->drain_then_close();
                         if (ec || !res->keep_alive()) return self->close();
                         self->after_response();
                       });
  }

  // Lingering close after refusing a request whose body is still arriving: closing at once
  // would reset the connection under a client that is still sending, and it would never see
  // the response. Reads and discards for up to 5 s.
  void drain_then_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(5));
    drain_buffer_.resize(64 * 1024);
    drain_next();
  }
  void drain_next() {
    stream_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec || self->closed_) return self->close();
                              self->drain_next();
                            });
  }

  // SSE: raw chunked writes, one at a time, in order.
  void enqueue(std::string bytes) {
    if (closed_) return;
    out_.push_back(std::move(bytes));
    if (!writing_) write_next();
  }

  void write_next() {
    if (closed_) return;
    if (out_.empty()) {
      writing_ = false;
      if (response_complete_) after_response();
      return;
    }
    writing_ = true;
    asio::async_write(
        stream_, asio::buffer(out_.front()),
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->close();  // the client went away: close() cancels its generation
          self->out_.pop_front();
          self->write_next();
        });
  }

  void after_response() {
    response_complete_ = false;
    streaming_ = false;
    if (!keep_alive_ || server_.shutting_down_) return close();
    if (watching_) {  // the watch read must end before the next request is read
      read_after_watch_ = true;
      beast::error_code ec;
      stream_.socket().cancel(ec);
      return;
    }
    read();
  }

  // While a generation runs nobody reads the socket, so a client that hangs up would go
  // unnoticed until the answer is written. A read kept pending meanwhile sees the hang-up (and
  // cancels the generation); bytes that arrive instead (a pipelined request) are kept.
  void watch_for_disconnect() {
    watching_ = true;
    stream_.async_read_some(
        buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
          self->watching_ = false;
          if (!ec) {
            self->buffer_.commit(n);
            if (self->read_after_watch_) {
              self->read_after_watch_ = false;
              return self->read();
            }
            if (!self->closed_) self->watch_for_disconnect();
            return;
          }
          if (ec == asio::error::operation_aborted && self->read_after_watch_ && !self->closed_) {
            self->read_after_watch_ = false;
            return self->read();
          }
          self->close();  // EOF or reset: the client is gone
        });
  }

  beast::tcp_stream stream_;
  Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::request<bhttp::string_body> request_;
  bool keep_alive_ = true;
  bool reading_ = false;
  bool closed_ = false;
  bool writing_ = false;
  bool streaming_ = false;
  bool streamed_ = false;
  bool include_usage_ = false;
  bool response_complete_ = false;
  Mode requested_mode_ = Mode::kNonThink;
  std::string id_;
  int64_t created_ = 0;
  std::shared_ptr<std::atomic<bool>> cancelled_;  // of the generation in progress
  std::deque<std::string> out_;
  bool drain_on_close_ = false;
  bool watching_ = false;          // a watch read is pending
  bool read_after_watch_ = false;  // the response is done: read the next request once it ends
  std::vector<char> drain_buffer_;
};

void HttpServer::Impl::begin_shutdown() {
  asio::post(io_, [this] {
    shutting_down_ = true;
    beast::error_code ec;
    acceptor_.close(ec);
    std::vector<Session*> idle;
    for (Session* s : sessions_)
      if (s->idle()) idle.push_back(s);
    for (Session* s : idle) s->close();
  });
}

void HttpServer::Impl::finish_shutdown(Clock::time_point deadline) {
  {
    std::unique_lock lock(mu_);
    closed_cv_.wait_until(lock, deadline, [&] { return open_ == 0; });
  }
  asio::post(io_, [this] {
    std::vector<Session*> all(sessions_.begin(), sessions_.end());
    for (Session* s : all) s->close();
  });
  // Give the closes a moment to run, then stop whatever is left.
  {
    std::unique_lock lock(mu_);
    closed_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return open_ == 0; });
  }
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::Impl::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!shutting_down_ && ec != asio::error::operation_aborted) accept();
      return;
    }
    if (int(sessions_.size()) >= options_.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Session>(std::move(socket), *this)->start();
    }
    if (!shutting_down_) accept();
  });
}

HttpServer::HttpServer(GenerationPool& pool, BackendInfo info, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(pool, std::move(info), std::move(options))) {}
HttpServer::~HttpServer() = default;
Result<uint16_t> HttpServer::start() { return impl_->start(); }
void HttpServer::begin_shutdown() { impl_->begin_shutdown(); }
void HttpServer::finish_shutdown(Clock::time_point deadline) { impl_->finish_shutdown(deadline); }

}  // namespace v4eval::serve
