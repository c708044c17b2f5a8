// MRCR suite. Reference: openai/mrcr dataset card (huggingface.co/datasets/openai/mrcr, README
// "How to run" `grade` and `n_tokens` helpers), restated in shared/design/suites.md §5.

#include "suites/mrcr/mrcr_suite.h"

#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "harness/hash.h"
#include "harness/stats.h"
#include "suites/messages.h"
#include "suites/mrcr/difflib.h"
#include "suites/text/o200k.h"
#include "suites/text/utf8.h"

namespace v4eval::mrcr {
namespace {

constexpr const char* kVersion = "1";

struct Row {
  std::string answer;
  std::string prefix;  // random_string_to_prepend
  int n_needles = 0;
  // o200k count of every message content plus the answer, computed once on first use.
  mutable std::once_flag tokens_once;
  mutable int64_t tokens = -1;
};

class MrcrSuite final : public DataSuite {
 public:
  MrcrSuite(std::string file, std::set<int> needles, int64_t max_tokens)
      : file_(std::move(file)), needles_(std::move(needles)), max_tokens_(max_tokens) {
    doc_ = mrcr_doc();
  }

  const SuiteDoc& doc() const override { return doc_; }

  Status load(int64_t limit) override {
    auto tokenizer = text::O200k::shared();
    if (!tokenizer.ok()) return tokenizer.status();
    tokenizer_ = *tokenizer;

    std::ifstream in(file_, std::ios::binary);
    if (!in) return NotFound("MRCR data " + file_ + ": cannot open");
    Sha256 hash;
    hash.update(std::string("mrcr-v") + kVersion + "\n");
    std::string line;
    int64_t line_no = 0, row_index = -1;
    while (std::getline(in, line)) {
      ++line_no;
      hash.update(line);
      hash.update("\n");
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      ++row_index;
      auto where = [&] { return file_ + ":" + std::to_string(line_no) + ": "; };
      Json row;
      try {
        row = Json::parse(line);
      } catch (const Json::parse_error& e) {
        return DataError(where() + "malformed JSON: " + e.what());
      }
      if (!row.is_object()) return DataError(where() + "expected a JSON object");
      for (const char* field : {"prompt", "answer", "random_string_to_prepend"})
        if (!row.contains(field) || !row[field].is_string())
          return DataError(where() + "missing string field \"" + field + "\"");
      if (!row.contains("n_needles") || !row["n_needles"].is_number_integer())
        return DataError(where() + "missing integer field \"n_needles\"");
      int n_needles = row["n_needles"].get<int>();
      if (!needles_.empty() && !needles_.count(n_needles)) continue;

      std::shared_ptr<const Messages> messages;
      {
        Json prompt;
        try {
          prompt = Json::parse(row["prompt"].get_ref<const std::string&>());
        } catch (const Json::parse_error& e) {
          return DataError(where() + "\"prompt\" is not a JSON list of messages: " + e.what());
        }
        auto taken = take_messages(prompt, where());
        if (!taken.ok()) return taken.status();
        messages = std::move(taken.value());
      }
      auto r = std::make_unique<Row>();
      r->answer = row["answer"].get<std::string>();
      r->prefix = row["random_string_to_prepend"].get<std::string>();
      r->n_needles = n_needles;
      if (max_tokens_ > 0 && count_tokens(*r, *messages) > max_tokens_) continue;

      Sample s;
      s.id = std::to_string(row_index);
      s.index = rows_.size();
      s.prompt = std::move(messages);
      s.metadata = {{"n_needles", n_needles}};
      for (const char* k : {"desired_msg_index", "total_messages", "n_chars", "date_added"})
        if (row.contains(k)) s.metadata[k] = row[k];
      samples_.push_back(std::move(s));
      rows_.push_back(std::move(r));
      if (limit > 0 && int64_t(samples_.size()) >= limit) break;
    }
    if (in.bad()) return IoError("MRCR data " + file_ + ": read error");
    data_hash_ = hash.hex_digest();
    return Status::Ok();
  }

  GenerationRequest make_request(const Sample& sample, Mode mode) const override {
    // Sent as-is: no system prompt, no tools (suites.md §5 "Inference").
    GenerationRequest r = base_request(sample, mode, "mrcr");
    return r;
  }

  Result<Score> grade(const Sample& sample, const GenerationRequest&,
                      const Generation& generation) const override {
    const Row& row = *rows_.at(sample.index);
    int64_t tokens = count_tokens(row, *sample.prompt);
    Score s;
    s.value = grade_response(generation.text, row.answer, row.prefix);
    bool prefix_ok = generation.text.compare(0, row.prefix.size(), row.prefix) == 0;
    s.verdict = !prefix_ok ? "no_prefix" : (s.value == 1.0 ? "exact" : "partial");
    s.details = {{"ratio", s.value},         {"prefix_ok", prefix_ok},
                 {"tokens", tokens},         {"bin", bin_label(tokens)},
                 {"n_needles", row.n_needles}};
    return s;
  }

  std::vector<Metric> aggregate(const std::vector<GradedAttempt>& attempts) const override {
    using Values = std::vector<std::pair<std::string, double>>;
    Values all;
    std::map<std::string, Values> groups;  // metric name -> values
    for (const auto& a : attempts) {
      all.emplace_back(a.sample_id, a.score);
      std::string needles = a.details.contains("n_needles")
                                ? std::to_string(a.details["n_needles"].get<int>()) : "?";
      std::string bin = a.details.value("bin", "?");
      groups["score@needles=" + needles].emplace_back(a.sample_id, a.score);
      groups["score@bin=" + bin].emplace_back(a.sample_id, a.score);
      groups["score@needles=" + needles + ",bin=" + bin].emplace_back(a.sample_id, a.score);
    }
    std::vector<Metric> out{mean_metric("score", all)};
    for (const auto& [name, values] : groups) out.push_back(mean_metric(name, values));
    return out;
  }

 private:
  int64_t count_tokens(const Row& row, const Messages& messages) const {
    std::call_once(row.tokens_once, [&] {
      // The README's n_tokens: contents only, no chat-format overhead (suites.md §5).
      int64_t n = int64_t(tokenizer_->count(row.answer));
      for (const auto& m : messages) n += int64_t(tokenizer_->count(m.content));
      row.tokens = n;
    });
    return row.tokens;
  }

  SuiteDoc doc_;
  std::string file_;
  std::set<int> needles_;
  int64_t max_tokens_;
  const text::O200k* tokenizer_ = nullptr;
  std::vector<std::unique_ptr<Row>> rows_;  // parallel to samples_
};

}  // namespace

double grade_response(std::string_view response, std::string_view answer, std::string_view prefix) {
  if (response.substr(0, prefix.size()) != prefix) return 0.0;
  response.remove_prefix(prefix.size());
  if (answer.substr(0, prefix.size()) == prefix) answer.remove_prefix(prefix.size());
  return sequence_matcher_ratio(text::utf8_to_code_points(response),
                                text::utf8_to_code_points(answer));
}

std::string bin_label(int64_t tokens) {
  if (tokens < 4096) return "<4k";
  static const char* kLabels[] = {"8k", "16k", "32k", "64k", "128k", "256k", "512k", "1m"};
  int64_t upper = 8192;
  for (const char* label : kLabels) {
    if (tokens <= upper) return label;
    upper *= 2;
  }
  return ">1m";
}

SuiteDoc mrcr_doc() {
  SuiteDoc d;
  d.name = "mrcr";
  d.version = kVersion;
  d.description =
      "OpenAI MRCR: find the k-th of several identical requests in a long multi-turn "
      "conversation and reproduce its answer after a random prefix. Graded as the official "
      "grader: 0 without the prefix, else difflib SequenceMatcher ratio (CPython-exact).";
  d.options = {
      {"file", "JSONL of openai/mrcr rows (prompt as a JSON string of messages); required"},
      {"needles", "keep rows with these needle counts, e.g. needles=2,8 (default: all)"},
      {"max_tokens", "skip rows whose o200k token count exceeds this (the model's context)"},
  };
  d.metrics = {
      {"score", "mean match ratio over samples (repeats averaged per sample), t-interval"},
      {"score@needles=N", "the same over rows with N needles"},
      {"score@bin=B", "the same over one context bin: 8k=[4096,8192], 16k=(8192,16384], ..., "
                      "1m=(524288,1048576], by o200k count of message contents + answer"},
      {"score@needles=N,bin=B", "per needle count and bin (OpenAI's reporting grid)"},
  };
  d.data = "openai/mrcr parquet rows exported as JSONL; `v4eval gen-mrcr` writes synthetic "
           "rows in the same schema (data/mrcr/sample.jsonl ships with the repository)";
  return d;
}

Result<std::unique_ptr<Suite>> make_mrcr_suite(const Spec& spec) {
  std::set<int> needles;
  int64_t max_tokens = 0;
  for (const auto& [key, value] : spec.options) {
    if (key == "file") continue;
    if (key == "needles") {
      size_t pos = 0;
      while (pos <= value.size()) {
        size_t comma = value.find(',', pos);
        std::string piece = value.substr(pos, comma == std::string::npos ? std::string::npos
                                                                         : comma - pos);
        try {
          needles.insert(std::stoi(piece));
        } catch (...) {
          return InvalidArgument("mrcr: needles must be integers, got '" + value + "'");
        }
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    } else if (key == "max_tokens") {
      try {
        max_tokens = std::stoll(value);
      } catch (...) {
        return InvalidArgument("mrcr: max_tokens must be an integer, got '" + value + "'");
      }
    } else {
      return InvalidArgument("mrcr: unknown option '" + key + "' (known: file, needles, max_tokens)");
    }
  }
  auto file = spec.get("file");
  if (!file || file->empty()) return InvalidArgument("mrcr needs file=FILE.jsonl");
  return std::unique_ptr<Suite>(new MrcrSuite(*file, std::move(needles), max_tokens));
}

}  // namespace v4eval::mrcr
