// `v4eval gen-mrcr`: synthetic rows in the openai/mrcr schema (no real MRCR data is available
// offline), plus an optional replay file of simulated answers for demos and tests.

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "suites/mrcr/synthetic.h"

namespace v4eval::cli {
namespace {

Result<std::vector<int64_t>> int_list(const std::string& flag, const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string piece;
  while (std::getline(ss, piece, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stoll(piece, &used));
      if (used != piece.size() || out.back() <= 0) throw std::invalid_argument(piece);
    } catch (const std::exception&) {
      return InvalidArgument("--" + flag + ": expected positive integers, got '" + text + "'");
    }
  }
  if (out.empty()) return InvalidArgument("--" + flag + " is empty");
  return out;
}

// A simulated model answer: exact, a degraded copy, or one without the prefix. `skill` in
// [0,1] shifts the mix towards exact answers (higher reasoning modes answer better).
std::string simulated_answer(const std::string& answer, const std::string& prefix, double skill,
                             std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  std::string reply = answer.substr(prefix.size());
  double x = u(rng);
  if (x < 0.15 * (1 - skill)) return reply;  // forgot the prefix: scores 0
  if (x < 0.15 * (1 - skill) + 0.5 * skill + 0.2) return answer;  // exact
  // Degrade: drop and duplicate some words (keeps UTF-8 intact: splits on spaces only).
  std::vector<std::string> words;
  std::stringstream ss(reply);
  std::string w;
  while (std::getline(ss, w, ' ')) words.push_back(w);
  std::string out = prefix;
  for (size_t i = 0; i < words.size(); ++i) {
    double y = u(rng);
    if (y < 0.2) continue;
    out += words[i];
    if (y > 0.9) out += " " + words[i];
    if (i + 1 < words.size()) out += " ";
  }
  return out;
}

}  // namespace

int cmd_gen_mrcr(const Argv& argv) {
  Args args("gen-mrcr", "--out FILE [--needles 2,4,8] [--tokens N,...] [--per-cell K] [--seed S] "
                        "[--replay-out FILE --replay-modes M1,M2]",
            {
                {"out", "FILE", "JSONL to write (openai/mrcr schema)"},
                {"needles", "LIST", "needle counts (default 2,4,8)"},
                {"tokens", "LIST", "target o200k sizes per row (default 6000)"},
                {"per-cell", "K", "rows per (needles, size) cell (default 1)"},
                {"seed", "S", "generator seed (default 0)"},
                {"replay-out", "FILE", "also write simulated answers as a replay file"},
                {"replay-modes", "LIST", "modes of the simulated answers (default non-think)"},
            });
  if (auto s = args.parse(argv); !s.ok()) return fail(s.message(), kExitBadInput);
  if (args.help_requested()) {
    std::fputs(args.usage().c_str(), stdout);
    return kExitOk;
  }
  auto out_path = args.get("out");
  if (!out_path) return fail("gen-mrcr: --out is required", kExitBadInput);
  auto needles = int_list("needles", args.get("needles").value_or("2,4,8"));
  auto tokens = int_list("tokens", args.get("tokens").value_or("6000"));
  auto per_cell = args.get_int("per-cell", 1, 1);
  auto seed = args.get_int("seed", 0, 0);
  for (const Status* s : {&needles.status(), &tokens.status(), &per_cell.status(), &seed.status()})
    if (!s->ok()) return fail(s->message(), kExitBadInput);
  for (int64_t n : *needles)
    if (n != 2 && n != 4 && n != 8) return fail("--needles: MRCR uses 2, 4 or 8", kExitBadInput);
  std::vector<Mode> modes;
  {
    std::stringstream ss(args.get("replay-modes").value_or("non-think"));
    std::string name;
    while (std::getline(ss, name, ',')) {
      auto m = parse_mode(name);
      if (!m) return fail("--replay-modes: unknown mode '" + name + "'", kExitBadInput);
      modes.push_back(*m);
    }
  }

  std::ofstream out(*out_path, std::ios::binary);
  if (!out) return fail("cannot write " + *out_path, kExitFailure);
  std::ofstream replay;
  if (auto r = args.get("replay-out")) {
    replay.open(*r, std::ios::binary);
    if (!replay) return fail("cannot write " + *r, kExitFailure);
  }
  std::mt19937_64 rng(uint64_t(*seed) * 7919 + 17);
  int64_t row_index = 0;
  for (int64_t size : *tokens)
    for (int64_t n : *needles)
      for (int64_t k = 0; k < *per_cell; ++k, ++row_index) {
        mrcr::SyntheticOptions o;
        o.n_needles = int(n);
        o.target_tokens = size;
        o.seed = uint64_t(*seed) * 1000003 + uint64_t(row_index);
        Json row = mrcr::make_synthetic_row(o);
        out << row.dump() << "\n";
        if (replay.is_open()) {
          for (Mode m : modes) {
            double skill = m == Mode::kNonThink ? 0.2 : (m == Mode::kThinkHigh ? 0.6 : 0.8);
            Json line = {{"suite", "mrcr"},
                         {"sample_id", std::to_string(row_index)},
                         {"mode", mode_name(m)},
                         {"repeat", 0},
                         {"text", simulated_answer(row["answer"], row["random_string_to_prepend"],
                                                   skill, rng)}};
            replay << line.dump() << "\n";
          }
        }
      }
  out.close();
  if (!out) return fail("writing " + *out_path + " failed", kExitFailure);
  std::fprintf(stderr, "v4eval: wrote %lld MRCR rows to %s\n", (long long)row_index,
               out_path->c_str());
  return kExitOk;
}

}  // namespace v4eval::cli
