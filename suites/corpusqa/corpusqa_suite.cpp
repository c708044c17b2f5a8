// CorpusQA. Reference: Tongyi-Zhiwen/CorpusQA @ f5b57644142b031bedec55a91f8fb8e543a6cad5,
// src/infer.py (messages as given, temperature 0.0) and src/eval.py (extract_answer,
// GENERAL_ORM_PROMPT / ORM_USER_TEMPLATE judge messages at temperature 0.0, the [[YES]]/[[NO]]
// rule, accuracy overall and per domain from the id prefix). One deliberate difference: the
// official script counts a judge API error as incorrect; here it leaves the item ungraded
// (retried on resume), so an infrastructure failure never becomes a grade.

#include "suites/corpusqa/corpusqa_suite.h"

#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "harness/hash.h"
#include "harness/stats.h"
#include "suites/judge.h"
#include "suites/messages.h"
#include "suites/text/o200k.h"
#include "suites/text/utf8.h"

namespace v4eval::embedded {
std::string_view corpusqa_judge_system();
std::string_view corpusqa_judge_user();
}  // namespace v4eval::embedded

namespace v4eval::corpusqa {

std::string_view judge_system_prompt() { return embedded::corpusqa_judge_system(); }
std::string_view judge_user_template() { return embedded::corpusqa_judge_user(); }

std::string python_strip(std::string_view s) {
  auto is_space = [](char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
  };
  std::u32string u = text::utf8_to_code_points(s);
  size_t b = 0, e = u.size();
  while (b < e && is_space(u[b])) ++b;
  while (e > b && is_space(u[e - 1])) --e;
  return text::code_points_to_utf8(std::u32string_view(u).substr(b, e - b));
}

std::string extract_answer(std::string_view response) {
  static constexpr std::string_view kMarker = "The answer is: ";
  size_t pos = response.find(kMarker);
  if (pos == std::string_view::npos) return python_strip(response);
  std::string_view rest = response.substr(pos + kMarker.size());
  // Python's `.` stops at '\n' only.
  return python_strip(rest.substr(0, rest.find('\n')));
}

bool judge_says_yes(std::string_view judge_text) {
  return judge_text.find("[[YES]]") != std::string_view::npos &&
         judge_text.find("[[NO]]") == std::string_view::npos;
}

namespace {

constexpr const char* kVersion = "1";

std::string domain_of(const std::string& id) {
  for (const char* d : {"financial_zh", "financial_en", "education_en", "real_estate_en"})
    if (id.rfind(d, 0) == 0) return d;
  return "other";
}

// Python's str() of a JSON value, as str.format renders the gold in ORM_USER_TEMPLATE.
std::string python_str(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "None";
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ", ";
      if (v[i].is_string()) {
        std::string s = v[i].get<std::string>();
        bool has_single = s.find('\'') != std::string::npos;
        bool has_double = s.find('"') != std::string::npos;
        char q = has_single && !has_double ? '"' : '\'';
        out += q;
        for (char c : s) {
          if (c == '\\' || c == q) out += '\\';
          out += c;
        }
        out += q;
      } else {
        out += python_str(v[i]);
      }
    }
    return out + "]";
  }
  return v.dump();
}

struct Item {
  std::string question;
  std::string gold;
  std::string domain;
  std::string difficulty;
  mutable std::once_flag tokens_once;
  mutable int64_t tokens = -1;
};

class CorpusQaSuite final : public DataSuite {
 public:
  explicit CorpusQaSuite(const Spec& spec) : spec_(spec) { doc_ = corpusqa_doc(); }

  Status configure() {
    for (const auto& [k, v] : spec_.options) {
      if (k == "file") {
        file_ = v;
      } else if (k == "context_window") {
        try {
          context_window_ = std::stoll(v);
        } catch (...) {
          return InvalidArgument("corpusqa: context_window must be an integer");
        }
      } else if (k == "send_long") {
        send_long_ = v == "true" || v == "1";
      } else if (k == "domain") {
        domain_filter_ = v;
      } else {
        return InvalidArgument("corpusqa: unknown option '" + k +
                               "' (known: file, context_window, send_long, domain)");
      }
    }
    if (file_.empty()) return InvalidArgument("corpusqa needs file=FILE.jsonl");
    return Status::Ok();
  }

  const SuiteDoc& doc() const override { return doc_; }
  bool needs_judge() const override { return true; }
  void set_judge(Backend* judge) override { judge_ = judge; }
  std::string judge_prompt_hash() const override {
    return sha256_hex(std::string(judge_system_prompt()) + "\n--user--\n" +
                      std::string(judge_user_template()));
  }

  Json judge_settings() const override {
    return {{"temperature", 0.0}, {"parse", "[[YES]] present and [[NO]] absent"}};
  }

  Status load(int64_t limit) override {
    auto tokenizer = text::O200k::shared();
    if (!tokenizer.ok()) return tokenizer.status();
    tokenizer_ = *tokenizer;
    // Streamed line by line: a 1M-token row is held once (as messages), never the whole file.
    std::ifstream in(file_, std::ios::binary);
    if (!in) return NotFound("CorpusQA data " + file_ + ": cannot open");
    Sha256 hash;
    hash.update(std::string("corpusqa-v") + kVersion + "\n");
    std::string line;
    int64_t line_no = 0;
    std::set<std::string> seen;
    while (std::getline(in, line)) {
      ++line_no;
      hash.update(line);
      hash.update("\n");
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      std::string where = file_ + ":" + std::to_string(line_no) + ": ";
      Json row;
      try {
        row = Json::parse(line);
      } catch (const Json::parse_error& e) {
        return DataError(where + "malformed JSON: " + e.what());
      }
      line.clear();
      line.shrink_to_fit();
      for (const char* f : {"id", "question"})
        if (!row.contains(f) || !row[f].is_string())
          return DataError(where + "missing string field \"" + std::string(f) + "\"");
      if (!row.contains("answer") || !row.contains("prompt"))
        return DataError(where + "missing field \"answer\" or \"prompt\"");
      std::string id = row["id"];
      if (!seen.insert(id).second) return DataError(where + "duplicate id " + id);
      std::string domain = domain_of(id);
      if (!domain_filter_.empty() && domain != domain_filter_) continue;
      Json prompt = std::move(row["prompt"]);
      if (prompt.is_string()) {  // some exports keep the messages as a JSON string
        try {
          prompt = Json::parse(prompt.get<std::string>());
        } catch (const Json::parse_error& e) {
          return DataError(where + "\"prompt\" is not a list of messages: " + e.what());
        }
      }
      auto messages = take_messages(prompt, where);
      if (!messages.ok()) return messages.status();
      auto item = std::make_unique<Item>();
      item->question = row["question"];
      item->gold = python_str(row["answer"]);
      item->domain = domain;
      for (const char* k : {"difficulty", "level"})
        if (row.contains(k) && row[k].is_string()) item->difficulty = row[k];
      Sample s;
      s.id = id;
      s.index = items_.size();
      s.prompt = std::move(messages.value());
      s.metadata = {{"domain", domain}, {"difficulty", item->difficulty}};
      samples_.push_back(std::move(s));
      items_.push_back(std::move(item));
      if (limit > 0 && int64_t(samples_.size()) >= limit) break;
    }
    if (in.bad()) return IoError("CorpusQA data " + file_ + ": read error");
    data_hash_ = hash.hex_digest();
    return Status::Ok();
  }

  GenerationRequest make_request(const Sample& sample, Mode mode) const override {
    GenerationRequest r = base_request(sample, mode, "corpusqa");
    r.temperature = 0.0;  // infer.py (a run's --temperature overrides)
    return r;
  }

  std::optional<std::string> skip_reason(const Sample& sample,
                                         const BackendInfo& backend) const override {
    int64_t window = context_window_ > 0 ? context_window_ : backend.context_window;
    if (window <= 0 || send_long_) return std::nullopt;
    int64_t tokens = count_tokens(sample);
    if (tokens <= window) return std::nullopt;
    return "prompt has " + std::to_string(tokens) + " o200k tokens, over the context window of " +
           std::to_string(window) + " (not truncated; send_long=true sends it anyway)";
  }

  Result<Score> grade(const Sample& sample, const GenerationRequest& request,
                      const Generation& generation) const override {
    if (!judge_) return Internal("corpusqa: no judge attached");
    const Item& item = *items_.at(sample.index);
    std::string extracted = extract_answer(generation.text);
    auto user = format_template(judge_user_template(), {{"problem", item.question},
                                                        {"answer_1", extracted},
                                                        {"answer_2", item.gold}});
    if (!user.ok()) return user.status();
    JudgeCall call;
    call.messages = {{"system", std::string(judge_system_prompt())}, {"user", *user}};
    call.temperature = 0.0;
    call.suite = "corpusqa";
    call.sample_id = sample.id;
    call.mode = request.mode;
    call.repeat = request.repeat;
    auto judged = ask_judge(*judge_, call);
    if (!judged.ok()) return judged.status();
    bool yes = judge_says_yes(judged->text);
    Score s;
    s.value = yes ? 1.0 : 0.0;
    s.verdict = yes ? "correct" : "incorrect";
    s.details = {{"extracted_answer", extracted}, {"gold", item.gold},
                 {"judge_output", judged->text},  {"domain", item.domain},
                 {"difficulty", item.difficulty}, {"tokens_o200k", count_tokens(sample)}};
    return s;
  }

  std::vector<Metric> aggregate(const std::vector<GradedAttempt>& attempts) const override {
    using Values = std::vector<std::pair<std::string, double>>;
    std::map<std::string, Values> groups;
    std::set<std::string> ids;
    bool repeats = false;
    for (const auto& a : attempts) {
      repeats |= !ids.insert(a.sample_id).second;
      groups["accuracy"].emplace_back(a.sample_id, a.score);
      groups["accuracy@domain=" + a.details.value("domain", "")].emplace_back(a.sample_id, a.score);
      std::string d = a.details.value("difficulty", "");
      if (!d.empty()) groups["accuracy@difficulty=" + d].emplace_back(a.sample_id, a.score);
    }
    std::vector<Metric> out;
    for (const auto& [name, v] : groups) {
      if (repeats) {
        out.push_back(mean_metric(name, v));
      } else {
        int64_t k = 0;
        for (auto& [_, x] : v) k += x > 0.5;
        out.push_back(wilson_metric(name, k, int64_t(v.size())));
      }
    }
    for (const auto& m : out)
      if (m.name == "accuracy") {
        Metric score = m;
        score.name = "score";
        out.push_back(score);
        break;
      }
    return out;
  }

 private:
  int64_t count_tokens(const Sample& sample) const {
    const Item& item = *items_.at(sample.index);
    std::call_once(item.tokens_once, [&] {
      int64_t n = 0;  // tokenised once per sample, whatever the modes and repeats
      for (const auto& m : *sample.prompt) n += int64_t(tokenizer_->count(m.content));
      item.tokens = n;
    });
    return item.tokens;
  }

  Spec spec_;
  SuiteDoc doc_;
  std::string file_;
  int64_t context_window_ = 0;
  bool send_long_ = false;
  std::string domain_filter_;
  Backend* judge_ = nullptr;
  const text::O200k* tokenizer_ = nullptr;
  std::vector<std::unique_ptr<Item>> items_;
};

}  // namespace

SuiteDoc corpusqa_doc() {
  SuiteDoc d;
  d.name = "corpusqa";
  d.version = kVersion;
  d.description =
      "CorpusQA: aggregation questions over a whole corpus in one prompt (128K / 1M tokens). "
      "The answer after 'The answer is: ' is judged equivalent to the gold by a judge model "
      "with the official ORM prompt ([[YES]] and no [[NO]]); needs --judge.";
  d.options = {
      {"file", "JSONL rows (id, prompt = messages, question, answer); required"},
      {"context_window", "skip prompts longer than this many o200k tokens (default: the "
                         "backend's window, when it reports one)"},
      {"send_long", "true: send over-long prompts anyway instead of skipping them"},
      {"domain", "keep one domain: financial_zh, financial_en, education_en, real_estate_en"},
  };
  d.metrics = {
      {"accuracy", "fraction judged equivalent; Wilson 95% interval"},
      {"score", "= accuracy"},
      {"accuracy@domain=D", "per domain (id prefix)"},
      {"accuracy@difficulty=X", "per difficulty, when rows carry one"},
  };
  d.data = "HF Tongyi-Zhiwen/CorpusQA 128k_4domains.jsonl / 1m_4domains.jsonl; `v4eval "
           "gen-corpusqa` writes synthetic rows in the same layout";
  return d;
}

Result<std::unique_ptr<Suite>> make_corpusqa_suite(const Spec& spec) {
  auto s = std::make_unique<CorpusQaSuite>(spec);
  if (auto st = s->configure(); !st.ok()) return st;
  return std::unique_ptr<Suite>(std::move(s));
}

}  // namespace v4eval::corpusqa
