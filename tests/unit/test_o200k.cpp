// text::O200k against the reference, the npm package `tiktoken` (tests/tools/tiktoken_encode.mjs),
// on real data from shared/ and on edge cases; plus load errors, round trips and the ASCII fast
// path against PCRE2. The parity tests fail (not skip) when node or the package is missing:
// CI installs both (scripts/setup.sh).

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "suites/text/o200k.h"
#include "tests/unit/test_support.h"

namespace {

using v4eval::test::TempDir;
using v4eval::test::read_all;
using v4eval::test::write_all;
using v4eval::test::csv_rows;
using v4eval::test::jsonl_fields;

using v4eval::StatusCode;
using v4eval::text::O200k;
namespace fs = std::filesystem;

const O200k& tokenizer() {
  auto shared = O200k::shared();
  if (!shared.ok()) {
    FAIL("cannot load o200k_base (" << O200k::default_path() << "): " << shared.status().message()
                                    << "\n(scripts/setup.sh installs tools/node/node_modules)");
  }
  return **shared;
}

// encode_ordinary ids of each text from the npm package. Texts must be valid UTF-8 (node would
// replace anything else with U+FFFD).
std::vector<std::vector<uint32_t>> tiktoken_reference(const std::vector<std::string>& texts) {
  return v4eval::test::node_token_ids("tiktoken_encode.mjs", texts);
}

std::string printable(const std::string& s, size_t max_bytes = 160) {
  std::string out;
  for (unsigned char c : s.substr(0, max_bytes)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max_bytes) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

std::string ids_around(const std::vector<uint32_t>& ids, size_t at) {
  std::string out = "[";
  size_t from = at > 3 ? at - 3 : 0;
  for (size_t k = from; k < std::min(ids.size(), at + 4); ++k) {
    out += (k == from ? "" : " ") + std::to_string(ids[k]);
  }
  return out + "]";
}

// Compares O200k with tiktoken on every text; reports the first few differences.
void check_parity(const std::vector<std::string>& texts) {
  const O200k& t = tokenizer();
  auto expected = tiktoken_reference(texts);
  size_t mismatches = 0;
  std::string report;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<uint32_t> ids = t.encode(texts[i]);
    if (ids == expected[i]) continue;
    if (++mismatches > 5) continue;
    size_t at = 0;
    while (at < ids.size() && at < expected[i].size() && ids[at] == expected[i][at]) ++at;
    report += "text " + std::to_string(i) + " \"" + printable(texts[i]) +
              "\": " + std::to_string(ids.size()) + " ids vs tiktoken's " +
              std::to_string(expected[i].size()) + ", first difference at " + std::to_string(at) +
              ": " + ids_around(ids, at) + " vs " + ids_around(expected[i], at) + "\n";
  }
  INFO(mismatches << " of " << texts.size() << " texts differ from tiktoken\n" << report);
  CHECK(mismatches == 0);
}

std::string utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xf0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Real text from shared/: a few hundred SimpleQA, Chinese SimpleQA and LiveCodeBench strings.
std::vector<std::string> shared_texts() {
  const std::string data = v4eval::test::shared_dir() + "/data";
  std::vector<std::string> texts;
  auto rows = csv_rows(data + "/simpleqa/simple_qa_test_set.csv");
  REQUIRE(rows.size() > 100);
  REQUIRE(rows[0] == std::vector<std::string>{"metadata", "problem", "answer"});
  for (size_t i = 1; i < rows.size(); i += 25) {
    REQUIRE(rows[i].size() == 3);
    texts.push_back(rows[i][1]);
    texts.push_back(rows[i][2]);
    if (i % 4 == 1) texts.push_back(rows[i][0]);  // URLs and Python-literal punctuation
  }
  auto chinese = jsonl_fields(data + "/chinese_simpleqa/chinese_simpleqa.jsonl",
                              {"question", "answer", "primary_category"}, 20);
  auto lcb = jsonl_fields(data + "/livecodebench/lcb_release_v1_rows_public_tests_only.jsonl",
                          {"question_content"}, 4);
  REQUIRE(chinese.size() > 100);
  REQUIRE(lcb.size() > 50);
  texts.insert(texts.end(), chinese.begin(), chinese.end());
  texts.insert(texts.end(), lcb.begin(), lcb.end());
  return texts;
}

std::vector<std::string> edge_texts() {
  std::vector<std::string> t = {
      "", " ", "  ", "   \n", "\n", "\r\n", "a\r\nb", "\r\n\r\n  x", "\n\n\n", "\r", "\t", "\t\tx",
      "a\tb", "x  \t  y", std::string(50, ' '), std::string(50, ' ') + "x", " \n \n ",
      "hello   world", "hello \n\n world  ", "end   ", "  \n  x", "a \v b \f c", "\v\fx",
      // digits
      "1234567", "12 345 6789", "3.14159", "1,000,000", "x1y22z333w4444", "a1234b",
      "\u0663\u0664\u0665\u0666", "\uff11\uff12\uff13\uff14", "\u216b\u216c", "\u00bd and \u00b2",
      // contractions
      "I'LL", "we'Re", "don't", "DON'T", "it's", "IT'S", "y'all", "you've", "'s", "''s", "I'M",
      "they'd", "rock'n'roll", "O'Neil's", "I'\u017f", "x'RE'VE'LL", "Ca'S \u00c9T\u00c9'S",
      // emoji and symbols
      "\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469\u200d\U0001F467",
      "I \u2764\ufe0f NY", "\U0001F1EB\U0001F1F7 flag", "\u2200x \u2203y: x \u2264 y \u2192 \u221e",
      "$$\\sum_{i=1}^n$$",
      // combining marks and scripts
      "e\u0301", "Cafe\u0301 cr\u00e8me", "\u00f1 vs n\u0303",
      "Z\u0324\u0354\u0367a\u0356\u032d\u0308l\u036e\u0312g\u030c\u0317o\u035a",
      "\u0928\u092e\u0938\u094d\u0924\u0947", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
      "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
      "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd",
      "\u0391\u03b8\u03ae\u03bd\u03b1 \u041c\u043e\u0441\u043a\u0432\u0430",
      "\u304b\u306a \u30ab\u30bf\u30ab\u30ca \u6f22\u5b57", "\ud55c\uad6d\uc5b4",
      "\u01c5ungla \u01c8ubljana", "\u02b0\u02b1x \u3005\u3005",
      // Unicode spaces (U+180E and U+FEFF are not White_Space; U+0085, U+2028/9 are)
      "a\u00a0b", "a \u00a0 b", "\u00a0\u00a0x", "x\u3000\u3000", "\u3000\u3000", "a\u0085b",
      "a\u0085\u0085 b", "a\u180eb", " \u180e ", "\ufeffhello", "a\ufeff b", "a\u2028b\u2029c",
      "x\u202fy\u205fz\u1680w", "\u00a0\n", "\n\u00a0", "x \u00a0\n y",
      // special-token text is plain text for encode_ordinary
      "<|endoftext|>", "<|endofprompt|>", "hello<|endoftext|>world", "<|fim_prefix|>",
      // long words and pieces
      "pneumonoultramicroscopicsilicovolcanoconiosis",
      repeat("Supercalifragilisticexpialidocious", 30),
      repeat("supercalifragilisticexpialidocious", 30), repeat("ab", 600) + "'s",
      repeat("\u00c9", 300), repeat("\u4e2d\u6587", 200), repeat("!?", 400),
      repeat(" ", 1000) + "x", repeat("\n", 500), repeat("12", 500)};
  for (char32_t cp = 0x2000; cp <= 0x200a; ++cp) {
    t.push_back("a" + utf8(cp) + "b " + utf8(cp) + utf8(cp) + "c" + utf8(cp));
  }
  // Control characters and every ASCII punctuation mark next to letters, digits and space.
  std::string ascii;
  for (int c = 1; c < 128; ++c) {
    ascii += static_cast<char>(c);
    ascii += "a";
    ascii += static_cast<char>(c);
    ascii += " 1";
    ascii += static_cast<char>(c);
    ascii += static_cast<char>(c);
    ascii += "B\n";
  }
  t.push_back(ascii);
  // Long pieces, cheap for tiktoken's quadratic merge loop only when merges are few or the
  // piece is short: 100 KB of private-use characters whose bytes never pair into a token, with
  // a mergeable U+E000 every 100 characters; 20 KB of random letters; 10 KB of one letter.
  std::string private_use;
  for (int i = 0; i < 25000; ++i) private_use += utf8(i % 100 == 99 ? 0xE000 : 0xF0000);
  t.push_back(private_use);
  std::mt19937 rng(42);
  std::string letters;
  for (int i = 0; i < 20000; ++i) letters += static_cast<char>('a' + rng() % 26);
  t.push_back(letters);
  t.push_back(std::string(10000, 'a'));
  return t;
}

// Small vocabularies for tests that need no node: all 256 bytes, then `merges` from rank 256.
std::string vocabulary_json(const std::vector<std::string>& merges) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto b64 = [](const std::string& s) {
    std::string out;
    size_t i = 0;
    for (; i + 2 < s.size(); i += 3) {
      uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8) | uint8_t(s[i + 2]);
      for (int k = 3; k >= 0; --k) out += kAlphabet[(v >> (6 * k)) & 63];
    }
    if (s.size() - i == 1) {
      uint32_t v = uint8_t(s[i]) << 16;
      out += std::string{kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
    } else if (s.size() - i == 2) {
      uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8);
      out +=
          std::string{kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
    }
    return out;
  };
  std::string ranks = "! 0";
  for (int b = 0; b < 256; ++b) ranks += " " + b64(std::string(1, static_cast<char>(b)));
  ranks += "\n! 256";
  for (const auto& m : merges) ranks += " " + b64(m);
  nlohmann::json j = {
      {"pat_str", "\\S+|\\s+"}, {"special_tokens", {{"<|end|>", 1000}}}, {"bpe_ranks", ranks}};
  return j.dump();
}

}  // namespace

TEST_CASE("o200k: ids equal tiktoken's on real data and edge cases", "[o200k][parity]") {
  std::vector<std::string> texts = shared_texts();
  const size_t real = texts.size();
  auto edges = edge_texts();
  texts.insert(texts.end(), edges.begin(), edges.end());
  // Everything at once too, so that pieces meet across text boundaries.
  std::string all;
  for (size_t i = 0; i < real; ++i) all += texts[i] + (i % 3 == 0 ? "\n" : i % 3 == 1 ? " " : "");
  texts.push_back(all);
  INFO(real << " real texts, " << edges.size() << " edge cases, 1 concatenation");
  REQUIRE(texts.size() > 400);
  check_parity(texts);

  const O200k& t = tokenizer();
  for (const auto& text : texts) {
    REQUIRE(t.count(text) == t.encode(text).size());
    REQUIRE(t.decode(t.encode(text)) == text);
  }
}

TEST_CASE("o200k: every code point is classed as tiktoken classes it", "[o200k][parity]") {
  // A class difference mostly moves a split between a rare character's bytes and its
  // neighbours', which BPE does not merge across anyway, so the ids do not show it. They do show
  // whether a contraction attaches ("A{c}'S", "{c}'ll": c is a letter, a mark, a digit or
  // else), whether a space does ("  {c}": White_Space or not) and whether c folds to s/t/m/d
  // ("x'{c}"). These contexts caught each of the ~9,500 code points PCRE2 10.42 classes
  // differently from tiktoken, and U+180E. Planes 0-3 and 14 in full (where the assigned
  // characters are); a sample of the rest.
  std::vector<std::string> texts;
  std::string text;
  size_t in_text = 0;
  for (char32_t cp = 0; cp <= 0x10ffff; ++cp) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    bool dense = cp < 0x40000 || (cp >= 0xe0000 && cp < 0xe1000);
    if (!dense && cp % 251 != 0) continue;
    const std::string c = utf8(cp);
    text.append("x'").append(c).append("|A").append(c).append("'S ").append(c);
    text.append("'ll  ").append(c).append("\n");
    if (++in_text == 2048) {
      texts.push_back(std::move(text));
      text.clear();
      in_text = 0;
    }
  }
  texts.push_back(text);
  check_parity(texts);
}

TEST_CASE("o200k: known ids", "[o200k]") {
  const O200k& t = tokenizer();
  CHECK(t.encode("hello world") == std::vector<uint32_t>{24912, 2375});
  CHECK(t.encode("Hello, world!") == std::vector<uint32_t>{13225, 11, 2375, 0});
  CHECK(t.encode("I'LL we'Re") == std::vector<uint32_t>{40, 6, 7454, 581, 146756});
  // encode_ordinary: the special token's text is ordinary text ...
  CHECK(t.encode("<|endoftext|>") == std::vector<uint32_t>{27, 91, 419, 1440, 919, 91, 29});
  // ... but its id decodes to that text.
  CHECK(t.decode({199999}) == "<|endoftext|>");
  CHECK(t.decode({24912, 4000000000u, 2375}) == "hello world");  // unknown ids: nothing
  CHECK(t.encode("").empty());
  CHECK(t.count("") == 0);
  CHECK(t.vocabulary_size() == 199998);
}

TEST_CASE("o200k: invalid UTF-8 round-trips and never crashes", "[o200k]") {
  const O200k& t = tokenizer();
  const std::vector<std::string> texts = {
      "\xff",
      "\xff\xfe abc",
      std::string("abc\x80") + "def",
      "\xe4\xbd",
      std::string("\xe4\xbd") + "a",
      "\xc0\xaf",
      "\xed\xa0\x80",
      "\xf4\x90\x80\x80",
      "hello \xf0\x9f\x98 world",
      "caf\xc3",
      "  \xff  ",
      std::string("a\0b", 3),
      std::string("x\xff'") + "s",
  };
  for (const auto& text : texts) {
    INFO(printable(text));
    std::vector<uint32_t> ids = t.encode(text);
    CHECK(t.decode(ids) == text);
    CHECK(t.count(text) == ids.size());
    size_t covered = 0;
    for (auto piece : t.pieces(text)) covered += piece.size();
    CHECK(covered == text.size());
  }
  // Random bytes, half of them high.
  std::mt19937 rng(3);
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::string bytes(rng() % 48, '\0');
    for (char& b : bytes) b = static_cast<char>(rng() % 2 ? 0x80 | rng() % 128 : rng() % 128);
    std::vector<uint32_t> ids = t.encode(bytes);
    if (t.decode(ids) != bytes || t.count(bytes) != ids.size()) FAIL(printable(bytes));
  }
  // Valid text around an invalid byte is encoded as if the byte were the end of the text.
  auto ids = t.encode("hello\xffworld");
  auto hello = t.encode("hello");
  auto world = t.encode("world");
  REQUIRE(ids.size() == hello.size() + 1 + world.size());
  CHECK(std::equal(hello.begin(), hello.end(), ids.begin()));
  CHECK(std::equal(world.begin(), world.end(), ids.end() - static_cast<long>(world.size())));
}

TEST_CASE("o200k: the ASCII fast path splits as PCRE2 does", "[o200k]") {
  const O200k& t = tokenizer();
  // Mostly ASCII of every class, with non-ASCII letters, marks, digits and spaces where the
  // fast path must hand over to PCRE2.
  const std::vector<std::string> alphabet = {
      "a",      "b",      "s",      "t",      "d",      "l",      "e",      "r",
      "v",      "m",      "A",      "S",      "L",      "E",      "R",      "0",
      "7",      " ",      " ",      "\t",     "\n",     "\r",     "\v",     "'",
      "'",      "!",      "/",      ".",      "-",      "\x01",   "\x7f",   "\u00e9",
      "\u00c9", "\u017f", "\u0301", "\u00a0", "\u3000", "\u4e2d", "\u0663", "\u2028"};
  std::mt19937 rng(7);
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string text;
    size_t length = rng() % 24;
    for (size_t i = 0; i < length; ++i) text += alphabet[rng() % alphabet.size()];
    auto fast = t.pieces(text);
    auto reference = t.pieces(text, /*pcre2_only=*/true);
    if (fast != reference) {
      FAIL("\"" << printable(text) << "\": the fast path gives " << fast.size() << " pieces, PCRE2 "
                << reference.size());
    }
  }
}

TEST_CASE("o200k: long pieces are fast and round-trip", "[o200k]") {
  const O200k& t = tokenizer();
  std::mt19937 rng(1);
  std::string letters;
  for (int i = 0; i < 100000; ++i) letters += static_cast<char>('a' + rng() % 26);
  std::string uppercase_accents = repeat("\u00c9", 50000);  // through PCRE2, 100 KB
  std::string cjk = repeat("\u4e2d\u6587\u5b57", 11000);
  for (const std::string* text : {&letters, &uppercase_accents, &cjk}) {
    REQUIRE(t.pieces(*text).size() <= 2);
    auto ids = t.encode(*text);
    CHECK(ids.size() > text->size() / 20);
    CHECK(t.decode(ids) == *text);
    CHECK(t.count(*text) == ids.size());
  }
}

TEST_CASE("o200k: byte-pair merges on a small vocabulary", "[o200k]") {
  TempDir dir;
  write_all(dir.file("v.json"), vocabulary_json({"aa", "aaaa", "bc", "abc"}));
  auto loaded = O200k::load(dir.file("v.json"));
  REQUIRE(loaded.ok());
  const O200k& t = **loaded;
  const uint32_t a = 'a', aa = 256, aaaa = 257, abc = 259;  // "bc" is 258
  // Leftmost lowest-ranked pair first: "aaa" -> [aa][a], not [a][aa].
  CHECK(t.encode("aaa") == std::vector<uint32_t>{aa, a});
  CHECK(t.encode("aaaaa") == std::vector<uint32_t>{aaaa, a});
  // "abc": "bc" (258) merges before "ab" could, then [a][bc] -> "abc".
  CHECK(t.encode("abc") == std::vector<uint32_t>{abc});
  CHECK(t.encode("xabcx") == std::vector<uint32_t>{'x', abc, 'x'});
  // Short pieces use the linear merge, long ones (> 256 bytes) the heap: same answer.
  for (size_t n : {201, 1001, 100001}) {
    std::vector<uint32_t> expected(n / 4, aaaa);
    expected.push_back(a);
    CHECK(t.encode(std::string(n, 'a')) == expected);
    CHECK(t.count(std::string(n, 'a')) == expected.size());
  }
  CHECK(t.decode({1000}) == "<|end|>");
}

TEST_CASE("o200k: load errors name the file", "[o200k]") {
  TempDir dir;
  auto expect_error = [](const std::string& path, StatusCode code, const std::string& what) {
    auto loaded = O200k::load(path);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.status().code() == code);
    CHECK_THAT(loaded.status().message(), Catch::Contains(path));
    CHECK_THAT(loaded.status().message(), Catch::Contains(what));
  };
  expect_error(dir.file("missing.json"), StatusCode::kNotFound, "cannot open");

  write_all(dir.file("garbage.json"), "{\"pat_str\": \"x\", \"bpe_ranks\": ");
  expect_error(dir.file("garbage.json"), StatusCode::kDataError, "not valid JSON");

  write_all(dir.file("array.json"), "[1, 2]");
  expect_error(dir.file("array.json"), StatusCode::kDataError, "not a JSON object");

  write_all(dir.file("no_ranks.json"), R"({"pat_str": "\\S+"})");
  expect_error(dir.file("no_ranks.json"), StatusCode::kDataError, "bpe_ranks");

  write_all(dir.file("bad_b64.json"), R"({"pat_str": "\\S+", "bpe_ranks": "! 0 YQ== *** Yg=="})");
  expect_error(dir.file("bad_b64.json"), StatusCode::kDataError, "bad base64");

  write_all(dir.file("few_bytes.json"), R"({"pat_str": "\\S+", "bpe_ranks": "! 0 YQ== Yg=="})");
  expect_error(dir.file("few_bytes.json"), StatusCode::kDataError, "no token for byte");

  std::string bad_pattern = vocabulary_json({});
  const std::string pattern_json = R"(\\S+|\\s+)";  // as dump() escapes it
  REQUIRE(bad_pattern.find(pattern_json) != std::string::npos);
  bad_pattern.replace(bad_pattern.find(pattern_json), pattern_json.size(), "(unclosed ");
  write_all(dir.file("bad_pattern.json"), bad_pattern);
  expect_error(dir.file("bad_pattern.json"), StatusCode::kDataError, "pat_str");

  // The real file cut in half.
  const std::string real = read_all(O200k::default_path());
  REQUIRE(real.size() > 1000000);
  write_all(dir.file("truncated.json"), real.substr(0, real.size() / 2));
  expect_error(dir.file("truncated.json"), StatusCode::kDataError, "not valid JSON");
}

TEST_CASE("o200k: shared instance and default path", "[o200k]") {
  auto first = O200k::shared();
  auto second = O200k::shared();
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(*first == *second);

  const char* old = std::getenv("V4EVAL_O200K_PATH");
  const std::string saved = old ? old : "";
  setenv("V4EVAL_O200K_PATH", "/nowhere/o200k.json", 1);
  CHECK(O200k::default_path() == "/nowhere/o200k.json");
  if (old) {
    setenv("V4EVAL_O200K_PATH", saved.c_str(), 1);
  } else {
    unsetenv("V4EVAL_O200K_PATH");
  }
  CHECK_THAT(O200k::default_path(), Catch::EndsWith("o200k_base.json"));
}

TEST_CASE("o200k: concurrent encodes agree", "[o200k]") {
  const O200k& t = tokenizer();
  const std::string text =
      repeat("The quick brown fox can't jump over 1234 lazy dogs; \u4e2d\u6587 caf\u00e9!\n", 200);
  const std::vector<uint32_t> expected = t.encode(text);
  std::atomic<int> disagreements{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (t.encode(text) != expected || t.count(text) != expected.size()) ++disagreements;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(disagreements == 0);
}
