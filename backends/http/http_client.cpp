#include "backends/http/http_client.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <thread>

#include "backends/http/http1.h"

namespace v4eval::http {
namespace {

double ms_since(Clock::time_point t) { return h1::ms_between(t, Clock::now()); }

// The native transport takes http:// unless told not to (V4EVAL_HTTP_TRANSPORT=curl, or
// Options::native_http = false) or a proxy may apply: libcurl knows the proxy variables and
// no_proxy's rules, we do not.
bool native_http_allowed(const Client::Options& options) {
  if (!options.native_http) return false;
  const char* transport = std::getenv("V4EVAL_HTTP_TRANSPORT");
  if (transport && std::string_view(transport) == "curl") return false;
  for (const char* name : {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}) {
    const char* value = std::getenv(name);
    if (value && *value) return false;
  }
  return true;
}

// epoll_event.data of the loop's own descriptors (the wake-up eventfd, libcurl's sockets): the
// descriptor, tagged odd. Native connections put their (even) Connection pointer there.
uint64_t fd_tag(int fd) { return (uint64_t(uint32_t(fd)) << 1) | 1; }

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
  });
}

}  // namespace

std::string_view transport_error_name(TransportError e) {
  switch (e) {
    case TransportError::kNone:
      return "none";
    case TransportError::kConnect:
      return "connect failed";
    case TransportError::kConnectionLost:
      return "connection lost";
    case TransportError::kProtocol:
      return "malformed HTTP response";
    case TransportError::kTimeout:
      return "timed out";
    case TransportError::kCancelled:
      return "cancelled";
    case TransportError::kAborted:
      return "aborted";
    case TransportError::kTooLarge:
      return "response too large";
    case TransportError::kTls:
      return "TLS failure";
    case TransportError::kBadUrl:
      return "bad URL";
    case TransportError::kOther:
      return "transport failure";
  }
  return "?";
}

std::string endpoint_label(std::string_view url) {
  size_t scheme_end = url.find("://");
  std::string scheme =
      scheme_end == std::string_view::npos ? "http" : std::string(url.substr(0, scheme_end));
  std::string_view rest = scheme_end == std::string_view::npos ? url : url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  std::string host(rest);
  bool has_port = host.find(':', host.rfind(']') == std::string::npos ? 0 : host.rfind(']')) !=
                  std::string::npos;
  if (!has_port) host += scheme == "https" ? ":443" : ":80";
  return scheme + "://" + host;
}

// One request in flight. Owned by the I/O thread from submission to completion.
struct Transfer {
  Request request;
  BodySink sink;
  std::function<void(Response&&)> on_done;
  Response response;
  size_t active_index = 0;  // in Impl::active_
  bool native = false;      // on the native transport (`exchange`), else on libcurl (`easy`)
  h1::Exchange exchange;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  Clock::time_point started;
  bool too_large = false;
  bool sink_stopped = false;
  char error_buffer[CURL_ERROR_SIZE] = {0};
};

class Client::Impl {
 public:
  explicit Impl(Options options) : options_(options), native_http_(native_http_allowed(options)) {
    global_init();
    multi_ = curl_multi_init();
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!multi_ || epoll_fd_ < 0 || wake_fd_ < 0)
      throw std::runtime_error("http client: set-up failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = fd_tag(wake_fd_);
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    transport_ = std::make_unique<h1::Transport>(
        epoll_fd_, options_.max_connections,
        h1::Transport::Hooks{[this](h1::Exchange* x) { finish(static_cast<Transfer*>(x->owner)); },
                             [this] { wake(); }});
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, options_.max_connections);
    thread_ = std::thread([this] { loop(); });
  }

  // Requests in flight or queued; the Client sends new ones to the least busy loop.
  std::atomic<int> load{0};

  // Refuses new requests and timers from now on (they complete at once, cancelled) and lets
  // the I/O thread cancel what is in flight. The destructor waits for it.
  void begin_stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake();
  }

  void join() {
    if (thread_.joinable()) thread_.join();
  }

  ~Impl() {
    begin_stop();
    join();
    transport_.reset();  // before wake_fd_ closes: its resolver thread may still wake us
    for (CURL* e : free_easy_) curl_easy_cleanup(e);
    for (auto& [headers, list] : header_lists_) curl_slist_free_all(list);
    curl_multi_cleanup(multi_);
    close(epoll_fd_);
    close(wake_fd_);
  }

  void start(Request request, BodySink sink, std::function<void(Response&&)> on_done) {
    auto t = std::make_unique<Transfer>();
    t->request = std::move(request);
    t->sink = std::move(sink);
    t->on_done = std::move(on_done);
    t->started = t->request.started != Clock::time_point{} ? t->request.started : Clock::now();
    bool wake_needed = false;
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        load.fetch_add(1, std::memory_order_relaxed);
        incoming_.push_back(std::move(t));
        t = nullptr;
        // One wake-up per batch: the I/O thread takes the whole queue when it wakes.
        wake_needed = !wake_pending_;
        wake_pending_ = true;
      }
    }
    if (t) {  // shutting down: complete at once, on this thread
      t->response.error = TransportError::kCancelled;
      t->response.error_message = "http client is shutting down";
      t->on_done(std::move(t->response));
      return;
    }
    if (wake_needed) wake();
  }

  void post_after(Clock::time_point when, Client::Timer fn) {
    bool wake_needed = false;
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        // Only a timer earlier than every other one can shorten the I/O thread's wait.
        bool earliest = timers_.empty() || when < timers_.top().when;
        timers_.push(PendingTimer{when, timer_seq_++, std::move(fn)});
        wake_needed = earliest && !wake_pending_;
        if (wake_needed) wake_pending_ = true;
        fn = nullptr;
      }
    }
    if (fn) {
      fn(true);
      return;
    }
    if (wake_needed) wake();
  }

 private:
  struct PendingTimer {
    Clock::time_point when;
    uint64_t seq;  // FIFO among equal times
    mutable Client::Timer fn;
    bool operator>(const PendingTimer& o) const {
      return when != o.when ? when > o.when : seq > o.seq;
    }
  };

  void wake() {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }

  static int on_socket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
    auto* self = static_cast<Impl*>(userp);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(self->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.data.u64 = fd_tag(fd);
    if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
    if (epoll_ctl(self->epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
      epoll_ctl(self->epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    return 0;
  }

  static int on_timer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    if (timeout_ms < 0)
      self->timer_.reset();
    else
      self->timer_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
  }

  static size_t on_header(char* data, size_t size, size_t n, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    std::string_view line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {  // a new response head (e.g. after 100 Continue)
      t->response.retry_after.reset();
      t->response.retry_after_ms.reset();
      t->response.content_type.clear();
    } else if (h1::istarts_with(line, "retry-after:")) {
      t->response.retry_after = std::string(h1::trim(line.substr(12)));
    } else if (h1::istarts_with(line, "retry-after-ms:")) {
      t->response.retry_after_ms = std::string(h1::trim(line.substr(15)));
    } else if (h1::istarts_with(line, "content-type:")) {
      t->response.content_type = std::string(h1::trim(line.substr(13)));
    }
    return size * n;
  }

  static size_t on_body(char* data, size_t size, size_t n, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    size_t bytes = size * n;
    if (t->response.first_byte_ms < 0) {
      t->response.first_byte_ms = ms_since(t->started);
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->response.status);
    }
    if (t->sink) {
      if (!t->sink(t->response.status, std::string_view(data, bytes))) {
        t->sink_stopped = true;
        return 0;
      }
      return bytes;
    }
    if (t->response.body.size() + bytes > t->request.max_response_bytes) {
      t->too_large = true;
      return 0;
    }
    t->response.body.append(data, bytes);
    return bytes;
  }

  static curl_slist* build_list(const std::vector<std::string>& headers) {
    // "Expect:" disables 100-continue, which costs a round trip (or a 1 s wait) per large POST.
    curl_slist* list = curl_slist_append(nullptr, "Expect:");
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    return list;
  }

  // A backend sends the same few header sets again and again: their lists are built once and
  // kept (a handful), the rest are built per request.
  curl_slist* header_list(Transfer* t) {
    for (auto& [headers, list] : header_lists_)
      if (headers == t->request.headers) return list;
    if (header_lists_.size() < 16) {
      header_lists_.emplace_back(t->request.headers, build_list(t->request.headers));
      return header_lists_.back().second;
    }
    t->headers = build_list(t->request.headers);
    return t->headers;
  }

  CURL* take_easy() {
    if (!free_easy_.empty()) {
      CURL* e = free_easy_.back();
      free_easy_.pop_back();
      return e;
    }
    return curl_easy_init();
  }

  void give_back_easy(CURL* e) {
    curl_easy_reset(e);
    if (free_easy_.size() < 2048)
      free_easy_.push_back(e);
    else
      curl_easy_cleanup(e);
  }

  void add(std::unique_ptr<Transfer> owned) {
    Transfer* t = owned.release();
    t->active_index = active_.size();
    active_.push_back(t);
    if (native_http_) {
      h1::Exchange& x = t->exchange;
      x.request = &t->request;
      x.sink = &t->sink;
      x.response = &t->response;
      x.started = t->started;
      x.owner = t;
      t->native = true;
      if (transport_->start(&x)) return;
      t->native = false;  // https://, or user info in the URL
    }
    add_to_curl(t);
  }

  void add_to_curl(Transfer* t) {
    const Request& r = t->request;
    CURL* e = take_easy();
    t->easy = e;
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_buffer);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, std::max(1L, r.connect_timeout_ms));
    if (r.deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(r.deadline - Clock::now());
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, long(std::max<int64_t>(1, left.count())));
    }
    if (r.idle_timeout_s > 0) {
      curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, r.idle_timeout_s);
    }
    if (!r.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, r.ca_file.c_str());
    if (r.post) {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(r.body.size()));
    } else {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    // "Expect:" disables 100-continue, which costs a round trip (or a 1 s wait) per large POST.
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, header_list(t));
    CURLMcode rc = curl_multi_add_handle(multi_, e);
    if (rc != CURLM_OK) {
      std::snprintf(t->error_buffer, sizeof t->error_buffer, "%s", curl_multi_strerror(rc));
      complete(t, CURLE_FAILED_INIT, TransportError::kOther);
    }
  }

  // Whether the transfer got as far as a connection. CONNECT_TIME alone says no for a reused
  // connection (nothing was connected), which made a stalled response look like a failed connect.
  static bool connected(Transfer* t) {
    curl_off_t connect_us = 0, pretransfer_us = 0;
    curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
    return connect_us > 0 || pretransfer_us > 0 || t->response.first_byte_ms >= 0;
  }

  static TransportError classify(CURLcode code, Transfer* t) {
    switch (code) {
      case CURLE_OK:
        return TransportError::kNone;
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_SSL_CONNECT_ERROR:
        return TransportError::kConnect;
      case CURLE_OPERATION_TIMEDOUT:
        return connected(t) ? TransportError::kTimeout : TransportError::kConnect;
      case CURLE_RECV_ERROR:
      case CURLE_SEND_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_PARTIAL_FILE:
      case CURLE_HTTP2:
      case CURLE_HTTP2_STREAM:
        return TransportError::kConnectionLost;
      case CURLE_WEIRD_SERVER_REPLY:
      case CURLE_BAD_CONTENT_ENCODING:
        return TransportError::kProtocol;
      case CURLE_UNSUPPORTED_PROTOCOL:
        // A scheme curl cannot speak, or (once connected) a reply that is not HTTP/1.x.
        return connected(t) ? TransportError::kProtocol : TransportError::kBadUrl;
      case CURLE_URL_MALFORMAT:
        return TransportError::kBadUrl;
      case CURLE_WRITE_ERROR:
        if (t->too_large) return TransportError::kTooLarge;
        return t->sink_stopped ? TransportError::kAborted : TransportError::kOther;
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CIPHER:
      case CURLE_SSL_CACERT_BADFILE:
        return TransportError::kTls;
      default:
        return TransportError::kOther;
    }
  }

  // Ends a transfer: `forced` overrides the classification (cancellation, shutdown).
  void complete(Transfer* t, CURLcode code, std::optional<TransportError> forced = std::nullopt) {
    curl_multi_remove_handle(multi_, t->easy);
    Response& r = t->response;
    r.error = forced ? *forced : classify(code, t);
    if (r.error == TransportError::kNone || r.status == 0)
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.status);
    if (r.error != TransportError::kNone && r.error_message.empty())
      r.error_message = t->error_buffer[0] ? t->error_buffer : curl_easy_strerror(code);
    give_back_easy(t->easy);
    curl_slist_free_all(t->headers);
    t->easy = nullptr;
    t->headers = nullptr;
    finish(t);
  }

  // The end of every transfer, either transport: `t->response` is final but for total_ms.
  void finish(Transfer* t) {
    std::unique_ptr<Transfer> owned(t);
    Transfer* last = active_.back();
    active_[t->active_index] = last;
    last->active_index = t->active_index;
    active_.pop_back();
    load.fetch_sub(1, std::memory_order_relaxed);
    if (!t->native) t->response.total_ms = ms_since(t->started);  // the transport sets its own
    // Callbacks run after the whole batch of events is handled: a woken caller then cannot
    // preempt this thread in the middle of it (at 512 in flight that halves context switches).
    finished_.emplace_back(std::move(t->on_done), std::move(t->response));
  }

  void run_finished() {
    for (auto& [done, response] : finished_) done(std::move(response));
    finished_.clear();
  }

  void read_completions() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      CURLcode code = msg->data.result;
      complete(t, code);
    }
  }

  void cancel_marked(bool all) {
    std::vector<Transfer*> doomed;
    for (Transfer* t : active_)
      if (all || (t->request.cancelled && t->request.cancelled->load(std::memory_order_relaxed)))
        doomed.push_back(t);
    for (Transfer* t : doomed) {
      std::string message = all ? "http client is shutting down" : "cancelled";
      if (t->native) {
        transport_->abort(&t->exchange, TransportError::kCancelled, std::move(message));
      } else {
        t->response.error_message = std::move(message);
        complete(t, CURLE_ABORTED_BY_CALLBACK, TransportError::kCancelled);
      }
    }
  }

  void loop() {
    constexpr int kMaxEvents = 256;
    epoll_event events[kMaxEvents];
    auto next_cancel_scan = Clock::now();
    int running = 0;
    std::optional<Clock::time_point> next_user_timer;
    std::vector<Client::Timer> due;
    while (true) {
      int wait_ms = -1;
      auto now = Clock::now();
      auto until_ms = [&](Clock::time_point t) {
        // Rounded up: waking a little early would only spin. At most an hour: epoll_wait takes
        // an int, and a deadline weeks away must not wrap into a negative (endless) wait.
        int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         t - now + std::chrono::microseconds(999))
                         .count();
        return int(std::clamp<int64_t>(ms, 0, int64_t{3600} * 1000));
      };
      if (timer_) wait_ms = until_ms(*timer_);
      for (auto when : {next_user_timer, transport_->next_check()}) {
        if (!when) continue;
        int ms = until_ms(*when);
        wait_ms = wait_ms < 0 ? ms : std::min(wait_ms, ms);
      }
      if (!active_.empty()) {  // cancellation is polled: at most 50 ms late
        int to_scan = int(std::max<int64_t>(
            0,
            std::chrono::duration_cast<std::chrono::milliseconds>(next_cancel_scan - now).count()));
        wait_ms = wait_ms < 0 ? to_scan : std::min(wait_ms, to_scan);
      }
      int n = epoll_wait(epoll_fd_, events, kMaxEvents, wait_ms);
      for (int i = 0; i < n; ++i) {
        uint64_t tag = events[i].data.u64;
        if (!(tag & 1)) {
          transport_->on_event(events[i].data.ptr, events[i].events);
          continue;
        }
        int fd = int(tag >> 1);
        if (fd == wake_fd_) {
          uint64_t v;  // one read takes the whole count
          (void)!read(wake_fd_, &v, sizeof v);
          continue;
        }
        int flags = 0;
        if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(multi_, fd, flags, &running);
      }
      if (timer_ && Clock::now() >= *timer_) {
        timer_.reset();
        curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      read_completions();
      transport_->take_resolved();
      if (auto when = transport_->next_check(); when && Clock::now() >= *when)
        transport_->expire(Clock::now());

      bool stopping;
      {
        std::lock_guard lock(mu_);
        incoming_batch_.swap(incoming_);
        stopping = stopping_;
        wake_pending_ = false;
        auto t = Clock::now();
        while (!timers_.empty() && (stopping || timers_.top().when <= t)) {
          due.push_back(std::move(timers_.top().fn));
          timers_.pop();
        }
        next_user_timer.reset();
        if (!timers_.empty()) next_user_timer = timers_.top().when;
      }
      for (auto& t : incoming_batch_) add(std::move(t));
      incoming_batch_.clear();
      if (stopping) {
        cancel_marked(/*all=*/true);
        transport_->end_batch();
        run_finished();
        for (auto& fn : due) fn(true);
        due.clear();
        break;
      }
      if (Clock::now() >= next_cancel_scan) {
        cancel_marked(/*all=*/false);
        next_cancel_scan = Clock::now() + std::chrono::milliseconds(50);
      }
      transport_->end_batch();
      run_finished();
      for (auto& fn : due) fn(false);
      due.clear();
    }
  }

  Options options_;
  bool native_http_;
  CURLM* multi_ = nullptr;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::mutex mu_;  // guards incoming_ and stopping_
  std::vector<std::unique_ptr<Transfer>> incoming_;
  std::priority_queue<PendingTimer, std::vector<PendingTimer>, std::greater<>> timers_;
  uint64_t timer_seq_ = 0;
  bool stopping_ = false;
  bool wake_pending_ = false;  // the eventfd was written and the queue not yet taken
  // I/O thread only:
  std::vector<std::unique_ptr<Transfer>> incoming_batch_;
  std::vector<Transfer*> active_;
  std::unique_ptr<h1::Transport> transport_;
  std::vector<CURL*> free_easy_;
  std::vector<std::pair<std::vector<std::string>, curl_slist*>> header_lists_;
  std::optional<Clock::time_point> timer_;
  std::vector<std::pair<std::function<void(Response&&)>, Response>> finished_;
};

Client::Client() : Client(Options{}) {}
Client::Client(Options options) {
  int n = options.io_threads;
  // By the machine: CPUs / 4, within [3, 4]. Not fewer than 3 even on 2 CPUs: a loop spends
  // most of its time in the kernel's loopback/TCP send path, and a third loop keeps the CPUs
  // busy while the others are there (bench_http, 2 CPUs, 512 in flight: 70-77k req/s with 2
  // loops, 83-102k with 3, 75-95k with 4).
  if (n <= 0) n = std::clamp(int(std::thread::hardware_concurrency() / 4), 3, 4);
  Options each = options;
  each.max_connections = std::max(16L, options.max_connections / n);
  for (int i = 0; i < n; ++i) impls_.push_back(std::make_unique<Impl>(each));
}

Client::~Client() {
  // Every loop refuses new work before any is joined: a completion that starts a new request
  // (a retry, a failover) while the others shut down is cancelled, never sent to a loop that is
  // already gone.
  for (auto& impl : impls_) impl->begin_stop();
  for (auto& impl : impls_) impl->join();
  impls_.clear();
}

Client::Impl& Client::least_busy() {
  Impl* best = impls_[0].get();
  int best_load = best->load.load(std::memory_order_relaxed);
  for (size_t i = 1; i < impls_.size() && best_load > 0; ++i) {
    int l = impls_[i]->load.load(std::memory_order_relaxed);
    if (l < best_load) {
      best = impls_[i].get();
      best_load = l;
    }
  }
  return *best;
}

void Client::start(Request request, BodySink sink, std::function<void(Response&&)> on_done) {
  least_busy().start(std::move(request), std::move(sink), std::move(on_done));
}

void Client::post_after(Clock::time_point when, Timer fn) {
  impls_[0]->post_after(when, std::move(fn));
}

Response Client::perform(Request request, BodySink sink) {
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Response response;
  };
  auto waiter = std::make_shared<Waiter>();
  least_busy().start(std::move(request), std::move(sink), [waiter](Response&& r) {
    std::lock_guard lock(waiter->mu);
    waiter->response = std::move(r);
    waiter->done = true;
    waiter->cv.notify_one();
  });
  std::unique_lock lock(waiter->mu);
  // The I/O thread always completes a request (response, curl timeout, cancellation scan or
  // shutdown), so this wait is bounded by the request's own limits.
  waiter->cv.wait(lock, [&] { return waiter->done; });
  return std::move(waiter->response);
}

}  // namespace v4eval::http
