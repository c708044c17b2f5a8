// `v4eval v4 <sub>`: the built-in DeepSeek-V4 engine's pieces from the command line (cli.md).
// Implemented so far: `tokenize`, `make-tiny`.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "backends/v4/config.h"
#include "backends/v4/tokenizer.h"
#include "backends/v4/weights.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"

namespace v4eval::cli {
namespace {

constexpr const char* kV4Usage = R"(usage: v4eval v4 <subcommand> [flags]   (--help for its flags)

subcommands:
  tokenize   token ids of a text with the DeepSeek tokenizer (no BOS added)
  make-tiny  write the tiny random test checkpoint (v4-model.md §6) in the official format
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
  Args args("v4 make-tiny", "--out DIR [--seed S]",
            {
                {"out", "DIR", "directory to write (created)"},
                {"seed", "S", "random seed (default 0)"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  auto out = args.get("out");
  if (!out) return fail("v4 make-tiny: --out is required", kExitBadInput);
  auto seed = args.get_int("seed", 0, 0);
  if (!seed.ok()) return fail(seed.status().message(), kExitBadInput);
  Status s = v4::write_random_checkpoint(*out, v4::tiny_config_json(), uint64_t(*seed));
  if (!s.ok()) return fail("v4 make-tiny: " + s.message(), exit_code_for(s));
  std::fprintf(stderr, "v4eval: wrote the tiny checkpoint to %s (no tokenizer files yet)\n",
               out->c_str());
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
  return fail("v4: unknown subcommand '" + argv[0] + "' (see v4eval v4 --help)", kExitBadInput);
}

}  // namespace v4eval::cli
