// Output comparison modes (sandbox.md §7.1): testlib's standard checkers and LiveCodeBench's
// stdin rule (suites.md §1.4, including the cases verified on the reference).

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "sandbox/sandbox.h"

using namespace v4eval::sandbox;

namespace {

CompareMode mode(const char* spec) {
  auto m = parse_compare_mode(spec);
  REQUIRE(m.ok());
  return *m;
}
bool ok(const char* spec, std::string_view out, std::string_view ans) {
  return compare_output(mode(spec), out, ans).accepted;
}
std::string why(const char* spec, std::string_view out, std::string_view ans) {
  return compare_output(mode(spec), out, ans).message;
}

}  // namespace

TEST_CASE("sandbox: compare modes parse and print", "[sandbox]") {
  for (const char* s : {"exact", "lines", "tokens", "line-tokens", "lcb", "yesno"})
    CHECK(compare_mode_name(mode(s)) == s);
  CHECK(mode("float").epsilon == 1e-6);
  CHECK(mode("float:1e-9").epsilon == 1e-9);
  CHECK(compare_mode_name(mode("float:1e-4")) == "float:0.0001");
  CHECK_FALSE(parse_compare_mode("float:").ok());
  CHECK_FALSE(parse_compare_mode("float:abc").ok());
  CHECK_FALSE(parse_compare_mode("float:-1").ok());
  CHECK_FALSE(parse_compare_mode("fuzzy").ok());
}

TEST_CASE("sandbox: exact compares bytes", "[sandbox]") {
  CHECK(ok("exact", "3\n", "3\n"));
  CHECK_FALSE(ok("exact", "3", "3\n"));
  CHECK_FALSE(ok("exact", "3 \n", "3\n"));
  CHECK_FALSE(ok("exact",
                 "\xEF\xBB\xBF"
                 "3\n",
                 "3\n"));  // no BOM skipping: bytes are bytes
  CHECK(why("exact", "abcX", "abcY").find("byte 3") != std::string::npos);
}

TEST_CASE("sandbox: lines drops one trailing CR per line and trailing empty lines", "[sandbox]") {
  CHECK(ok("lines", "a\r\nb\r\n", "a\nb"));
  CHECK(ok("lines", "a\nb\n\n\n", "a\nb\n"));
  CHECK(ok("lines",
           "\xEF\xBB\xBF"
           "a\n",
           "a\n"));                            // testlib skips a BOM
  CHECK_FALSE(ok("lines", "a\n\nb", "a\nb"));  // an inner empty line counts
  CHECK_FALSE(ok("lines", "a \n", "a\n"));     // spaces are content
  CHECK_FALSE(ok("lines", "a\r\r\n", "a\n"));  // only one CR is dropped
  CHECK(why("lines", "a\nc\n", "a\nb\n").find("2nd lines differ") != std::string::npos);
  CHECK(why("lines", "a\n", "a\nb\n").find("expected 2 lines, found 1") != std::string::npos);
}

TEST_CASE("sandbox: tokens is testlib wcmp", "[sandbox]") {
  CHECK(ok("tokens", "1  2\t3\n\n", "1 2 3"));
  CHECK(ok("tokens", "1\v2\f3\r\n", "1 2 3"));
  CHECK(ok("tokens", "", "  \n"));
  CHECK_FALSE(ok("tokens", "1 2", "1 2 3"));
  CHECK_FALSE(ok("tokens", "1 2 3 4", "1 2 3"));
  CHECK_FALSE(ok("tokens", "YES", "yes"));  // case matters
  CHECK_FALSE(ok("tokens", "1.0", "1"));    // tokens are strings
  CHECK(why("tokens", "1 5 3", "1 2 3") == "2nd words differ - expected: '2', found: '5'");
  CHECK(why("tokens", "1", "1 2") ==
        "answer contains longer sequence [length = 2], but output contains 1 elements");
  CHECK(why("tokens", "1 2", "1") ==
        "participant output contains longer sequence [length = 2], but answer contains 1 elements");
}

TEST_CASE("sandbox: line-tokens is testlib lcmp", "[sandbox]") {
  CHECK(ok("line-tokens", "1   2 \n3\n", "1 2\n3"));
  CHECK_FALSE(ok("line-tokens", "1\n2 3", "1 2\n3"));  // same tokens, other lines
  CHECK(why("line-tokens", "1 2\n3 4", "1 2\n3 5").rfind("line 2: ", 0) == 0);
}

TEST_CASE("sandbox: float is testlib doubleCompare (absolute or relative)", "[sandbox]") {
  CHECK(ok("float:1e-6", "1.0000001", "1"));
  CHECK_FALSE(ok("float:1e-6", "1.00001", "1"));
  CHECK(ok("float:1e-6", "1000000100", "1e9"));        // relative 1e-7
  CHECK_FALSE(ok("float:1e-6", "1000010000", "1e9"));  // relative 1e-5
  CHECK(ok("float:1e-6", "0.0000001", "0"));           // absolute
  CHECK(ok("float:1e-6", "-0.0", "0"));
  CHECK(ok("float:1e-6", "1e2 2.5e-1", "100 0.25"));
  CHECK(ok("float:1e-6", "nan", "nan"));
  CHECK_FALSE(ok("float:1e-6", "1", "nan"));
  CHECK(ok("float:1e-6", "inf", "inf"));
  CHECK_FALSE(ok("float:1e-6", "-inf", "inf"));
  CHECK(ok("float:1e-6", "inf", "1e301"));              // testlib: beyond 1e300 is infinite
  CHECK(ok("float:1e-6", "YES 1.5", "YES 1.5000001"));  // non-numbers compared exactly
  CHECK_FALSE(ok("float:1e-6", "yes 1.5", "YES 1.5"));
  CHECK_FALSE(ok("float:1e-6", "abc", "1"));
  CHECK_FALSE(ok("float:1e-6", "0x10", "16"));  // no hexadecimal floats
  CHECK_FALSE(ok("float:1e-6", "1 2", "1 2 3"));
  CHECK(why("float:1e-9", "0.3333333", "0.333333333").find("2nd") == std::string::npos);
  CHECK(why("float:1e-9", "0.3333333", "0.333333333").find("1st words differ") == 0);
}

TEST_CASE("sandbox: doubleCompare edge cases", "[sandbox]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(double_compare(1.0, 1.0 + 1e-6, 1e-6));  // the bound itself
  CHECK_FALSE(double_compare(1.0, 1.0 + 1.1e-6, 1e-6));
  CHECK(double_compare(-1e9, -1e9 * (1 + 1e-6), 1e-6));  // relative on negatives
  CHECK(double_compare(nan, nan, 1e-6));
  CHECK_FALSE(double_compare(nan, 0, 1e-6));
  CHECK_FALSE(double_compare(0, nan, 1e-6));
  CHECK(double_compare(-inf, -inf, 1e-6));
  CHECK_FALSE(double_compare(inf, 1e299, 1e-6));
  CHECK_FALSE(double_compare(1, inf, 1e-6));
}

TEST_CASE("sandbox: yesno is case-insensitive YES/NO", "[sandbox]") {
  CHECK(ok("yesno", "yes\n", "YES"));
  CHECK(ok("yesno", "Yes nO", "YES NO"));
  CHECK_FALSE(ok("yesno", "YES", "NO"));
  CHECK_FALSE(ok("yesno", "YES YES", "YES"));
  CHECK(ok("yesno", "Yes 3", "YES 3"));
  CHECK_FALSE(ok("yesno", "Yes three", "YES Three"));  // other tokens exactly
}

TEST_CASE("sandbox: lcb reproduces LiveCodeBench's stdin rule", "[sandbox]") {
  // The cases verified on the reference (suites.md §1.4).
  CHECK_FALSE(ok("lcb", "Yes\n", "YES\n"));
  CHECK_FALSE(ok("lcb", "0.30000000000000004\n", "0.3\n"));
  CHECK(ok("lcb", "1.0 2\n", "1 2.00\n"));
  CHECK(ok("lcb", " 3 \n\n", "3"));
  // Whole-text strip, per-line strip, line counts, inner blank lines count.
  CHECK(ok("lcb", "\n\n 1 \n 2\t\n", "1\n2"));
  CHECK_FALSE(ok("lcb", "1\n\n2", "1\n2"));
  CHECK(why("lcb", "1\n\n2", "1\n2") == "Wrong answer: mismatched output length");
  CHECK(why("lcb", "1\n2\n", "1\n3\n") == "Wrong answer at output_line_idx=1: 2 != 3");
  // Exact Decimal equality: no tolerance, any notation of the same value.
  CHECK(ok("lcb", "1e3", "1000"));
  CHECK(ok("lcb", "1E+3 0.50", "1000 .5"));
  CHECK(ok("lcb", "5.", "5"));
  CHECK(ok("lcb", "+5 -0", "5 0"));
  CHECK(ok("lcb", "-0.000", "0"));
  CHECK(ok("lcb", "1_000", "1000"));  // Python's Decimal takes digit-group underscores
  CHECK_FALSE(ok("lcb", "1__000", "1000"));
  CHECK_FALSE(ok("lcb", "1000_", "1000"));
  CHECK_FALSE(ok("lcb", "1.0000000000000000000001", "1"));
  CHECK(ok("lcb", "123456789012345678901234567890.5", "123456789012345678901234567890.50"));
  CHECK(ok("lcb", "1e999999", "10e999998"));
  CHECK(ok("lcb", "inf", "Infinity"));
  CHECK_FALSE(ok("lcb", "inf", "-inf"));
  CHECK(ok("lcb", "nan", "nan"));        // equal strings pass before any Decimal
  CHECK_FALSE(ok("lcb", "NaN", "nan"));  // Decimal NaN never equals
  CHECK_FALSE(ok("lcb", "1 2", "1 2 3"));
  CHECK_FALSE(ok("lcb", "1,5", "1.5"));
  CHECK_FALSE(ok("lcb", "0x10", "16"));
  // Python's str.strip()/split() whitespace includes Unicode spaces.
  CHECK(ok("lcb", "3\xC2\xA0\n", "3"));  // U+00A0
  CHECK(ok("lcb",
           "1\xE3\x80\x80"
           "2",
           "1 2.0"));  // U+3000 splits tokens
  CHECK(ok("lcb",
           "\x1c"
           "7\x1f",
           "7"));  // \x1c-\x1f are whitespace to Python
  CHECK_FALSE(ok("lcb",
                 "\xEF\xBB\xBF"
                 "3",
                 "3"));  // a BOM is not whitespace
}

TEST_CASE("sandbox: lcb-call compares JSON values under Python's ==", "[sandbox]") {
  CHECK(ok("lcb-call", "[0, 1]", "[0,1]"));
  CHECK(ok("lcb-call", "2.0", "2"));   // 2 == 2.0
  CHECK(ok("lcb-call", "true", "1"));  // True == 1
  CHECK(ok("lcb-call", "false", "0.0"));
  CHECK_FALSE(ok("lcb-call", "true", "2"));
  CHECK(
      ok("lcb-call", "{\"b\": 1, \"a\": [1, 2]}", "{\"a\": [1, 2.0], \"b\": true}"));  // key order
  CHECK_FALSE(ok("lcb-call", "[1, 2]", "[2, 1]"));  // list order matters
  CHECK_FALSE(ok("lcb-call", "[1, 2]", "[1, 2, 3]"));
  CHECK_FALSE(ok("lcb-call", "\"1\"", "1"));  // a string is not a number
  CHECK_FALSE(ok("lcb-call", "null", "0"));
  CHECK(ok("lcb-call", "null", "null"));
  CHECK(ok("lcb-call", "9007199254740993", "9007199254740993"));  // beyond double precision
  CHECK_FALSE(ok("lcb-call", "9007199254740993", "9007199254740992"));
  CHECK_FALSE(ok("lcb-call", "NaN", "1"));  // Python's json.dumps(nan): not JSON here
  CHECK(why("lcb-call", "[0, 1]", "[0, 2]") == "Wrong Answer: [0,1] != [0,2]");
}
