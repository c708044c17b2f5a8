// `v4eval report --html` at scale: builds a store of N attempts (default 10^5: 8,334 MRCR-style
// samples x 3 modes x 4 repeats, ~400-byte answers, reasoning in the thinking modes, a few
// 1M-token-sized prompts among 6 KB ones), then times the real binary writing the report,
// prints the file size, and, when node + Chromium + playwright-core are there, the page's load
// time (to interactive), a filter over all attempts, opening a transcript and the diff view.
//
//   bench_report [--attempts N] [--keep DIR]

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "reports/store.h"

using namespace v4eval;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string words(std::mt19937_64& rng, size_t bytes) {
  static const char* kWords[] = {"the", "quiet", "river", "carried", "a", "lantern", "past", "old",
                                 "stone", "bridges", "while", "poets", "counted", "every", "star",
                                 "above", "sleeping", "towns", "and", "gardens"};
  std::string out;
  while (out.size() < bytes) {
    out += kWords[rng() % 20];
    out += (rng() % 12 == 0) ? ".\n" : " ";
  }
  return out;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  int64_t attempts_wanted = 100000;
  std::string keep;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--attempts")) attempts_wanted = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--keep")) keep = argv[i + 1];
  }
  char tmpl[] = "/tmp/v4eval-bench-report-XXXXXX";
  fs::path dir = keep.empty() ? fs::path(mkdtemp(tmpl)) : fs::path(keep);
  fs::create_directories(dir);
  std::string db = (dir / "bench.sqlite").string(), html = (dir / "report.html").string();
  fs::remove(db);
  const int repeats = 4, modes = 3;
  const int64_t samples = (attempts_wanted + repeats * modes - 1) / (repeats * modes);

  auto t_fill = Clock::now();
  {
    auto store = Store::open(db);
    if (!store.ok()) {
      std::fprintf(stderr, "bench: %s\n", store.status().message().c_str());
      return 1;
    }
    RunInfo run;
    run.name = "bench";
    run.spec = {{"suites", {"mrcr:file=bench.jsonl"}}, {"backend", "replay:file=bench.replay.jsonl"},
                {"judge", nullptr}, {"modes", {"non-think", "think-high", "think-max"}},
                {"repeats", repeats}, {"max_tokens", 0}, {"temperature", nullptr},
                {"top_p", nullptr}, {"seed", nullptr}};
    run.suite_versions = {{"mrcr", {{"version", "1"}, {"data_hash", "bench"}}}};
    run.backend = "replay:file=bench.replay.jsonl";
    run.model = "bench-model";
    run.started_at = now_iso8601();
    run.status = "complete";
    auto created = (*store)->create_run(run);
    if (!created.ok()) return 1;
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(0, 1);
    static const char* kBins[] = {"8k", "16k", "32k", "64k", "128k", "256k", "512k", "1m"};
    for (int64_t s = 0; s < samples; ++s) {
      // Every 1,000th sample has a 1M-token-sized prompt (4 MB over 200 messages).
      bool huge = s % 1000 == 7;
      Messages prompt;
      int n_messages = huge ? 200 : 6;
      for (int m = 0; m < n_messages; ++m)
        prompt.push_back({m % 2 ? "assistant" : "user", words(rng, huge ? 20000 : 1000)});
      std::string sample = std::to_string(s);
      int needles = 2 << (s % 3);
      int bin = huge ? 7 : int(s % 7);
      for (int mode = 0; mode < modes; ++mode)
        for (int r = 0; r < repeats; ++r) {
          AttemptRecord a;
          a.key = {"mrcr", sample, Mode(mode), r};
          a.prompt_hash = "bench-prompt-" + sample;
          a.request_hash = "bench-req-" + sample + "-" + std::to_string(mode) + "-" + std::to_string(r);
          a.generation.text = "aB3dE5gH7j" + words(rng, 300 + rng() % 200);
          if (mode > 0) a.generation.reasoning = words(rng, 800 + rng() % 800);
          a.generation.finish_reason = u(rng) < 0.01 ? "length" : "stop";
          a.generation.prompt_tokens = huge ? 1000000 : 1500;
          a.generation.completion_tokens = 100 + int64_t(rng() % 100);
          a.generation.reasoning_tokens = mode == 0 ? 0 : 200 * mode + int64_t(rng() % 300);
          a.generation.latency_ms = 500 + 1000 * mode + 300 * u(rng);
          a.tries = 1;
          if (u(rng) < 0.005) {
            a.error = "HTTP 503 Service Unavailable from https://api.example/v1";
            a.error_stage = "generate";
          } else {
            double skill = 0.5 + 0.15 * mode - 0.05 * needles / 2.0;
            double x = u(rng);
            double score = x < skill ? 1.0 : x < skill + 0.2 ? u(rng) : 0.0;
            a.score = Score{score, score == 1.0 ? "exact" : score == 0.0 ? "no_prefix" : "partial",
                            {{"ratio", score}, {"prefix_ok", score > 0}, {"tokens", huge ? 1000000 : 1500 + s % 4000},
                             {"bin", kBins[bin]}, {"n_needles", needles}}};
          }
          bool first = mode == 0 && r == 0;
          if (auto st = (*store)->record_attempt(created->id, a, first ? &prompt : nullptr); !st.ok()) {
            std::fprintf(stderr, "bench: %s\n", st.message().c_str());
            return 1;
          }
        }
    }
  }
  double fill_s = seconds_since(t_fill);
  int64_t total = samples * repeats * modes;
  std::printf("bench_report: %lld attempts (%lld samples x %d modes x %d repeats) stored in %.1f s; database %.1f MB\n",
              (long long)total, (long long)samples, modes, repeats, fill_s,
              double(fs::file_size(db)) / 1e6);

  auto t_html = Clock::now();
  std::string cmd = std::string("'") + V4EVAL_BIN + "' report --db '" + db + "' --html '" + html + "' 2>/dev/null";
  int rc = std::system(cmd.c_str());
  double html_s = seconds_since(t_html);
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    std::fprintf(stderr, "bench: v4eval report --html failed\n");
    return 1;
  }
  std::printf("bench_report: v4eval report --html: %.2f s, file %.1f MB (%.0f bytes per attempt)\n", html_s,
              double(fs::file_size(html)) / 1e6, double(fs::file_size(html)) / double(total));

  std::string browser = std::string("cd '") + V4EVAL_SOURCE_DIR + "' && node tests/tools/report_browser.mjs --bench --html '" + html + "' > '" +
                        (dir / "browser.json").string() + "' 2>&1";
  rc = std::system(browser.c_str());
  std::ifstream in(dir / "browser.json");
  std::string line;
  std::getline(in, line);
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 0)
    std::printf("bench_report: headless Chromium: %s\n", line.c_str());
  else
    std::printf("bench_report: page load not measured (%s)\n", line.c_str());
  if (keep.empty()) fs::remove_all(dir);
  return 0;
}
