#include "backends/openai/openai_backend.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <list>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "backends/http/http_client.h"
#include "backends/openai/admission.h"
#include "backends/serve/streaming_backend.h"
#include "harness/retry.h"

namespace v4eval::openai {
namespace {

using Clock = std::chrono::steady_clock;

// think-max needs this much context (v4-model.md §5.2: the README asks for >= 384K).
constexpr int64_t kThinkMaxContext = 384 * 1024;
constexpr size_t kMaxErrorBody = size_t{1} << 20;
constexpr size_t kMaxPlainBody = size_t{1} << 28;

const std::set<std::string>& known_options() {
  static const std::set<std::string> k = {"base_url",
                                          "model",
                                          "api_key_env",
                                          "mode_style",
                                          "non_think",
                                          "think_high",
                                          "think_max",
                                          "modes",
                                          "context_window",
                                          "stream",
                                          "stream_usage",
                                          "max_tokens_field",
                                          "extra",
                                          "attempt_metadata",
                                          "timeout_s",
                                          "connect_timeout_s",
                                          "idle_timeout_s",
                                          "max_inflight",
                                          "rpm",
                                          "tpm",
                                          "retries",
                                          "retry_base_ms",
                                          "ca_file"};
  return k;
}

Status option_error(const std::string& kind, const std::string& key, const std::string& why) {
  return InvalidArgument(kind + " backend: option " + key + ": " + why);
}

std::optional<double> to_double(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || !end || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<bool> to_bool(const std::string& s) {
  if (s == "true" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "no") return false;
  return std::nullopt;
}

// The server endpoints of one backend, with health: a connection failure takes an endpoint out
// of rotation for a while (0.5 s doubling to 30 s), a 429 with Retry-After pauses it. When every
// endpoint is out, the least bad one is still tried: the caller's deadline decides.
class Endpoints {
 public:
  explicit Endpoints(std::vector<std::string> urls) {
    for (auto& u : urls) endpoints_.push_back({u, http::endpoint_label(u)});
  }
  size_t size() const { return endpoints_.size(); }
  const std::string& url(size_t i) const { return endpoints_[i].url; }
  const std::string& label(size_t i) const { return endpoints_[i].label; }

  // The endpoint to use next among those not yet `tried`; -1 when all were.
  int pick(const std::vector<bool>& tried) {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    int best = -1;
    std::pair<int, int> best_score{0, 0};
    size_t n = endpoints_.size();
    for (size_t k = 0; k < n; ++k) {
      size_t i = (next_ + k) % n;
      if (tried[i]) continue;
      const auto& e = endpoints_[i];
      int state = now < e.down_until ? 2 : now < e.paused_until ? 1 : 0;
      std::pair<int, int> score{state, e.inflight};
      if (best < 0 || score < best_score) {
        best = int(i);
        best_score = score;
      }
    }
    if (best >= 0) {
      ++endpoints_[size_t(best)].inflight;
      next_ = (size_t(best) + 1) % n;
    }
    return best;
  }

  enum class Outcome { kOk, kDown, kPaused };
  void done(int i, Outcome outcome, std::optional<double> pause_s) {
    std::lock_guard lock(mu_);
    auto& e = endpoints_[size_t(i)];
    --e.inflight;
    auto now = Clock::now();
    switch (outcome) {
      case Outcome::kOk:
        e.failures = 0;
        e.down_until = {};
        break;
      case Outcome::kDown: {
        ++e.failures;
        double s = std::min(30.0, 0.5 * std::ldexp(1.0, std::min(e.failures - 1, 10)));
        e.down_until =
            now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
        break;
      }
      case Outcome::kPaused:
        e.paused_until =
            now + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(std::min(pause_s.value_or(1.0), 300.0)));
        break;
    }
  }

 private:
  struct Endpoint {
    std::string url, label;
    int inflight = 0;
    int failures = 0;
    Clock::time_point down_until{}, paused_until{};
  };
  std::mutex mu_;
  std::vector<Endpoint> endpoints_;
  size_t next_ = 0;
};

// One generation through the backend: its tries (in-backend retries), each try's admission
// ticket and HTTP exchange(s) (failover to the next endpoint when the connection fails). Lives
// on the heap, owned by whatever is waiting on it (the HTTP client, a timer, the admission
// queue); every step runs on the I/O thread except the first.
struct Call {
  Mode mode = Mode::kNonThink;
  CallContext ctx;
  std::string body;
  int64_t estimate = 0;
  DeltaSink on_delta;
  GenerationCallback on_done;
  int retry = 0;  // in-backend retries done
  Admission::Ticket ticket;
  std::vector<bool> tried;  // endpoints tried in this try
  int endpoint = -1;
  Generation last;  // the failed try a backoff is waiting after
  // The current exchange of a streaming request:
  ChatStream stream;
  SseParser sse;
  std::string raw;  // error bodies, and a non-SSE answer to a streaming request
  bool saw_event = false;
  double ttft_ms = -1;
  Clock::time_point hop_start;
};
using CallPtr = std::shared_ptr<Call>;

class OpenAIBackend final : public Backend, public StreamingBackend, public AsyncBackend {
 public:
  OpenAIBackend(OpenAIConfig config, std::string api_key)
      : config_(std::move(config)),
        api_key_(std::move(api_key)),
        body_writer_(config_.chat),
        endpoints_(config_.base_urls),
        admission_(
            {config_.max_inflight, config_.requests_per_minute, config_.tokens_per_minute, 1}),
        // Past a few dozen requests in flight one I/O thread is the limit (it does curl's and
        // the kernel's work for every request): then several, each with its share of the
        // connections (bench_http: 512 in flight).
        http_(http::Client::Options{std::max<long>(64, config_.max_inflight * 2L),
                                    config_.max_inflight > 32 ? 0 : 1}) {
    headers_ = {"Content-Type: application/json",
                config_.chat.stream ? "Accept: text/event-stream" : "Accept: application/json"};
    if (!api_key_.empty()) headers_.push_back("Authorization: Bearer " + api_key_);
    urls_.reserve(endpoints_.size());
    for (size_t i = 0; i < endpoints_.size(); ++i)
      urls_.push_back(endpoints_.url(i) + "/chat/completions");
  }

  BackendInfo info() const override {
    // What changes the answers: the model, the mode switches, extra body fields. Not the URLs
    // (replicas of one model), not timeouts or limits, and never the key.
    Json modes = {{"non-think", config_.chat.modes.non_think},
                  {"think-high", config_.chat.modes.think_high},
                  {"think-max", config_.chat.modes.think_max}};
    std::string identity = config_.kind + ":model=" + config_.chat.model + ",modes=" + modes.dump();
    if (!config_.chat.extra.empty()) identity += ",extra=" + config_.chat.extra.dump();
    return {config_.kind, config_.chat.model, config_.context_window, config_.modes, identity};
  }

  Generation generate(const GenerationRequest& request, const CallContext& context) override {
    return generate_streaming(request, context, nullptr);
  }

  // The blocking form: the asynchronous call, waited for.
  Generation generate_streaming(const GenerationRequest& request, const CallContext& ctx,
                                const DeltaSink& on_delta) override {
    struct Waiter {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      Generation g;
    };
    auto waiter = std::make_shared<Waiter>();
    start_call(request, ctx, on_delta, [waiter](Generation&& g) {
      std::lock_guard lock(waiter->mu);
      waiter->g = std::move(g);
      waiter->done = true;
      waiter->cv.notify_one();
    });
    std::unique_lock lock(waiter->mu);
    waiter->cv.wait(lock, [&] { return waiter->done; });
    return std::move(waiter->g);
  }

  void generate_async(const GenerationRequest& request, const CallContext& ctx,
                      GenerationCallback on_done) override {
    start_call(request, ctx, nullptr, std::move(on_done));
  }

 private:
  void start_call(const GenerationRequest& request, const CallContext& ctx, DeltaSink on_delta,
                  GenerationCallback on_done) {
    auto c = std::make_shared<Call>();
    c->mode = request.mode;
    c->ctx = ctx;
    c->body = body_writer_.body(request);
    c->estimate = int64_t(c->body.size() / 4) + std::max<int64_t>(0, request.max_tokens);
    c->on_delta = std::move(on_delta);
    c->on_done = std::move(on_done);
    admit(std::move(c));
  }

  // A try starts with a ticket from admission control: at once when a slot and the budgets
  // allow, otherwise the call waits in a queue served on every release and polled (budgets,
  // deadline, cancellation) every 100 ms at most.
  void admit(CallPtr c) {
    if (auto ticket = admission_.try_acquire(c->estimate)) {
      c->ticket = *ticket;
      begin_try(std::move(c));
      return;
    }
    {
      std::lock_guard lock(wait_mu_);
      waiting_.push_back(std::move(c));
      waiting_count_.store(waiting_.size(), std::memory_order_relaxed);
    }
    schedule_poll();
    pump();  // a slot freed between try_acquire and the queue is not lost
  }

  void pump() {
    std::vector<CallPtr> admitted;
    std::vector<std::pair<CallPtr, std::string>> failed;
    Clock::duration budget_wait{};
    {
      std::lock_guard lock(wait_mu_);
      auto now = Clock::now();
      bool blocked = false;  // first come, first served
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        Call& c = **it;
        if (c.ctx.is_cancelled()) {
          failed.emplace_back(std::move(*it), "cancelled while waiting for a request slot");
          it = waiting_.erase(it);
          continue;
        }
        if (!blocked) {
          if (auto ticket = admission_.try_acquire(c.estimate, &budget_wait)) {
            c.ticket = *ticket;
            admitted.push_back(std::move(*it));
            it = waiting_.erase(it);
            continue;
          }
          blocked = true;
        }
        if (now >= c.ctx.deadline) {
          failed.emplace_back(
              std::move(*it),
              budget_wait == Clock::duration::zero()
                  ? "deadline passed while waiting for a request slot (limit " +
                        std::to_string(int(admission_.limit())) + " in flight)"
                  : "deadline passed while waiting for the rate budget");
          it = waiting_.erase(it);
          continue;
        }
        ++it;
      }
      waiting_count_.store(waiting_.size(), std::memory_order_relaxed);
    }
    for (auto& c : admitted) begin_try(std::move(c));
    for (auto& [c, message] : failed) {
      Generation g;
      g.error = GenerationError{ErrorKind::kRetryable, std::move(message), std::nullopt};
      after_try(std::move(c), std::move(g));
    }
  }

  void schedule_poll() {
    {
      std::lock_guard lock(wait_mu_);
      if (poll_scheduled_ || waiting_.empty()) return;
      poll_scheduled_ = true;
    }
    http_.post_after(Clock::now() + std::chrono::milliseconds(100), [this](bool shutting_down) {
      {
        std::lock_guard lock(wait_mu_);
        poll_scheduled_ = false;
      }
      if (shutting_down) {
        std::list<CallPtr> doomed;
        {
          std::lock_guard lock(wait_mu_);
          doomed.swap(waiting_);
          waiting_count_.store(0, std::memory_order_relaxed);
        }
        for (auto& c : doomed) {
          Generation g;
          g.error = GenerationError{ErrorKind::kRetryable, "cancelled: the backend is shutting down",
                                    std::nullopt};
          finish(std::move(c), std::move(g));
        }
        return;
      }
      pump();
      schedule_poll();
    });
  }

  void begin_try(CallPtr c) {
    c->tried.assign(endpoints_.size(), false);
    int endpoint = endpoints_.pick(c->tried);  // never -1: nothing was tried yet
    send(std::move(c), endpoint);
  }

  void send(CallPtr c, int endpoint) {
    Call* call = c.get();
    call->endpoint = endpoint;
    call->tried[size_t(endpoint)] = true;
    call->stream = ChatStream();
    call->sse = SseParser();
    call->raw.clear();
    call->saw_event = false;
    call->ttft_ms = -1;
    http::Request req;
    req.url = urls_[size_t(endpoint)];
    req.body = call->body;
    req.headers = headers_;
    req.deadline = call->ctx.deadline;
    if (config_.timeout_s > 0)
      req.deadline = std::min(
          req.deadline, Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(config_.timeout_s)));
    req.connect_timeout_ms = long(config_.connect_timeout_s * 1000);
    if (config_.chat.stream) req.idle_timeout_s = long(std::ceil(config_.idle_timeout_s));
    req.ca_file = config_.ca_file;
    req.cancelled = call->ctx.cancelled;
    // The time to first token and the latency count from the same moment (a worker descheduled
    // between two clock reads on a loaded machine once made the first exceed the second).
    call->hop_start = Clock::now();
    req.started = call->hop_start;
    http::BodySink sink;
    if (config_.chat.stream) {
      // `call` lives as long as the transfer: the completion below holds it.
      sink = [call](long status, std::string_view bytes) {
        if (status < 200 || status >= 300) {  // an error body (JSON), kept for the message
          call->raw.append(bytes.substr(
              0, std::min(bytes.size(), kMaxErrorBody - std::min(kMaxErrorBody, call->raw.size()))));
          return true;
        }
        // Until the first event, keep the bytes: a server that ignores `stream` sends one
        // plain JSON completion instead.
        if (!call->saw_event) {
          if (call->raw.size() + bytes.size() > kMaxPlainBody) return false;
          call->raw.append(bytes);
        }
        call->sse.feed(bytes, [&](std::string_view data) {
          if (!call->saw_event) call->raw.clear();
          call->saw_event = true;
          ChatStream::Delta d = call->stream.on_event(data);
          if (call->ttft_ms < 0 && (!d.text.empty() || !d.reasoning.empty()))
            call->ttft_ms =
                std::chrono::duration<double, std::milli>(Clock::now() - call->hop_start).count();
          if (call->on_delta && (!d.text.empty() || !d.reasoning.empty()))
            call->on_delta(GenerationDelta{std::move(d.text), std::move(d.reasoning)});
        });
        return true;
      };
    }
    http_.start(std::move(req), std::move(sink),
                [this, c = std::move(c)](http::Response&& r) mutable {
                  if (!c->ctx.executor) {
                    on_response(std::move(c), std::move(r));
                    return;
                  }
                  // The caller's thread parses: the I/O thread only moves bytes.
                  auto& executor = c->ctx.executor;
                  executor([this, c, r = std::move(r)]() mutable {
                    on_response(std::move(c), std::move(r));
                  });
                });
  }

  void on_response(CallPtr c, http::Response&& response) {
    bool connect_failed = response.error == http::TransportError::kConnect;
    bool lost = response.error == http::TransportError::kConnectionLost ||
                response.error == http::TransportError::kProtocol;
    bool server_error = response.error == http::TransportError::kNone && response.status >= 500;
    bool rate_limited = response.error == http::TransportError::kNone && response.status == 429;
    endpoints_.done(c->endpoint,
                    connect_failed || lost || server_error ? Endpoints::Outcome::kDown
                    : rate_limited                         ? Endpoints::Outcome::kPaused
                                                           : Endpoints::Outcome::kOk,
                    rate_limited ? classify_http_error(429, "", response.retry_after,
                                                       response.retry_after_ms, "")
                                       .retry_after_s
                                 : std::nullopt);
    // Nothing reached this endpoint: the next one gets the same request at once.
    if (connect_failed && !c->ctx.is_cancelled()) {
      int next = endpoints_.pick(c->tried);
      if (next >= 0) {
        send(std::move(c), next);
        return;
      }
    }
    const std::string& label = endpoints_.label(size_t(c->endpoint));
    Generation g = interpret(c->mode, response, c->stream, c->saw_event, c->raw, label);
    g.latency_ms = response.total_ms;
    if (!g.error && config_.chat.stream) g.time_to_first_token_ms = c->ttft_ms;
    if (g.error) g.error->message = scrub(g.error->message);
    int64_t actual = g.prompt_tokens >= 0 && g.completion_tokens >= 0
                         ? g.prompt_tokens + g.completion_tokens
                         : -1;
    admission_.release(c->ticket,
                       rate_limited ? Admission::Outcome::kRateLimited
                       : g.error    ? Admission::Outcome::kFailed
                                    : Admission::Outcome::kOk,
                       actual);
    c->ticket = {};
    if (waiting_count_.load(std::memory_order_relaxed) > 0) pump();
    after_try(std::move(c), std::move(g));
  }

  // In-backend retries (retries=N), with harness/retry.h's backoff; the wait is a timer on the
  // I/O thread, checked for cancellation every 50 ms.
  void after_try(CallPtr c, Generation g) {
    if (!g.error || g.error->kind == ErrorKind::kFinal || c->retry >= config_.retries ||
        c->ctx.is_cancelled()) {
      finish(std::move(c), std::move(g));
      return;
    }
    thread_local std::mt19937_64 rng(std::random_device{}());
    double delay = backoff_delay_s(c->retry + 1, config_.retry_base_s, 30.0,
                                   std::uniform_real_distribution<double>(0, 1)(rng),
                                   g.error->retry_after_s);
    auto left = std::chrono::duration<double>(c->ctx.deadline - Clock::now()).count();
    if (c->ctx.deadline != Clock::time_point::max() && delay >= left) {
      finish(std::move(c), std::move(g));
      return;
    }
    ++c->retry;
    c->last = std::move(g);
    wait_then_admit(std::move(c), Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(delay)));
  }

  void wait_then_admit(CallPtr c, Clock::time_point until) {
    auto at = std::min(until, Clock::now() + std::chrono::milliseconds(50));
    http_.post_after(at, [this, c = std::move(c), until](bool shutting_down) mutable {
      if (shutting_down || c->ctx.is_cancelled()) {
        Generation g = std::move(c->last);
        finish(std::move(c), std::move(g));
      } else if (Clock::now() < until) {
        wait_then_admit(std::move(c), until);
      } else {
        admit(std::move(c));
      }
    });
  }

  static void finish(CallPtr c, Generation g) {
    GenerationCallback done = std::move(c->on_done);
    c.reset();  // the call's buffers go before the caller runs
    done(std::move(g));
  }

  Generation interpret(Mode mode, const http::Response& r,
                       ChatStream& stream, bool saw_event, const std::string& raw,
                       const std::string& label) {
    Generation g;
    using http::TransportError;
    auto retryable = [&](std::string message) {
      g.error = GenerationError{ErrorKind::kRetryable, std::move(message), std::nullopt};
      return g;
    };
    auto final_error = [&](std::string message) {
      g.error = GenerationError{ErrorKind::kFinal, std::move(message), std::nullopt};
      return g;
    };
    bool complete_stream = config_.chat.stream && stream.finished();
    switch (r.error) {
      case TransportError::kNone:
        break;
      case TransportError::kConnectionLost:
      case TransportError::kProtocol:
        // A stream whose completion had finished lost only its trailer (usage, [DONE]).
        if (complete_stream && r.status == 200) break;
        return retryable((r.error == TransportError::kProtocol ? "malformed HTTP response from "
                                                               : "connection to ") +
                         label + (r.error == TransportError::kProtocol ? "" : " lost") + ": " +
                         r.error_message);
      case TransportError::kConnect:
        return retryable("cannot connect to " + label +
                         (endpoints_.size() > 1 ? " (nor to any other base_url)" : "") + ": " +
                         r.error_message);
      case TransportError::kTimeout:
        return retryable("no complete response from " + label + " in time: " + r.error_message);
      case TransportError::kCancelled:
        return retryable("cancelled");
      case TransportError::kTooLarge:
        return final_error("response from " + label + " is too large");
      case TransportError::kTls:
        return final_error("TLS failure with " + label + ": " + r.error_message);
      case TransportError::kBadUrl:
        return final_error("bad base_url " + label + ": " + r.error_message);
      case TransportError::kAborted:
      case TransportError::kOther:
        return retryable("request to " + label + " failed: " + r.error_message);
    }
    if (r.status < 200 || r.status >= 300) {
      g.error = classify_http_error(r.status, config_.chat.stream ? raw : r.body, r.retry_after,
                                    r.retry_after_ms, label);
      return g;
    }
    std::optional<Mode> reported;
    if (config_.chat.stream && !saw_event &&
        raw.find_first_not_of(" \t\r\n") != std::string::npos &&
        raw[raw.find_first_not_of(" \t\r\n")] == '{') {
      parse_chat_completion(raw, g, &reported);  // the server ignored `stream`
    } else if (config_.chat.stream) {
      stream.finish(g, &reported);
    } else {
      parse_chat_completion(r.body, g, &reported);
    }
    if (g.error) return g;
    split_inline_reasoning(g.text, g.reasoning, mode != Mode::kNonThink);
    bool reasoned = !g.reasoning.empty() || g.reasoning_tokens > 0;
    g.effective_mode = infer_effective_mode(mode, config_.chat.modes, reasoned, reported);
    return g;
  }

  std::string scrub(std::string message) const {
    if (api_key_.size() < 4) return message;
    for (size_t at; (at = message.find(api_key_)) != std::string::npos;)
      message.replace(at, api_key_.size(), "[redacted]");
    return message;
  }

  OpenAIConfig config_;
  std::string api_key_;  // in memory only: headers of outgoing requests
  ChatBodyWriter body_writer_;  // the request bodies, from config_.chat
  std::vector<std::string> headers_;
  std::vector<std::string> urls_;  // per endpoint: …/chat/completions
  Endpoints endpoints_;
  Admission admission_;
  std::mutex wait_mu_;  // guards waiting_ and poll_scheduled_
  std::list<CallPtr> waiting_;  // calls waiting for admission, oldest first
  std::atomic<size_t> waiting_count_{0};
  bool poll_scheduled_ = false;
  http::Client http_;  // last: destroyed first, while what its callbacks use still exists
};

}  // namespace

Result<OpenAIConfig> parse_openai_spec(const Spec& spec) {
  OpenAIConfig c;
  c.kind = spec.kind;
  const std::string& k = spec.kind;
  if (k != "openai" && k != "deepseek") return InvalidArgument("not an openai/deepseek spec: " + k);
  bool deepseek = k == "deepseek";
  for (const auto& [key, value] : spec.options) {
    if (key == "api_key" || key == "key" || key == "token")
      return option_error(k, key,
                          "secrets do not go in a spec (it is stored with the run); put the key "
                          "in an environment variable and name it with api_key_env=VAR");
    if (!known_options().count(key)) {
      std::string known;
      for (const auto& o : known_options()) known += (known.empty() ? "" : ", ") + o;
      return InvalidArgument(k + " backend: unknown option '" + key + "' (known: " + known + ")");
    }
  }
  auto get = [&](const char* key, std::string fallback) {
    return spec.get(key).value_or(std::move(fallback));
  };

  // Endpoints
  std::string urls = get("base_url", deepseek ? "https://api.deepseek.com" : "");
  if (urls.empty())
    return option_error(k, "base_url", "required (e.g. base_url=http://127.0.0.1:8000/v1)");
  size_t pos = 0;
  while (pos <= urls.size()) {
    size_t bar = urls.find('|', pos);
    std::string u = urls.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos);
    pos = bar == std::string::npos ? urls.size() + 1 : bar + 1;
    while (!u.empty() && u.back() == '/') u.pop_back();
    if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0)
      return option_error(
          k, "base_url", "'" + u + "' must start with http:// or https:// ('|' separates several)");
    std::string authority = u.substr(u.find("://") + 3);
    authority = authority.substr(0, authority.find('/'));
    if (authority.find('@') != std::string::npos)
      return option_error(k, "base_url",
                          "credentials in a URL would be stored with the run; use api_key_env=VAR");
    if (authority.empty()) return option_error(k, "base_url", "'" + u + "' has no host");
    c.base_urls.push_back(u);
  }
  c.chat.model = get("model", deepseek ? "deepseek-v4-flash" : "");
  if (c.chat.model.empty())
    return option_error(k, "model", "required (the model id the server serves)");
  c.api_key_env = get("api_key_env", deepseek ? "DEEPSEEK_API_KEY" : "");

  // Modes
  c.mode_style = get("mode_style", deepseek ? "deepseek" : "template");
  auto mapping = mode_mapping_for_style(c.mode_style);
  if (!mapping) return option_error(k, "mode_style", "must be deepseek, template or none");
  c.chat.modes = *mapping;
  for (auto [key, slot] : {std::pair{"non_think", &c.chat.modes.non_think},
                           std::pair{"think_high", &c.chat.modes.think_high},
                           std::pair{"think_max", &c.chat.modes.think_max}}) {
    auto v = spec.get(key);
    if (!v) continue;
    Json j = Json::parse(*v, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return option_error(k, key,
                          "must be a JSON object merged into the request body, e.g. "
                          "{\"thinking\":{\"type\":\"disabled\"}}");
    *slot = j;
    c.modes_overridden = true;
  }
  if (auto v = spec.get("context_window")) {
    auto d = to_double(*v);
    if (!d || *d < 0) return option_error(k, "context_window", "must be a token count");
    c.context_window = int64_t(*d);
  } else if (deepseek) {
    c.context_window = 1048576;  // §5.3: 1M context
  }
  if (auto v = spec.get("modes")) {
    size_t p = 0;
    while (p <= v->size()) {
      size_t comma = v->find(',', p);
      std::string name = v->substr(p, comma == std::string::npos ? std::string::npos : comma - p);
      p = comma == std::string::npos ? v->size() + 1 : comma + 1;
      auto m = parse_mode(name);
      if (!m) return option_error(k, "modes", "unknown mode '" + name + "'");
      if (std::find(c.modes.begin(), c.modes.end(), *m) == c.modes.end()) c.modes.push_back(*m);
    }
  } else {
    c.modes = {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax};
    if (c.mode_style == "none" && !c.modes_overridden) c.modes = {Mode::kNonThink};
  }
  if (c.context_window > 0 && c.context_window < kThinkMaxContext &&
      std::find(c.modes.begin(), c.modes.end(), Mode::kThinkMax) != c.modes.end()) {
    if (spec.get("modes"))
      return option_error(k, "modes",
                          "think-max needs a context window of at least 384K tokens; "
                          "context_window=" +
                              std::to_string(c.context_window));
    c.modes.erase(std::find(c.modes.begin(), c.modes.end(), Mode::kThinkMax));
  }

  // Wire details
  for (auto [key, slot] :
       {std::pair{"stream", &c.chat.stream}, std::pair{"stream_usage", &c.chat.stream_usage},
        std::pair{"attempt_metadata", &c.chat.send_attempt_metadata}}) {
    if (auto v = spec.get(key)) {
      auto b = to_bool(*v);
      if (!b) return option_error(k, key, "must be true or false");
      *slot = *b;
    }
  }
  c.chat.max_tokens_field = get("max_tokens_field", "max_tokens");
  if (c.chat.max_tokens_field != "max_tokens" && c.chat.max_tokens_field != "max_completion_tokens")
    return option_error(k, "max_tokens_field", "must be max_tokens or max_completion_tokens");
  if (auto v = spec.get("extra")) {
    Json j = Json::parse(*v, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return option_error(k, "extra", "must be a JSON object");
    c.chat.extra = j;
  }
  // Numbers
  struct NumberOption {
    const char* key;
    double* slot;
    double min;
  };
  double max_inflight = c.max_inflight, retries = c.retries, retry_base_ms = c.retry_base_s * 1000;
  for (auto [key, slot, min] :
       {NumberOption{"timeout_s", &c.timeout_s, 0},
        NumberOption{"connect_timeout_s", &c.connect_timeout_s, 0.001},
        NumberOption{"idle_timeout_s", &c.idle_timeout_s, 1},
        NumberOption{"max_inflight", &max_inflight, 1},
        NumberOption{"rpm", &c.requests_per_minute, 0},
        NumberOption{"tpm", &c.tokens_per_minute, 0}, NumberOption{"retries", &retries, 0},
        NumberOption{"retry_base_ms", &retry_base_ms, 0}}) {
    if (auto v = spec.get(key)) {
      auto d = to_double(*v);
      if (!d || *d < min)
        return option_error(k, key, "must be a number >= " + std::to_string(int(min)));
      *slot = *d;
    }
  }
  c.max_inflight = int(max_inflight);
  c.retries = int(retries);
  c.retry_base_s = retry_base_ms / 1000.0;
  c.ca_file = get("ca_file", "");
  return c;
}

Result<std::unique_ptr<Backend>> make_openai_backend(const Spec& spec) {
  auto config = parse_openai_spec(spec);
  if (!config.ok()) return config.status();
  std::string key;
  if (!config->api_key_env.empty()) {
    const char* v = std::getenv(config->api_key_env.c_str());
    if (!v || !*v)
      return InvalidArgument(spec.kind + " backend: environment variable " + config->api_key_env +
                             " (api_key_env) is not set or empty");
    key = v;
  }
  return std::unique_ptr<Backend>(new OpenAIBackend(std::move(config.value()), std::move(key)));
}

}  // namespace v4eval::openai
