#include "backends/http/http1.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace v4eval::http::h1 {
namespace {

constexpr size_t kReadBufferBytes = size_t{64} * 1024;
constexpr size_t kMaxChunkSizeLine = 4096;  // hex digits plus extensions
constexpr auto kResolvedFor = std::chrono::seconds(60);
// libcurl's default CURLOPT_MAXAGE_CONN: an older idle connection may have been dropped by a
// NAT or firewall without a FIN, and a request sent on it would hang until its timeout.
constexpr auto kMaxIdleAge = std::chrono::seconds(118);

// Calls fn(token) for each trimmed, non-empty comma-separated element of a header value.
template <typename Fn>
void for_each_token(std::string_view value, Fn fn) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view token = trim(value.substr(0, comma));
    if (!token.empty()) fn(token);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// RFC 9110 token characters: what a header name may be made of.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

long whole_ms_since(Clock::time_point t) {
  return long(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

namespace {
char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }
}  // namespace

bool iequals(std::string_view s, std::string_view lowercase) {
  if (s.size() != lowercase.size()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (lower(s[i]) != lowercase[i]) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view lowercase) {
  return s.size() >= lowercase.size() && iequals(s.substr(0, lowercase.size()), lowercase);
}

std::string_view trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// ---- URLs and request heads

bool is_plain_http(std::string_view url) {
  if (!istarts_with(url, "http://")) return false;
  std::string_view authority = url.substr(7);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  return authority.find('@') == std::string_view::npos;
}

std::optional<Target> parse_url(std::string_view url, std::string* error) {
  auto bad = [&](const char* why) -> std::optional<Target> {
    *error = why;
    return std::nullopt;
  };
  if (!istarts_with(url, "http://")) return bad("not an http:// URL");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return bad("URL contains a space or control character");
  std::string_view rest = url.substr(7);
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return bad("user info in URL");
  Target t;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated [IPv6 address] in URL");
    t.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad("junk after [IPv6 address] in URL");
    if (!after.empty()) port = after.substr(1);
  } else {
    size_t colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (t.host.find(':') != std::string::npos) return bad("IPv6 address in URL without brackets");
  }
  if (t.host.empty()) return bad("no host in URL");
  if (!port.empty()) {
    unsigned long value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return bad("bad port number in URL");
      value = value * 10 + unsigned(c - '0');
      if (value > 65535) return bad("port number in URL out of range");
    }
    if (value == 0) return bad("port 0 in URL");
    t.port = uint16_t(value);
  }
  bool ipv6 = authority.front() == '[';
  t.authority = ipv6 ? "[" + t.host + "]" : t.host;
  if (t.port != 80) t.authority += ":" + std::to_string(t.port);
  tail = tail.substr(0, tail.find('#'));
  if (tail.empty() || tail.front() == '?') t.path = "/";
  t.path += tail;
  return t;
}

namespace {

// The request head up to the body's framing: what is the same for every request with the same
// URL, method and headers.
void append_head_fields(std::string& out, const Target& target, bool post,
                        const std::vector<std::string>& headers) {
  bool own_host = true, own_accept = true;
  for (const std::string& h : headers) {
    if (istarts_with(h, "host:")) own_host = false;
    if (istarts_with(h, "accept:")) own_accept = false;
  }
  out += post ? "POST " : "GET ";
  out += target.path;
  out += " HTTP/1.1\r\n";
  if (own_host) {
    out += "Host: ";
    out += target.authority;
    out += "\r\n";
  }
  for (const std::string& h : headers) {
    size_t colon = h.find(':');
    // The body's framing is ours; "Name:" alone is libcurl's way to suppress a header.
    if (colon == std::string::npos || trim(std::string_view(h).substr(colon + 1)).empty()) continue;
    if (istarts_with(h, "content-length:") || istarts_with(h, "transfer-encoding:")) continue;
    out += h;
    out += "\r\n";
  }
  if (own_accept) out += "Accept: */*\r\n";
}

void append_head_end(std::string& out, bool post, size_t body_bytes) {
  if (post) {
    out += "Content-Length: ";
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, body_bytes).ptr;
    out.append(digits, size_t(end - digits));
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace

void append_request_head(std::string& out, const Target& target, bool post,
                         const std::vector<std::string>& headers, size_t body_bytes) {
  append_head_fields(out, target, post, headers);
  append_head_end(out, post, body_bytes);
}

// ---- the response parser

void ResponseParser::reset() { *this = ResponseParser(); }

ResponseParser::Event ResponseParser::fail(std::string message) {
  state_ = State::kError;
  error_ = std::move(message);
  return {Kind::kError, {}};
}

// Splits the first line off `data` (LF or CRLF ends it). kTooLong when it cannot end within
// `budget` bytes.
enum class LineResult { kLine, kPartial, kTooLong };
static LineResult split_line(std::string_view& data, std::string_view* line, size_t budget,
                             size_t* consumed) {
  const void* nl = std::memchr(data.data(), '\n', data.size());
  if (!nl) return data.size() >= budget ? LineResult::kTooLong : LineResult::kPartial;
  size_t end = size_t(static_cast<const char*>(nl) - data.data());
  if (end + 1 > budget) return LineResult::kTooLong;
  *line = data.substr(0, end);
  if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
  data.remove_prefix(end + 1);
  *consumed += end + 1;
  return LineResult::kLine;
}

bool ResponseParser::parse_status_line(std::string_view line) {
  // HTTP/1.x SSS[ reason]
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || !digit(line[7]) || line[8] != ' ' ||
      !digit(line[9]) || !digit(line[10]) || !digit(line[11]) ||
      (line.size() > 12 && line[12] != ' '))
    return false;
  head_.minor_version = line[7] - '0';
  head_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  return head_.status >= 100;
}

bool ResponseParser::parse_header(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') return true;  // obsolete folding: ignored
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    error_ = "malformed header line in the response";
    return false;
  }
  std::string_view name = line.substr(0, colon);
  for (char c : name)
    if (!is_token_char(c)) {
      error_ = "malformed header name in the response";
      return false;
    }
  std::string_view value = trim(line.substr(colon + 1));
  if (iequals(name, "content-length")) {
    bool ok = !value.empty();
    uint64_t length = 0;
    bool first = true;
    // "5, 5" (a repeated header joined by a proxy) is valid; differing values are not.
    for_each_token(value, [&](std::string_view token) {
      uint64_t v = 0;
      for (char c : token) {
        if (c < '0' || c > '9' || v > (uint64_t(1) << 56)) {
          ok = false;
          return;
        }
        v = v * 10 + uint64_t(c - '0');
      }
      if (!first && v != length) ok = false;
      length = v;
      first = false;
    });
    if (!ok || first || (has_content_length_ && content_length_ != length)) {
      error_ = "bad Content-Length in the response";
      return false;
    }
    has_content_length_ = true;
    content_length_ = length;
  } else if (iequals(name, "transfer-encoding")) {
    std::string_view last;
    for_each_token(value, [&](std::string_view token) { last = token; });
    if (!last.empty()) {
      chunked_ = iequals(last, "chunked");
      other_coding_ = !chunked_;
    }
  } else if (iequals(name, "connection")) {
    for_each_token(value, [&](std::string_view token) {
      if (iequals(token, "close")) connection_close_ = true;
      if (iequals(token, "keep-alive")) connection_keep_alive_ = true;
    });
  } else if (iequals(name, "retry-after")) {
    head_.retry_after = std::string(value);
  } else if (iequals(name, "retry-after-ms")) {
    head_.retry_after_ms = std::string(value);
  } else if (iequals(name, "content-type")) {
    head_.content_type.assign(value);
  }
  return true;
}

std::optional<ResponseParser::Event> ResponseParser::end_of_head() {
  if (head_.status < 200) {
    if (head_.status == 101) return fail("unexpected 101 Switching Protocols");
    // An interim response (100 Continue, 103 Early Hints): its headers are not the answer's.
    size_t head_bytes = head_bytes_;
    reset();
    head_bytes_ = head_bytes;
    saw_bytes_ = true;
    return std::nullopt;
  }
  keep_alive_ = !connection_close_ && (head_.minor_version >= 1 || connection_keep_alive_);
  if (head_.status == 204 || head_.status == 304) {
    state_ = State::kDone;
  } else if (chunked_) {
    // Both framings at once is how requests get smuggled: use chunked, never reuse.
    if (has_content_length_) keep_alive_ = false;
    state_ = State::kChunkSize;
  } else if (other_coding_ || !has_content_length_) {
    keep_alive_ = false;
    state_ = State::kBodyUntilClose;
  } else {
    remaining_ = content_length_;
    state_ = remaining_ == 0 ? State::kDone : State::kBodyLength;
  }
  return Event{Kind::kHead, {}};
}

ResponseParser::Event ResponseParser::body_bytes(std::string_view& data, State next) {
  if (data.empty()) return {Kind::kNeedMore, {}};
  size_t n = size_t(std::min<uint64_t>(remaining_, data.size()));
  Event ev{Kind::kBody, data.substr(0, n)};
  data.remove_prefix(n);
  remaining_ -= n;
  body_bytes_ += n;
  if (remaining_ == 0) state_ = next;
  return ev;
}

std::optional<ResponseParser::Event> ResponseParser::parse_chunk_size(std::string_view line) {
  uint64_t size = 0;
  size_t i = 0;
  for (; i < line.size(); ++i) {
    char c = lower(line[i]);
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) break;
    if (size >> 56) return fail("chunk size too large in the response");
    size = size * 16 + uint64_t(d);
  }
  if (i == 0) return fail("bad chunk size in the response");
  std::string_view rest = trim(line.substr(i));
  if (!rest.empty() && rest.front() != ';') return fail("bad chunk size in the response");
  if (size == 0) {
    state_ = State::kTrailers;
  } else {
    remaining_ = size;
    state_ = State::kChunkData;
  }
  return std::nullopt;
}

ResponseParser::Event ResponseParser::next(std::string_view& data) {
  if (!data.empty()) saw_bytes_ = true;
  while (true) {
    std::string_view line;
    switch (state_) {
      case State::kStatusLine:
      case State::kHeaders:
      case State::kTrailers: {
        LineResult r = split_line(data, &line, kMaxHeadBytes - head_bytes_, &head_bytes_);
        if (r == LineResult::kTooLong)
          return fail(state_ == State::kTrailers ? "response trailers larger than 64 KiB"
                                                 : "response head larger than 64 KiB");
        if (r == LineResult::kPartial) {
          // Not HTTP at all: say so now rather than when the head limit or the close comes.
          if (state_ == State::kStatusLine && !data.empty() && data.front() != '\r' &&
              data.front() != '\n' &&
              std::string_view("HTTP/1.").substr(0, std::min<size_t>(data.size(), 7)) !=
                  data.substr(0, std::min<size_t>(data.size(), 7)))
            return fail("malformed status line in the response (not HTTP/1.x)");
          return {Kind::kNeedMore, {}};
        }
        if (state_ == State::kStatusLine) {
          if (line.empty()) continue;  // stray empty lines before a status line are tolerated
          if (!parse_status_line(line))
            return fail("malformed status line in the response (not HTTP/1.x)");
          state_ = State::kHeaders;
        } else if (state_ == State::kHeaders) {
          if (line.empty()) {
            if (auto ev = end_of_head()) return *ev;
          } else if (!parse_header(line)) {
            return fail(error_);
          }
        } else if (line.empty()) {  // the end of the trailers
          state_ = State::kDone;
        }
        continue;
      }
      case State::kBodyLength:
        return body_bytes(data, State::kDone);
      case State::kBodyUntilClose: {
        if (data.empty()) return {Kind::kNeedMore, {}};
        Event ev{Kind::kBody, data};
        body_bytes_ += data.size();
        data = {};
        return ev;
      }
      case State::kChunkSize: {
        size_t consumed = 0;
        LineResult r = split_line(data, &line, kMaxChunkSizeLine, &consumed);
        if (r == LineResult::kTooLong) return fail("chunk size line too long in the response");
        if (r == LineResult::kPartial) return {Kind::kNeedMore, {}};
        if (auto ev = parse_chunk_size(line)) return *ev;
        continue;
      }
      case State::kChunkData:
        return body_bytes(data, State::kChunkDataEnd);
      case State::kChunkDataEnd: {
        size_t consumed = 0;
        LineResult r = split_line(data, &line, 3, &consumed);
        if (r == LineResult::kPartial) return {Kind::kNeedMore, {}};
        if (r == LineResult::kTooLong || !line.empty())
          return fail("missing CRLF after chunk data in the response");
        state_ = State::kChunkSize;
        continue;
      }
      case State::kDone:
        return {Kind::kDone, {}};
      case State::kError:
        return {Kind::kError, {}};
    }
  }
}

std::string ResponseParser::at_eof() {
  switch (state_) {
    case State::kDone:
      return "";
    case State::kBodyUntilClose:
      state_ = State::kDone;
      return "";
    case State::kStatusLine:
      // libcurl's words, which people search for.
      if (!saw_bytes_) return "Empty reply from server";
      [[fallthrough]];
    case State::kHeaders:
      return "connection closed in the response head";
    case State::kBodyLength:
      return "connection closed after " + std::to_string(body_bytes_) + " of " +
             std::to_string(content_length_) + " body bytes";
    case State::kChunkSize:
    case State::kChunkData:
    case State::kChunkDataEnd:
    case State::kTrailers:
      return "connection closed in a chunked body after " + std::to_string(body_bytes_) +
             " body bytes";
    case State::kError:
      return error_;
  }
  return "connection closed";
}

// ---- addresses and the resolver

std::string address_label(const Address& a) {
  char text[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (a.addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a.addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
    return std::string(text) + ":" + std::to_string(port);
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.addr);
  inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
  port = ntohs(in6->sin6_port);
  return "[" + std::string(text) + "]:" + std::to_string(port);
}

namespace {

// getaddrinfo; `flags` AI_NUMERICHOST makes it a parse that never blocks.
std::vector<Address> lookup_addresses(const std::string& host, uint16_t port, int flags,
                                      std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  std::vector<Address> out;
  if (rc != 0) {
    if (error) *error = rc == EAI_SYSTEM ? errno_text(errno) : gai_strerror(rc);
    return out;
  }
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    Address a;
    std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
    a.len = socklen_t(ai->ai_addrlen);
    bool seen = std::any_of(out.begin(), out.end(), [&](const Address& b) {
      return b.len == a.len && std::memcmp(&b.addr, &a.addr, a.len) == 0;
    });
    if (!seen) out.push_back(a);
  }
  freeaddrinfo(found);
  if (out.empty() && error) *error = "no IPv4 or IPv6 address";
  return out;
}

}  // namespace

Resolver::~Resolver() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Resolver::lookup(uint64_t key, std::string host, uint16_t port) {
  std::lock_guard lock(mu_);
  jobs_.push_back({key, {std::move(host), port}});
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  cv_.notify_one();
}

std::vector<Resolver::Result> Resolver::take() {
  std::vector<Result> out;
  if (!has_results_.load(std::memory_order_acquire)) return out;
  std::lock_guard lock(mu_);
  out.swap(results_);
  has_results_.store(false, std::memory_order_relaxed);
  return out;
}

void Resolver::run() {
  while (true) {
    uint64_t key;
    std::string host;
    uint16_t port;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      key = jobs_.front().first;
      host = std::move(jobs_.front().second.first);
      port = jobs_.front().second.second;
      jobs_.pop_front();
    }
    Result r;
    r.key = key;
    r.addresses = lookup_addresses(host, port, 0, &r.error);
    if (!r.addresses.empty()) r.error.clear();
    {
      std::lock_guard lock(mu_);
      results_.push_back(std::move(r));
      has_results_.store(true, std::memory_order_release);
    }
    wake_();
  }
}

// ---- connections and the pool

// The connections to one host and port, and what its name resolved to.
struct HostPool {
  uint64_t id = 0;
  std::string host;
  uint16_t port = 80;
  std::shared_ptr<const std::vector<Address>> addresses;
  Clock::time_point addresses_expire = Clock::time_point::min();
  bool resolving = false;
  std::vector<Exchange*> waiting;  // for the lookup in progress
  std::vector<Connection*> idle;   // most recently used last: reused first
};

// A parsed URL, kept so that a request to a URL seen before costs one hash lookup.
struct Route {
  Target target;
  HostPool* pool = nullptr;
  int users = 0;  // exchanges in flight on it: it is not evicted before they end
  // The last request head's fields and what they were built from: a backend sends the same
  // headers every time, and comparing them is cheaper than building the head again.
  bool head_valid = false;
  bool head_post = false;
  std::vector<std::string> head_headers;
  std::string head_fields;
};

struct Connection {
  enum class State : uint8_t { kConnecting, kBusy, kIdle, kClosed };
  int fd = -1;
  State state = State::kConnecting;
  bool write_pending = false;  // the request is not all written: wait for EPOLLOUT
  HostPool* pool = nullptr;
  Exchange* x = nullptr;  // kConnecting, kBusy
  // kConnecting: the addresses being tried, and which one this socket is.
  std::shared_ptr<const std::vector<Address>> candidates;
  size_t candidate = 0;
  ResponseParser parser;
  std::string out;      // the request head
  size_t written = 0;   // of head and body
  std::string partial;  // bytes the parser handed back (a head line split across reads)
  Clock::time_point idle_since;
};

Transport::Transport(int epoll_fd, long max_idle, Hooks hooks)
    : epoll_fd_(epoll_fd),
      max_idle_(std::max(0L, max_idle)),
      hooks_(std::move(hooks)),
      read_buffer_(new char[kReadBufferBytes]) {}

Transport::~Transport() {
  resolver_.reset();  // no wake from it from now on
  for (auto& [key, pool] : pools_)
    while (!pool->idle.empty()) close(pool->idle.back());
  end_batch();
}

Route* Transport::route_for(const std::string& url, std::string* error) {
  std::optional<Target> target = parse_url(url, error);
  if (!target) return nullptr;
  if (routes_.size() >= 1024) {  // many distinct URLs: forget the ones not in use
    for (auto it = routes_.begin(); it != routes_.end();)
      it = it->second->users == 0 ? routes_.erase(it) : std::next(it);
  }
  std::string key = target->host + '\n' + std::to_string(target->port);
  std::unique_ptr<HostPool>& pool = pools_[key];
  if (!pool) {
    pool = std::make_unique<HostPool>();
    pool->id = next_pool_id_++;
    pool->host = target->host;
    pool->port = target->port;
    pools_by_id_[pool->id] = pool.get();
    // An address literal is its own resolution, for ever.
    auto numeric = lookup_addresses(pool->host, pool->port, AI_NUMERICHOST, nullptr);
    if (!numeric.empty()) {
      pool->addresses = std::make_shared<const std::vector<Address>>(std::move(numeric));
      pool->addresses_expire = Clock::time_point::max();
    }
  }
  auto route = std::make_unique<Route>();
  route->target = std::move(*target);
  route->pool = pool.get();
  Route* r = route.get();
  routes_.emplace(url, std::move(route));
  return r;
}

bool Transport::start(Exchange* x) {
  const std::string& url = x->request->url;
  auto known = routes_.find(url);
  if (known == routes_.end() && !is_plain_http(url)) return false;
  x->index = exchanges_.size();
  exchanges_.push_back(x);
  std::string error;
  x->route = known != routes_.end() ? known->second.get() : route_for(url, &error);
  if (!x->route) {
    x->response->error = TransportError::kBadUrl;
    x->response->error_message = error;
    complete(x);
    return true;
  }
  ++x->route->users;
  watch(x->request->deadline);
  dispatch(x);
  return true;
}

void Transport::dispatch(Exchange* x) {
  // Not x->started: a caller may date its request back (Request::started), and an idle age
  // measured from before the connection went idle would never expire it.
  if (Connection* c = take_idle(x->route->pool, Clock::now())) {
    c->x = x;
    c->state = Connection::State::kBusy;
    x->conn = c;
    x->phase = Exchange::Phase::kActive;
    x->on_reused_connection = true;
    send_request(c);
    return;
  }
  open(x);
}

void Transport::open(Exchange* x) {
  auto now = Clock::now();
  x->on_reused_connection = false;
  x->connect_start = now;
  x->connect_deadline =
      now + std::chrono::milliseconds(std::max(1L, x->request->connect_timeout_ms));
  watch(x->connect_deadline);
  HostPool* pool = x->route->pool;
  if (pool->addresses && now < pool->addresses_expire) {
    connect_from(x, pool->addresses, 0, "");
    return;
  }
  x->phase = Exchange::Phase::kResolving;
  pool->waiting.push_back(x);
  if (!pool->resolving) {
    pool->resolving = true;
    if (!resolver_) resolver_ = std::make_unique<Resolver>(hooks_.wake);
    resolver_->lookup(pool->id, pool->host, pool->port);
  }
}

void Transport::take_resolved() {
  if (!resolver_) return;
  for (Resolver::Result& result : resolver_->take()) {
    auto it = pools_by_id_.find(result.key);
    if (it == pools_by_id_.end()) continue;
    HostPool* pool = it->second;
    pool->resolving = false;
    std::vector<Exchange*> waiting;
    waiting.swap(pool->waiting);
    if (result.addresses.empty()) {
      for (Exchange* x : waiting) {
        x->phase = Exchange::Phase::kNew;  // no longer in pool->waiting
        fail(x, TransportError::kConnect,
             "could not resolve host: " + pool->host + " (" + result.error + ")");
      }
      continue;
    }
    pool->addresses = std::make_shared<const std::vector<Address>>(std::move(result.addresses));
    pool->addresses_expire = Clock::now() + kResolvedFor;
    for (Exchange* x : waiting) connect_from(x, pool->addresses, 0, "");
  }
}

void Transport::connect_from(Exchange* x, const std::shared_ptr<const std::vector<Address>>& list,
                             size_t first, std::string last_error) {
  HostPool* pool = x->route->pool;
  for (size_t i = first; i < list->size(); ++i) {
    const Address& a = (*list)[i];
    int fd = ::socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = "socket() failed: " + errno_text(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
    if (rc != 0 && errno != EINPROGRESS) {
      last_error = "connect to " + address_label(a) + " failed: " + errno_text(errno);
      ::close(fd);
      continue;
    }
    auto* c = new Connection;
    c->fd = fd;
    c->pool = pool;
    c->candidates = list;
    c->candidate = i;
    c->x = x;
    // Registered once, edge-triggered, for both directions: no epoll_ctl per request.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      last_error = "epoll_ctl failed: " + errno_text(errno);
      ::close(fd);
      delete c;
      continue;
    }
    x->conn = c;
    x->phase = Exchange::Phase::kConnecting;
    if (rc == 0) on_connected(c);
    return;
  }
  x->phase = Exchange::Phase::kNew;
  fail(x, TransportError::kConnect,
       last_error.empty() ? "no address to connect to for " + pool->host : last_error);
}

void Transport::on_connected(Connection* c) {
  c->state = Connection::State::kBusy;
  c->candidates.reset();
  c->x->phase = Exchange::Phase::kActive;
  send_request(c);
}

void Transport::send_request(Connection* c) {
  Exchange* x = c->x;
  const Request& r = *x->request;
  c->parser.reset();
  c->partial.clear();
  c->written = 0;
  Route& route = *x->route;
  if (!route.head_valid || route.head_post != r.post || route.head_headers != r.headers) {
    route.head_fields.clear();
    append_head_fields(route.head_fields, route.target, r.post, r.headers);
    route.head_headers = r.headers;
    route.head_post = r.post;
    route.head_valid = true;
  }
  c->out.assign(route.head_fields);
  append_head_end(c->out, r.post, r.post ? r.body.size() : 0);
  if (r.idle_timeout_s > 0) {
    x->last_byte = Clock::now();
    watch(x->last_byte + std::chrono::seconds(r.idle_timeout_s));
  }
  write_more(c);
}

void Transport::write_more(Connection* c) {
  const Request& r = *c->x->request;
  std::string_view body = r.post ? std::string_view(r.body) : std::string_view();
  size_t total = c->out.size() + body.size();
  while (c->written < total) {
    iovec iov[2];
    int parts = 0;
    if (c->written < c->out.size()) {
      iov[parts++] = {c->out.data() + c->written, c->out.size() - c->written};
      if (!body.empty()) iov[parts++] = {const_cast<char*>(body.data()), body.size()};
    } else {
      size_t off = c->written - c->out.size();
      iov[parts++] = {const_cast<char*>(body.data()) + off, body.size() - off};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = size_t(parts);
    ssize_t n = ::sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    if (n >= 0) {
      c->written += size_t(n);
      // An upload the server reads slowly is progress too (libcurl's low-speed limit counts
      // both directions): the idle timeout is for a peer that moves nothing.
      if (n > 0 && r.idle_timeout_s > 0) c->x->last_byte = Clock::now();
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c->write_pending = true;  // EPOLLOUT (edge-triggered) says when there is room
      return;
    }
    on_connection_failed(c, "send failed: " + errno_text(errno));
    return;
  }
  c->write_pending = false;
}

void Transport::on_event(void* tag, uint32_t events) {
  auto* c = static_cast<Connection*>(tag);
  switch (c->state) {
    case Connection::State::kClosed:
      return;
    case Connection::State::kConnecting: {
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0) {
        on_connected(c);
        // Edge-triggered: bytes that came with the connection (a server that talks first, or
        // hangs up at once) are read now or never.
        if (c->state == Connection::State::kBusy &&
            (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
          read_all(c, events);
        return;
      }
      // Refused or unreachable: the next address, if any.
      Exchange* x = c->x;
      auto list = c->candidates;
      size_t next = c->candidate + 1;
      std::string message =
          "connect to " + address_label((*list)[c->candidate]) + " failed: " + errno_text(err);
      x->conn = nullptr;
      c->x = nullptr;
      close(c);
      connect_from(x, list, next, std::move(message));
      return;
    }
    case Connection::State::kIdle:
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_idle_event(c);
      return;
    case Connection::State::kBusy:
      if (c->write_pending && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        write_more(c);
        if (c->state != Connection::State::kBusy) return;
      }
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_all(c, events);
      return;
  }
}

// Bytes or a close on a connection nobody uses: the server gave up on it (or is confused).
void Transport::on_idle_event(Connection* c) {
  char byte;
  ssize_t n = ::recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  close(c);
}

void Transport::read_all(Connection* c, uint32_t events) {
  char* buffer = read_buffer_.get();
  // Edge-triggered: a read that fills the buffer may leave more behind, and a hang-up must be
  // read through to its end of file; otherwise one read per event.
  bool drain = events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  while (c->state == Connection::State::kBusy) {
    ssize_t n = ::recv(c->fd, buffer, kReadBufferBytes, 0);
    if (n > 0) {
      if (!feed(c, std::string_view(buffer, size_t(n)))) {
        // The exchange ended; a connection the peer is closing is not worth keeping. A read
        // that filled the buffer may have left bytes past the response in the socket, which
        // edge-triggered epoll will not announce again: look, or the next request on this
        // connection would take them for its response.
        if (c->state == Connection::State::kIdle) {
          if (drain)
            close(c);
          else if (size_t(n) == kReadBufferBytes)
            on_idle_event(c);
        }
        return;
      }
      if (size_t(n) < kReadBufferBytes && !drain) return;
      continue;
    }
    if (n == 0) {
      Exchange* x = c->x;
      if (x->on_reused_connection && !x->retried && !c->parser.saw_bytes()) {
        retry(x);  // the server had closed the idle connection: as libcurl, once
        return;
      }
      std::string why = c->parser.at_eof();
      if (why.empty())
        finish(c, false, Clock::now());
      else
        fail(x, TransportError::kConnectionLost, why);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    on_connection_failed(c, "recv failed: " + errno_text(errno));
    return;
  }
}

bool Transport::feed(Connection* c, std::string_view bytes) {
  Exchange* x = c->x;
  // One clock read per read at most: the first body byte, the end and the idle timer share it.
  Clock::time_point now{};
  auto clock = [&now] {
    if (now == Clock::time_point{}) now = Clock::now();
    return now;
  };
  if (x->request->idle_timeout_s > 0) x->last_byte = clock();
  bool buffered = !c->partial.empty();
  if (buffered) c->partial.append(bytes);
  std::string_view data = buffered ? std::string_view(c->partial) : bytes;
  while (true) {
    ResponseParser::Event ev = c->parser.next(data);
    switch (ev.kind) {
      case ResponseParser::Kind::kNeedMore:
        if (buffered)
          c->partial.erase(0, c->partial.size() - data.size());
        else
          c->partial.assign(data);
        return true;
      case ResponseParser::Kind::kHead: {
        ResponseHead& head = c->parser.head();
        Response& r = *x->response;
        r.status = head.status;
        r.retry_after = std::move(head.retry_after);
        r.retry_after_ms = std::move(head.retry_after_ms);
        r.content_type = std::move(head.content_type);
        continue;
      }
      case ResponseParser::Kind::kBody:
        if (x->response->first_byte_ms < 0)
          x->response->first_byte_ms = ms_between(x->started, clock());
        if (!deliver(x, ev.body)) return false;
        continue;
      case ResponseParser::Kind::kDone: {
        // Bytes after the response, or a request not all sent: the connection's framing is
        // lost, so it is not reused.
        bool reusable = c->parser.keep_alive() && data.empty() && !c->write_pending;
        c->partial.clear();
        // After a sink ran the clock is read again: the end comes after all it saw (callers
        // check that their time to first token is within total_ms).
        finish(c, reusable, x->sink && *x->sink ? Clock::now() : clock());
        return false;
      }
      case ResponseParser::Kind::kError:
        fail(x, TransportError::kProtocol, c->parser.error());
        return false;
    }
  }
}

bool Transport::deliver(Exchange* x, std::string_view bytes) {
  Response& r = *x->response;
  if (x->sink && *x->sink) {
    if ((*x->sink)(r.status, bytes)) return true;
    fail(x, TransportError::kAborted, "the body sink stopped the transfer");
    return false;
  }
  if (r.body.size() + bytes.size() > x->request->max_response_bytes) {
    fail(x, TransportError::kTooLarge,
         "response body larger than " + std::to_string(x->request->max_response_bytes) + " bytes");
    return false;
  }
  r.body.append(bytes);
  return true;
}

void Transport::on_connection_failed(Connection* c, std::string message) {
  Exchange* x = c->x;
  if (x->on_reused_connection && !x->retried && !c->parser.saw_bytes()) {
    retry(x);
    return;
  }
  fail(x, TransportError::kConnectionLost, std::move(message));
}

void Transport::retry(Exchange* x) {
  x->retried = true;
  detach(x);
  open(x);
}

void Transport::finish(Connection* c, bool reusable, Clock::time_point now) {
  Exchange* x = c->x;
  c->x = nullptr;
  x->conn = nullptr;
  if (reusable)
    make_idle(c, now);
  else
    close(c);
  complete(x, now);
}

void Transport::abort(Exchange* x, TransportError error, std::string message) {
  fail(x, error, std::move(message));
}

void Transport::fail(Exchange* x, TransportError error, std::string message) {
  detach(x);
  x->response->error = error;
  x->response->error_message = std::move(message);
  complete(x);
}

// Unties `x` from its lookup or its connection, which is closed: after a failure, a timeout or
// a cancellation nobody knows where the byte stream stands.
void Transport::detach(Exchange* x) {
  if (x->phase == Exchange::Phase::kResolving) {
    auto& waiting = x->route->pool->waiting;
    waiting.erase(std::remove(waiting.begin(), waiting.end(), x), waiting.end());
  }
  if (Connection* c = x->conn) {
    c->x = nullptr;
    x->conn = nullptr;
    close(c);
  }
  x->phase = Exchange::Phase::kNew;
}

void Transport::make_idle(Connection* c, Clock::time_point now) {
  if (idle_count_ >= size_t(max_idle_)) {
    close(c);
    return;
  }
  c->state = Connection::State::kIdle;
  c->idle_since = now;
  c->pool->idle.push_back(c);
  ++idle_count_;
}

Connection* Transport::take_idle(HostPool* pool, Clock::time_point now) {
  while (!pool->idle.empty()) {
    Connection* c = pool->idle.back();
    if (now - c->idle_since > kMaxIdleAge) {
      close(c);
      continue;
    }
    pool->idle.pop_back();
    --idle_count_;
    return c;
  }
  return nullptr;
}

void Transport::close(Connection* c) {
  if (c->state == Connection::State::kClosed) return;
  if (c->state == Connection::State::kIdle) {
    auto& idle = c->pool->idle;
    idle.erase(std::find(idle.begin(), idle.end(), c));
    --idle_count_;
  }
  // Removed explicitly: a forked child may still hold the socket, which would keep it in the
  // epoll set after close() and report events for a freed Connection.
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
  ::close(c->fd);
  c->fd = -1;
  c->state = Connection::State::kClosed;
  closed_.push_back(c);
}

void Transport::end_batch() {
  for (Connection* c : closed_) delete c;
  closed_.clear();
}

void Transport::remove(Exchange* x) {
  Exchange* last = exchanges_.back();
  exchanges_[x->index] = last;
  last->index = x->index;
  exchanges_.pop_back();
}

void Transport::complete(Exchange* x, Clock::time_point now) {
  x->response->total_ms = ms_between(x->started, now == Clock::time_point{} ? Clock::now() : now);
  remove(x);
  if (x->route) --x->route->users;
  x->route = nullptr;
  hooks_.done(x);
}

void Transport::watch(Clock::time_point when) {
  if (when == Clock::time_point::max()) return;
  if (!next_check_ || when < *next_check_) next_check_ = when;
}

Clock::time_point Transport::due(const Exchange* x) const {
  const Request& r = *x->request;
  switch (x->phase) {
    case Exchange::Phase::kResolving:
    case Exchange::Phase::kConnecting:
      return std::min(r.deadline, x->connect_deadline);
    case Exchange::Phase::kActive:
      if (r.idle_timeout_s > 0)
        return std::min(r.deadline, x->last_byte + std::chrono::seconds(r.idle_timeout_s));
      return r.deadline;
    case Exchange::Phase::kNew:
      break;
  }
  return r.deadline;
}

void Transport::expire(Clock::time_point now) {
  next_check_.reset();
  std::vector<Exchange*> expired;
  for (Exchange* x : exchanges_) {
    Clock::time_point when = due(x);
    if (when <= now)
      expired.push_back(x);
    else
      watch(when);
  }
  for (Exchange* x : expired) {
    const Request& r = *x->request;
    const HostPool& pool = *x->route->pool;
    std::string where = x->route->target.authority;
    switch (x->phase) {
      case Exchange::Phase::kResolving:
        fail(x, TransportError::kConnect,
             "resolving " + pool.host + " timed out after " +
                 std::to_string(whole_ms_since(x->connect_start)) + " ms");
        break;
      case Exchange::Phase::kConnecting:
        fail(x, TransportError::kConnect,
             "connect to " + where + " timed out after " +
                 std::to_string(whole_ms_since(x->connect_start)) + " ms");
        break;
      default: {
        uint64_t body = x->conn ? x->conn->parser.body_bytes() : 0;
        if (r.deadline <= now)
          fail(x, TransportError::kTimeout,
               "timed out after " + std::to_string(whole_ms_since(x->started)) + " ms with " +
                   std::to_string(body) + " body bytes received");
        else
          fail(x, TransportError::kTimeout,
               "no data received for " + std::to_string(r.idle_timeout_s) + " s (" +
                   std::to_string(body) + " body bytes received)");
      }
    }
  }
}

}  // namespace v4eval::http::h1
