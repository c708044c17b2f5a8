#pragma once
// An HTTP/1.1 + HTTPS client for the remote backends: a few I/O threads, each an epoll loop with
// its own keep-alive connection pool. Plain http:// goes through a native HTTP/1.1 transport
// (http1.h: half the CPU per request of going through libcurl); https:// and proxied requests
// through a libcurl multi handle driven by the same loop. A caller blocks on its own request's
// completion (perform) or gets a callback (start), never a thread of its own, so 512 requests in
// flight cost 512 sockets and a few threads.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace v4eval::http {

using Clock = std::chrono::steady_clock;

// Why a request got no complete HTTP response. Callers map these to retryable/final.
enum class TransportError {
  kNone,            // a complete response arrived (any status)
  kConnect,         // refused, unreachable, DNS failure, connect timeout: nothing was processed
  kConnectionLost,  // reset or closed mid-exchange, truncated body, nothing received at all
  kProtocol,        // not a valid HTTP response
  kTimeout,         // the request's deadline or idle timeout passed
  kCancelled,       // Request::cancelled was set, or the client is shutting down
  kAborted,         // the body sink asked to stop
  kTooLarge,        // the body exceeded Request::max_response_bytes
  kTls,             // certificate verification or TLS set-up failed
  kBadUrl,          // malformed URL or unsupported scheme
  kOther,
};
std::string_view transport_error_name(TransportError e);

struct Request {
  std::string url;
  bool post = true;  // POST `body`; false: GET
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  Clock::time_point deadline = Clock::time_point::max();
  long connect_timeout_ms = 10000;
  long idle_timeout_s = 0;  // abort when no byte arrives for this long (0: never)
  std::string ca_file;      // PEM bundle for HTTPS (empty: the system's)
  // Polled by the I/O thread; must stay valid until the request completes.
  const std::atomic<bool>* cancelled = nullptr;
  size_t max_response_bytes = size_t{1} << 28;
  // Where Response::first_byte_ms and total_ms count from; unset: when start/perform is
  // called. A caller that times other moments of the exchange itself (its time to first
  // token) passes its own start so that all of them share one origin.
  Clock::time_point started{};
};

struct Response {
  TransportError error = TransportError::kNone;
  std::string error_message;                  // what went wrong; never contains request headers
  long status = 0;                            // HTTP status when a response head arrived
  std::string body;                           // empty when a BodySink consumed the body
  std::optional<std::string> retry_after;     // Retry-After header, raw
  std::optional<std::string> retry_after_ms;  // retry-after-ms (OpenAI's finer hint), raw
  std::string content_type;
  double first_byte_ms = -1;  // first body byte, from the start of the request
  double total_ms = 0;
};

// Receives the body piece by piece on the I/O thread (cheap work only: it blocks every other
// transfer). `status` is the response's HTTP status. Return false to abort (kAborted).
using BodySink = std::function<bool(long status, std::string_view bytes)>;

class Client {
 public:
  struct Options {
    long max_connections = 1024;  // idle connections kept open, all hosts together
    // I/O threads, each with its own connection pools; a request goes to the least busy one
    // (ties: the first, so a lone caller always reuses one connection). 0: by the machine
    // (CPUs / 4, at least 3, at most 4).
    int io_threads = 1;
    // http:// through the native transport (false: through libcurl, as https://). The
    // environment overrides it: V4EVAL_HTTP_TRANSPORT=curl, or a proxy variable (http_proxy,
    // HTTP_PROXY, all_proxy, ALL_PROXY) set, since libcurl applies proxies and we do not.
    bool native_http = true;
  };
  Client();
  explicit Client(Options options);
  ~Client();  // cancels what is still in flight and joins the I/O thread
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Runs `request` and waits for its end: a response, a transport error, its deadline or its
  // cancellation. Thread-safe.
  Response perform(Request request, BodySink sink = nullptr);

  // Starts `request`; `on_done` runs once on the I/O thread (on the calling thread when the
  // client is shutting down). Thread-safe, also from the I/O thread itself.
  void start(Request request, BodySink sink, std::function<void(Response&&)> on_done);

  // Runs `fn(false)` once on the I/O thread at `when` (a little later under load): timers for
  // callers that wait without a thread (backoff, admission polling). When the client shuts down
  // first, `fn(true)` runs instead, possibly on the calling thread. Cheap work only.
  // Thread-safe, also from the I/O thread itself.
  using Timer = std::function<void(bool shutting_down)>;
  void post_after(Clock::time_point when, Timer fn);

 private:
  class Impl;
  Impl& least_busy();
  std::vector<std::unique_ptr<Impl>> impls_;
};

// Returns "scheme://host:port" of a URL: what error messages may show of an endpoint (no
// path, query or user info, which can carry secrets).
std::string endpoint_label(std::string_view url);

}  // namespace v4eval::http
