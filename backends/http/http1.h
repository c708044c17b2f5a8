#pragma once
// The native HTTP/1.1 transport of the HTTP client, for plain http:// URLs: an incremental
// response parser, a keep-alive connection per exchange driven by the client's epoll loop, a
// pool of idle connections per host and port, and a resolver thread for host names. libcurl's
// per-request overhead (easy handle reset, some 25 options, poll calls, epoll_ctl churn) doubled
// the client's CPU per request (bench_http, 512 in flight: 36 us through libcurl, 17 us through
// this); https:// and proxied requests still go through libcurl (http_client.cpp decides).
//
// Everything here but Resolver runs on one I/O thread: none of it is thread-safe.

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backends/http/http_client.h"

namespace v4eval::http::h1 {

// Small text and time helpers both transports use (http_client.cpp reads libcurl's header
// lines with them). `lowercase` must be lower case.
bool iequals(std::string_view s, std::string_view lowercase);
bool istarts_with(std::string_view s, std::string_view lowercase);
std::string_view trim(std::string_view s);  // spaces, tabs, CR and LF at both ends
double ms_between(Clock::time_point from, Clock::time_point to);

// An http:// URL, split.
struct Target {
  std::string host;  // without brackets: "127.0.0.1", "::1", "api.example.com"
  uint16_t port = 80;
  std::string authority;  // the Host header: "host", "host:port", "[::1]:port"
  std::string path;       // the request target: "/v1/x?q=1" ("/" when the URL has none)
};

// Parses "http://host[:port][/path][?query][#fragment]" (the scheme in any case, IPv6 literals
// in brackets). Returns nullopt and a reason in *error (never the URL itself: a query may carry
// a key) when the URL is malformed. URLs with user info are not accepted here (libcurl's).
std::optional<Target> parse_url(std::string_view url, std::string* error);

// Whether the native transport can take `url`: http://, no user info.
bool is_plain_http(std::string_view url);

// Appends the request head: request line, Host, the caller's headers (a "Name:" without value
// removes nothing and is left out, as with libcurl; Host given by the caller replaces ours),
// "Accept: */*" unless the caller sent an Accept, and Content-Length for a POST.
void append_request_head(std::string& out, const Target& target, bool post,
                         const std::vector<std::string>& headers, size_t body_bytes);

// What a response head says that callers or the connection need.
struct ResponseHead {
  int status = 0;
  int minor_version = 1;  // HTTP/1.<minor>
  std::optional<std::string> retry_after;
  std::optional<std::string> retry_after_ms;
  std::string content_type;
};

// An incremental HTTP/1.x response parser: bytes may arrive split anywhere. Interim 1xx heads
// are skipped; bodies are framed by Content-Length, chunked transfer coding (extensions and
// trailers allowed and ignored) or the connection's close, and 204/304 have none.
class ResponseParser {
 public:
  static constexpr size_t kMaxHeadBytes =
      size_t{64} * 1024;  // per response, interim heads included

  enum class Kind {
    kNeedMore,  // everything usable was consumed; what is left of `data` is a partial line to
                // hand in again, followed by more bytes
    kHead,      // the final head arrived: head() is valid
    kBody,      // Event::body: decoded body bytes (a view into `data`)
    kDone,      // the response is complete; `data` keeps whatever followed it
    kError,     // not valid HTTP: error() says why
  };
  struct Event {
    Kind kind;
    std::string_view body;
  };

  // Consumes from the front of `data` and says what it found. Call again until kNeedMore,
  // kDone or kError.
  Event next(std::string_view& data);

  // The peer closed the connection: returns "" when that completes the response (a body
  // delimited by the close), else why the response is incomplete.
  std::string at_eof();

  void reset();
  bool done() const { return state_ == State::kDone; }
  bool saw_bytes() const { return saw_bytes_; }
  ResponseHead& head() { return head_; }
  const std::string& error() const { return error_; }
  // After kDone: whether the connection may carry another request.
  bool keep_alive() const { return keep_alive_; }
  uint64_t body_bytes() const { return body_bytes_; }

 private:
  enum class State {
    kStatusLine,
    kHeaders,
    kBodyLength,
    kBodyUntilClose,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kDone,
    kError
  };
  Event fail(std::string message);
  bool parse_status_line(std::string_view line);
  bool parse_header(std::string_view line);
  std::optional<Event> end_of_head();  // nullopt: an interim head, skipped
  Event body_bytes(std::string_view& data, State next);
  std::optional<Event> parse_chunk_size(std::string_view line);  // an event on error

  State state_ = State::kStatusLine;
  ResponseHead head_;
  std::string error_;
  size_t head_bytes_ = 0;   // head (and trailer) bytes consumed so far, against kMaxHeadBytes
  uint64_t remaining_ = 0;  // of the Content-Length body or the current chunk
  uint64_t content_length_ = 0;
  uint64_t body_bytes_ = 0;
  bool has_content_length_ = false;
  bool chunked_ = false;
  bool other_coding_ = false;  // a transfer coding other than chunked: delimited by the close
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool keep_alive_ = false;
  bool saw_bytes_ = false;
};

// A resolved address of a host.
struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
};
// "127.0.0.1:8000", "[::1]:8000".
std::string address_label(const Address& a);

// Looks host names up with getaddrinfo on its own thread (started on the first lookup) so the
// I/O thread never blocks on DNS. The destructor waits for a lookup in progress.
class Resolver {
 public:
  struct Result {
    uint64_t key = 0;
    std::vector<Address> addresses;
    std::string error;  // set when the lookup failed
  };
  // `wake` runs on the resolver thread after a result is queued.
  explicit Resolver(std::function<void()> wake) : wake_(std::move(wake)) {}
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  void lookup(uint64_t key, std::string host, uint16_t port);
  // The results that arrived since the last call (cheap when none did).
  std::vector<Result> take();

 private:
  void run();
  std::function<void()> wake_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, std::pair<std::string, uint16_t>>> jobs_;
  std::vector<Result> results_;
  std::atomic<bool> has_results_{false};
  bool stop_ = false;
  std::thread thread_;
};

struct Connection;
struct Route;
struct HostPool;

// One request on the native transport. The owner fills in the first block, calls
// Transport::start, and gets it back through the transport's `done` callback with
// response->error (and the rest of *response, total_ms included) set; the owner keeps it
// alive until then.
struct Exchange {
  const Request* request = nullptr;
  const BodySink* sink = nullptr;  // null or empty: the body goes to response->body
  Response* response = nullptr;
  Clock::time_point started;
  void* owner = nullptr;

  // The transport's:
  enum class Phase : uint8_t { kNew, kResolving, kConnecting, kActive };
  Phase phase = Phase::kNew;
  bool on_reused_connection = false;  // a failure before any reply byte is retried once
  bool retried = false;
  Route* route = nullptr;
  Connection* conn = nullptr;
  size_t index = 0;  // in Transport::exchanges_
  Clock::time_point connect_start;
  Clock::time_point connect_deadline;
  Clock::time_point last_byte;  // for Request::idle_timeout_s
};

// The connections of one I/O thread. Connections are registered with the caller's epoll set
// once (edge-triggered, in and out), their epoll_event.data.ptr being the Connection: the
// caller hands those events to on_event. Pointers are 8-aligned, so callers can tag their own
// descriptors with an odd data.u64.
class Transport {
 public:
  struct Hooks {
    std::function<void(Exchange*)> done;  // the exchange ended (response->error says how)
    std::function<void()> wake;           // from the resolver thread: interrupt epoll_wait
  };
  // `max_idle`: idle connections kept open, all hosts together.
  Transport(int epoll_fd, long max_idle, Hooks hooks);
  ~Transport();  // closes every connection; exchanges must have ended
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Starts `x`, or returns false (and leaves it alone) when its URL is not for this transport
  // (see is_plain_http). `done` may run before this returns (a malformed URL).
  bool start(Exchange* x);
  // Ends `x` now with `error` (cancellation, shutdown); its connection is closed.
  void abort(Exchange* x, TransportError error, std::string message);

  void on_event(void* tag, uint32_t events);
  // After each batch of events: frees the connections closed during it.
  void end_batch();
  // The earliest time something may time out; call expire() then.
  std::optional<Clock::time_point> next_check() const { return next_check_; }
  void expire(Clock::time_point now);
  // Picks up finished name lookups (after a wake).
  void take_resolved();

  size_t exchanges() const { return exchanges_.size(); }
  size_t idle_connections() const { return idle_count_; }

 private:
  Route* route_for(const std::string& url, std::string* error);
  void dispatch(Exchange* x);
  void open(Exchange* x);
  void connect_from(Exchange* x, const std::shared_ptr<const std::vector<Address>>& list,
                    size_t first, std::string last_error);
  void on_connected(Connection* c);
  void send_request(Connection* c);
  void write_more(Connection* c);
  void read_all(Connection* c, uint32_t events);
  bool feed(Connection* c, std::string_view bytes);
  bool deliver(Exchange* x, std::string_view bytes);
  void on_idle_event(Connection* c);
  void on_connection_failed(Connection* c, std::string message);
  void finish(Connection* c, bool reusable, Clock::time_point now);
  void fail(Exchange* x, TransportError error, std::string message);
  void detach(Exchange* x);
  void retry(Exchange* x);
  void make_idle(Connection* c, Clock::time_point now);
  Connection* take_idle(HostPool* pool, Clock::time_point now);
  void close(Connection* c);
  void remove(Exchange* x);
  // Sets response->total_ms (at `now`, or the clock's now) and hands `x` back.
  void complete(Exchange* x, Clock::time_point now = {});
  void watch(Clock::time_point when);
  Clock::time_point due(const Exchange* x) const;

  int epoll_fd_;
  long max_idle_;
  Hooks hooks_;
  std::vector<Exchange*> exchanges_;
  std::unordered_map<std::string, std::unique_ptr<Route>> routes_;    // by URL
  std::unordered_map<std::string, std::unique_ptr<HostPool>> pools_;  // by "host:port"
  std::unordered_map<uint64_t, HostPool*> pools_by_id_;               // resolver keys
  uint64_t next_pool_id_ = 1;
  size_t idle_count_ = 0;
  std::vector<Connection*> closed_;  // freed at end_batch: events may still name them
  std::optional<Clock::time_point> next_check_;
  std::unique_ptr<char[]> read_buffer_;
  std::unique_ptr<Resolver> resolver_;
};

}  // namespace v4eval::http::h1
