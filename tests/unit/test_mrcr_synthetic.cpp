// The synthetic MRCR generator: official schema, a well-formed needle task, determinism, and
// sizes checked with the real o200k_base tokenizer (npm tiktoken, run through node).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "harness/types.h"
#include "suites/mrcr/synthetic.h"
#include "tests/unit/test_support.h"

namespace {

using v4eval::Json;
using v4eval::mrcr::make_synthetic_row;
using v4eval::mrcr::SyntheticOptions;

constexpr std::string_view kFewShotStart =
    "Here are some examples of conversations succeeded by a follow-up question answered "
    "correctly:";
constexpr std::string_view kFewShotEnd = "======END EXAMPLES======\n\n";

std::string ordinal_suffix(int k) {
  if (k % 100 >= 11 && k % 100 <= 13) return "th";
  switch (k % 10) {
    case 1:
      return "st";
    case 2:
      return "nd";
    case 3:
      return "rd";
    default:
      return "th";
  }
}

// Checks everything a row promises; returns the parsed messages.
Json check_row(const Json& row, const SyntheticOptions& options) {
  INFO("n_needles=" << options.n_needles << " target=" << options.target_tokens
                    << " seed=" << options.seed);
  REQUIRE(row.is_object());
  REQUIRE(row.size() == 8);
  REQUIRE(row["prompt"].is_string());
  REQUIRE(row["answer"].is_string());
  REQUIRE(row["random_string_to_prepend"].is_string());
  REQUIRE(row["n_needles"].is_number_integer());
  REQUIRE(row["desired_msg_index"].is_number_integer());
  REQUIRE(row["total_messages"].is_number_integer());
  REQUIRE(row["n_chars"].is_number_integer());
  REQUIRE(row["date_added"].is_string());

  const std::string prefix = row["random_string_to_prepend"];
  CHECK(std::regex_match(prefix, std::regex("[A-Za-z0-9]{10}")));
  CHECK(std::regex_match(row["date_added"].get<std::string>(),
                         std::regex("(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])-20[0-9]{2}")));
  CHECK(row["n_needles"] == options.n_needles);

  // prompt: a JSON string of alternating user/assistant messages ending with the question.
  Json messages = Json::parse(row["prompt"].get<std::string>());
  REQUIRE(messages.is_array());
  REQUIRE(messages.size() % 2 == 1);
  REQUIRE(row["total_messages"] == messages.size());
  size_t n_chars = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& m = messages[i];
    REQUIRE(m.is_object());
    REQUIRE(m.size() == 2);
    REQUIRE(m["role"] == (i % 2 == 0 ? "user" : "assistant"));
    REQUIRE(m["content"].is_string());
    REQUIRE(!m["content"].get<std::string>().empty());
    n_chars += m["content"].get<std::string>().size();
  }
  CHECK(row["n_chars"] == n_chars);

  std::string first = messages[0]["content"];
  REQUIRE(first.rfind(kFewShotStart, 0) == 0);
  CHECK(first.find("======EXAMPLE======\n") != std::string::npos);
  const size_t end = first.find(kFewShotEnd);
  REQUIRE(end != std::string::npos);
  first = first.substr(end + kFewShotEnd.size());

  const std::string question = messages.back()["content"];
  std::smatch q;
  REQUIRE(std::regex_match(question, q,
                           std::regex("Prepend ([A-Za-z0-9]{10}) to the ([0-9]+)(st|nd|rd|th) "
                                      "\\(1 indexed\\) (.+) about (.+)\\. Do not include any "
                                      "other text in your response\\.")));
  CHECK(q[1] == prefix);
  const int k = std::stoi(q[2]);
  CHECK(q[3] == ordinal_suffix(k));
  CHECK(k >= 1);
  CHECK(k <= options.n_needles);
  const std::string needle_request = "write a " + q[4].str() + " about " + q[5].str();

  // Every earlier user turn is a request; the needle request occurs exactly n_needles times,
  // and the reply to its k-th occurrence is the answer.
  const std::regex request("write an? .+ about .+");
  int needles = 0;
  size_t kth_reply = 0;
  for (size_t i = 0; i + 1 < messages.size(); i += 2) {
    const std::string text = i == 0 ? first : messages[i]["content"].get<std::string>();
    CHECK(std::regex_match(text, request));
    if (text == needle_request && ++needles == k) kth_reply = i + 1;
  }
  CHECK(needles == options.n_needles);
  CHECK(row["desired_msg_index"] == kth_reply);
  CHECK(row["answer"] == prefix + messages[kth_reply]["content"].get<std::string>());
  return messages;
}

std::string node_modules() {
  if (const char* env = std::getenv("V4EVAL_NODE_MODULES")) return env;
  return v4eval::test::source_dir() + "/tools/node/node_modules";
}

// o200k_base token counts of each row (every message content plus the answer, counted
// separately, as the MRCR README's helper does), one node process for all rows.
std::vector<int64_t> count_tokens(const std::vector<Json>& rows) {
  const std::string modules = node_modules();
  if (std::system("command -v node >/dev/null 2>&1") != 0) {
    FAIL("node is not on PATH: MRCR sizes are checked with npm tiktoken (scripts/setup.sh)");
  }
  if (!std::filesystem::exists(modules + "/tiktoken/package.json")) {
    FAIL("npm tiktoken is missing under " << modules
                                          << ": run scripts/setup.sh (or set V4EVAL_NODE_MODULES)");
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   ("v4eval_mrcr_synthetic_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::string> files;
  for (size_t i = 0; i < rows.size(); ++i) {
    files.push_back((dir / ("row" + std::to_string(i) + ".json")).string());
    std::ofstream(files.back(), std::ios::binary) << rows[i].dump();
  }
  const auto script = dir / "count.js";
  std::ofstream(script) << R"(
const { get_encoding } = require("tiktoken");
const fs = require("fs");
const enc = get_encoding("o200k_base");
for (const file of process.argv.slice(2)) {
  const row = JSON.parse(fs.readFileSync(file, "utf8"));
  const texts = JSON.parse(row.prompt).map((m) => m.content).concat([row.answer]);
  let tokens = 0;
  for (const text of texts) tokens += enc.encode_ordinary(text).length;
  console.log(tokens);
}
enc.free();
)";
  std::string command = "NODE_PATH='" + modules + "' node '" + script.string() + "'";
  for (const std::string& f : files) command += " '" + f + "'";
  const auto output = dir / "tokens.txt";
  const auto errors = dir / "errors.txt";
  command += " > '" + output.string() + "' 2> '" + errors.string() + "'";
  const int status = std::system(command.c_str());
  std::ifstream err_in(errors);
  std::stringstream err;
  err << err_in.rdbuf();
  INFO("node stderr:\n" << err.str());
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  std::vector<int64_t> counts;
  std::ifstream in(output);
  for (int64_t n; in >> n;) counts.push_back(n);
  std::filesystem::remove_all(dir);
  REQUIRE(counts.size() == rows.size());
  return counts;
}

}  // namespace

TEST_CASE("mrcr synthetic: official schema and a well-formed needle task", "[mrcr]") {
  for (int n_needles : {2, 4, 8}) {
    for (uint64_t seed : {0, 1, 2, 3, 4}) {
      const SyntheticOptions options{n_needles, 4096 + static_cast<int64_t>(seed) * 3000, seed};
      check_row(make_synthetic_row(options), options);
    }
  }
  // One needle and odd ordinals are accepted too.
  check_row(make_synthetic_row({1, 5000, 9}), {1, 5000, 9});
  check_row(make_synthetic_row({13, 20000, 9}), {13, 20000, 9});
  CHECK_THROWS_AS(make_synthetic_row({0, 5000, 1}), std::invalid_argument);
  CHECK_THROWS_AS(make_synthetic_row({2, 0, 1}), std::invalid_argument);
}

TEST_CASE("mrcr synthetic: deterministic in the options", "[mrcr]") {
  const std::string a = make_synthetic_row({4, 8000, 42}).dump();
  CHECK(make_synthetic_row({4, 8000, 42}).dump() == a);
  CHECK(make_synthetic_row({4, 8000, 43}).dump() != a);
  CHECK(make_synthetic_row({8, 8000, 42}).dump() != a);
  // Different seeds pick different prefixes and, over a few seeds, different needles.
  std::vector<std::string> questions;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const Json row = make_synthetic_row({2, 4096, seed});
    questions.push_back(Json::parse(row["prompt"].get<std::string>()).back()["content"]);
  }
  std::sort(questions.begin(), questions.end());
  CHECK(std::unique(questions.begin(), questions.end()) == questions.end());
}

TEST_CASE("mrcr synthetic: sizes within 15 % of the target in o200k_base tokens",
          "[mrcr][tiktoken]") {
  std::vector<SyntheticOptions> all;
  for (int64_t target : {4096, 16000, 100000}) {
    for (int n_needles : {2, 4, 8}) all.push_back({n_needles, target, 11});
  }
  all.push_back({8, 1000000, 12});  // the top MRCR bin
  std::vector<Json> rows;
  for (const SyntheticOptions& options : all) {
    rows.push_back(make_synthetic_row(options));
    check_row(rows.back(), options);
  }
  const std::vector<int64_t> tokens = count_tokens(rows);
  for (size_t i = 0; i < all.size(); ++i) {
    INFO("n_needles=" << all[i].n_needles << " target=" << all[i].target_tokens
                      << " tokens=" << tokens[i]);
    CHECK(static_cast<double>(tokens[i]) >= 0.85 * static_cast<double>(all[i].target_tokens));
    CHECK(static_cast<double>(tokens[i]) <= 1.15 * static_cast<double>(all[i].target_tokens));
  }
}
