#include "backends/v4/v4_backend.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "backends/v4/chat.h"
#include "backends/v4/generate.h"
#include "backends/v4/model.h"
#include "backends/v4/tokenizer.h"
#include "harness/hash.h"

namespace v4eval {
namespace {

namespace fs = std::filesystem;

Result<int64_t> positive_int(const Spec& spec, const char* key, int64_t fallback) {
  auto v = spec.get(key);
  if (!v) return fallback;
  try {
    size_t used = 0;
    long long n = std::stoll(*v, &used);
    if (used == v->size() && n > 0) return static_cast<int64_t>(n);
  } catch (...) {
  }
  return InvalidArgument(std::string("v4 backend: ") + key + " must be a positive integer, got '" +
                         *v + "'");
}

// What distinguishes one checkpoint from another for the response cache: config, tokenizer and
// shard headers; whole shards when the checkpoint is small (random test checkpoints share
// their headers).
std::string checkpoint_fingerprint(const std::string& dir) {
  Sha256 h;
  std::vector<fs::path> files;
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name == "config.json" || name == "tokenizer.json" ||
        name == "model.safetensors.index.json" || e.path().extension() == ".safetensors") {
      files.push_back(e.path());
      total += e.file_size(ec);
    }
  }
  std::sort(files.begin(), files.end());
  const bool whole = total <= (uint64_t{256} << 20);
  std::vector<char> buf(1 << 16);
  for (const fs::path& f : files) {
    h.update(f.filename().string());
    h.update(std::to_string(fs::file_size(f, ec)));
    std::ifstream in(f, std::ios::binary);
    uint64_t limit = whole || f.extension() != ".safetensors" ? UINT64_MAX : (uint64_t{1} << 20);
    while (in && limit > 0) {
      in.read(buf.data(), static_cast<std::streamsize>(std::min<uint64_t>(buf.size(), limit)));
      const auto got = static_cast<uint64_t>(in.gcount());
      if (got == 0) break;
      h.update(std::string_view(buf.data(), got));
      limit -= got;
    }
  }
  return h.hex_digest();
}

// Invalid UTF-8 (a character split by max_tokens, or a random model's bytes) replaced by
// U+FFFD per maximal invalid subsequence, as the reference decoders do (errors="replace"): the
// harness stores text as JSON, which must be valid UTF-8.
std::string valid_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xc0) == 0x80;
    if (ok && len > 1) {
      uint32_t cp = c & (0x7f >> len);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3f);
      const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= min_cp[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    }
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
      while (i < n && (p[i] & 0xc0) == 0x80) ++i;  // the rest of a broken sequence
    }
  }
  return out;
}

struct Defaults {
  double temperature = 0.0;
  double top_p = 1.0;
};

// generation_config.json's sampling defaults (greedy when absent or do_sample is false).
Defaults read_generation_config(const std::string& dir) {
  Defaults d;
  std::ifstream in(dir + "/generation_config.json", std::ios::binary);
  if (!in) return d;
  std::ostringstream buf;
  buf << in.rdbuf();
  Json j = Json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.value("do_sample", false)) return d;
  if (j.contains("temperature") && j["temperature"].is_number())
    d.temperature = j["temperature"].get<double>();
  if (j.contains("top_p") && j["top_p"].is_number()) d.top_p = j["top_p"].get<double>();
  return d;
}

class V4Backend final : public Backend {
 public:
  V4Backend(std::string dir, std::unique_ptr<v4::Model> model,
            std::unique_ptr<v4::Tokenizer> tokenizer, int64_t default_max_tokens,
            Defaults defaults, std::string fingerprint)
      : dir_(std::move(dir)), model_(std::move(model)), tokenizer_(std::move(tokenizer)),
        sequence_(model_->new_sequence()), default_max_tokens_(default_max_tokens),
        defaults_(defaults), fingerprint_(std::move(fingerprint)) {
    think_end_id_ = tokenizer_->token_id(v4::kThinkEnd);
  }

  BackendInfo info() const override {
    BackendInfo info;
    info.kind = "v4";
    info.model = "deepseek-v4:" + fs::path(dir_).lexically_normal().filename().string();
    if (info.model == "deepseek-v4:") info.model += fs::path(dir_).parent_path().filename().string();
    info.context_window = model_->max_context();
    info.modes = {Mode::kNonThink, Mode::kThinkHigh};
    if (model_->max_context() >= kThinkMaxMinContext) info.modes.push_back(Mode::kThinkMax);
    info.identity = "v4:sha256=" + fingerprint_ + ",max_context=" +
                    std::to_string(model_->max_context()) + ",device=cpu";
    return info;
  }

  Generation generate(const GenerationRequest& request, const CallContext& ctx) override {
    const auto t0 = std::chrono::steady_clock::now();
    Generation g;
    auto fail = [&](ErrorKind kind, std::string message) {
      g.error = GenerationError{kind, "v4 backend: " + std::move(message), std::nullopt};
      return g;
    };
    if (!request.messages) return fail(ErrorKind::kFinal, "request without messages");
    const int64_t context = model_->max_context();
    if (request.mode == Mode::kThinkMax && context < kThinkMaxMinContext)
      return fail(ErrorKind::kFinal,
                  "mode think-max needs a context window of at least 384K tokens (" +
                      std::to_string(kThinkMaxMinContext) + "); this engine is configured for " +
                      std::to_string(context) + " tokens (max_context / the checkpoint's "
                      "max_position_embeddings)");
    auto prompt = v4::render_prompt(*request.messages, request.mode);
    if (!prompt.ok()) return fail(ErrorKind::kFinal, prompt.status().message());
    const std::vector<uint32_t> ids = tokenizer_->encode(*prompt);
    const auto n_prompt = static_cast<int64_t>(ids.size());
    g.prompt_tokens = n_prompt;
    if (n_prompt >= context)
      return fail(ErrorKind::kFinal, "the prompt has " + std::to_string(n_prompt) +
                                         " tokens, which does not fit the context window of " +
                                         std::to_string(context) + " tokens");
    v4::SamplingOptions options;
    options.max_tokens = request.max_tokens > 0 ? request.max_tokens : default_max_tokens_;
    options.max_tokens = std::min(options.max_tokens, context - n_prompt);
    options.temperature = request.temperature.value_or(defaults_.temperature);
    options.top_p = request.top_p.value_or(defaults_.top_p);
    options.seed = request.seed.value_or(0);
    options.stop = request.stop;
    v4::AbortCheck abort = [&ctx]() -> Status {
      if (ctx.is_cancelled()) return Status(StatusCode::kCancelled, "cancelled");
      if (std::chrono::steady_clock::now() > ctx.deadline)
        return Status(StatusCode::kDeadlineExceeded, "deadline exceeded");
      return Status::Ok();
    };

    std::lock_guard<std::mutex> lock(mu_);  // one sequence: generations run one at a time
    if (Status s = abort(); !s.ok()) return fail(ErrorKind::kRetryable, s.message());
    auto out = v4::generate_tokens(*sequence_, *tokenizer_, ids, options, abort);
    if (!out.ok()) {
      const StatusCode code = out.status().code();
      const bool retryable = code == StatusCode::kCancelled ||
                             code == StatusCode::kDeadlineExceeded ||
                             code == StatusCode::kUnavailable;
      return fail(retryable ? ErrorKind::kRetryable : ErrorKind::kFinal, out.status().message());
    }
    v4::ParsedCompletion parsed = v4::parse_completion(out->text, request.mode);
    g.text = valid_utf8(parsed.content);
    g.reasoning = valid_utf8(parsed.reasoning);
    g.finish_reason = out->finish_reason;
    g.completion_tokens = static_cast<int64_t>(out->tokens.size()) + (out->eos ? 1 : 0);
    if (request.mode == Mode::kNonThink) {
      g.reasoning_tokens = 0;
    } else {
      auto end = think_end_id_ ? std::find(out->tokens.begin(), out->tokens.end(), *think_end_id_)
                               : out->tokens.end();
      g.reasoning_tokens = static_cast<int64_t>(end - out->tokens.begin());
    }
    g.time_to_first_token_ms = out->prefill_ms;
    g.latency_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    g.effective_mode = request.mode;
    return g;
  }

 private:
  std::string dir_;
  std::unique_ptr<v4::Model> model_;
  std::unique_ptr<v4::Tokenizer> tokenizer_;
  std::mutex mu_;  // guards sequence_
  std::unique_ptr<v4::Sequence> sequence_;
  int64_t default_max_tokens_;
  Defaults defaults_;
  std::string fingerprint_;
  std::optional<uint32_t> think_end_id_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_v4_backend(const Spec& spec) {
  for (const auto& [key, value] : spec.options)
    if (key != "checkpoint" && key != "device" && key != "max_context" && key != "max_tokens")
      return InvalidArgument("v4 backend: unknown option '" + key +
                             "' (known: checkpoint, device, max_context, max_tokens)");
  auto dir = spec.get("checkpoint");
  if (!dir || dir->empty()) return InvalidArgument("v4 backend needs checkpoint=DIR");
  const std::string device = spec.get("device").value_or("cpu");
  if (device == "cuda")
    return InvalidArgument("v4 backend: device=cuda is not available: the CUDA engine is not "
                           "built into this version (use device=cpu)");
  if (device != "cpu")
    return InvalidArgument("v4 backend: device must be cpu or cuda, got '" + device + "'");
  auto max_context = positive_int(spec, "max_context", 0);
  if (!max_context.ok()) return max_context.status();
  auto max_tokens = positive_int(spec, "max_tokens", 0);
  if (!max_tokens.ok()) return max_tokens.status();

  v4::ModelOptions options;
  options.max_context = *max_context;
  auto model = v4::Model::load(*dir, options);
  if (!model.ok())
    return Status(model.status().code(), "v4 backend: " + model.status().message());
  const std::string tok_path = *dir + "/tokenizer.json";
  auto tok = v4::Tokenizer::load(tok_path);
  if (!tok.ok())
    return Status(tok.status().code(),
                  "v4 backend: " + tok.status().message() +
                      " (every checkpoint needs its tokenizer.json; `v4eval v4 make-tiny "
                      "--tokenizer` writes one for the tiny model)");
  // DeepSeek-V3's tokenizer.json lacks V4's newer special tokens; a V4 file has them.
  if (!(*tok)->token_id(v4::kThinkEnd)) {
    if (Status s = (*tok)->add_v4_special_tokens(); !s.ok())
      return DataError("v4 backend: " + tok_path + ": " + s.message());
  }
  if (static_cast<int64_t>((*tok)->id_limit()) > (*model)->config().vocab_size)
    return DataError("v4 backend: " + tok_path + " has ids up to " +
                     std::to_string((*tok)->id_limit() - 1) + ", beyond the model's vocab_size " +
                     std::to_string((*model)->config().vocab_size));
  const int64_t default_max_tokens =
      *max_tokens > 0 ? *max_tokens : (*model)->max_context();
  return std::unique_ptr<Backend>(new V4Backend(*dir, std::move(model).value(),
                                                std::move(tok).value(), default_max_tokens,
                                                read_generation_config(*dir),
                                                checkpoint_fingerprint(*dir)));
}

}  // namespace v4eval
