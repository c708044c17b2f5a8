#pragma once
// The Suite interface: one benchmark = load data, build prompts per mode, grade, aggregate
// (inspect_ai's Task, in C++). A version string is stored with every run so results stay
// comparable as a suite evolves.

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "harness/status.h"
#include "harness/types.h"

namespace v4eval::sandbox {
class Sandbox;
}  // namespace v4eval::sandbox

namespace v4eval {

struct SuiteDoc {
  std::string name;
  std::string version;      // bumped whenever prompts, extraction or grading change
  std::string description;
  std::vector<std::pair<std::string, std::string>> options;  // option -> meaning
  std::vector<std::pair<std::string, std::string>> metrics;  // metric -> meaning
  std::string data;         // what data it needs and where to get it
};

// One finished, graded attempt as aggregation sees it.
struct GradedAttempt {
  std::string sample_id;
  Mode mode = Mode::kNonThink;
  int repeat = 0;
  double score = 0;
  std::string verdict;
  Json details;
};

class Suite {
 public:
  virtual ~Suite() = default;

  virtual const SuiteDoc& doc() const = 0;

  // Reads the data named by the spec. Errors name the file and line. Not thread-safe; call once
  // before samples(). `limit` > 0 keeps the first `limit` samples after filtering.
  virtual Status load(int64_t limit) = 0;

  // Valid after a successful load(). Sample ids are unique within the suite.
  virtual const std::vector<Sample>& samples() const = 0;

  // A hash of the loaded data (and prompt templates): runs over different data do not compare.
  virtual std::string data_hash() const = 0;

  // The request for one sample in one mode (suites decide the prompt per mode).
  virtual GenerationRequest make_request(const Sample& sample, Mode mode) const = 0;

  // Grades a generation. `request` is the one make_request built (mode, repeat, identity).
  // Thread-safe. A non-ok Result means "ungradable right now" (e.g. the judge is unreachable):
  // the attempt is stored as an error and retried on resume, never turned into a score.
  virtual Result<Score> grade(const Sample& sample, const GenerationRequest& request,
                              const Generation& generation) const = 0;

  // A reason not to send this sample to this backend (e.g. its prompt exceeds the context
  // window); the attempt is then stored as skipped with that reason. Thread-safe.
  virtual std::optional<std::string> skip_reason(const Sample& /*sample*/,
                                                 const BackendInfo& /*backend*/) const {
    return std::nullopt;
  }

  // Suites graded by a model (SimpleQA, CorpusQA) get the judge here before load(). The judge
  // outlives the suite. `judge_prompt_hash` identifies the grader prompts (stored with runs).
  virtual bool needs_judge() const { return false; }
  virtual void set_judge(Backend* /*judge*/) {}
  virtual std::string judge_prompt_hash() const { return ""; }
  // How the judge is asked (system message, sampling), stored with the run beside the hash.
  virtual Json judge_settings() const { return Json(); }

  // Suites that run generated code (livecodebench, codeforces) get the one shared sandbox here
  // before grading; `run` starts it when a suite needs it. The sandbox outlives the suite.
  virtual bool needs_sandbox() const { return false; }
  virtual void set_sandbox(sandbox::Sandbox* /*sandbox*/) {}

  // Metrics over the graded attempts of one mode. Needs no data: works from stored details.
  virtual std::vector<Metric> aggregate(const std::vector<GradedAttempt>& attempts) const = 0;
};

// The part every data-file suite shares: the loaded samples, their hash, and the request
// skeleton (the sample's messages, the mode, the suite and sample identity). load() fills
// samples_ and data_hash_.
class DataSuite : public Suite {
 public:
  const std::vector<Sample>& samples() const override { return samples_; }
  std::string data_hash() const override { return data_hash_; }

 protected:
  GenerationRequest base_request(const Sample& sample, Mode mode, std::string suite) const {
    GenerationRequest r;
    r.messages = sample.prompt;
    r.mode = mode;
    r.suite = std::move(suite);
    r.sample_id = sample.id;
    return r;
  }

  std::vector<Sample> samples_;
  std::string data_hash_;
};

// A numeric suite option (`lcb:timeout_s=6`): the whole value must parse and lie in [lo, hi];
// otherwise InvalidArgument naming the suite, the option and the value.
Result<double> option_number(std::string_view suite, const std::string& key,
                             const std::string& value, double lo, double hi);
// The same for an integer option.
Result<int64_t> option_integer(std::string_view suite, const std::string& key,
                               const std::string& value, int64_t lo, int64_t hi);

// Creates the suite a spec names (`mrcr:file=...`), without loading data.
Result<std::unique_ptr<Suite>> make_suite(const Spec& spec);

// Every registered suite's documentation, for `v4eval suites`.
std::vector<SuiteDoc> suite_docs();

}  // namespace v4eval
