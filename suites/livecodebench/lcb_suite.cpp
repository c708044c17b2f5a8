// LiveCodeBench code generation. References (LiveCodeBench @ 28fef95): benchmarks/
// code_generation.py (rows, tests = public + private), prompts/code_generation.py (prompts),
// utils/extraction_utils.py (extract_code), evaluation/testing_util.py and
// compute_code_generation_metrics.py (grading), evaluation/pass_k_utils.py and
// compute_scores.py (pass@k, windows, per difficulty), runner/parser.py (sampling defaults),
// ERRATA.md. Restated in shared/design/suites.md §1.

#include "suites/livecodebench/lcb_suite.h"

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "harness/hash.h"
#include "harness/stats.h"
#include "sandbox/sandbox.h"
#include "suites/livecodebench/lcb_data.h"
#include "suites/livecodebench/lcb_grader.h"
#include "suites/livecodebench/lcb_prompt.h"

namespace v4eval::embedded {
std::string_view lcb_reference_driver();
}  // namespace v4eval::embedded

namespace v4eval::lcb {

std::string_view driver_source() { return embedded::lcb_reference_driver(); }

namespace {

// Bumped when prompts, extraction, grading or the driver change.
constexpr const char* kVersion = "1";
constexpr const char* kName = "livecodebench";

// compute_code_generation_metrics.codegen_metrics' default k list.
const std::vector<int64_t> kDefaultKs = {1, 5, 10, 20, 40, 50, 75, 100, 125, 150, 200, 500, 1000};

const std::set<std::string_view>& errata_ids() {
  static const std::set<std::string_view> ids = {// multiple solutions accepted
                                                 "abc311_c", "abc326_d", "abc327_b", "abc333_e",
                                                 "abc343_e", "abc362_c", "arc185_c", "abc343_a",
                                                 // interactive
                                                 "abc337_e", "abc355_e",
                                                 // erroneous tests
                                                 "abc350_c", "arc189_a"};
  return ids;
}

const std::set<std::string_view>& errata_titles() {
  static const std::set<std::string_view> titles = {
      "find-words-containing-character", "find-the-peaks",
      "generate-binary-strings-without-adjacent-zeros", "apply-operations-to-make-string-empty",
      "most-frequent-ids"};
  return titles;
}

struct Sampling {
  std::optional<double> temperature, top_p;
  int64_t max_tokens = 0;
};

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= v.size()) {
    size_t c = v.find_first_of(",+", pos);
    std::string item = v.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
    if (!item.empty()) out.push_back(item);
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  return out;
}

// Decoded tests of a problem, shared by the attempts graded concurrently and kept for a while:
// the repeats of one problem are scheduled together, and a problem's private tests can be large.
class TestsCache {
 public:
  using Tests = std::shared_ptr<const std::vector<Test>>;
  explicit TestsCache(uint64_t budget_bytes) : budget_(budget_bytes) {}

  template <class Loader>
  Result<Tests> get(size_t key, Loader&& load) {
    std::unique_lock lock(mu_);
    while (true) {
      auto it = entries_.find(key);
      if (it == entries_.end()) break;
      if (!it->second.loading) {
        it->second.last_use = ++clock_;
        return it->second.tests;
      }
      cv_.wait(lock);
    }
    entries_[key].loading = true;
    lock.unlock();
    Result<std::vector<Test>> loaded = load();
    lock.lock();
    if (!loaded.ok()) {
      entries_.erase(key);
      cv_.notify_all();
      return loaded.status();
    }
    uint64_t bytes = 0;
    for (const auto& t : *loaded) bytes += t.input.size() + t.output.size() + 64;
    auto tests = std::make_shared<const std::vector<Test>>(std::move(*loaded));
    Entry& e = entries_[key];
    e.loading = false;
    e.tests = tests;
    e.bytes = bytes;
    e.last_use = ++clock_;
    total_ += bytes;
    evict(key);
    cv_.notify_all();
    return tests;
  }

 private:
  struct Entry {
    Tests tests;
    bool loading = false;
    uint64_t bytes = 0;
    uint64_t last_use = 0;
  };
  void evict(size_t keep) {
    while (total_ > budget_) {
      auto victim = entries_.end();
      for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if (!it->second.loading && it->first != keep &&
            (victim == entries_.end() || it->second.last_use < victim->second.last_use))
          victim = it;
      if (victim == entries_.end()) return;
      total_ -= victim->second.bytes;
      entries_.erase(victim);  // attempts still grading hold their own reference
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<size_t, Entry> entries_;
  uint64_t budget_;
  uint64_t total_ = 0;
  uint64_t clock_ = 0;
};

class LcbSuite final : public DataSuite {
 public:
  explicit LcbSuite(Spec spec) : spec_(std::move(spec)), doc_(livecodebench_doc()) {}

  Status configure() {
    for (const auto& [k, v] : spec_.options) {
      if (k == "file") {
        file_ = v;
      } else if (k == "release") {
        release_ = v;
      } else if (k == "start" || k == "end") {
        auto d = parse_day(v, k);
        if (!d.ok()) return d.status();
        (k == "start" ? filter_.start : filter_.end) = *d;
      } else if (k == "platform") {
        filter_.platforms = split_list(v);
        for (const auto& p : filter_.platforms)
          if (p != "leetcode" && p != "atcoder" && p != "codeforces")
            return InvalidArgument(std::string(kName) +
                                   ": platform must be leetcode, atcoder or codeforces, got '" + p +
                                   "'");
      } else if (k == "difficulty") {
        filter_.difficulties = split_list(v);
        for (const auto& d : filter_.difficulties)
          if (d != "easy" && d != "medium" && d != "hard")
            return InvalidArgument(std::string(kName) +
                                   ": difficulty must be easy, medium or hard, got '" + d + "'");
      } else if (k == "style") {
        auto s = parse_prompt_style(v);
        if (!s.ok()) return s.status();
        style_ = *s;
      } else if (k == "tests") {
        if (v != "all" && v != "public")
          return InvalidArgument(std::string(kName) + ": tests must be all or public, got '" + v +
                                 "'");
        public_only_ = v == "public";
      } else if (k == "runner") {
        if (v != "reference" && v != "script")
          return InvalidArgument(std::string(kName) +
                                 ": runner must be reference or script, got '" + v + "'");
        grader_.runner =
            v == "script" ? GraderOptions::Runner::kScript : GraderOptions::Runner::kReference;
      } else if (k == "timeout_s") {
        auto x = option_integer(kName, k, v, 1, 3600);
        if (!x.ok()) return x.status();
        grader_.timeout_s = int(*x);
      } else if (k == "clock") {
        if (v != "wall" && v != "cpu")
          return InvalidArgument(std::string(kName) + ": clock must be wall or cpu, got '" + v +
                                 "'");
        grader_.cpu_clock = v == "cpu";
      } else if (k == "memory_mb") {
        auto x = option_integer(kName, k, v, 16, 1 << 20);
        if (!x.ok()) return x.status();
        grader_.memory_bytes = *x << 20;
      } else if (k == "stack_mb") {
        auto x = option_integer(kName, k, v, 1, 1 << 20);
        if (!x.ok()) return x.status();
        grader_.stack_bytes = *x << 20;
      } else if (k == "temperature") {
        auto x = option_number(kName, k, v, 0, 10);
        if (!x.ok()) return x.status();
        temperature_ = *x;
      } else if (k == "top_p") {
        auto x = option_number(kName, k, v, 1e-9, 1);
        if (!x.ok()) return x.status();
        top_p_ = *x;
      } else if (k == "max_tokens") {
        auto x = option_integer(kName, k, v, 1, int64_t(1) << 40);
        if (!x.ok()) return x.status();
        max_tokens_ = *x;
      } else if (k == "k") {
        ks_.clear();
        for (const auto& item : split_list(v)) {
          auto x = option_integer(kName, k, item, 1, 1000000);
          if (!x.ok()) return x.status();
          ks_.push_back(*x);
        }
        std::sort(ks_.begin(), ks_.end());
        ks_.erase(std::unique(ks_.begin(), ks_.end()), ks_.end());
        if (ks_.empty() || ks_.front() != 1) ks_.insert(ks_.begin(), 1);
      } else {
        return InvalidArgument(std::string(kName) + ": unknown option '" + k +
                               "' (see `v4eval suites`: file, release, start, end, platform, "
                               "difficulty, style, tests, runner, timeout_s, clock, memory_mb, "
                               "stack_mb, temperature, top_p, max_tokens, k)");
      }
    }
    if (filter_.start && filter_.end && *filter_.start > *filter_.end)
      return InvalidArgument(std::string(kName) + ": start is after end");
    return Status::Ok();
  }

  const SuiteDoc& doc() const override { return doc_; }
  bool needs_sandbox() const override { return true; }
  void set_sandbox(sandbox::Sandbox* sb) override { sandbox_ = sb; }

  Status load(int64_t limit) override {
    if (file_.empty())
      return InvalidArgument(std::string(kName) +
                             " needs file=PATH (a code_generation_lite JSONL "
                             "file, or the directory holding test.jsonl ... test6.jsonl)");
    std::vector<std::string> files;
    std::error_code ec;
    if (std::filesystem::is_directory(file_, ec)) {
      auto f = release_files(file_, release_.empty() ? "release_latest" : release_);
      if (!f.ok()) return f.status();
      files = std::move(*f);
    } else {
      if (!release_.empty())
        return InvalidArgument(std::string(kName) +
                               ": release= selects files from a directory; "
                               "file=" +
                               file_ + " is one file");
      files = {file_};
    }
    Sha256 hash;
    hash.update(std::string(kName) + "-v" + kVersion + "\nstyle " +
                std::string(prompt_style_name(style_)) + "\n" + kSystemMessageGeneric + "\n" +
                question_template("{question}", "{starter}") + "\n" + std::string(driver_source()) +
                "\ntests " + (public_only_ ? "public" : "all") + "\n");
    std::set<std::string> seen;
    for (const auto& path : files) {
      std::ifstream in(path, std::ios::binary);
      if (!in) return NotFound(std::string(kName) + " data " + path + ": cannot open");
      hash.update("file\n");
      std::string line;
      int64_t line_no = 0;
      uint64_t offset = 0;
      while (std::getline(in, line)) {
        ++line_no;
        uint64_t line_offset = offset;
        offset += line.size() + 1;
        hash.update(line);
        hash.update("\n");
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        if (limit > 0 && int64_t(samples_.size()) >= limit) continue;  // enough: only hash the rest
        std::string where = path + ":" + std::to_string(line_no) + ": ";
        Json row;
        try {
          row = Json::parse(line);
        } catch (const Json::parse_error& e) {
          return DataError(where + "malformed JSON: " + e.what());
        }
        auto p = parse_row(row, where);
        if (!p.ok()) return p.status();
        row = Json();
        if (!p->has_private_tests && !public_only_)
          return DataError(where +
                           "no private_test_cases in this row: grading needs them (the "
                           "official rows have them), or give tests=public to grade on the "
                           "public tests only");
        if (!seen.insert(p->question_id).second)
          return DataError(where + "duplicate question_id " + p->question_id);
        if (!filter_.keep(*p)) continue;
        p->file = path;
        p->offset = line_offset;
        p->length = line.size();
        p->line = line_no;
        Sample s;
        s.id = p->question_id;
        s.index = problems_.size();
        s.prompt =
            std::make_shared<Messages>(build_prompt(style_, p->question_content, p->starter_code));
        s.metadata = {{"platform", p->platform},
                      {"difficulty", p->difficulty},
                      {"contest_date", p->contest_date},
                      {"question_title", p->question_title},
                      {"functional", p->fn_name.has_value()},
                      {"public_tests", p->public_tests.size()}};
        samples_.push_back(std::move(s));
        p->question_content.clear();  // in the prompt already
        p->question_content.shrink_to_fit();
        problems_.push_back(std::make_unique<Problem>(std::move(*p)));
      }
      if (in.bad()) return IoError(std::string(kName) + " data " + path + ": read error");
    }
    data_hash_ = hash.hex_digest();
    return Status::Ok();
  }

  GenerationRequest make_request(const Sample& sample, Mode mode) const override {
    GenerationRequest r = base_request(sample, mode, kName);
    // runner/parser.py defaults (T 0.2, top-p 0.95, 2000 tokens; no stop for chat models) for
    // non-think; DeepSeek's stated LCB setting (T 0.6, top-p 0.95, 64K) for the thinking modes.
    bool thinking = mode != Mode::kNonThink;
    r.temperature = temperature_.value_or(thinking ? 0.6 : 0.2);
    r.top_p = top_p_.value_or(0.95);
    r.max_tokens = max_tokens_ > 0 ? max_tokens_ : (thinking ? 65536 : 2000);
    return r;
  }

  Result<Score> grade(const Sample& sample, const GenerationRequest& /*request*/,
                      const Generation& generation) const override {
    if (!sandbox_) return Internal(std::string(kName) + ": no sandbox attached");
    const Problem& p = *problems_.at(sample.index);
    TestsCache::Tests tests;
    if (public_only_ || !p.has_private_tests) {
      tests = std::shared_ptr<const std::vector<Test>>(&p.public_tests,
                                                       [](const std::vector<Test>*) {});
    } else {
      auto loaded = cache_.get(sample.index, [&]() -> Result<std::vector<Test>> {
        auto priv = load_private_tests(p);
        if (!priv.ok()) return priv.status();
        std::vector<Test> all = p.public_tests;
        all.insert(all.end(), std::make_move_iterator(priv->begin()),
                   std::make_move_iterator(priv->end()));
        return all;
      });
      if (!loaded.ok()) return loaded.status();
      tests = *loaded;
    }
    // olmo-eval PR #354: zero decoded tests must never read as a pass.
    if (tests->empty())
      return DataError(std::string(kName) + ": problem " + p.question_id + " has no tests");
    GradeContext ctx;
    ctx.problem = &p;
    ctx.tests = tests.get();
    ctx.n_public = p.public_tests.size();
    ctx.code = extract_code(generation.text);
    ctx.options = grader_;
    auto score = grade_generation(*sandbox_, driver_source(), ctx);
    if (score.ok()) score->details["tests_used"] = public_only_ ? "public" : "all";
    return score;
  }

  std::vector<Metric> aggregate(const std::vector<GradedAttempt>& attempts) const override {
    struct Problem {
      int64_t n = 0, c = 0;
      std::string difficulty, platform;
      bool errata = false;
    };
    std::map<std::string, Problem> problems;
    std::vector<std::pair<std::string, double>> empty;
    std::map<std::string, std::vector<std::pair<std::string, double>>> verdicts;
    std::set<std::string> verdict_names = {"AC", "WA", "TLE", "RE", "CE"};
    for (const auto& a : attempts) {
      Problem& p = problems[a.sample_id];
      ++p.n;
      p.c += a.score >= 0.5;
      p.difficulty = a.details.value("difficulty", "");
      p.platform = a.details.value("platform", "");
      p.errata = in_errata(a.sample_id, a.details.value("question_title", ""));
      empty.emplace_back(a.sample_id, a.details.value("empty_code", false) ? 1.0 : 0.0);
      verdict_names.insert(a.verdict);
    }
    for (const auto& a : attempts)
      for (const auto& v : verdict_names)
        verdicts[v].emplace_back(a.sample_id, a.verdict == v ? 1.0 : 0.0);
    auto collect = [&](auto pred) {
      std::vector<std::pair<int64_t, int64_t>> out;
      for (const auto& [_, p] : problems)
        if (pred(p)) out.push_back({p.n, p.c});
      return out;
    };
    std::vector<Metric> out =
        pass_at_k_metrics("", collect([](const Problem&) { return true; }), ks_);
    for (const char* d : {"easy", "medium", "hard"}) {
      auto group = collect([&](const Problem& p) { return p.difficulty == d; });
      if (!group.empty())
        for (auto& m : pass_at_k_metrics(std::string("@difficulty=") + d, group, ks_))
          out.push_back(m);
    }
    for (const char* pl : {"atcoder", "codeforces", "leetcode"}) {
      auto group = collect([&](const Problem& p) { return p.platform == pl; });
      if (!group.empty())
        for (auto& m : pass_at_k_metrics(std::string("@platform=") + pl, group, ks_))
          out.push_back(m);
    }
    auto clean = collect([](const Problem& p) { return !p.errata; });
    if (!clean.empty())
      for (auto& m : pass_at_k_metrics("@clean", clean, {1})) out.push_back(m);
    if (!attempts.empty()) {
      out.push_back(mean_metric("empty_code", empty));
      for (const auto& [v, values] : verdicts)
        out.push_back(mean_metric("rate@verdict=" + v, values));
    }
    return out;
  }

 private:
  Spec spec_;
  SuiteDoc doc_;
  std::string file_, release_;
  Filter filter_;
  PromptStyle style_ = PromptStyle::kChat;
  bool public_only_ = false;
  GraderOptions grader_;
  std::optional<double> temperature_, top_p_;
  int64_t max_tokens_ = 0;
  std::vector<int64_t> ks_ = kDefaultKs;
  sandbox::Sandbox* sandbox_ = nullptr;
  std::vector<std::unique_ptr<Problem>> problems_;
  mutable TestsCache cache_{1ull << 30};
};

}  // namespace

bool in_errata(std::string_view question_id, std::string_view question_title) {
  return errata_ids().count(question_id) > 0 || errata_titles().count(question_title) > 0;
}

std::vector<Metric> pass_at_k_metrics(const std::string& suffix,
                                      const std::vector<std::pair<int64_t, int64_t>>& problems,
                                      const std::vector<int64_t>& ks) {
  std::vector<Metric> out;
  for (int64_t k : ks) {
    auto m = pass_at_k_metric("pass@" + std::to_string(k) + suffix, problems, k);
    if (m) out.push_back(*m);  // absent when some problem has fewer than k generations
  }
  return out;
}

SuiteDoc livecodebench_doc() {
  SuiteDoc d;
  d.name = kName;
  d.version = kVersion;
  d.description =
      "LiveCodeBench code generation, scored as lcb_runner scores it: the official prompt of the "
      "chosen model style (system message + question template, starter code or stdin format); "
      "extract_code (the lines between the LAST two lines containing ```, empty when fewer than "
      "two; a trailing fenced non-code block is graded instead of the code, as upstream); every "
      "public then private test run in order in ONE Python interpreter by our driver, which "
      "reproduces testing_util.py (import prelude, __main__ inlining and wrapped_function for "
      "stdin programs, mocked stdin quirks, captured stdout, Decimal line compare without "
      "tolerance, Python == with tuple->list for LeetCode methods on one shared Solution(), "
      "first failure stops, integer per-test alarm, reliability_guard, int digits 50000) inside "
      "the sandbox, bounded by the reference's global budget (timeout+1)*tests+5 s. The "
      "reference's result list and metadata (error codes -2 WA, -3 TLE, -4 runtime error or "
      "'Error during testing' for syntax errors / empty code / missing method, "
      "-5 TestRunnerError) are stored per attempt. Known deviations: a memory limit exists "
      "(memory_mb, default 4096; the reference has none: the comment says 4 GB); the worker's "
      "stack is stack_mb (default 8, the usual ulimit); PYTHONHASHSEED=0 and the sandbox's "
      "CPython (/usr/bin/python3) without numpy; a global timeout or a crash is recorded as the "
      "reference records it ([-2] with error_code -5 'TestRunnerError', because check_correctness "
      "indexes an empty metadata list) and details.cause says which it was.";
  d.options = {
      {"file",
       "the official code_generation_lite JSONL file, or a directory holding test.jsonl ... "
       "test6.jsonl (then release= picks the files); required"},
      {"release",
       "with a directory: release_v1 .. release_vN (cumulative), release_latest "
       "(default), vN (one increment), vA_vB (increments A..B)"},
      {"start",
       "YYYY-MM-DD: keep problems with contest_date >= start (inclusive, naive midnight, "
       "as compute_scores --start_date)"},
      {"end",
       "YYYY-MM-DD: keep contest_date <= end (inclusive). DeepSeek's 2408-2505 window: "
       "start=2024-08-01,end=2025-05-01 (454 problems in release_v6)"},
      {"platform", "leetcode, atcoder, codeforces (several: platform=atcoder,leetcode)"},
      {"difficulty", "easy, medium, hard (several allowed)"},
      {"style",
       "prompt style: chat (default; OpenAIChat / DeepSeekAPI: system + user), user-only "
       "(OpenAIReasonPreview / Grok), openai-reason (o-series: main() format line), "
       "claude, gemini, gemini-thinking"},
      {"tests",
       "all (default: public then private, as the reference) or public (only the public "
       "tests; for rows without private_test_cases — the result is then NOT comparable "
       "with published numbers)"},
      {"runner",
       "reference (default: the driver, lcb_runner semantics) or script (stdin problems "
       "run as real scripts, one fresh process per test, real stdin, CPU-time limit, "
       "sandbox time/memory per test; deviates on stdin quirks, module globals and "
       "shared state; LeetCode problems always use the driver)"},
      {"timeout_s", "per-test time limit in integer seconds (default 6, lcb_runner --timeout)"},
      {"clock",
       "wall (default: SIGALRM wall clock, as the reference) or cpu (ITIMER_PROF: CPU "
       "time, immune to machine load)"},
      {"memory_mb", "memory limit of the grading process (default 4096)"},
      {"stack_mb", "stack limit (default 8)"},
      {"temperature", "sampling temperature (default 0.2 non-think, 0.6 thinking modes)"},
      {"top_p", "nucleus sampling (default 0.95)"},
      {"max_tokens",
       "generation limit (default 2000 non-think, as lcb_runner; 65536 thinking "
       "modes, as DeepSeek reports LCB)"},
      {"k",
       "pass@k list (default 1,5,10,20,40,50,75,100,125,150,200,500,1000; a k is reported "
       "only when every problem has at least k graded attempts)"},
  };
  d.metrics = {
      {"pass@1",
       "mean over problems of correct/n (the LCB headline); 95% interval: Wilson with "
       "one attempt per problem, else cluster bootstrap over problems"},
      {"pass@k",
       "unbiased estimator 1 - C(n-c,k)/C(n,k) averaged over problems; only for k <= n "
       "of every problem (use --repeats)"},
      {"pass@k@difficulty=D", "the same over easy / medium / hard problems (compute_scores)"},
      {"pass@k@platform=P", "the same per platform"},
      {"pass@1@clean",
       "pass@1 without the ERRATA.md problems (reported separately; the headline "
       "keeps them, as the reference does)"},
      {"empty_code", "fraction of attempts with no extracted code (fewer than two ``` lines)"},
      {"rate@verdict=V",
       "fraction of attempts by verdict: AC, WA (-2), TLE (-3, or a global "
       "timeout), RE (-4 during a test, or a crash), CE (-4 'Error during "
       "testing': syntax error, empty code, missing method)"},
  };
  d.data =
      "livecodebench/code_generation_lite (HF) test*.jsonl rows: question fields, "
      "public_test_cases (JSON), private_test_cases (JSON or base64(zlib(pickle(JSON))), "
      "decoded in C++ when graded), metadata.func_name; sample id = question_id. Per-attempt "
      "details: code, results/metadata as lcb_runner stores them, error_code, tests (verdict, "
      "time_ms, memory_kb per executed test), run (sandbox totals), cause (no-result cases)";
  return d;
}

Result<std::unique_ptr<Suite>> make_livecodebench_suite(const Spec& spec) {
  auto s = std::make_unique<LcbSuite>(spec);
  if (auto st = s->configure(); !st.ok()) return st;
  return std::unique_ptr<Suite>(std::move(s));
}

}  // namespace v4eval::lcb
