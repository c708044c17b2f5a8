// `v4eval show`: one attempt in full.

#include <cstdio>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "reports/store.h"

namespace v4eval::cli {

Result<std::vector<RunInfo>> select_runs(Store& store, const std::vector<std::string>& names);

namespace {

// Long prompts (MRCR reaches 1M tokens) are folded unless --full.
std::string fold(const std::string& s, bool full) {
  const size_t kKeep = 600;
  if (full || s.size() <= 2 * kKeep) return s;
  size_t head = kKeep, tail = s.size() - kKeep;
  while (head < s.size() && (s[head] & 0xC0) == 0x80) ++head;  // whole UTF-8 characters
  while (tail < s.size() && (s[tail] & 0xC0) == 0x80) ++tail;
  return s.substr(0, head) + "\n[... " + std::to_string(tail - head) + " bytes folded; --full shows all ...]\n" +
         s.substr(tail);
}

}  // namespace

int cmd_show(const Argv& argv) {
  Args args("show", "--suite NAME --sample ID [--run NAME] [--mode M] [--repeat R] [--json]",
            {
                {"db", "FILE", "SQLite store (default ./v4eval.sqlite)"},
                {"run", "NAME", "run (default: the only/latest run in the file)"},
                {"suite", "NAME", "suite name"},
                {"sample", "ID", "sample id"},
                {"mode", "M", "mode (default non-think)"},
                {"repeat", "R", "repeat index (default 0)"},
                {"full", "", "do not fold long prompt messages"},
                {"json", "", "print the attempt as JSON"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  if (!args.get("suite") || !args.get("sample"))
    return fail("show: --suite and --sample are required", kExitBadInput);
  auto mode = parse_mode(args.get("mode").value_or("non-think"));
  if (!mode) return fail("show: unknown --mode", kExitBadInput);
  auto repeat = args.get_int("repeat", 0, 0);
  if (!repeat.ok()) return fail(repeat.status().message(), kExitBadInput);
  std::string db_path = args.get("db").value_or("v4eval.sqlite");
  auto store = Store::open(db_path, true);
  if (!store.ok()) return fail(store.status().message(), kExitBadInput);
  std::vector<std::string> names;
  if (auto r = args.get("run")) names.push_back(*r);
  auto runs = select_runs(**store, names);
  if (!runs.ok()) return fail(runs.status().message(), kExitBadInput);
  if (runs->empty()) return fail("no runs in " + db_path, kExitBadInput);
  const RunInfo& run = runs->back();
  AttemptKey key{*args.get("suite"), *args.get("sample"), *mode, int(*repeat)};
  auto attempt = (*store)->attempt(run.id, key);
  if (!attempt.ok()) return fail(attempt.status().message(), kExitFailure);
  if (!attempt->has_value())
    return fail("run '" + run.name + "' has no attempt suite=" + key.suite + " sample=" +
                    key.sample_id + " mode=" + std::string(mode_name(key.mode)) +
                    " repeat=" + std::to_string(key.repeat),
                kExitBadInput);
  const AttemptRecord& a = **attempt;
  auto prompt = (*store)->prompt(a.prompt_hash);
  if (!prompt.ok()) return fail(prompt.status().message(), kExitFailure);

  if (args.has("json")) {
    Json messages = Json::array();
    if (prompt->has_value())
      for (const auto& m : **prompt) messages.push_back({{"role", m.role}, {"content", m.content}});
    Json out = {{"run", run.name},
                {"suite", a.key.suite},
                {"sample_id", a.key.sample_id},
                {"mode", mode_name(a.key.mode)},
                {"repeat", a.key.repeat},
                {"prompt", messages},
                {"reasoning", a.generation.reasoning},
                {"text", a.generation.text},
                {"finish_reason", a.generation.finish_reason},
                {"score", a.score ? Json(a.score->value) : Json()},
                {"verdict", a.score ? Json(a.score->verdict) : Json()},
                {"details", a.score ? a.score->details : Json::object()},
                {"error", a.error},
                {"error_stage", a.error_stage},
                {"tries", a.tries},
                {"prompt_tokens", a.generation.prompt_tokens},
                {"completion_tokens", a.generation.completion_tokens},
                {"latency_ms", a.generation.latency_ms}};
    std::printf("%s\n", json_text(out, 2).c_str());
    return kExitOk;
  }
  bool full = args.has("full");
  std::printf("run %s | %s sample %s | %s | repeat %d | tries %d\n", run.name.c_str(),
              a.key.suite.c_str(), a.key.sample_id.c_str(), std::string(mode_name(a.key.mode)).c_str(),
              a.key.repeat, a.tries);
  if (prompt->has_value()) {
    std::printf("\n=== prompt (%zu messages)\n", (*prompt)->size());
    for (const auto& m : **prompt)
      std::printf("--- %s\n%s\n", m.role.c_str(), fold(m.content, full).c_str());
  }
  if (!a.generation.reasoning.empty())
    std::printf("\n=== reasoning\n%s\n", a.generation.reasoning.c_str());
  std::printf("\n=== answer (finish_reason %s)\n%s\n", a.generation.finish_reason.c_str(),
              a.generation.text.c_str());
  if (a.score)
    std::printf("\n=== grade\nscore %.6f verdict %s\ndetails %s\n", a.score->value,
                a.score->verdict.c_str(), json_text(a.score->details, 2).c_str());
  if (!a.error.empty())
    std::printf("\n=== error (%s)\n%s\n", a.error_stage.c_str(), a.error.c_str());
  return kExitOk;
}

}  // namespace v4eval::cli
