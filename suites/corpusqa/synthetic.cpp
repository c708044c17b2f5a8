#include "suites/corpusqa/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

namespace v4eval::corpusqa {
namespace {

// Measured on generated corpora with the o200k_base tokenizer: 6.0 characters per token at
// 32K-1M tokens (common English words, long figures; checked by the unit test).
constexpr double kCharsPerToken = 6.0;

const char* const kSyllables[] = {"nor", "vel", "tra", "quin", "star", "lum", "cor", "bel",
                                  "dan", "rix", "mon", "tel", "var", "zen", "pol", "kas",
                                  "gri", "hol", "sen", "tor", "ami", "bro", "cel", "dor"};
const char* const kSuffixes[] = {"INC", "CORP", "HOLDINGS LTD", "GROUP INC", "TECHNOLOGIES INC",
                                 "INDUSTRIES CORP"};
const char* const kRegions[] = {"North", "South", "East", "West", "Central"};
const char* const kSectors[] = {"Technology", "Healthcare", "Energy", "Retail", "Finance",
                                "Manufacturing"};
const char* const kFiller[] = {
    "the board reviewed the operating environment and noted steady demand across key markets",
    "management continued to invest in supply chain resilience and workforce training",
    "the company maintained its dividend policy and monitored liquidity on a weekly basis",
    "capital expenditure focused on maintenance of existing facilities and digital systems",
    "the audit committee met four times and raised no material findings during the period",
    "customer retention improved following the launch of revised service agreements",
    "currency movements had a limited effect on reported figures for the period",
    "the group completed the integration of a small acquisition announced last year",
    "research spending remained in line with the plan approved by the board",
    "risk factors include competition, regulatory change and interest rate movements",
    "the outlook for the next period assumes stable input costs and moderate growth",
    "no significant events occurred after the balance sheet date that require disclosure"};

struct Company {
  std::string name;
  std::string region;
  std::string sector;
  double revenue;     // millions
  double net_profit;  // millions
  int employees;
};

std::string money(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// ["A INC", "B CORP"]: JSON strings joined by ", ", as the paper's answer examples.
std::string json_list(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + Json(names[i]).dump();
  return out + "]";
}

}  // namespace

Json make_synthetic_row(const SyntheticOptions& o) {
  if (o.target_tokens < 2000) throw std::invalid_argument("target_tokens must be >= 2000");
  std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ull + 12345);
  auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  auto pick = [&](auto& arr) { return arr[rng() % std::size(arr)]; };

  // Each report is about 1,500 tokens; the corpus has as many as the size asks for.
  const int64_t doc_tokens = 1500;
  int n_docs = int(std::max<int64_t>(3, o.target_tokens / doc_tokens));
  std::vector<Company> companies;
  std::set<std::string> used;
  while (int(companies.size()) < n_docs) {
    std::string stem;
    int parts = 2 + int(rng() % 2);
    for (int p = 0; p < parts; ++p) stem += pick(kSyllables);
    for (auto& c : stem) c = char(std::toupper(static_cast<unsigned char>(c)));
    std::string name = stem + " " + pick(kSuffixes);
    if (!used.insert(name).second) continue;
    Company c{name, pick(kRegions), pick(kSectors), std::round(uniform(200, 20000) * 100) / 100,
              0, int(uniform(50, 50000))};
    c.net_profit = std::round(c.revenue * uniform(-0.1, 0.3) * 100) / 100;
    companies.push_back(c);
  }

  std::string difficulty = o.difficulty;
  if (difficulty.empty()) difficulty = std::array<const char*, 3>{"easy", "medium", "hard"}[o.seed % 3];
  std::string question, answer;
  if (difficulty == "easy") {
    std::string region = pick(kRegions);
    double threshold = std::round(uniform(200, 2000));
    question = "Which companies in the " + region + " region reported a net profit above " +
               money(threshold) + " million?";
    std::vector<std::string> hits;
    for (const auto& c : companies)
      if (c.region == region && c.net_profit > threshold) hits.push_back(c.name);
    answer = json_list(hits);
  } else if (difficulty == "medium") {
    std::string sector = pick(kSectors);
    double sum = 0;
    int n = 0;
    for (const auto& c : companies)
      if (c.sector == sector) sum += c.revenue, ++n;
    question = "What is the average total revenue, in millions, of the companies in the " +
               sector + " sector?";
    answer = money(n ? sum / n : 0);
  } else if (difficulty == "hard") {
    double avg_margin = 0;
    for (const auto& c : companies) avg_margin += c.net_profit / c.revenue;
    avg_margin /= double(companies.size());
    int above = 0;
    for (const auto& c : companies) above += c.net_profit / c.revenue > avg_margin;
    question = "Define the net profit margin as net profit divided by total revenue. What "
               "percentage of all companies have a net profit margin above the average net "
               "profit margin of all companies?";
    answer = money(100.0 * above / double(companies.size())) + "%";
  } else {
    throw std::invalid_argument("difficulty must be easy, medium or hard");
  }

  std::string user;
  user.reserve(size_t(double(o.target_tokens) * kCharsPerToken * 1.05));
  const size_t doc_chars = size_t(double(o.target_tokens) * kCharsPerToken / n_docs);
  for (int i = 0; i < n_docs; ++i) {
    const Company& c = companies[i];
    std::string doc = "Annual report of " + c.name + "\nRegion: " + c.region + "\nSector: " +
                      c.sector + "\n\n";
    std::vector<std::string> facts = {
        "During the period " + c.name + " reported total revenue of " + money(c.revenue) +
            " million.",
        "Net profit attributable to shareholders was " + money(c.net_profit) + " million.",
        "At the end of the period the company employed " + std::to_string(c.employees) +
            " people."};
    size_t fact = 0;
    while (doc.size() < doc_chars) {
      std::string sentence = pick(kFiller);
      sentence[0] = char(std::toupper(static_cast<unsigned char>(sentence[0])));
      doc += sentence + ". ";
      if (fact < facts.size() && rng() % 4 == 0) doc += facts[fact++] + " ";
      if (rng() % 6 == 0) doc += "\n\n";
    }
    while (fact < facts.size()) doc += facts[fact++] + " ";
    user += "# Document " + std::to_string(i + 1) + ":\n" + doc + "\n";
  }
  user += "# Question:\n" + question + "\n\n";
  user +=
      "# Output requirements:\n"
      "1. Your answer can only be one of the following types: a list of strings (including "
      "empty list \"[]\"), a single short string, a number (floating point numbers should retain "
      "2 decimal places, without units), or a percentage (retain 2 decimal places).\n"
      "2. To output the date, use the format \"YYYY-MM\".\n"
      "3. If multiple files contain a conflicting value for the same item, please use the value "
      "from the latest file.\n"
      "4. Please place the final answer at the end, and strictly use the format: The answer is: "
      "xxx.\n"
      "# Answer format examples:\n"
      "- For a list of strings: The answer is: [\"NETFLIX INC\", \"H&R BLOCK INC\"]\n"
      "- For a single string: The answer is: \"South\"\n"
      "- For a number: The answer is: 1234567.89\n"
      "- For a percentage: The answer is: 12.34%\n";

  Json prompt = Json::array();
  prompt.push_back({{"role", "system"},
                    {"content", "You are a helpful assistant that analyses document corpora."}});
  prompt.push_back({{"role", "user"}, {"content", std::move(user)}});
  return {{"id", "financial_en_synth_" + std::to_string(o.seed)},
          {"prompt", std::move(prompt)},
          {"question", question},
          {"answer", answer},
          {"difficulty", difficulty},
          {"n_documents", n_docs}};
}

}  // namespace v4eval::corpusqa
