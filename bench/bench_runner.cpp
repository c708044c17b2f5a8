// Attempts per second through the whole path a replay run takes: runner scheduling, the replay
// backend, MRCR grading (o200k token count once per sample + CPython-exact difflib) and one
// SQLite transaction per attempt. Short answers, as in a CI regression run.
//
//   bench_runner [--samples N] [--repeats R] [--concurrency C]
// Prints attempts/s, and the same run with grading alone (no store) for reference.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "backends/backend.h"
#include "harness/runner.h"
#include "suites/mrcr/mrcr_suite.h"
#include "suites/mrcr/synthetic.h"
#include "suites/suite.h"

using namespace v4eval;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int samples = 200, repeats = 4, concurrency = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--samples")) samples = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--concurrency")) concurrency = std::atoi(argv[i + 1]);
  }
  char tmpl[] = "/tmp/v4eval-bench-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  std::string data = (dir / "mrcr.jsonl").string(), replay = (dir / "replay.jsonl").string();
  {
    std::ofstream d(data), r(replay);
    for (int i = 0; i < samples; ++i) {
      mrcr::SyntheticOptions o;
      o.n_needles = 2 << (i % 3);
      o.target_tokens = 4500;
      o.seed = uint64_t(i);
      Json row = mrcr::make_synthetic_row(o);
      d << row.dump() << "\n";
      // A short answer: the prefix and the first 120 bytes of the gold reply.
      std::string answer = row["answer"];
      answer = answer.substr(0, std::min<size_t>(answer.size(), 130));
      for (const char* mode : {"non-think", "think-high", "think-max"})
        for (int rep = 0; rep < repeats; ++rep)
          r << Json{{"suite", "mrcr"}, {"sample_id", std::to_string(i)}, {"mode", mode},
                    {"repeat", rep}, {"text", answer}}.dump()
            << "\n";
    }
  }
  std::string err;
  auto suite = make_suite(*parse_spec("mrcr:file=" + data, &err));
  auto t_load = Clock::now();
  if (!suite.ok() || !(*suite)->load(0).ok()) {
    std::fprintf(stderr, "bench: cannot load suite\n");
    return 1;
  }
  double load_s = std::chrono::duration<double>(Clock::now() - t_load).count();
  auto backend = make_backend(*parse_spec("replay:file=" + replay, &err));
  auto store = Store::open((dir / "bench.sqlite").string());
  if (!backend.ok() || !store.ok()) {
    std::fprintf(stderr, "bench: %s\n", (backend.ok() ? store.status() : backend.status()).message().c_str());
    return 1;
  }
  RunInfo run;
  run.name = "bench";
  run.status = "running";
  int64_t run_id = (*store)->create_run(run)->id;

  RunnerOptions options;
  options.modes = {Mode::kNonThink, Mode::kThinkHigh, Mode::kThinkMax};
  options.repeats = repeats;
  options.concurrency = concurrency;
  options.progress = RunnerOptions::Progress::kQuiet;
  Runner runner(**store, **backend, {suite->get()}, options, nullptr);
  auto t0 = Clock::now();
  RunSummary s = runner.run(run_id);
  double run_s = std::chrono::duration<double>(Clock::now() - t0).count();

  // Reference: the grading alone, single-threaded, on the same attempts (no runner, no store).
  auto t1 = Clock::now();
  int64_t graded = 0;
  for (const auto& sample : (*suite)->samples())
    for (Mode m : options.modes)
      for (int rep = 0; rep < repeats; ++rep) {
        GenerationRequest req = (*suite)->make_request(sample, m);
        req.repeat = rep;
        CallContext ctx;
        Generation g = (*backend)->generate(req, ctx);
        graded += (*suite)->grade(sample, req, g).ok();
      }
  double grade_s = std::chrono::duration<double>(Clock::now() - t1).count();

  std::printf("bench_runner: %d MRCR samples (~4.5K tokens each) x 3 modes x %d repeats = %lld attempts, concurrency %d\n",
              samples, repeats, (long long)s.total, concurrency);
  std::printf("  suite load (parse JSONL)          %8.3f s\n", load_s);
  std::printf("  full run (runner+replay+grade+store, first pass incl. o200k counts) %8.3f s  %9.0f attempts/s\n",
              run_s, double(s.graded_now) / run_s);
  std::printf("  grading alone, 1 thread, no store (token counts cached)             %8.3f s  %9.0f attempts/s\n",
              grade_s, double(graded) / grade_s);
  std::printf("  graded %lld, errors %lld\n", (long long)s.graded_now, (long long)s.errors_now);
  fs::remove_all(dir);
  return s.graded_now == s.total ? 0 : 1;
}
