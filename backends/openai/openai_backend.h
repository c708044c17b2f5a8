#pragma once
// `openai:` and `deepseek:` backends: any OpenAI-compatible Chat Completions server (vLLM,
// SGLang, TensorRT-LLM, the DeepSeek API, `v4eval serve --http`). See make_openai_backend for
// the spec options; `deepseek:` is `openai:` with the DeepSeek API's defaults.

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/openai/chat_protocol.h"

namespace v4eval::openai {

// A spec, validated. Never holds the API key itself, only the variable's name.
struct OpenAIConfig {
  std::string kind;                    // "openai" | "deepseek"
  std::vector<std::string> base_urls;  // without a trailing '/', e.g. http://host:8000/v1
  std::string api_key_env;             // empty: no Authorization header
  ChatOptions chat;
  std::string mode_style;
  bool modes_overridden = false;  // a non_think/think_high/think_max option was given
  std::vector<Mode> modes;        // modes offered to the runner
  int64_t context_window = 0;
  double timeout_s = 0;  // per HTTP request; 0: the caller's deadline only
  double connect_timeout_s = 10;
  double idle_timeout_s = 300;  // streams only: no byte for this long = stalled
  int max_inflight = 256;
  double requests_per_minute = 0;
  double tokens_per_minute = 0;
  int retries = 0;  // in-backend retries (the runner retries too)
  double retry_base_s = 0.5;
  std::string ca_file;
};

// Parses and checks a spec of kind `openai` or `deepseek`. Options (cli.md):
//   base_url=URL[|URL...]  server(s), including the API prefix (…/v1); '|' separates several,
//                          requests go to the least loaded one that is up
//   model=NAME             model id sent in requests
//   api_key_env=VAR        the environment variable holding the key (the key never appears in a
//                          spec, a log, a report or the database)
//   mode_style=deepseek|template|none, non_think=JSON, think_high=JSON, think_max=JSON
//   modes=M1,M2, context_window=N, stream=true|false, stream_usage=true|false,
//   max_tokens_field=NAME, extra=JSON, attempt_metadata=true|false, timeout_s, connect_timeout_s,
//   idle_timeout_s, max_inflight=N, rpm=N, tpm=N, retries=N, retry_base_ms=MS, ca_file=PATH
Result<OpenAIConfig> parse_openai_spec(const Spec& spec);

// Creates the backend (reads the API key from the environment now, so a missing key is an
// error before anything runs). The backend also implements StreamingBackend and AsyncBackend
// (calls in flight hold no thread: admission waits, backoff and I/O happen on its I/O threads).
Result<std::unique_ptr<Backend>> make_openai_backend(const Spec& spec);

}  // namespace v4eval::openai
