// Codeforces-style contests. References: QwenLM/CodeElo @ 0bffc84 (main.py: instruction,
// make_html_problem, extract_code_blocks, lang_map, 8 submissions per problem; llm_client.py:
// sampling; calc_rating.py: rating and percentile), testlib v0.9.45 checker semantics and
// Codeforces' judging rules (suites.md §2.1-§2.3).

#include "suites/codeforces/cf_suite.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "harness/hash.h"
#include "harness/stats.h"
#include "sandbox/sandbox.h"
#include "suites/codeforces/cf_problem.h"
#include "suites/codeforces/cf_rating.h"

namespace v4eval::embedded {
std::string_view cf_checker_1997A();
std::string_view cf_checker_1998A();
}  // namespace v4eval::embedded

namespace v4eval::cf {

const char* const kCodeEloInstruction =
    "\"You are a coding expert. Given a competition-level coding problem, you need to write a C++ "
    "program to solve it. You may start by outlining your thought process. In the end, please "
    "provide the complete code in a code block enclosed with ``` ```.";

namespace {

constexpr const char* kVersion = "1";
constexpr const char* kName = "codeforces";

// CodeElo's lang_map keys (main.py); ids are Codeforces' compilers.
const std::set<std::string>& codeelo_languages() {
  static const std::set<std::string> keys = {"kotlin",     "cpp",    "ruby",  "d",       "python",
                                             "pascal",     "rust",   "go",    "node.js", "haskell",
                                             "javascript", "csharp", "perl",  "java",    "ocaml",
                                             "delphi",     "php",    "scala", "c"};
  return keys;
}

bool is_word_byte(unsigned char c) {
  // Python's \w on str: letters, digits and '_' of any script. Bytes of a multi-byte UTF-8
  // character count as word characters (scripts' letters); ASCII follows [A-Za-z0-9_].
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

std::string clip(const std::string& s, size_t cap) {
  if (s.size() <= cap) return s;
  return s.substr(0, cap / 2) + "\n[...]\n" + s.substr(s.size() - cap / 2);
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Difficulty buckets by problem rating, as we read the CodeElo paper (unverified in its code).
std::string rating_bucket(int rating) {
  if (rating < 1000) return "easy";
  if (rating < 1300) return "medium";
  return "hard";
}

Metric count_metric(const std::string& name, int64_t count) {
  return Metric{name, double(count), double(count), double(count), count};
}

class CfSuite final : public DataSuite {
 public:
  explicit CfSuite(Spec spec) : spec_(std::move(spec)), doc_(codeforces_doc()) {}

  Status configure() {
    for (const auto& [k, v] : spec_.options) {
      if (k == "file") {
        files_ = split_list(v);
      } else if (k == "format") {
        format_ = v;
      } else if (k == "checkers") {
        checkers_dir_ = v;
      } else if (k == "standings") {
        standings_dir_ = v;
      } else if (k == "ratings") {
        ratings_file_ = v;
      } else if (k == "multiple_answers") {
        if (v != "skip" && v != "compare")
          return InvalidArgument(std::string(kName) + ": multiple_answers must be skip or compare");
        compare_multiple_ = v == "compare";
      } else if (k == "tags") {
        if (v != "codeelo" && v != "lenient")
          return InvalidArgument(std::string(kName) + ": tags must be codeelo or lenient");
        lenient_tags_ = v == "lenient";
      } else if (k == "stops") {
        if (v != "none" && v != "codeelo")
          return InvalidArgument(std::string(kName) + ": stops must be none or codeelo");
        codeelo_stops_ = v == "codeelo";
      } else if (k == "attempts") {
        auto x = option_number(kName, k, v, 1, 1000);
        if (!x.ok()) return x.status();
        rules_.attempts = int(*x);
      } else if (k == "temperature") {
        auto x = option_number(kName, k, v, 0, 10);
        if (!x.ok()) return x.status();
        temperature_ = *x;
      } else if (k == "top_p") {
        auto x = option_number(kName, k, v, 1e-9, 1);
        if (!x.ok()) return x.status();
        top_p_ = *x;
      } else if (k == "max_tokens") {
        auto x = option_number(kName, k, v, 1, 1e12);
        if (!x.ok()) return x.status();
        max_tokens_ = int64_t(*x);
      } else if (k == "k") {
        ks_.clear();
        for (const auto& item : split_list(v)) {
          auto x = option_number(kName, k, item, 1, 1e6);
          if (!x.ok()) return x.status();
          ks_.push_back(int64_t(*x));
        }
        std::sort(ks_.begin(), ks_.end());
        ks_.erase(std::unique(ks_.begin(), ks_.end()), ks_.end());
        if (ks_.empty() || ks_.front() != 1) ks_.insert(ks_.begin(), 1);
      } else {
        return InvalidArgument(
            std::string(kName) + ": unknown option '" + k +
            "' (see `v4eval suites`: file, format, checkers, standings, ratings, "
            "multiple_answers, tags, stops, attempts, temperature, top_p, "
            "max_tokens, k)");
      }
    }
    if (ratings_file_.empty() && !files_.empty()) {
      auto beside =
          std::filesystem::path(files_.front()).parent_path() / "codeelo_sorted_ratings.json";
      ratings_file_ = beside.string();  // used if it exists
    }
    return Status::Ok();
  }

  const SuiteDoc& doc() const override { return doc_; }
  bool needs_sandbox() const override { return true; }
  void set_sandbox(sandbox::Sandbox* sb) override { sandbox_ = sb; }

  Status load(int64_t limit) override {
    if (files_.empty())
      return InvalidArgument(std::string(kName) +
                             " needs file=PATH[,PATH...] (codeelo, codecontests, "
                             "codeforces-examples or v4eval problem files)");
    Sha256 hash;
    hash.update(std::string(kName) + "-v" + kVersion + "\n" + kCodeEloInstruction + "\n");
    for (const auto& path : files_) {
      auto problems = load_problems(path, format_);
      if (!problems.ok()) return problems.status();
      hash.update("file\n" + read_file(path));
      for (auto& p : *problems) {
        if (limit > 0 && int64_t(samples_.size()) >= limit) break;
        if (!ids_.insert(p.id).second)
          return DataError(path + ": problem id " + p.id + " appears twice");
        attach_checkers(p);
        if (auto m = sandbox::parse_compare_mode(p.compare); !m.ok())
          return DataError(path + ": problem " + p.id + ": compare: " + m.status().message());
        Sample s;
        s.id = p.id;
        s.index = problems_.size();
        s.prompt = std::make_shared<Messages>(
            Messages{{"user", std::string(kCodeEloInstruction) + "\n\n" + p.statement}});
        s.metadata = {{"source", p.source},
                      {"contest_id", p.contest_id},
                      {"index", p.index},
                      {"title", p.title},
                      {"division", p.division},
                      {"tests", p.tests.size()},
                      {"time_limit_ms", p.time_limit_ms},
                      {"judged_by", judged_by(p)}};
        if (p.rating) s.metadata["rating"] = *p.rating;
        samples_.push_back(std::move(s));
        problems_.push_back(std::make_unique<Problem>(std::move(p)));
      }
    }
    for (const auto& p : problems_) {
      hash.update("checker " + p->id + "\n" + p->checker.value_or("") + "\n" +
                  p->interactor.value_or(""));
    }
    data_hash_ = hash.hex_digest();
    return Status::Ok();
  }

  GenerationRequest make_request(const Sample& sample, Mode mode) const override {
    GenerationRequest r = base_request(sample, mode, kName);
    // CodeElo's llm_client.py for non-think (its top_k 20 and repetition_penalty 1.1 are vLLM
    // extras a chat request cannot carry); thinking modes: DeepSeek's reasoning setting.
    bool thinking = mode != Mode::kNonThink;
    r.temperature = temperature_.value_or(thinking ? 0.6 : 0.7);
    r.top_p = top_p_.value_or(thinking ? 0.95 : 0.8);
    r.max_tokens = max_tokens_ > 0 ? max_tokens_ : (thinking ? 65536 : 4096);
    if (codeelo_stops_) r.stop = {"<|eot_id|>", "\n\n---", "\n\n\n", "\n---", "---", "<|im_end|>"};
    return r;
  }

  std::optional<std::string> skip_reason(const Sample& sample, const BackendInfo&) const override {
    const Problem& p = *problems_.at(sample.index);
    if (p.interactive && !p.interactor)
      return "interactive problem and no interactor: give checkers=DIR with " + p.id +
             ".interactor.cpp (CodeElo is judged by Codeforces itself)";
    if (p.multiple_answers && !p.checker && !compare_multiple_)
      return "answers are not unique and no checker is available: give checkers=DIR with " + p.id +
             ".cpp, or multiple_answers=compare to compare with the reference answer anyway (an "
             "underestimate)";
    return std::nullopt;
  }

  Result<Score> grade(const Sample& sample, const GenerationRequest& /*request*/,
                      const Generation& generation) const override {
    if (!sandbox_) return Internal(std::string(kName) + ": no sandbox attached");
    const Problem& p = *problems_.at(sample.index);
    Score s;
    Json d = {{"problem_id", p.id},
              {"contest_id", p.contest_id},
              {"index", p.index},
              {"source", p.source},
              {"division", p.division},
              {"judged_by", judged_by(p)},
              {"time_limit_ms", p.time_limit_ms},
              {"memory_limit_mb", p.memory_limit_bytes >> 20},
              {"rating", p.rating ? Json(*p.rating) : Json()}};
    auto block = extract_code_block(generation.text);
    if (!block) {
      d["code"] = "";
      d["submitted"] = false;
      s.verdict = "NO_CODE";
      s.details = std::move(d);
      return s;
    }
    d["code"] = block->code;
    d["tag"] = block->tag;
    LanguageChoice lang = language_for_tag(block->tag, lenient_tags_);
    d["language"] = lang.language;
    if (lang.language.empty()) {
      d["submitted"] = false;
      s.verdict = lang.known_elsewhere ? "UNSUPPORTED_LANGUAGE" : "NO_SUBMISSION";
      d["note"] = lang.known_elsewhere
                      ? "CodeElo would submit this in '" + block->tag +
                            "'; this sandbox runs C++ and Python only"
                      : "fence tag '" + block->tag +
                            "' is not in CodeElo's lang_map: no submission (its KeyError)";
      s.details = std::move(d);
      return s;
    }
    d["submitted"] = true;
    sandbox::JudgeRequest req;
    req.solution.language = lang.language;
    req.solution.source = block->code;
    for (const auto& t : p.tests) req.tests.push_back({t.input, t.output});
    req.limits.cpu_time_ms = p.time_limit_ms;
    req.limits.memory_bytes = p.memory_limit_bytes;
    req.stop_at_first_failure = true;  // Codeforces stops at the first failed test
    if (p.checker) {
      req.checker = sandbox::Program{"cpp", *p.checker, checker_headers_};
    } else {
      auto mode = sandbox::parse_compare_mode(p.compare);
      if (!mode.ok()) return mode.status();
      req.compare = *mode;
    }
    if (p.interactor) req.interactor = sandbox::Program{"cpp", *p.interactor, checker_headers_};
    sandbox::JudgeReport judged = sandbox_->judge(req);
    if (judged.verdict == sandbox::Verdict::kInternalError)
      return Unavailable(std::string(kName) + ": sandbox internal error: " + judged.detail);
    s.verdict = std::string(sandbox::verdict_code(judged.verdict));
    s.value = judged.verdict == sandbox::Verdict::kAccepted ? 1.0 : 0.0;
    d["compile"] = {{"verdict", std::string(sandbox::verdict_code(judged.compile.verdict))},
                    {"cached", judged.compile.cached},
                    {"log", clip(judged.compile.log, 4096)}};
    Json tests = Json::array();
    for (size_t i = 0; i < judged.tests.size(); ++i) {
      const auto& t = judged.tests[i];
      if (t.verdict == sandbox::Verdict::kSkipped) break;
      Json row = {{"test", i + 1},
                  {"verdict", std::string(sandbox::verdict_code(t.verdict))},
                  {"time_ms", t.cpu_ms},
                  {"wall_ms", t.wall_ms},
                  {"memory_kb", t.memory_kb}};
      if (!t.detail.empty()) row["detail"] = clip(t.detail, 512);
      if (!t.checker_message.empty()) row["checker"] = clip(t.checker_message, 512);
      tests.push_back(std::move(row));
      if (t.verdict != sandbox::Verdict::kAccepted) d["failed_test"] = i + 1;  // "... on test k"
    }
    d["tests"] = std::move(tests);
    d["n_tests"] = p.tests.size();
    s.details = std::move(d);
    return s;
  }

  std::vector<Metric> aggregate(const std::vector<GradedAttempt>& attempts) const override {
    struct Prob {
      int64_t n = 0, c = 0;
      std::string division, bucket;
    };
    std::map<std::string, Prob> problems;
    std::set<std::string> verdict_names = {"AC", "WA", "TLE", "MLE", "RE", "CE", "NO_CODE"};
    // contest -> problem index -> accepted per attempt, in repeat order
    std::map<std::string, std::map<std::string, std::map<int, bool>>> contests;
    for (const auto& a : attempts) {
      Prob& p = problems[a.sample_id];
      ++p.n;
      p.c += a.score >= 0.5;
      p.division = a.details.value("division", "");
      if (a.details.contains("rating") && a.details["rating"].is_number_integer())
        p.bucket = rating_bucket(a.details["rating"].get<int>());
      verdict_names.insert(a.verdict);
      std::string cid = a.details.value("contest_id", "");
      if (!cid.empty()) contests[cid][a.details.value("index", "")][a.repeat] = a.verdict == "AC";
    }
    auto collect = [&](auto pred) {
      std::vector<std::pair<int64_t, int64_t>> out;
      for (const auto& [_, p] : problems)
        if (pred(p)) out.push_back({p.n, p.c});
      return out;
    };
    std::vector<Metric> out;
    auto add_passk = [&](const std::string& suffix,
                         const std::vector<std::pair<int64_t, int64_t>>& group) {
      for (int64_t k : ks_)
        if (auto m = pass_at_k_metric("pass@" + std::to_string(k) + suffix, group, k))
          out.push_back(*m);
    };
    add_passk("", collect([](const Prob&) { return true; }));
    for (const char* b : {"easy", "medium", "hard"}) {
      auto g = collect([&](const Prob& p) { return p.bucket == b; });
      if (!g.empty()) add_passk(std::string("@difficulty=") + b, g);
    }
    std::set<std::string> divisions;
    for (const auto& [_, p] : problems)
      if (!p.division.empty()) divisions.insert(p.division);
    for (const auto& dv : divisions)
      add_passk("@division=" + dv, collect([&](const Prob& p) { return p.division == dv; }));
    for (const auto& v : verdict_names) {
      std::vector<std::pair<std::string, double>> values;
      for (const auto& a : attempts) values.emplace_back(a.sample_id, a.verdict == v ? 1.0 : 0.0);
      if (!values.empty()) out.push_back(mean_metric("rate@verdict=" + v, values));
    }
    add_rating_metrics(contests, out);
    return out;
  }

 private:
  std::string judged_by(const Problem& p) const {
    if (p.interactor) return "interactor";
    if (p.checker)
      return builtin_checker(p.id) && *p.checker == *builtin_checker(p.id) ? "checker (built-in)"
                                                                           : "checker";
    return "compare:" + p.compare;
  }

  void attach_checkers(Problem& p) {
    if (!checkers_dir_.empty()) {
      namespace fs = std::filesystem;
      std::error_code ec;
      for (auto path : {fs::path(checkers_dir_) / (p.id + ".cpp"),
                        fs::path(checkers_dir_) / p.id / "checker.cpp"})
        if (!p.checker && fs::is_regular_file(path, ec)) p.checker = read_file(path.string());
      for (auto path : {fs::path(checkers_dir_) / (p.id + ".interactor.cpp"),
                        fs::path(checkers_dir_) / p.id / "interactor.cpp"})
        if (!p.interactor && fs::is_regular_file(path, ec)) p.interactor = read_file(path.string());
      if (checker_headers_.empty())
        for (const auto& e : fs::directory_iterator(checkers_dir_, ec))
          if (e.is_regular_file() &&
              (e.path().extension() == ".h" || e.path().extension() == ".hpp"))
            checker_headers_.push_back(
                {e.path().filename().string(), read_file(e.path().string())});
    }
    if (!p.checker && !p.interactor)
      if (auto builtin = builtin_checker(p.id)) p.checker = std::string(*builtin);
    if (p.interactor) p.interactive = true;
  }

  // calc_rating.py per contest, where standings are given; says which contests lack them.
  void add_rating_metrics(
      const std::map<std::string, std::map<std::string, std::map<int, bool>>>& contests,
      std::vector<Metric>& out) const {
    if (contests.empty()) return;
    std::vector<std::pair<std::string, double>> ratings;
    int64_t missing = 0, unrated = 0;
    for (const auto& [cid, by_index] : contests) {
      const ContestStandings* st = standings(cid);
      if (!st) {
        ++missing;
        continue;
      }
      std::map<std::string, std::vector<bool>> accepted;
      for (const auto& [index, by_repeat] : by_index) {
        // In submission order; a missing repeat (ungraded attempt) ends the sequence there.
        std::vector<bool>& v = accepted[index];
        for (int r = 0; by_repeat.count(r); ++r) v.push_back(by_repeat.at(r));
      }
      ContestEstimate e = estimate_contest_rating(*st, accepted, rules_);
      if (!e.rated) {
        ++unrated;
        continue;
      }
      ratings.emplace_back(cid, double(e.rating));
      out.push_back(
          Metric{"rating@contest=" + cid, double(e.rating), double(e.rating), double(e.rating), 1});
    }
    if (!ratings.empty()) {
      Metric m = mean_metric("rating", ratings, 0, 5000);
      out.push_back(m);
      if (const auto* table = sorted_ratings()) {
        Metric pct{"rating_percentile", codeelo_percentile(*table, m.value),
                   codeelo_percentile(*table, m.ci_low), codeelo_percentile(*table, m.ci_high),
                   m.n};
        out.push_back(pct);
      }
    }
    out.push_back(count_metric("rating_contests", int64_t(ratings.size())));
    // Said, not guessed: contests of the run without standings/rating changes get no rating.
    out.push_back(count_metric("rating_contests_without_standings", missing));
    out.push_back(count_metric("rating_contests_unrated", unrated));
    out.push_back(count_metric("rating_rule@attempts", rules_.attempts));
  }

  const ContestStandings* standings(const std::string& cid) const {
    std::lock_guard lock(mu_);
    auto it = standings_cache_.find(cid);
    if (it != standings_cache_.end()) return it->second ? &*it->second : nullptr;
    std::optional<ContestStandings> loaded;
    if (!standings_dir_.empty()) {
      namespace fs = std::filesystem;
      std::error_code ec;
      fs::path dir(standings_dir_);
      std::pair<fs::path, fs::path> layouts[] = {
          {dir / (cid + ".standings.json"), dir / (cid + ".ratingChanges.json")},
          {dir / cid / "standings.json", dir / cid / "ratingChanges.json"}};
      for (const auto& [sp, rp] : layouts) {
        if (!fs::is_regular_file(sp, ec) || !fs::is_regular_file(rp, ec)) continue;
        try {
          auto parsed =
              parse_codeforces_api(Json::parse(read_file(sp.string())),
                                   Json::parse(read_file(rp.string())), sp.string() + ": ");
          if (parsed.ok()) loaded = std::move(*parsed);
        } catch (const Json::parse_error&) {
        }
        break;
      }
    }
    auto& slot = standings_cache_[cid];
    slot = std::move(loaded);
    return slot ? &*slot : nullptr;
  }

  const std::vector<double>* sorted_ratings() const {
    std::lock_guard lock(mu_);
    if (!ratings_loaded_) {
      ratings_loaded_ = true;
      std::error_code ec;
      if (!ratings_file_.empty() && std::filesystem::is_regular_file(ratings_file_, ec)) {
        try {
          Json j = Json::parse(read_file(ratings_file_));
          for (const auto& x : j) ratings_table_.push_back(x.get<double>());
          if (!std::is_sorted(ratings_table_.begin(), ratings_table_.end())) ratings_table_.clear();
        } catch (const Json::exception&) {
          ratings_table_.clear();
        }
      }
    }
    return ratings_table_.empty() ? nullptr : &ratings_table_;
  }

  Spec spec_;
  SuiteDoc doc_;
  std::vector<std::string> files_;
  std::string format_ = "auto";
  std::string checkers_dir_, standings_dir_, ratings_file_;
  std::vector<sandbox::SourceFile> checker_headers_;
  bool compare_multiple_ = false, lenient_tags_ = false, codeelo_stops_ = false;
  RatingRules rules_;
  std::optional<double> temperature_, top_p_;
  int64_t max_tokens_ = 0;
  std::vector<int64_t> ks_ = {1, 2, 4, 8};
  sandbox::Sandbox* sandbox_ = nullptr;
  std::vector<std::unique_ptr<Problem>> problems_;
  std::set<std::string> ids_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::optional<ContestStandings>> standings_cache_;
  mutable bool ratings_loaded_ = false;
  mutable std::vector<double> ratings_table_;
};

}  // namespace

std::optional<CodeBlock> extract_code_block(std::string_view text) {
  for (size_t p = text.find("```"); p != std::string_view::npos; p = text.find("```", p + 1)) {
    size_t q = p + 3;
    while (q < text.size() && is_word_byte(static_cast<unsigned char>(text[q]))) ++q;
    if (q >= text.size() || text[q] != '\n') continue;
    size_t end = text.find("\n```", q + 1);
    if (end == std::string_view::npos) continue;
    return CodeBlock{std::string(text.substr(p + 3, q - p - 3)),
                     std::string(text.substr(q + 1, end - q - 1))};
  }
  return std::nullopt;
}

LanguageChoice language_for_tag(const std::string& tag, bool lenient) {
  if (tag.empty() || tag == "cpp") return {"cpp", false};
  if (tag == "python") return {"python", false};
  if (lenient) {
    static const std::set<std::string> cpp = {"c",     "cxx",   "cc",    "c11", "cpp11", "cpp14",
                                              "cpp17", "cpp20", "cpp23", "CPP", "C"};
    static const std::set<std::string> py = {"py",      "python3", "py3",  "Python",
                                             "Python3", "pypy",    "pypy3"};
    if (cpp.count(tag)) return {"cpp", false};
    if (py.count(tag)) return {"python", false};
  }
  return {"", codeelo_languages().count(tag) > 0};
}

std::optional<std::string_view> builtin_checker(std::string_view id) {
  if (id == "1997A") return embedded::cf_checker_1997A();
  if (id == "1998A") return embedded::cf_checker_1998A();
  return std::nullopt;
}

SuiteDoc codeforces_doc() {
  SuiteDoc d;
  d.name = kName;
  d.version = kVersion;
  d.description =
      "Codeforces-style problems judged offline with CodeElo's protocol: one user message = "
      "CodeElo's instruction (verbatim, with its stray leading '\"') + a blank line + the "
      "statement "
      "(CodeElo's make_html_problem layout for codeelo / codeforces-examples data; the text as "
      "given "
      "for codecontests); the FIRST ```tag\\n...\\n``` block is the submission (re.findall's first "
      "match), the tag picks the language by CodeElo's lang_map (empty or cpp: C++, python: "
      "Python; "
      "no block: a failed attempt without submission). Judged in the sandbox with the problem's "
      "time and memory limits, stopping at the first failed test, by the problem's checker "
      "(testlib interface) or by the statement's rule: tokens (testlib wcmp), float:EPS (absolute "
      "or "
      "relative error, testlib doubleCompare) or yesno (YES/NO in any case). Problems whose "
      "answers "
      "are not unique, and interactive ones, are skipped unless a checker / interactor is given. "
      "Deviations from CodeElo, which submits to Codeforces itself: C++ is g++ 12 -std=c++17 -O2 "
      "(CodeElo: G++23 14.2), Python is CPython 3.11 (CodeElo: PyPy 3.10, same time limit), tests "
      "are the data's (statement examples only for codeforces-examples; CodeContests' public + "
      "private + generated), other languages cannot be judged. Rating (CodeElo calc_rating.py): "
      "per "
      "contest with standings data, the model's score from the first accepted attempt of each "
      "problem "
      "(score rounds: max(0, points - 50 i); ICPC: 1 solved, penalty 10 i), its rank r among the "
      "rated participants, and the largest m < max old rating + 100 with 1 + sum 1/(1 + 10^((m - "
      "old_i)/400)) >= r; more than 200 rated participants required. The final rating is the mean "
      "over contests, the percentile its rank in codeelo_sorted_ratings.json. Contests without "
      "standings data get no rating: rating_contests_without_standings counts them; nothing is "
      "guessed. CodeElo submits 8 attempts per problem: run with --repeats 8.";
  d.options = {
      {"file", "problem file(s), comma-separated; required"},
      {"format",
       "auto (default), v4eval (our JSONL format; see suites/codeforces/cf_problem.h), "
       "codeelo, codecontests (rLLM's CodeContests rows), codeforces-examples (rLLM's "
       "Codeforces rows)"},
      {"checkers",
       "DIR with <id>.cpp checkers (testlib interface: checker input output answer), "
       "<id>.interactor.cpp interactors, and headers they include (testlib.h); built-in "
       "checkers exist for 1997A and 1998A"},
      {"standings",
       "DIR with the Codeforces API replies per contest: <cid>.standings.json "
       "(contest.standings, showUnofficial=false) and <cid>.ratingChanges.json (or "
       "<cid>/standings.json, <cid>/ratingChanges.json); without them no rating"},
      {"ratings",
       "the sorted user ratings for the percentile (default: codeelo_sorted_ratings.json "
       "beside the first data file)"},
      {"multiple_answers",
       "skip (default: problems whose statement accepts several answers need a "
       "checker) or compare (compare with the reference answer anyway)"},
      {"tags",
       "codeelo (default: CodeElo's lang_map) or lenient (also py, python3, c, cxx, cpp17...)"},
      {"stops", "none (default) or codeelo (its stop strings: \"\\n\\n---\", \"\\n\\n\\n\", ...)"},
      {"attempts", "attempts per problem the rating counts, in repeat order (default 8)"},
      {"temperature", "default 0.7 non-think (CodeElo), 0.6 thinking modes"},
      {"top_p", "default 0.8 non-think (CodeElo), 0.95 thinking modes"},
      {"max_tokens", "default 4096 non-think (CodeElo), 65536 thinking modes"},
      {"k", "pass@k list (default 1,2,4,8; each only when every problem has k attempts)"},
  };
  d.metrics = {
      {"pass@1",
       "mean over problems of accepted attempts / attempts; 95% interval (Wilson, or "
       "cluster bootstrap over problems with repeats)"},
      {"pass@k", "unbiased pass@k over problems (k <= attempts of every problem)"},
      {"pass@k@difficulty=D",
       "by problem rating: easy < 1000 <= medium < 1300 <= hard (our reading "
       "of the CodeElo paper's buckets; unverified)"},
      {"pass@k@division=V", "by contest division (Div. 1, Div. 2, Div. 1 + 2, ...)"},
      {"rate@verdict=V",
       "fraction of attempts per verdict: AC, WA, TLE, MLE, RE, CE, OLE, "
       "NO_CODE, NO_SUBMISSION, UNSUPPORTED_LANGUAGE"},
      {"rating",
       "CodeElo rating: mean of per-contest estimates over contests with standings data; "
       "interval over contests"},
      {"rating@contest=C", "the estimate for contest C"},
      {"rating_percentile",
       "round(100 * bisect_left(sorted_ratings, rating) / len, 1), as CodeElo; "
       "the interval maps the rating interval's ends"},
      {"rating_contests", "contests with a rating estimate"},
      {"rating_contests_without_standings",
       "contests in the run without standings/rating-change "
       "data: no rating for them (said, not guessed)"},
      {"rating_contests_unrated",
       "contests whose data fails CodeElo's rules (<= 200 rated "
       "participants, or standings and rating changes disagree)"},
      {"rating_rule@attempts", "the attempt budget per problem the rating used"},
  };
  d.data =
      "shared/data/codeforces: codeelo_special_judge_problems.json (codeelo format), "
      "codecontests_test_split_problems_with_tests.json, codeforces_problems_with_examples.json, "
      "codeelo_sorted_ratings.json (percentile table). Sample id: problem_id (codeelo, v4eval) "
      "or a hash of the statement (the rLLM rows carry no id). Per-attempt details: code, tag, "
      "language, verdict per test with time/memory, checker messages, compile log, contest_id, "
      "index, rating, division";
  return d;
}

Result<std::unique_ptr<Suite>> make_codeforces_suite(const Spec& spec) {
  auto s = std::make_unique<CfSuite>(spec);
  if (auto st = s->configure(); !st.ok()) return st;
  return std::unique_ptr<Suite>(std::move(s));
}

}  // namespace v4eval::cf
