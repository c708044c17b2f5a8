#include "suites/judge.h"

#include <random>
#include <thread>

#include "harness/retry.h"

namespace v4eval {

Result<Generation> ask_judge(Backend& judge, const JudgeCall& call, int retries,
                             double timeout_s) {
  GenerationRequest r;
  r.messages = std::make_shared<Messages>(call.messages);
  // Official judges do not think; the attempt's mode only keys a replay judge file.
  r.mode = Mode::kNonThink;
  r.attempt_mode = call.mode;
  r.temperature = call.temperature;
  r.max_tokens = call.max_tokens;
  r.suite = call.suite;
  r.sample_id = call.sample_id;
  r.repeat = call.repeat;
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string last_error;
  for (int attempt = 0; attempt <= retries; ++attempt) {
    CallContext ctx;
    ctx.deadline = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(timeout_s));
    Generation g = judge.generate(r, ctx);
    if (!g.error && !g.text.empty()) return g;
    if (g.error) {
      last_error = g.error->message;
      if (g.error->kind == ErrorKind::kFinal) break;
    } else {
      last_error = "the judge returned an empty answer";
    }
    if (attempt == retries) break;
    double delay = backoff_delay_s(attempt + 1, 0.5, 10.0,
                                   std::uniform_real_distribution<double>(0, 1)(rng),
                                   g.error ? g.error->retry_after_s : std::nullopt);
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
  }
  return Unavailable("judge failed: " + last_error);
}

Result<std::string> format_template(
    std::string_view tmpl, const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out;
  out.reserve(tmpl.size());
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c == '{') {
      if (i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      size_t close = tmpl.find('}', i);
      if (close == std::string_view::npos) return InvalidArgument("template: unmatched '{'");
      std::string_view name = tmpl.substr(i + 1, close - i - 1);
      bool found = false;
      for (const auto& [k, v] : values)
        if (k == name) {
          out += v;
          found = true;
          break;
        }
      if (!found) return InvalidArgument("template: no value for {" + std::string(name) + "}");
      i = close;
    } else if (c == '}') {
      if (i + 1 < tmpl.size() && tmpl[i + 1] == '}') ++i;
      else return InvalidArgument("template: single '}'");
      out += '}';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace v4eval
