// SimpleQA and Chinese SimpleQA. References:
//  - openai/simple-evals @ ee3b0318d8d1d9d72755a4120879be65f7c07e9e, simpleqa_eval.py
//    (GRADER_TEMPLATE, grade_sample's re.search(r"(A|B|C)"), aggregate metrics) and
//    simple_evals.py (grader: system "You are a helpful assistant.", max_tokens 2048,
//    ChatCompletionSampler's default temperature 0.5);
//  - OpenStellarTeam/ChineseSimpleQA @ 8b1aa9ebc5b91092356eb61f20f355c5993e6ce5,
//    judge/chinese_simpleqa_easy.py (judge_prompt, the judge's system message, the model's
//    system message "你是一个智能助手。", empty output / judge failure -> ungraded, metrics).

#include "suites/simpleqa/simpleqa_suite.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "harness/hash.h"
#include "harness/stats.h"
#include "suites/judge.h"
#include "suites/simpleqa/python_literal.h"
#include "suites/text/csv.h"

namespace v4eval::embedded {
std::string_view simpleqa_grader();
std::string_view chinese_simpleqa_grader();
}  // namespace v4eval::embedded

namespace v4eval::simpleqa {

std::string_view simpleqa_grader_template() { return embedded::simpleqa_grader(); }
std::string_view chinese_simpleqa_grader_template() { return embedded::chinese_simpleqa_grader(); }

char grade_letter(std::string_view judge_text) {
  // UTF-8 continuation and lead bytes are >= 0x80, so a byte search finds exactly the code
  // points 'A', 'B', 'C' that Python's re finds.
  size_t pos = judge_text.find_first_of("ABC");
  return pos == std::string_view::npos ? 'C' : judge_text[pos];
}

namespace {

constexpr const char* kVersion = "1";

struct Variant {
  std::string name;
  std::string group_key;    // metadata key of the per-group metrics
  std::string group_label;  // metric suffix: "topic" or "category"
  std::string model_system;  // default system message for the model ("" = none)
  std::string judge_system;
  std::optional<double> judge_temperature;
  int64_t judge_max_tokens;
  std::string_view (*grader)();
  bool empty_answer_ungradable;
};

const Variant& simpleqa_variant() {
  static const Variant v{"simpleqa", "topic", "topic", "", "You are a helpful assistant.", 0.5,
                         2048, simpleqa_grader_template, false};
  return v;
}
const Variant& chinese_variant() {
  static const Variant v{"chinese_simpleqa", "primary_category", "category",
                         "你是一个智能助手。",
                         "你是一个智能助手，请根据给定问题、标准答案和模型预测的答案来评估模型的回答是否正确。",
                         std::nullopt, 0, chinese_simpleqa_grader_template, true};
  return v;
}

struct Item {
  std::string question;
  std::string answer;
};

class SimpleQaSuite final : public DataSuite {
 public:
  SimpleQaSuite(const Variant& variant, const Spec& spec) : v_(variant), spec_(spec) {
    doc_ = &v_ == &simpleqa_variant() ? simpleqa_doc() : chinese_simpleqa_doc();
  }

  Status configure() {
    for (const auto& [k, value] : spec_.options) {
      if (k == "file") {
        file_ = value;
      } else if (k == "system") {
        system_ = value == "none" ? "" : value == "api" ? "You are a helpful assistant." : value;
        system_set_ = true;
      } else if (k == "judge_temperature") {
        try {
          judge_temperature_ = std::stod(value);
        } catch (...) {
          return InvalidArgument(v_.name + ": judge_temperature must be a number");
        }
      } else if (k == "judge_max_tokens") {
        try {
          judge_max_tokens_ = std::stoll(value);
        } catch (...) {
          return InvalidArgument(v_.name + ": judge_max_tokens must be an integer");
        }
      } else {
        return InvalidArgument(v_.name + ": unknown option '" + k +
                               "' (known: file, system, judge_temperature, judge_max_tokens)");
      }
    }
    if (file_.empty()) return InvalidArgument(v_.name + " needs file=...");
    if (!system_set_) system_ = v_.model_system;
    if (!judge_temperature_) judge_temperature_ = v_.judge_temperature;
    if (judge_max_tokens_ < 0) judge_max_tokens_ = v_.judge_max_tokens;
    return Status::Ok();
  }

  const SuiteDoc& doc() const override { return doc_; }
  bool needs_judge() const override { return true; }
  void set_judge(Backend* judge) override { judge_ = judge; }
  std::string judge_prompt_hash() const override {
    return sha256_hex(std::string(v_.grader()) + "\n--system--\n" + v_.judge_system);
  }
  Json judge_settings() const override {
    return {{"system", v_.judge_system},
            {"temperature", judge_temperature_ ? Json(*judge_temperature_) : Json("judge default")},
            {"max_tokens", judge_max_tokens_ > 0 ? Json(judge_max_tokens_) : Json("judge default")},
            {"parse", "first (A|B|C) in the reply, else C"}};
  }

  Status load(int64_t limit) override {
    std::ifstream in(file_, std::ios::binary);
    if (!in) return NotFound(v_.name + " data " + file_ + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string content = ss.str();
    data_hash_ = sha256_hex(std::string(v_.name) + "-v" + kVersion + "\n" + content);
    Status s = &v_ == &simpleqa_variant() ? load_csv(content, limit) : load_jsonl(content, limit);
    return s;
  }

  GenerationRequest make_request(const Sample& sample, Mode mode) const override {
    GenerationRequest r = base_request(sample, mode, v_.name);
    return r;
  }

  Result<Score> grade(const Sample& sample, const GenerationRequest& request,
                      const Generation& generation) const override {
    if (!judge_) return Internal(v_.name + ": no judge attached");
    const Item& item = items_.at(sample.index);
    // The graded answer is the final answer, never the reasoning (which Generation keeps apart).
    if (v_.empty_answer_ungradable && generation.text.empty())
      return Unavailable("empty model output (left ungraded, as the official script does)");
    auto prompt = format_template(v_.grader(), {{"question", item.question},
                                                {"target", item.answer},
                                                {"predicted_answer", generation.text}});
    if (!prompt.ok()) return prompt.status();
    JudgeCall call;
    call.messages = {{"system", v_.judge_system}, {"user", *prompt}};
    call.temperature = judge_temperature_;
    call.max_tokens = judge_max_tokens_;
    call.suite = v_.name;
    call.sample_id = sample.id;
    call.mode = request.mode;
    call.repeat = request.repeat;
    auto judged = ask_judge(*judge_, call);
    if (!judged.ok()) return judged.status();
    char letter = grade_letter(judged->text);
    Score s;
    s.value = letter == 'A' ? 1.0 : 0.0;
    s.verdict = letter == 'A' ? "correct" : letter == 'B' ? "incorrect" : "not_attempted";
    s.details = {{"grade", std::string(1, letter)},
                 {"judge_output", judged->text},
                 {"gold", item.answer},
                 {v_.group_label, sample.metadata.value(v_.group_key, "")}};
    return s;
  }

  std::vector<Metric> aggregate(const std::vector<GradedAttempt>& attempts) const override {
    std::vector<Metric> out = metrics_for("", attempts);
    std::map<std::string, std::vector<GradedAttempt>> groups;
    for (const auto& a : attempts) groups[a.details.value(v_.group_label, "")].push_back(a);
    for (const auto& [g, list] : groups)
      for (auto& m : metrics_for("@" + v_.group_label + "=" + g, list)) out.push_back(m);
    return out;
  }

 private:
  // The official aggregate (fractions over graded items; given-attempted accuracy; F1), with
  // 95% intervals: Wilson, or a t-interval over per-sample means when samples repeat; F1 by a
  // cluster bootstrap over samples.
  static std::vector<Metric> metrics_for(const std::string& suffix,
                                         const std::vector<GradedAttempt>& attempts) {
    using Values = std::vector<std::pair<std::string, double>>;
    Values correct, incorrect, na, cga;
    std::set<std::string> ids;
    bool repeats = false;
    for (const auto& a : attempts) {
      repeats |= !ids.insert(a.sample_id).second;
      correct.emplace_back(a.sample_id, a.verdict == "correct");
      incorrect.emplace_back(a.sample_id, a.verdict == "incorrect");
      na.emplace_back(a.sample_id, a.verdict == "not_attempted");
      if (a.verdict != "not_attempted") cga.emplace_back(a.sample_id, a.verdict == "correct");
    }
    auto prop = [&](const std::string& name, const Values& v) {
      if (repeats) return mean_metric(name + suffix, v);
      int64_t k = 0;
      for (auto& [_, x] : v) k += x > 0.5;
      return wilson_metric(name + suffix, k, int64_t(v.size()));
    };
    std::vector<Metric> out;
    Metric c = prop("correct", correct);
    out.push_back(c);
    Metric score = c;
    score.name = "score" + suffix;
    out.push_back(score);
    out.push_back(prop("incorrect", incorrect));
    out.push_back(prop("not_attempted", na));
    out.push_back(prop("correct_given_attempted", cga));
    out.push_back(f1_metric("f1" + suffix, attempts));
    return out;
  }

  static double f1_of(double correct, double attempted) {
    double cga = attempted > 0 ? correct / attempted : 0;
    return cga + correct > 0 ? 2 * cga * correct / (cga + correct) : 0;
  }

  static Metric f1_metric(const std::string& name, const std::vector<GradedAttempt>& attempts) {
    // Per sample: (correct count, attempted count, attempts) so a resample keeps repeats together.
    std::map<std::string, std::array<double, 3>> per;
    for (const auto& a : attempts) {
      auto& p = per[a.sample_id];
      p[0] += a.verdict == "correct";
      p[1] += a.verdict != "not_attempted";
      p[2] += 1;
    }
    std::vector<std::array<double, 3>> rows;
    for (auto& [_, p] : per) rows.push_back(p);
    auto f1 = [&](const std::vector<size_t>& pick) {
      double c = 0, att = 0, n = 0;
      for (size_t i : pick) c += rows[i][0], att += rows[i][1], n += rows[i][2];
      return n > 0 ? f1_of(c / n, att / n) : 0.0;
    };
    std::vector<size_t> all(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) all[i] = i;
    Metric m{name, f1(all), 0, 1, int64_t(rows.size())};
    if (rows.size() < 2) return m;
    std::mt19937_64 rng(20241107);  // fixed: reports are reproducible
    std::uniform_int_distribution<size_t> pick(0, rows.size() - 1);
    std::vector<double> stats;
    std::vector<size_t> idx(rows.size());
    for (int b = 0; b < 1000; ++b) {
      for (auto& x : idx) x = pick(rng);
      stats.push_back(f1(idx));
    }
    std::sort(stats.begin(), stats.end());
    m.ci_low = stats[24];   // 2.5th percentile of 1000
    m.ci_high = stats[974];
    return m;
  }

  Sample make_sample(std::string id, const std::string& question, Json metadata) {
    Sample s;
    s.id = std::move(id);
    s.index = items_.size();
    auto messages = std::make_shared<Messages>();
    if (!system_.empty()) messages->push_back({"system", system_});
    messages->push_back({"user", question});
    s.prompt = std::move(messages);
    s.metadata = std::move(metadata);
    return s;
  }

  Status load_csv(const std::string& content, int64_t limit) {
    auto records = text::parse_csv(content, file_);
    if (!records.ok()) return records.status();
    if (records->empty()) return DataError(file_ + ": empty CSV");
    const auto& header = records->front().fields;
    int col_meta = -1, col_problem = -1, col_answer = -1;
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == "metadata") col_meta = int(i);
      if (header[i] == "problem") col_problem = int(i);
      if (header[i] == "answer") col_answer = int(i);
    }
    if (col_problem < 0 || col_answer < 0)
      return DataError(file_ + ":1: expected columns metadata,problem,answer");
    for (size_t r = 1; r < records->size(); ++r) {
      const auto& rec = (*records)[r];
      std::string where = file_ + ":" + std::to_string(rec.line) + ": ";
      if (rec.fields.size() != header.size())
        return DataError(where + "expected " + std::to_string(header.size()) + " fields, got " +
                         std::to_string(rec.fields.size()));
      Json meta = Json::object();
      if (col_meta >= 0) {
        auto parsed = parse_python_literal(rec.fields[col_meta]);
        if (!parsed.ok()) return DataError(where + "metadata: " + parsed.status().message());
        if (!parsed->is_object()) return DataError(where + "metadata is not a dict");
        meta = *parsed;
      }
      Json metadata = {{"topic", meta.value("topic", "")},
                       {"answer_type", meta.value("answer_type", "")}};
      // Sample id: 0-based row index, as the official set is indexed.
      samples_.push_back(make_sample(std::to_string(r - 1), rec.fields[col_problem], metadata));
      items_.push_back({rec.fields[col_problem], rec.fields[col_answer]});
      if (limit > 0 && int64_t(samples_.size()) >= limit) break;
    }
    return Status::Ok();
  }

  Status load_jsonl(const std::string& content, int64_t limit) {
    std::istringstream in(content);
    std::string line;
    int64_t line_no = 0;
    std::set<std::string> seen;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      std::string where = file_ + ":" + std::to_string(line_no) + ": ";
      Json row;
      try {
        row = Json::parse(line);
      } catch (const Json::parse_error& e) {
        return DataError(where + "malformed JSON: " + e.what());
      }
      for (const char* f : {"id", "question", "answer"})
        if (!row.contains(f) || !row[f].is_string())
          return DataError(where + "missing string field \"" + f + "\"");
      std::string id = row["id"];
      if (!seen.insert(id).second) return DataError(where + "duplicate id " + id);
      Json metadata = {{"primary_category", row.value("primary_category", "")},
                       {"secondary_category", row.value("secondary_category", "")}};
      samples_.push_back(make_sample(id, row["question"], metadata));
      items_.push_back({row["question"], row["answer"]});
      if (limit > 0 && int64_t(samples_.size()) >= limit) break;
    }
    return Status::Ok();
  }

  const Variant& v_;
  Spec spec_;
  SuiteDoc doc_;
  std::string file_;
  std::string system_;
  bool system_set_ = false;
  std::optional<double> judge_temperature_;
  int64_t judge_max_tokens_ = -1;
  Backend* judge_ = nullptr;
  std::vector<Item> items_;
};

SuiteDoc base_doc(const Variant& v) {
  SuiteDoc d;
  d.name = v.name;
  d.version = kVersion;
  d.options = {
      {"file", "the official data file; required"},
      {"system", "model system message: none | api (\"You are a helpful assistant.\") | TEXT"},
      {"judge_temperature", "judge sampling temperature (default: the official grader's)"},
      {"judge_max_tokens", "judge max tokens (default: the official grader's)"},
  };
  std::string g = v.group_label;
  d.metrics = {
      {"correct", "fraction graded A (CORRECT) by the judge; Wilson 95% interval"},
      {"score", "= correct (simple-evals' headline `score`)"},
      {"incorrect", "fraction graded B"},
      {"not_attempted", "fraction graded C (also: no A/B/C in the judge's text)"},
      {"correct_given_attempted", "correct / (correct + incorrect)"},
      {"f1", "harmonic mean of correct and correct_given_attempted; bootstrap interval"},
      {"METRIC@" + g + "=X", "each of the above per " + g},
  };
  return d;
}

}  // namespace

SuiteDoc simpleqa_doc() {
  SuiteDoc d = base_doc(simpleqa_variant());
  d.description =
      "OpenAI SimpleQA: short factual questions (the question is the only user message), graded "
      "A/B/C by a judge model with simple-evals' GRADER_TEMPLATE (byte-exact); needs --judge.";
  d.data = "simple_qa_test_set.csv (columns metadata [Python dict literal], problem, answer); "
           "sample id = 0-based row index";
  return d;
}

SuiteDoc chinese_simpleqa_doc() {
  SuiteDoc d = base_doc(chinese_variant());
  d.description =
      "Chinese SimpleQA: Chinese factual questions (system 你是一个智能助手。), graded A/B/C by a "
      "judge with the official judge_prompt (byte-exact); empty answers stay ungraded; needs "
      "--judge.";
  d.data = "chinese_simpleqa.jsonl (id, primary_category, secondary_category, question, answer, "
           "urls); sample id = id";
  return d;
}

Result<std::unique_ptr<Suite>> make_simpleqa_suite(const Spec& spec) {
  auto s = std::make_unique<SimpleQaSuite>(simpleqa_variant(), spec);
  if (auto st = s->configure(); !st.ok()) return st;
  return std::unique_ptr<Suite>(std::move(s));
}

Result<std::unique_ptr<Suite>> make_chinese_simpleqa_suite(const Spec& spec) {
  auto s = std::make_unique<SimpleQaSuite>(chinese_variant(), spec);
  if (auto st = s->configure(); !st.ok()) return st;
  return std::unique_ptr<Suite>(std::move(s));
}

}  // namespace v4eval::simpleqa
