// `v4eval serve` in-process (backends/serve/) with our own clients on the other side of a real
// loopback socket: the `grpc:` backend against the gRPC service and the `openai:` backend against
// the HTTP service. A scripted backend behind the server records what reached it.

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "backends/backend.h"
#include "backends/serve/generation_pool.h"
#include "backends/serve/grpc_server.h"
#include "backends/serve/http_server.h"
#include "backends/serve/streaming_backend.h"

using namespace v4eval;
using Clock = std::chrono::steady_clock;

namespace {

// Answers "echo:<last message>" in three deltas, after `delay_ms` (cancellable); the first
// `fail_first` calls fail with `failure`.
class ScriptedBackend final : public Backend, public StreamingBackend {
 public:
  BackendInfo info() const override {
    return {"scripted",
            "scripted-model",
            1 << 20,
            {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax},
            "scripted:v1"};
  }
  Generation generate(const GenerationRequest& r, const CallContext& ctx) override {
    return generate_streaming(r, ctx, nullptr);
  }
  Generation generate_streaming(const GenerationRequest& r, const CallContext& ctx,
                                const DeltaSink& on_delta) override {
    {
      std::lock_guard lock(mu);
      last = r;
      ++calls;
    }
    Generation g;
    auto until = Clock::now() + std::chrono::milliseconds(delay_ms.load());
    while (Clock::now() < until) {
      if (ctx.is_cancelled() || Clock::now() > ctx.deadline) {
        saw_cancel = true;
        g.error = GenerationError{ErrorKind::kRetryable, "cancelled", std::nullopt};
        return g;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (calls.load() <= fail_first.load()) {
      g.error = failure;
      return g;
    }
    std::string text = "echo:" + r.messages->back().content;
    std::string reasoning = r.mode == Mode::kNonThink ? "" : "thought";
    if (on_delta) {
      if (!reasoning.empty()) on_delta({"", reasoning});
      on_delta({text.substr(0, 3), ""});
      on_delta({text.substr(3), ""});
    }
    g.text = text;
    g.reasoning = reasoning;
    g.finish_reason = "length";
    g.prompt_tokens = 11;
    g.completion_tokens = 22;
    g.reasoning_tokens = reasoning.empty() ? 0 : 3;
    g.effective_mode = r.mode;
    return g;
  }

  std::mutex mu;
  GenerationRequest last;
  std::atomic<int> calls{0};
  std::atomic<int> delay_ms{0};
  std::atomic<int> fail_first{0};
  GenerationError failure{ErrorKind::kFinal, "refused by the model", std::nullopt};
  std::atomic<bool> saw_cancel{false};
};

Spec spec_of(const std::string& text) {
  std::string err;
  auto s = parse_spec(text, &err);
  REQUIRE(s);
  return *s;
}

GenerationRequest request(Mode mode, const std::string& content) {
  GenerationRequest r;
  r.messages = std::make_shared<Messages>(Messages{{"system", "s"}, {"user", content}});
  r.mode = mode;
  r.max_tokens = 77;
  r.temperature = 0.25;
  r.top_p = 0.5;
  r.seed = 42;
  r.stop = {"STOP", "END"};
  r.suite = "mrcr";
  r.sample_id = "s-9";
  r.repeat = 3;
  r.attempt_mode = Mode::kThinkMax;
  return r;
}

struct Served {
  ScriptedBackend backend;
  serve::GenerationPool pool;
  serve::GrpcServer grpc;
  serve::HttpServer http;
  int grpc_port = 0;
  int http_port = 0;
  explicit Served(int max_inflight = 8, const std::string& key = "")
      : pool(backend, max_inflight),
        grpc(pool, backend.info(), serve::GrpcServerOptions{"127.0.0.1:0", key, 64 << 20, 60}),
        http(pool, backend.info(), [&] {
          serve::HttpServerOptions o;
          o.api_key = key;
          return o;
        }()) {
    auto g = grpc.start();
    REQUIRE(g.ok());
    grpc_port = *g;
    auto h = http.start();
    REQUIRE(h.ok());
    http_port = *h;
  }
  ~Served() {
    http.begin_shutdown();
    std::thread stop_grpc(
        [&] { grpc.shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)); });
    pool.shutdown(std::chrono::seconds(2));
    http.finish_shutdown(Clock::now() + std::chrono::seconds(2));
    stop_grpc.join();
  }
  std::string grpc_spec(const std::string& extra = "") const {
    return "grpc:addr=127.0.0.1:" + std::to_string(grpc_port) + extra;
  }
  std::string http_spec(const std::string& extra = "") const {
    return "openai:base_url=http://127.0.0.1:" + std::to_string(http_port) +
           "/v1,model=scripted-model,attempt_metadata=true" + extra;
  }
};

}  // namespace

TEST_CASE("grpc: Info and Generate round trip every field both ways", "[grpc][serve]") {
  Served s;
  auto client = make_backend(spec_of(s.grpc_spec()));
  REQUIRE(client.ok());
  BackendInfo info = (*client)->info();
  CHECK(info.kind == "grpc");
  CHECK(info.model == "scripted-model");
  CHECK(info.context_window == 1 << 20);
  CHECK(info.modes.size() == 3);
  CHECK(info.identity == "grpc>scripted:v1");

  for (Mode mode : {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax}) {
    GenerationRequest r = request(mode, "hello " + std::string(mode_name(mode)));
    Generation g = (*client)->generate(r, CallContext{});
    REQUIRE_FALSE(g.error);
    CHECK(g.text == "echo:hello " + std::string(mode_name(mode)));
    CHECK(g.reasoning == (mode == Mode::kNonThink ? "" : "thought"));
    CHECK(g.finish_reason == "length");
    CHECK(g.prompt_tokens == 11);
    CHECK(g.completion_tokens == 22);
    CHECK(g.effective_mode == mode);
    CHECK(g.latency_ms > 0);
    std::lock_guard lock(s.backend.mu);
    const GenerationRequest& got = s.backend.last;
    CHECK(got.messages->size() == 2);
    CHECK((*got.messages)[0].role == "system");
    CHECK(got.mode == mode);
    CHECK(got.max_tokens == 77);
    CHECK(got.temperature == 0.25);
    CHECK(got.top_p == 0.5);
    CHECK(got.seed == 42u);
    CHECK(got.stop == r.stop);
    CHECK(got.suite == "mrcr");
    CHECK(got.sample_id == "s-9");
    CHECK(got.repeat == 3);
    CHECK(got.attempt_mode == Mode::kThinkMax);
  }
  // Streaming: deltas arrive before the final generation.
  auto* streaming = dynamic_cast<StreamingBackend*>(client->get());
  REQUIRE(streaming);
  std::string text, reasoning;
  Generation g = streaming->generate_streaming(request(Mode::kThinkHigh, "x"), CallContext{},
                                               [&](const GenerationDelta& d) {
                                                 text += d.text;
                                                 reasoning += d.reasoning;
                                               });
  REQUIRE_FALSE(g.error);
  CHECK(text == g.text);
  CHECK(reasoning == "thought");
  CHECK(g.time_to_first_token_ms >= 0);
}

TEST_CASE("grpc: backend errors keep their class / transport errors are classified",
          "[grpc][serve]") {
  Served s(1);
  auto client = make_backend(spec_of(s.grpc_spec()));
  REQUIRE(client.ok());
  s.backend.fail_first = 1;
  Generation final_error = (*client)->generate(request(Mode::kNonThink, "x"), CallContext{});
  REQUIRE(final_error.error);
  CHECK(final_error.error->kind == ErrorKind::kFinal);
  CHECK(final_error.error->message == "refused by the model");

  s.backend.calls = 0;
  s.backend.failure = GenerationError{ErrorKind::kRetryable, "overloaded", 2.5};
  Generation retryable = (*client)->generate(request(Mode::kNonThink, "x"), CallContext{});
  REQUIRE(retryable.error);
  CHECK(retryable.error->kind == ErrorKind::kRetryable);
  CHECK(retryable.error->retry_after_s == 2.5);

  // In-backend retries (for use without the runner) get through a transient failure.
  s.backend.calls = 0;
  s.backend.failure = GenerationError{ErrorKind::kRetryable, "overloaded", std::nullopt};
  auto retrying = make_backend(spec_of(s.grpc_spec(",retries=2,retry_base_ms=1")));
  REQUIRE(retrying.ok());
  Generation ok = (*retrying)->generate(request(Mode::kNonThink, "y"), CallContext{});
  CHECK_FALSE(ok.error);
  CHECK(s.backend.calls == 2);

  // Busy: max 1 in flight, the second call is refused with a retry hint.
  s.backend.fail_first = 0;
  s.backend.delay_ms = 800;
  std::thread first([&] { (*client)->generate(request(Mode::kNonThink, "slow"), CallContext{}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Generation busy = (*client)->generate(request(Mode::kNonThink, "x"), CallContext{});
  first.join();
  REQUIRE(busy.error);
  CHECK(busy.error->kind == ErrorKind::kRetryable);
  CHECK_THAT(busy.error->message, Catch::Contains("RESOURCE_EXHAUSTED"));
  CHECK(busy.error->retry_after_s == 1.0);
}

TEST_CASE("grpc: cancellation and deadlines reach the served backend", "[grpc][serve]") {
  Served s;
  auto client = make_backend(spec_of(s.grpc_spec()));
  REQUIRE(client.ok());
  s.backend.delay_ms = 20000;
  std::atomic<bool> cancel{false};
  CallContext ctx;
  ctx.cancelled = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    cancel = true;
  });
  auto start = Clock::now();
  Generation g = (*client)->generate(request(Mode::kNonThink, "x"), ctx);
  canceller.join();
  REQUIRE(g.error);
  CHECK(g.error->kind == ErrorKind::kRetryable);
  CHECK(Clock::now() - start < std::chrono::seconds(10));
  for (int i = 0; i < 200 && !s.backend.saw_cancel; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(s.backend.saw_cancel);

  s.backend.saw_cancel = false;
  CallContext short_deadline;
  short_deadline.deadline = Clock::now() + std::chrono::milliseconds(200);
  Generation late = (*client)->generate(request(Mode::kNonThink, "x"), short_deadline);
  REQUIRE(late.error);
  CHECK(late.error->kind == ErrorKind::kRetryable);
  CHECK_THAT(late.error->message, Catch::Contains("DEADLINE_EXCEEDED"));
  for (int i = 0; i < 200 && !s.backend.saw_cancel; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(s.backend.saw_cancel);  // the server passed the client's deadline on
}

TEST_CASE("grpc and http: an API key is required when the server has one", "[grpc][serve]") {
  setenv("V4EVAL_UNIT_SERVE_KEY", "unit-serve-key", 1);
  Served s(4, "unit-serve-key");
  auto refused = make_backend(spec_of(s.grpc_spec()));
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("UNAUTHENTICATED"));
  auto ok = make_backend(spec_of(s.grpc_spec(",api_key_env=V4EVAL_UNIT_SERVE_KEY")));
  REQUIRE(ok.ok());
  CHECK_FALSE((*ok)->generate(request(Mode::kNonThink, "x"), CallContext{}).error);

  auto http_refused = make_backend(spec_of(s.http_spec()));
  REQUIRE(http_refused.ok());
  Generation no_key = (*http_refused)->generate(request(Mode::kNonThink, "x"), CallContext{});
  REQUIRE(no_key.error);
  CHECK(no_key.error->kind == ErrorKind::kFinal);
  CHECK_THAT(no_key.error->message, Catch::Contains("HTTP 401"));
  auto http_ok = make_backend(spec_of(s.http_spec(",api_key_env=V4EVAL_UNIT_SERVE_KEY")));
  REQUIRE(http_ok.ok());
  CHECK_FALSE((*http_ok)->generate(request(Mode::kNonThink, "x"), CallContext{}).error);
}

TEST_CASE("http: our openai backend round trips through serve streaming and not", "[serve]") {
  Served s;
  for (const char* stream : {"true", "false"}) {
    auto client = make_backend(spec_of(s.http_spec(std::string(",stream=") + stream)));
    REQUIRE(client.ok());
    for (Mode mode : {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax}) {
      INFO("stream=" << stream << " mode=" << mode_name(mode));
      Generation g = (*client)->generate(request(mode, "hi"), CallContext{});
      REQUIRE_FALSE(g.error);
      CHECK(g.text == "echo:hi");
      CHECK(g.reasoning == (mode == Mode::kNonThink ? "" : "thought"));
      CHECK(g.finish_reason == "length");
      CHECK(g.prompt_tokens == 11);
      CHECK(g.completion_tokens == 22);
      CHECK(g.effective_mode == mode);  // reported by serve
      CHECK((std::string(stream) == "true") == (g.time_to_first_token_ms >= 0));
      std::lock_guard lock(s.backend.mu);
      CHECK(s.backend.last.mode == mode);
      CHECK(s.backend.last.sample_id == "s-9");
      CHECK(s.backend.last.repeat == 3);
      CHECK(s.backend.last.attempt_mode == Mode::kThinkMax);
      CHECK(s.backend.last.max_tokens == 77);
      CHECK(s.backend.last.seed == 42u);
      CHECK(s.backend.last.stop == std::vector<std::string>{"STOP", "END"});
    }
  }
  // Deltas pass through: serve streams what the backend streams.
  auto client = make_backend(spec_of(s.http_spec()));
  REQUIRE(client.ok());
  auto* streaming = dynamic_cast<StreamingBackend*>(client->get());
  REQUIRE(streaming);
  int pieces = 0;
  std::string text;
  Generation g = streaming->generate_streaming(request(Mode::kNonThink, "abcdef"), CallContext{},
                                               [&](const GenerationDelta& d) {
                                                 ++pieces;
                                                 text += d.text;
                                               });
  REQUIRE_FALSE(g.error);
  CHECK(text == "echo:abcdef");
  CHECK(pieces >= 2);
}

TEST_CASE("http: a client that goes away cancels its generation", "[serve]") {
  Served s;
  s.backend.delay_ms = 20000;
  auto client = make_backend(spec_of(s.http_spec()));
  REQUIRE(client.ok());
  CallContext ctx;
  ctx.deadline = Clock::now() + std::chrono::milliseconds(300);
  Generation g = (*client)->generate(request(Mode::kNonThink, "x"), ctx);
  REQUIRE(g.error);
  CHECK(g.error->kind == ErrorKind::kRetryable);
  for (int i = 0; i < 300 && !s.backend.saw_cancel; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(s.backend.saw_cancel);
}

TEST_CASE("openai backend: one base URL down / the other serves every request", "[serve][openai]") {
  Served s;
  auto client = make_backend(spec_of("openai:base_url=http://127.0.0.1:1/v1|http://127.0.0.1:" +
                                     std::to_string(s.http_port) + "/v1,model=scripted-model"));
  REQUIRE(client.ok());
  for (int i = 0; i < 6; ++i) {
    Generation g = (*client)->generate(request(Mode::kNonThink, std::to_string(i)), CallContext{});
    REQUIRE_FALSE(g.error);
    CHECK(g.text == "echo:" + std::to_string(i));
  }
  CHECK(s.backend.calls == 6);
}
