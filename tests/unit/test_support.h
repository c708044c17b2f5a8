#pragma once
// Paths and small helpers shared by the unit tests.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "suites/text/csv.h"

namespace v4eval::test {

// ../shared beside the checkout (CI lays a copy there); V4EVAL_SHARED_DIR overrides.
inline std::string shared_dir() {
  if (const char* env = std::getenv("V4EVAL_SHARED_DIR")) return env;
  return V4EVAL_SHARED_DIR;
}
inline std::string source_dir() { return V4EVAL_SOURCE_DIR; }

// A fresh directory under the system temp dir, removed with everything in it by the destructor.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "v4eval-test-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str() const { return path.string(); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_all(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// The records of a CSV file (the product's RFC 4180 parser), each a list of fields.
inline std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
  auto records = v4eval::text::parse_csv(read_all(path), path);
  if (!records.ok()) FAIL(records.status().message());
  std::vector<std::vector<std::string>> rows;
  for (auto& r : *records) rows.push_back(std::move(r.fields));
  return rows;
}

// Every `stride`-th row's string fields `keys` of a JSON-lines file.
inline std::vector<std::string> jsonl_fields(const std::string& path,
                                             const std::vector<std::string>& keys, size_t stride) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<std::string> out;
  size_t row = 0;
  for (std::string line; std::getline(in, line); ++row) {
    if (row % stride != 0) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    for (const auto& key : keys)
      if (j.contains(key) && j[key].is_string()) out.push_back(j[key].get<std::string>());
  }
  return out;
}

// Token ids of each text from a reference tokenizer in node (tests/tools/SCRIPT reads a JSON
// array of strings and writes a JSON array of id arrays; the npm packages come from setup.sh).
inline std::vector<std::vector<uint32_t>> node_token_ids(const std::string& script,
                                                         const std::vector<std::string>& texts) {
  if (std::system("command -v node >/dev/null 2>&1") != 0)
    FAIL("node is not on PATH: the tokenizer parity tests need node and the npm reference "
         "packages (scripts/setup.sh installs both)");
  TempDir dir;
  write_all(dir.file("in.json"), nlohmann::json(texts).dump());
  const std::string cmd = "node '" + source_dir() + "/tests/tools/" + script + "' '" +
                          dir.file("in.json") + "' '" + dir.file("out.json") + "' 2>'" +
                          dir.file("err.txt") + "'";
  int rc = std::system(cmd.c_str());
  if (rc != 0)
    FAIL("the reference failed (" << cmd << ", status " << rc
                                  << "): " << read_all(dir.file("err.txt")));
  auto out = nlohmann::json::parse(read_all(dir.file("out.json")), nullptr, false);
  REQUIRE(out.is_array());
  REQUIRE(out.size() == texts.size());
  std::vector<std::vector<uint32_t>> ids;
  for (const auto& row : out) ids.push_back(row.get<std::vector<uint32_t>>());
  return ids;
}

}  // namespace v4eval::test
