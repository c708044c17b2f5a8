// `v4eval v4 <sub>`: the built-in DeepSeek-V4 engine's pieces from the command line (cli.md).
// `tokenize`, `make-tiny`, `forward` (logits of a prefill), `generate` (the `v4:` backend).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "backends/v4/chat.h"
#include "backends/v4/config.h"
#include "backends/v4/model.h"
#include "backends/v4/tiny_tokenizer.h"
#include "backends/v4/tokenizer.h"
#include "backends/v4/v4_backend.h"
#include "backends/v4/weights.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"

namespace v4eval::cli {
namespace {

constexpr const char* kV4Usage = R"(usage: v4eval v4 <subcommand> [flags]   (--help for its flags)

subcommands:
  tokenize   token ids of a text with the DeepSeek tokenizer (no BOS added)
  make-tiny  write the tiny random test checkpoint (v4-model.md §6) in the official format
  forward    logits of a prefill over token ids (CPU reference engine)
  generate   generate an answer to one user prompt (the v4: backend)
)";

int exit_code_for(const Status& s) {
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kDataError ||
                 s.code() == StatusCode::kNotFound
             ? kExitBadInput
             : kExitFailure;
}

// The tokenizer of a checkpoint directory, or a tokenizer.json file; V4's special tokens
// (<think>, </think>, ...) are added when the file lacks them (DeepSeek-V3's file).
Result<std::unique_ptr<v4::Tokenizer>> load_tokenizer(const Args& args) {
  std::string path;
  if (auto dir = args.get("checkpoint")) {
    path = *dir + "/tokenizer.json";
  } else if (auto file = args.get("tokenizer")) {
    path = *file;
  } else {
    return InvalidArgument("one of --checkpoint DIR or --tokenizer FILE.json is required");
  }
  auto tok = v4::Tokenizer::load(path);
  if (!tok.ok()) return tok.status();
  // A V4 file (or the tiny checkpoint's) has </think> already; DeepSeek-V3's lacks it.
  if ((*tok)->token_id(v4::kThinkEnd)) return tok;
  if (Status s = (*tok)->add_v4_special_tokens(); !s.ok())
    return DataError(path + " disagrees with the V4 special tokens: " + s.message());
  return tok;
}

Json ids_json(const std::vector<uint32_t>& ids) { return Json{{"ids", ids}}; }

int cmd_v4_tokenize(const Argv& argv) {
  Args args("v4 tokenize",
            "(--checkpoint DIR | --tokenizer FILE.json) (--text T | --text-file F) [--jsonl]",
            {
                {"checkpoint", "DIR", "checkpoint directory (its tokenizer.json)"},
                {"tokenizer", "FILE", "a tokenizer.json"},
                {"text", "T", "the text"},
                {"text-file", "F", "read the text from a file (raw bytes)"},
                {"jsonl", "", "--text-file holds one JSON string per line; one output line each"},
                {"json", "", "JSON output (the default; accepted for symmetry)"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  auto tok = load_tokenizer(args);
  if (!tok.ok()) return fail("v4 tokenize: " + tok.status().message(), exit_code_for(tok.status()));
  const v4::Tokenizer& t = **tok;
  if (args.has("text") == args.has("text-file"))
    return fail("v4 tokenize: give exactly one of --text or --text-file", kExitBadInput);
  if (auto text = args.get("text")) {
    if (args.has("jsonl")) return fail("v4 tokenize: --jsonl needs --text-file", kExitBadInput);
    std::cout << ids_json(t.encode(*text)).dump() << "\n";
    return kExitOk;
  }
  const std::string path = *args.get("text-file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("v4 tokenize: cannot open " + path, kExitBadInput);
  if (!args.has("jsonl")) {
    std::ostringstream buf;
    buf << in.rdbuf();
    std::cout << ids_json(t.encode(buf.str())).dump() << "\n";
    return kExitOk;
  }
  size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line == "\r") continue;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_string())
      return fail("v4 tokenize: " + path + " line " + std::to_string(line_no) +
                      ": not a JSON string",
                  kExitBadInput);
    std::cout << ids_json(t.encode(j.get_ref<const std::string&>())).dump() << "\n";
  }
  return kExitOk;
}

int cmd_v4_make_tiny(const Argv& argv) {
  Args args("v4 make-tiny", "--out DIR [--seed S] [--tokenizer]",
            {
                {"out", "DIR", "directory to write (created)"},
                {"seed", "S", "random seed (default 0)"},
                {"tokenizer", "",
                 "also write a byte-level tokenizer.json (raises vocab_size from 256 to " +
                     std::to_string(v4::kTinyTokenizerVocab) +
                     " to hold it: a deviation from v4-model.md §6 for end-to-end runs)"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  auto out = args.get("out");
  if (!out && args.positional().size() == 1) out = args.positional()[0];  // make-tiny DIR
  if (!out) return fail("v4 make-tiny: --out is required", kExitBadInput);
  auto seed = args.get_int("seed", 0, 0);
  if (!seed.ok()) return fail(seed.status().message(), kExitBadInput);
  const bool with_tokenizer = args.has("tokenizer");
  Json config = v4::tiny_config_json();
  if (with_tokenizer) config["vocab_size"] = v4::kTinyTokenizerVocab;
  Status s = v4::write_random_checkpoint(*out, config, uint64_t(*seed));
  if (!s.ok()) return fail("v4 make-tiny: " + s.message(), exit_code_for(s));
  if (with_tokenizer) {
    std::ofstream f(*out + "/tokenizer.json", std::ios::binary | std::ios::trunc);
    f << v4::tiny_tokenizer_json().dump(1) << "\n";
    f.close();
    if (!f) return fail("v4 make-tiny: cannot write " + *out + "/tokenizer.json", kExitFailure);
  }
  std::fprintf(stderr, "v4eval: wrote the tiny checkpoint to %s (%s)\n", out->c_str(),
               with_tokenizer ? "with a byte-level tokenizer.json, vocab_size 263"
                              : "no tokenizer: `--tokenizer` adds one");
  return kExitOk;
}

// "1,2,3" -> ids; InvalidArgument naming the flag.
Result<std::vector<int64_t>> int_list(const std::string& flag, const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    try {
      size_t used = 0;
      long long v = std::stoll(item, &used);
      if (used != item.size() || v < 0) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      return InvalidArgument("--" + flag + ": '" + item + "' is not a non-negative integer");
    }
  }
  if (out.empty()) return InvalidArgument("--" + flag + " is empty");
  return out;
}

int cmd_v4_forward(const Argv& argv) {
  Args args("v4 forward",
            "--checkpoint DIR (--tokens 0,15,27 | --text T) [--chunks 150,84] [--all-logits] "
            "[--top K] [--json]",
            {
                {"checkpoint", "DIR", "checkpoint directory"},
                {"tokens", "LIST", "token ids, comma-separated"},
                {"ids", "LIST", "the same as --tokens"},
                {"text", "T", "tokenize T with the checkpoint's tokenizer.json (no BOS added)"},
                {"chunks", "LIST",
                 "prefill in chunks of these sizes, the remaining tokens one at a time (decode); "
                 "default: one prefill"},
                {"device", "cpu|cuda", "engine (default cpu; cuda is not built yet)"},
                {"all-logits", "", "JSON: add \"logits\", every position's logits"},
                {"top", "K", "tokens listed per position (default 5)"},
                {"json", "", "cli.md JSON on stdout instead of the per-position table"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  auto dir = args.get("checkpoint");
  if (!dir) return fail("v4 forward: --checkpoint is required", kExitBadInput);
  if (args.get("device").value_or("cpu") != "cpu")
    return fail("v4 forward: only --device cpu is available in this build", kExitBadInput);
  auto top = args.get_int("top", 5, 1);
  if (!top.ok()) return fail(top.status().message(), kExitBadInput);
  const int given = int(args.has("tokens")) + int(args.has("ids")) + int(args.has("text"));
  if (given != 1) return fail("v4 forward: give exactly one of --tokens or --text", kExitBadInput);
  std::vector<uint32_t> ids;
  if (args.has("text")) {
    auto tok = load_tokenizer(args);
    if (!tok.ok()) return fail("v4 forward: " + tok.status().message(), exit_code_for(tok.status()));
    ids = (*tok)->encode(*args.get("text"));
    if (ids.empty()) return fail("v4 forward: --text gives no tokens", kExitBadInput);
  } else {
    const std::string flag = args.has("tokens") ? "tokens" : "ids";
    auto list = int_list(flag, *args.get(flag));
    if (!list.ok()) return fail("v4 forward: " + list.status().message(), kExitBadInput);
    for (int64_t v : *list) ids.push_back(static_cast<uint32_t>(std::min<int64_t>(v, UINT32_MAX)));
  }
  std::vector<int64_t> chunks{static_cast<int64_t>(ids.size())};
  if (auto c = args.get("chunks")) {
    auto list = int_list("chunks", *c);
    if (!list.ok()) return fail("v4 forward: " + list.status().message(), kExitBadInput);
    chunks = *list;
  }
  auto model = v4::Model::load(*dir);
  if (!model.ok()) return fail("v4 forward: " + model.status().message(), exit_code_for(model.status()));
  auto seq = (*model)->new_sequence();
  const int64_t V = (*model)->config().vocab_size;
  std::vector<float> logits;
  logits.reserve(ids.size() * static_cast<size_t>(V));
  const auto t0 = std::chrono::steady_clock::now();
  size_t at = 0;
  for (size_t c = 0; at < ids.size(); ++c) {
    size_t n = c < chunks.size() ? static_cast<size_t>(std::max<int64_t>(chunks[c], 1)) : 1;
    n = std::min(n, ids.size() - at);
    auto r = seq->prefill(std::span<const uint32_t>(ids.data() + at, n), v4::LogitRows::kAll);
    if (!r.ok()) return fail("v4 forward: " + r.status().message(), exit_code_for(r.status()));
    logits.insert(logits.end(), r->values.begin(), r->values.end());
    at += n;
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "v4eval: %zu tokens in %.1f ms (%.1f tokens/s)\n", ids.size(), ms,
               1000.0 * double(ids.size()) / ms);

  // Per position: argmax, the top K, mean and standard deviation of the logits.
  const auto K = static_cast<size_t>(std::min<int64_t>(*top, V));
  std::vector<uint32_t> order(static_cast<size_t>(V));
  Json argmax = Json::array(), positions = Json::array();
  for (size_t p = 0; p < ids.size(); ++p) {
    const float* row = logits.data() + p * static_cast<size_t>(V);
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
    std::partial_sort(order.begin(), order.begin() + static_cast<long>(K), order.end(),
                      [&](uint32_t a, uint32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < V; ++i) sum += row[i], sq += double(row[i]) * row[i];
    const double mean = sum / double(V), sd = std::sqrt(std::max(0.0, sq / double(V) - mean * mean));
    Json topk = Json::array();
    for (size_t i = 0; i < K; ++i) topk.push_back({order[i], row[order[i]]});
    argmax.push_back(order[0]);
    positions.push_back({{"id", ids[p]}, {"top", topk}, {"mean", mean}, {"std", sd}});
  }
  if (args.has("json")) {
    const float* last = logits.data() + (ids.size() - 1) * static_cast<size_t>(V);
    Json out = {{"vocab_size", V}, {"argmax", argmax},
                {"last_logits", std::vector<float>(last, last + V)}, {"positions", positions}};
    if (args.has("all-logits")) {
      Json all = Json::array();
      for (size_t p = 0; p < ids.size(); ++p) {
        const float* row = logits.data() + p * static_cast<size_t>(V);
        all.push_back(std::vector<float>(row, row + V));
      }
      out["logits"] = std::move(all);
    }
    std::cout << out.dump() << "\n";
    return kExitOk;
  }
  std::printf("%6s %8s %10s %9s  top %zu (id:logit)\n", "pos", "id", "mean", "std", K);
  for (size_t p = 0; p < ids.size(); ++p) {
    const Json& j = positions[p];
    std::printf("%6zu %8u %10.4f %9.4f ", p, ids[p], j["mean"].get<double>(), j["std"].get<double>());
    for (const Json& t : j["top"])
      std::printf(" %u:%.4f", t[0].get<uint32_t>(), t[1].get<double>());
    std::printf("\n");
  }
  return kExitOk;
}

int cmd_v4_generate(const Argv& argv) {
  Args args("v4 generate",
            "--checkpoint DIR --prompt TEXT [--mode non-think|think-high|think-max] "
            "[--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--stop S] "
            "[--max-context N] [--json]",
            {
                {"checkpoint", "DIR", "checkpoint directory (with tokenizer.json)"},
                {"prompt", "TEXT", "the user message"},
                {"mode", "M", "non-think (default), think-high or think-max"},
                {"max-tokens", "N", "generated tokens at most (default 256)"},
                {"temperature", "T", "sampling temperature (default: generation_config.json; 0 greedy)"},
                {"top-p", "P", "nucleus sampling mass"},
                {"seed", "S", "sampling seed (default 0)"},
                {"stop", "S", "stop string (repeatable)", true},
                {"max-context", "N", "context window (default: max_position_embeddings)"},
                {"device", "cpu|cuda", "engine (default cpu)"},
                {"json", "", "print the generation as JSON"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  auto dir = args.get("checkpoint");
  auto prompt = args.get("prompt");
  if (!dir || !prompt) return fail("v4 generate: --checkpoint and --prompt are required", kExitBadInput);
  Spec spec;
  spec.kind = "v4";
  spec.options.push_back({"checkpoint", *dir});
  spec.options.push_back({"device", args.get("device").value_or("cpu")});
  if (auto c = args.get("max-context")) spec.options.push_back({"max_context", *c});
  auto backend = make_v4_backend(spec);
  if (!backend.ok())
    return fail("v4 generate: " + backend.status().message(), exit_code_for(backend.status()));
  GenerationRequest request;
  request.messages = std::make_shared<const Messages>(Messages{{"user", *prompt}});
  auto mode = parse_mode(args.get("mode").value_or("non-think"));
  if (!mode) return fail("v4 generate: unknown --mode", kExitBadInput);
  request.mode = *mode;
  auto max_tokens = args.get_int("max-tokens", 256, 1);
  auto seed = args.get_int("seed", 0, 0);
  auto temperature = args.get_double("temperature");
  auto top_p = args.get_double("top-p");
  for (const Status* s : {&max_tokens.status(), &seed.status(), &temperature.status(), &top_p.status()})
    if (!s->ok()) return fail("v4 generate: " + s->message(), kExitBadInput);
  request.max_tokens = *max_tokens;
  request.seed = static_cast<uint64_t>(*seed);
  request.temperature = *temperature;
  request.top_p = *top_p;
  request.stop = args.all("stop");
  Generation g = (*backend)->generate(request, CallContext{});
  if (g.error) return fail("v4 generate: " + g.error->message, kExitFailure);
  if (args.has("json")) {
    Json out = {{"text", g.text}, {"reasoning", g.reasoning}, {"finish_reason", g.finish_reason},
                {"prompt_tokens", g.prompt_tokens}, {"completion_tokens", g.completion_tokens},
                {"reasoning_tokens", g.reasoning_tokens}, {"latency_ms", g.latency_ms},
                {"time_to_first_token_ms", g.time_to_first_token_ms}};
    // Generated bytes of a random model need not be valid UTF-8.
    std::cout << out.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    if (!g.reasoning.empty()) std::cout << "<think>" << g.reasoning << "</think>\n";
    std::cout << g.text << "\n";
  }
  std::fprintf(stderr, "v4eval: %lld prompt + %lld generated tokens in %.1f ms (finish: %s)\n",
               static_cast<long long>(g.prompt_tokens), static_cast<long long>(g.completion_tokens),
               g.latency_ms, g.finish_reason.c_str());
  return kExitOk;
}

}  // namespace

int cmd_v4(const Argv& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    std::fputs(kV4Usage, argv.empty() ? stderr : stdout);
    return argv.empty() ? kExitBadInput : kExitOk;
  }
  Argv rest(argv.begin() + 1, argv.end());
  if (argv[0] == "tokenize") return cmd_v4_tokenize(rest);
  if (argv[0] == "make-tiny") return cmd_v4_make_tiny(rest);
  if (argv[0] == "forward") return cmd_v4_forward(rest);
  if (argv[0] == "generate") return cmd_v4_generate(rest);
  return fail("v4: unknown subcommand '" + argv[0] + "' (see v4eval v4 --help)", kExitBadInput);
}

}  // namespace v4eval::cli
