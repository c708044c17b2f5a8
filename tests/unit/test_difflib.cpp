// The C++ difflib port against CPython itself: several thousand generated pairs go through
// tests/tools/difflib_ratio.py in one python3 process; ratios must be bit-identical and the
// matching blocks identical.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness/types.h"
#include "suites/mrcr/difflib.h"
#include "suites/text/utf8.h"
#include "tests/unit/test_support.h"

namespace {

using v4eval::Json;
using v4eval::mrcr::MatchingBlock;
using v4eval::mrcr::sequence_matcher_ratio;
using v4eval::mrcr::SequenceMatcher;
using v4eval::text::code_points_to_utf8;
using v4eval::text::utf8_to_code_points;

std::u32string U(std::string_view utf8) { return utf8_to_code_points(utf8); }

// splitmix64: the same sequence on every platform (std distributions are not portable).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
  double unit() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }
  bool chance(double p) { return unit() < p; }

 private:
  uint64_t state_;
};

std::u32string range_alphabet(char32_t first, size_t count) {
  std::u32string out;
  for (size_t i = 0; i < count; ++i) out.push_back(first + static_cast<char32_t>(i));
  return out;
}

// Alphabets that stress different parts: tiny ones (many ties, popular elements), ASCII,
// CJK, emoji outside the BMP, combining marks (one "character" = several code points).
std::vector<std::u32string> alphabets() {
  std::u32string combining = U("aeiou ");
  combining += range_alphabet(0x0300, 12);
  std::u32string mixed = U("ab c.") + range_alphabet(0x4E00, 4) + range_alphabet(0x1F600, 4);
  mixed += char32_t{0x0301};
  return {U("a"),
          U("ab"),
          U("abc"),
          U("abcd"),
          U("abcdefghijklmnopqrstuvwxyz "),
          range_alphabet(0x20, 95),
          range_alphabet(0x4E00, 40),
          range_alphabet(0x1F600, 30),
          combining,
          mixed};
}

// Skewed choice (u^2) so that a few elements dominate and become "popular" past 200.
std::u32string random_string(Rng& rng, size_t length, const std::u32string& alphabet) {
  std::u32string out;
  out.reserve(length);
  const bool skewed = rng.chance(0.5);
  for (size_t i = 0; i < length; ++i) {
    const double u = rng.unit();
    const size_t index =
        static_cast<size_t>((skewed ? u * u : u) * static_cast<double>(alphabet.size()));
    out.push_back(alphabet[std::min(index, alphabet.size() - 1)]);
  }
  return out;
}

// A "model answer" from a gold text: character edits, dropped or repeated spans, a chatty
// preamble, truncation.
std::u32string edited(Rng& rng, std::u32string text, const std::u32string& alphabet) {
  const size_t edits = rng.below(2 + text.size() / 25);
  for (size_t e = 0; e < edits; ++e) {
    const size_t pos = rng.below(text.size() + 1);
    const char32_t c = alphabet[rng.below(alphabet.size())];
    switch (rng.below(6)) {
      case 0:
        text.insert(text.begin() + static_cast<std::ptrdiff_t>(pos), c);
        break;
      case 1:
        if (pos < text.size()) text.erase(pos, 1);
        break;
      case 2:
        if (pos < text.size()) text[pos] = c;
        break;
      case 3:
        if (pos < text.size()) text.erase(pos, 1 + rng.below(20));
        break;
      case 4:
        if (pos < text.size()) {
          const std::u32string span = text.substr(pos, 1 + rng.below(30));
          text.insert(rng.below(text.size() + 1), span);
        }
        break;
      default:
        if (pos + 1 < text.size()) std::swap(text[pos], text[pos + 1]);
        break;
    }
  }
  if (rng.chance(0.15)) text = U("Sure! Here is the text you asked for:\n\n") + text;
  if (rng.chance(0.15)) text.resize(rng.below(text.size() + 1));
  return text;
}

// RFC 4180 rows (quoted fields may hold commas, "" and newlines).
std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (quoted) {
      if (c == '"' && i + 1 < data.size() && data[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
    } else {
      field.push_back(c);
    }
  }
  if (!field.empty() || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

struct Pair {
  std::u32string a;
  std::u32string b;
  bool autojunk = true;
};

// SimpleQA texts: questions, answers and metadata (URLs), joined into longer documents.
std::vector<std::u32string> simpleqa_texts() {
  const std::string path = v4eval::test::shared_dir() + "/data/simpleqa/simple_qa_test_set.csv";
  const auto rows = read_csv(path);
  INFO("reading " << path);
  REQUIRE(rows.size() > 1000);
  std::vector<std::u32string> texts;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].size() != 3) continue;
    for (const std::string& field : rows[r]) texts.push_back(U(field));
  }
  return texts;
}

std::vector<Pair> generate_pairs() {
  Rng rng(20250412);
  const auto alpha = alphabets();
  const auto texts = simpleqa_texts();
  const std::u32string prose_alphabet = U("abcdefghijklmnopqrstuvwxyz ,.ETA'\n");
  auto document = [&](size_t min_length) {  // consecutive SimpleQA fields, >= min_length
    std::u32string doc;
    size_t at = rng.below(texts.size());
    while (doc.size() < min_length) {
      doc += texts[at % texts.size()];
      doc += U(" ");
      ++at;
    }
    return doc;
  };
  std::vector<Pair> pairs;

  // Edges: empty sides, single elements, the 199/200/201 autojunk threshold.
  pairs.push_back({U(""), U("")});
  pairs.push_back({U(""), U("abc")});
  pairs.push_back({U("abc"), U("")});
  pairs.push_back({U("a"), U("a")});
  for (size_t lb : {199, 200, 201, 202, 299, 300, 301}) {
    for (int rep = 0; rep < 6; ++rep) {
      std::u32string b = random_string(rng, lb, alpha[1 + rng.below(4)]);
      pairs.push_back({edited(rng, b, alpha[2]), b});
      pairs.push_back({random_string(rng, rng.below(300), alpha[2]), b});
    }
  }
  // Short random strings over small alphabets: ties everywhere.
  for (int n = 0; n < 1500; ++n) {
    const auto& alphabet = alpha[rng.below(5)];
    pairs.push_back(
        {random_string(rng, rng.below(40), alphabet), random_string(rng, rng.below(40), alphabet)});
  }
  // Medium, across the 200 threshold, random and near-duplicate, all alphabets.
  for (int n = 0; n < 700; ++n) {
    const auto& alphabet = alpha[rng.below(alpha.size())];
    std::u32string b = random_string(rng, rng.below(450), alphabet);
    std::u32string a =
        rng.chance(0.5) ? edited(rng, b, alphabet) : random_string(rng, rng.below(450), alphabet);
    pairs.push_back({a, b, !rng.chance(0.1)});
  }
  // Long (> 2000) random strings with non-ASCII.
  for (int n = 0; n < 40; ++n) {
    const auto& alphabet = alpha[5 + rng.below(alpha.size() - 5)];
    std::u32string b = random_string(rng, 2000 + rng.below(2000), alphabet);
    std::u32string a = rng.chance(0.6) ? edited(rng, b, alphabet)
                                       : random_string(rng, 2000 + rng.below(2000), alphabet);
    pairs.push_back({a, b});
  }
  // Real text: SimpleQA questions/answers/metadata, answer-vs-gold style edits.
  for (int n = 0; n < 700; ++n) {
    const std::u32string& gold = texts[rng.below(texts.size())];
    pairs.push_back({edited(rng, gold, prose_alphabet), gold});
  }
  for (int n = 0; n < 300; ++n) {
    pairs.push_back({texts[rng.below(texts.size())], texts[rng.below(texts.size())]});
  }
  for (int n = 0; n < 250; ++n) {
    const std::u32string gold = document(200 + rng.below(3000));
    const std::u32string answer =
        rng.chance(0.8) ? edited(rng, gold, prose_alphabet) : document(200 + rng.below(3000));
    pairs.push_back({answer, gold, !rng.chance(0.05)});
  }
  for (int n = 0; n < 6; ++n) {  // ~10K code points
    const std::u32string gold = document(8000 + rng.below(4000));
    pairs.push_back({edited(rng, gold, prose_alphabet), gold});
  }
  // Both orders of some pairs: the ratio is not symmetric.
  const size_t so_far = pairs.size();
  for (int n = 0; n < 400; ++n) {
    const Pair& p = pairs[rng.below(so_far)];
    pairs.push_back({p.b, p.a, p.autojunk});
  }
  return pairs;
}

int run_shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs tests/tools/difflib_ratio.py once over `lines`; returns its output lines.
std::vector<Json> run_cpython(const std::vector<Json>& lines) {
  if (run_shell("command -v python3 >/dev/null 2>&1") != 0) {
    FAIL(
        "python3 is not on PATH: the difflib port is checked against CPython's difflib "
        "(install python3, e.g. scripts/setup.sh)");
  }
  const auto dir =
      std::filesystem::temp_directory_path() / ("v4eval_difflib_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto input = dir / "in.jsonl";
  const auto output = dir / "out.jsonl";
  const auto errors = dir / "err.txt";
  {
    std::ofstream out(input, std::ios::binary);
    for (const Json& line : lines) out << line.dump() << '\n';
  }
  const std::string script = v4eval::test::source_dir() + "/tests/tools/difflib_ratio.py";
  const int rc = run_shell("python3 '" + script + "' < '" + input.string() + "' > '" +
                           output.string() + "' 2> '" + errors.string() + "'");
  std::ifstream err_in(errors);
  std::stringstream err;
  err << err_in.rdbuf();
  INFO("python3 " << script << " stderr:\n" << err.str());
  REQUIRE(rc == 0);
  std::vector<Json> results;
  std::ifstream in(output, std::ios::binary);
  for (std::string line; std::getline(in, line);) results.push_back(Json::parse(line));
  std::filesystem::remove_all(dir);
  REQUIRE(results.size() == lines.size());
  return results;
}

std::string show(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

std::string show(const std::vector<MatchingBlock>& blocks) {
  std::string out;
  for (const MatchingBlock& m : blocks) {
    out +=
        "(" + std::to_string(m.a) + "," + std::to_string(m.b) + "," + std::to_string(m.size) + ")";
  }
  return out;
}

}  // namespace

TEST_CASE("difflib: hand-checked CPython results", "[difflib]") {
  // The docstring examples of Lib/difflib.py.
  CHECK(sequence_matcher_ratio(U("abcd"), U("bcde")) == 0.75);
  CHECK(SequenceMatcher(U(" abcd"), U("abcd abcd")).find_longest_match(0, 5, 0, 9) ==
        MatchingBlock{0, 4, 5});
  CHECK(SequenceMatcher(U("ab"), U("c")).find_longest_match(0, 2, 0, 1) == MatchingBlock{0, 0, 0});
  CHECK(SequenceMatcher(U("abxcd"), U("abcd")).get_matching_blocks() ==
        std::vector<MatchingBlock>{{0, 0, 2}, {3, 2, 2}, {5, 4, 0}});

  // Both empty: 1.0; one empty: 0.0 with just the sentinel.
  CHECK(sequence_matcher_ratio(U(""), U("")) == 1.0);
  CHECK(sequence_matcher_ratio(U(""), U("abc")) == 0.0);
  CHECK(SequenceMatcher(U("abc"), U("")).get_matching_blocks() ==
        std::vector<MatchingBlock>{{3, 0, 0}});

  // Not symmetric: leftmost-longest in a decides, then recursion cannot cross it.
  CHECK(sequence_matcher_ratio(U("aba"), U("bca")) == 1.0 / 3.0);
  CHECK(sequence_matcher_ratio(U("bca"), U("aba")) == 2.0 / 3.0);

  // Autojunk: with len(b) = 300 both 'a' and 'b' occur > 300//100 + 1 times, so nothing can
  // anchor a match and a leading 'b' in a blocks the extension: 0.0, while the LCS is 300.
  std::u32string b;
  for (int i = 0; i < 150; ++i) b += U("ab");
  const std::u32string a = U("b") + b;
  CHECK(sequence_matcher_ratio(a, b) == 0.0);
  CHECK(sequence_matcher_ratio(a, b, /*autojunk=*/false) == 600.0 / 601.0);
  // Popular elements are not junk: identical strings still match entirely by extension.
  CHECK(sequence_matcher_ratio(b, b) == 1.0);

  // Code points, not bytes: "é" precomposed is one element, 'e' + U+0301 two.
  CHECK(sequence_matcher_ratio(U("caf\xC3\xA9"), U("cafe\xCC\x81")) == 6.0 / 9.0);
  CHECK(sequence_matcher_ratio(U("\xF0\x9F\x98\x80!"), U("\xF0\x9F\x98\x80?")) == 0.5);
}

TEST_CASE("difflib: utf8 decoding replaces maximal subparts", "[difflib][utf8]") {
  CHECK(U("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80") == std::u32string{'a', 0xE9, 0x4E2D, 0x1F600});
  // Truncated 3-byte sequence then ASCII: one U+FFFD for "\xE4\xB8", then 'x'.
  CHECK(U("\xE4\xB8x") == std::u32string{0xFFFD, 'x'});
  // Overlong, surrogate and > U+10FFFF forms: every byte is its own maximal subpart.
  CHECK(U("\xC0\xAF") == std::u32string{0xFFFD, 0xFFFD});
  CHECK(U("\xED\xA0\x80") == std::u32string{0xFFFD, 0xFFFD, 0xFFFD});
  CHECK(U("\xF4\x90\x80\x80") == std::u32string{0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD});
  CHECK(U("\xF0\x9F\x98") == std::u32string{0xFFFD});
  CHECK(code_points_to_utf8(std::u32string{'a', 0xE9, 0x4E2D, 0x1F600}) ==
        "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80");
  CHECK(code_points_to_utf8(std::u32string{0xD800, 0x110000}) == "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("difflib: identical to CPython on generated and real pairs", "[difflib][python]") {
  const std::vector<Pair> pairs = generate_pairs();
  std::vector<Json> lines;
  lines.reserve(pairs.size() + 600);
  for (const Pair& p : pairs) {
    Json line = {{"a", code_points_to_utf8(p.a)}, {"b", code_points_to_utf8(p.b)}};
    if (!p.autojunk) line["autojunk"] = false;
    lines.push_back(std::move(line));
  }
  // Random byte strings, mostly near-UTF-8, for the decoder against bytes.decode("replace").
  Rng rng(7);
  std::vector<std::string> byte_strings;
  const std::string interesting =
      "\x80\xBF\xC0\xC1\xC2\xDF\xE0\xE1\xEC\xED\xEE\xEF\xF0\xF1"
      "\xF3\xF4\xF5\xFF\x9F\xA0\x8F\x90"
      "az";
  for (int n = 0; n < 600; ++n) {
    std::string bytes;
    const size_t length = rng.below(24);
    for (size_t i = 0; i < length; ++i) {
      bytes.push_back(rng.chance(0.7) ? interesting[rng.below(interesting.size())]
                                      : static_cast<char>(rng.below(256)));
    }
    static const char* kHex = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : bytes) {
      hex.push_back(kHex[c >> 4]);
      hex.push_back(kHex[c & 15]);
    }
    byte_strings.push_back(bytes);
    lines.push_back({{"utf8_hex", hex}});
  }

  const std::vector<Json> expected = run_cpython(lines);

  size_t compared = 0;
  size_t mismatches = 0;
  size_t long_pairs = 0;
  size_t autojunk_pairs = 0;
  for (size_t n = 0; n < pairs.size(); ++n) {
    const Pair& p = pairs[n];
    const SequenceMatcher matcher(p.a, p.b, p.autojunk);
    const double ratio = matcher.ratio();
    const std::vector<MatchingBlock> blocks = matcher.get_matching_blocks();
    const double python_ratio =
        std::strtod(expected[n]["ratio"].get<std::string>().c_str(), nullptr);
    std::vector<MatchingBlock> python_blocks;
    for (const Json& m : expected[n]["blocks"]) {
      python_blocks.push_back({m[0].get<size_t>(), m[1].get<size_t>(), m[2].get<size_t>()});
    }
    ++compared;
    if (p.a.size() > 2000 || p.b.size() > 2000) ++long_pairs;
    if (p.autojunk && p.b.size() >= 200) ++autojunk_pairs;
    if (ratio != python_ratio || blocks != python_blocks) {
      if (++mismatches <= 5) {
        UNSCOPED_INFO("pair " << n << " |a|=" << p.a.size() << " |b|=" << p.b.size() << " autojunk="
                              << p.autojunk << ": ours " << show(ratio) << " " << show(blocks)
                              << ", CPython " << show(python_ratio) << " " << show(python_blocks));
      }
    }
  }
  size_t decode_mismatches = 0;
  for (size_t n = 0; n < byte_strings.size(); ++n) {
    const Json& want = expected[pairs.size() + n]["code_points"];
    std::u32string python_code_points;
    for (const Json& c : want) python_code_points.push_back(c.get<char32_t>());
    if (utf8_to_code_points(byte_strings[n]) != python_code_points) ++decode_mismatches;
  }
  CHECK(compared > 3000);
  CHECK(long_pairs >= 100);
  CHECK(autojunk_pairs >= 500);
  CHECK(mismatches == 0);
  CHECK(decode_mismatches == 0);
}

TEST_CASE("difflib: 100K code points in linear memory", "[difflib]") {
  Rng rng(99);
  // ~5,000 distinct CJK code points: each occurs ~20 times, none is popular.
  std::u32string gold = random_string(rng, 100000, range_alphabet(0x4E00, 5000));
  std::u32string answer = gold;
  answer.erase(50000, 10);  // a 10-character deletion and one substitution
  answer[70000] = U'#';
  const SequenceMatcher matcher(answer, gold);
  CHECK(matcher.get_matching_blocks() ==
        std::vector<MatchingBlock>{
            {0, 0, 50000}, {50000, 50010, 20000}, {70001, 70011, 29989}, {99990, 100000, 0}});

  // Over 30 letters every letter is popular, so nothing anchors a match: only the common
  // prefix is found (by extension), and the 50K-character tail after the deletion is lost.
  const std::u32string letters = U("abcdefghijklmnopqrstuvwxyz ,.\n");
  gold = random_string(rng, 100000, letters);
  gold[50000] = U'x';
  gold[50010] = U'y';
  answer = gold;
  answer.erase(50000, 10);
  CHECK(sequence_matcher_ratio(answer, gold) == 2.0 * 50000 / (99990 + 100000));
}
