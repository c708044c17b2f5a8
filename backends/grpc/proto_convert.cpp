#include "backends/grpc/proto_convert.h"

namespace v4eval::grpc_wire {

v1::Mode to_proto(Mode mode) {
  switch (mode) {
    case Mode::kNonThink:
      return v1::MODE_NON_THINK;
    case Mode::kThinkHigh:
      return v1::MODE_THINK_HIGH;
    case Mode::kThinkMax:
      return v1::MODE_THINK_MAX;
  }
  return v1::MODE_NON_THINK;
}

Mode from_proto(v1::Mode mode) {
  switch (mode) {
    case v1::MODE_THINK_HIGH:
      return Mode::kThinkHigh;
    case v1::MODE_THINK_MAX:
      return Mode::kThinkMax;
    default:
      return Mode::kNonThink;
  }
}

void to_proto(const GenerationRequest& r, v1::GenerateRequest* out) {
  if (r.messages) {
    out->mutable_messages()->Reserve(int(r.messages->size()));
    for (const auto& m : *r.messages) {
      auto* pm = out->add_messages();
      pm->set_role(m.role);
      pm->set_content(m.content);
    }
  }
  out->set_mode(to_proto(r.mode));
  out->set_max_tokens(r.max_tokens);
  if (r.temperature) out->set_temperature(*r.temperature);
  if (r.top_p) out->set_top_p(*r.top_p);
  if (r.seed) out->set_seed(*r.seed);
  for (const auto& s : r.stop) out->add_stop(s);
  out->set_suite(r.suite);
  out->set_sample_id(r.sample_id);
  out->set_repeat(r.repeat);
  if (r.attempt_mode) out->set_attempt_mode(to_proto(*r.attempt_mode));
}

GenerationRequest from_proto(const v1::GenerateRequest& p) {
  GenerationRequest r;
  auto messages = std::make_shared<Messages>();
  messages->reserve(size_t(p.messages_size()));
  for (const auto& m : p.messages()) messages->push_back({m.role(), m.content()});
  r.messages = std::move(messages);
  r.mode = from_proto(p.mode());
  r.max_tokens = p.max_tokens();
  if (p.has_temperature()) r.temperature = p.temperature();
  if (p.has_top_p()) r.top_p = p.top_p();
  if (p.has_seed()) r.seed = p.seed();
  r.stop.assign(p.stop().begin(), p.stop().end());
  r.suite = p.suite();
  r.sample_id = p.sample_id();
  r.repeat = p.repeat();
  if (p.has_attempt_mode()) r.attempt_mode = from_proto(p.attempt_mode());
  return r;
}

void to_proto(const Generation& g, v1::Generation* out) {
  out->set_text(g.text);
  out->set_reasoning(g.reasoning);
  out->set_finish_reason(g.finish_reason);
  out->set_prompt_tokens(g.prompt_tokens);
  out->set_completion_tokens(g.completion_tokens);
  out->set_reasoning_tokens(g.reasoning_tokens);
  out->set_latency_ms(g.latency_ms);
  out->set_time_to_first_token_ms(g.time_to_first_token_ms);
  if (g.effective_mode) out->set_effective_mode(to_proto(*g.effective_mode));
  if (g.error) {
    auto* e = out->mutable_error();
    e->set_retryable(g.error->kind == ErrorKind::kRetryable);
    e->set_message(g.error->message);
    if (g.error->retry_after_s) e->set_retry_after_s(*g.error->retry_after_s);
  }
}

Generation from_proto(const v1::Generation& p) {
  Generation g;
  g.text = p.text();
  g.reasoning = p.reasoning();
  g.finish_reason = p.finish_reason();
  g.prompt_tokens = p.prompt_tokens();
  g.completion_tokens = p.completion_tokens();
  g.reasoning_tokens = p.reasoning_tokens();
  g.latency_ms = p.latency_ms();
  g.time_to_first_token_ms = p.time_to_first_token_ms();
  if (p.has_effective_mode()) g.effective_mode = from_proto(p.effective_mode());
  if (p.has_error()) {
    const auto& e = p.error();
    g.error = GenerationError{
        e.retryable() ? ErrorKind::kRetryable : ErrorKind::kFinal, e.message(),
        e.has_retry_after_s() ? std::optional<double>(e.retry_after_s()) : std::nullopt};
  }
  return g;
}

void to_proto(const BackendInfo& info, v1::InfoResponse* out) {
  out->set_kind(info.kind);
  out->set_model(info.model);
  out->set_context_window(info.context_window);
  for (Mode m : info.modes) out->add_modes(to_proto(m));
  out->set_identity(info.identity);
}

BackendInfo from_proto(const v1::InfoResponse& p) {
  BackendInfo info;
  info.kind = p.kind();
  info.model = p.model();
  info.context_window = p.context_window();
  for (int m : p.modes()) info.modes.push_back(from_proto(v1::Mode(m)));
  info.identity = p.identity();
  return info;
}

}  // namespace v4eval::grpc_wire
