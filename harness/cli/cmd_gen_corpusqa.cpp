// `v4eval gen-corpusqa`: synthetic CorpusQA-format rows (no real data is available offline),
// plus optional recorded answers and recorded judge verdicts (replay files) for demos and tests.

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "suites/corpusqa/synthetic.h"

namespace v4eval::cli {

int cmd_gen_corpusqa(const Argv& argv) {
  Args args("gen-corpusqa",
            "--out FILE [--tokens 128000,1000000] [--per-size K] [--seed S] "
            "[--replay-out FILE --judge-replay-out FILE]",
            {
                {"out", "FILE", "JSONL to write (CorpusQA row layout)"},
                {"tokens", "LIST", "prompt sizes in o200k tokens (default 128000)"},
                {"per-size", "K", "rows per size (default 3: easy, medium, hard)"},
                {"seed", "S", "generator seed (default 0)"},
                {"replay-out", "FILE", "also write simulated model answers (replay file)"},
                {"judge-replay-out", "FILE", "and the judge's recorded verdicts for them"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  auto out_path = args.get("out");
  if (!out_path) return fail("gen-corpusqa: --out is required", kExitBadInput);
  std::vector<int64_t> sizes;
  {
    std::stringstream ss(args.get("tokens").value_or("128000"));
    std::string piece;
    while (std::getline(ss, piece, ',')) {
      try {
        sizes.push_back(std::stoll(piece));
      } catch (...) {
        return fail("--tokens: expected integers", kExitBadInput);
      }
      if (sizes.back() < 2000) return fail("--tokens: sizes start at 2000", kExitBadInput);
    }
  }
  auto per = args.get_int("per-size", 3, 1);
  auto seed = args.get_int("seed", 0, 0);
  if (!per.ok()) return fail(per.status().message(), kExitBadInput);
  if (!seed.ok()) return fail(seed.status().message(), kExitBadInput);
  if (args.get("judge-replay-out") && !args.get("replay-out"))
    return fail("--judge-replay-out needs --replay-out", kExitBadInput);

  std::ofstream out(*out_path, std::ios::binary), replay, judge;
  if (!out) return fail("cannot write " + *out_path, kExitFailure);
  if (auto r = args.get("replay-out")) replay.open(*r, std::ios::binary);
  if (auto j = args.get("judge-replay-out")) judge.open(*j, std::ios::binary);
  std::mt19937_64 rng(uint64_t(*seed) + 99);
  int64_t rows = 0;
  for (int64_t size : sizes)
    for (int64_t k = 0; k < *per; ++k, ++rows) {
      corpusqa::SyntheticOptions o;
      o.target_tokens = size;
      o.seed = uint64_t(*seed) * 1000 + uint64_t(rows);
      Json row = corpusqa::make_synthetic_row(o);
      out << row.dump() << "\n";
      if (!replay.is_open()) continue;
      // Two in three answers right; the rest a plausible wrong value or no marker at all.
      std::string gold = row["answer"];
      int kind = int(rng() % 6);
      std::string answer = kind < 4 ? gold : kind == 4 ? std::string("[\"NONE\"]") : "";
      std::string text = "I went through every document and aggregated the figures.\n" +
                         (answer.empty() ? std::string("I could not determine the answer.")
                                         : "The answer is: " + answer);
      replay << Json{{"suite", "corpusqa"}, {"sample_id", row["id"]}, {"text", text}}.dump()
             << "\n";
      if (judge.is_open()) {
        bool same = answer == gold;
        std::string verdict = std::string("1) Answer 1 ") + (same ? "matches" : "differs from") +
                              " Answer 2.\n2) " + (same ? "[[YES]]" : "[[NO]]");
        judge << Json{{"suite", "corpusqa"}, {"sample_id", row["id"]}, {"text", verdict}}.dump()
              << "\n";
      }
    }
  out.close();
  if (!out) return fail("writing " + *out_path + " failed", kExitFailure);
  std::fprintf(stderr, "v4eval: wrote %lld CorpusQA rows to %s\n", (long long)rows,
               out_path->c_str());
  return kExitOk;
}

}  // namespace v4eval::cli
