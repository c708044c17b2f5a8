#include "backends/replay/replay_backend.h"

#include <fstream>
#include <thread>

#include "harness/hash.h"
#include <map>
#include <tuple>

namespace v4eval {
namespace {

using Key = std::tuple<std::string, std::string, Mode, int>;  // suite, sample, mode, repeat

struct Recorded {
  Generation generation;
  int64_t line = 0;
};

std::string id_string(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return {};
}

class ReplayBackend final : public Backend {
 public:
  ReplayBackend(std::string file, std::string model, std::map<Key, Recorded> recorded,
                int delay_ms, std::string content_hash)
      : file_(std::move(file)), model_(std::move(model)), recorded_(std::move(recorded)),
        delay_ms_(delay_ms), content_hash_(std::move(content_hash)) {}

  BackendInfo info() const override {
    return {"replay", model_, 0, {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax},
            // The recording's content, not its path: another file answers differently.
            "replay:model=" + model_ + ",sha256=" + content_hash_};
  }

  Generation generate(const GenerationRequest& request, const CallContext& ctx) override {
    if (delay_ms_ > 0) {
      // Simulated latency (tests, benchmarks of the runner); honours cancellation.
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms_);
      while (std::chrono::steady_clock::now() < until) {
        if (ctx.is_cancelled()) {
          Generation g;
          g.error = GenerationError{ErrorKind::kRetryable, "cancelled", std::nullopt};
          return g;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(delay_ms_, 5)));
      }
    }
    // A judge call is keyed by the graded attempt's mode, like the model's replay file.
    Mode mode = request.attempt_mode.value_or(request.mode);
    auto it = recorded_.find({request.suite, request.sample_id, mode, request.repeat});
    if (it == recorded_.end()) {
      Generation g;
      g.error = GenerationError{ErrorKind::kFinal,
                                "no recorded generation in " + file_ + " for suite=" +
                                    request.suite + " sample_id=" + request.sample_id +
                                    " mode=" + std::string(mode_name(mode)) +
                                    " repeat=" + std::to_string(request.repeat),
                                std::nullopt};
      return g;
    }
    return it->second.generation;
  }

 private:
  std::string file_;
  std::string model_;
  std::map<Key, Recorded> recorded_;  // immutable after construction: safe to read concurrently
  int delay_ms_;
  std::string content_hash_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_replay_backend(const Spec& spec) {
  for (const auto& [key, value] : spec.options)
    if (key != "file" && key != "model" && key != "delay_ms")
      return InvalidArgument("replay backend: unknown option '" + key +
                             "' (known: file, model, delay_ms)");
  int delay_ms = 0;
  if (auto d = spec.get("delay_ms")) {
    try {
      delay_ms = std::stoi(*d);
    } catch (...) {
      delay_ms = -1;
    }
    if (delay_ms < 0) return InvalidArgument("replay backend: delay_ms must be a non-negative integer");
  }
  auto file = spec.get("file");
  if (!file || file->empty()) return InvalidArgument("replay backend needs file=FILE.jsonl");
  std::ifstream in(*file, std::ios::binary);
  if (!in) return NotFound("replay file " + *file + ": cannot open");

  std::map<Key, Recorded> recorded;
  std::string line;
  int64_t line_no = 0;
  auto where = [&] { return *file + ":" + std::to_string(line_no) + ": "; };
  Sha256 content;
  while (std::getline(in, line)) {
    ++line_no;
    content.update(line);
    content.update("\n");
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json row;
    try {
      row = Json::parse(line);
    } catch (const Json::parse_error& e) {
      return DataError(where() + "malformed JSON: " + e.what());
    }
    if (!row.is_object()) return DataError(where() + "expected a JSON object");
    std::string suite = row.contains("suite") && row["suite"].is_string()
                            ? row["suite"].get<std::string>() : "";
    std::string sample = row.contains("sample_id") ? id_string(row["sample_id"]) : "";
    if (suite.empty() || sample.empty())
      return DataError(where() + "needs \"suite\" and \"sample_id\"");
    Mode mode = Mode::kNonThink;
    if (row.contains("mode")) {
      auto m = row["mode"].is_string() ? parse_mode(row["mode"].get<std::string>()) : std::nullopt;
      if (!m) return DataError(where() + "unknown mode " + row["mode"].dump());
      mode = *m;
    }
    int repeat = 0;
    if (row.contains("repeat")) {
      if (!row["repeat"].is_number_integer() || row["repeat"].get<int64_t>() < 0)
        return DataError(where() + "repeat must be a non-negative integer");
      repeat = row["repeat"].get<int>();
    }
    Generation g;
    auto get_string = [&](const char* k, std::string* out) -> bool {
      if (!row.contains(k) || row[k].is_null()) return true;
      if (!row[k].is_string()) return false;
      *out = row[k].get<std::string>();
      return true;
    };
    if (!get_string("text", &g.text) || !get_string("reasoning", &g.reasoning) ||
        !get_string("finish_reason", &g.finish_reason))
      return DataError(where() + "text, reasoning and finish_reason must be strings");
    if (!row.contains("text") && !row.contains("error"))
      return DataError(where() + "needs \"text\" (or \"error\")");
    if (g.finish_reason.empty()) g.finish_reason = "stop";
    for (auto [k, out] : {std::pair{"prompt_tokens", &g.prompt_tokens},
                          std::pair{"completion_tokens", &g.completion_tokens},
                          std::pair{"reasoning_tokens", &g.reasoning_tokens}})
      if (row.contains(k) && row[k].is_number_integer()) *out = row[k].get<int64_t>();
    if (row.contains("latency_ms") && row["latency_ms"].is_number())
      g.latency_ms = row["latency_ms"].get<double>();
    if (row.contains("error")) {  // a recorded failure (for tests of error handling)
      bool retryable = row.value("retryable", false);
      g.error = GenerationError{retryable ? ErrorKind::kRetryable : ErrorKind::kFinal,
                                row["error"].is_string() ? row["error"].get<std::string>()
                                                         : row["error"].dump(),
                                std::nullopt};
    }
    g.effective_mode = mode;
    Key key{suite, sample, mode, repeat};
    auto [it, inserted] = recorded.emplace(key, Recorded{std::move(g), line_no});
    if (!inserted)
      return DataError(where() + "duplicate generation for suite=" + suite + " sample_id=" +
                       sample + " mode=" + std::string(mode_name(mode)) + " repeat=" +
                       std::to_string(repeat) + " (first at line " +
                       std::to_string(it->second.line) + ")");
  }
  if (in.bad()) return IoError("replay file " + *file + ": read error");
  std::string model = spec.get("model").value_or("replay");
  return std::unique_ptr<Backend>(new ReplayBackend(*file, model, std::move(recorded), delay_ms,
                                                   content.hex_digest()));
}

}  // namespace v4eval
