// Built-in output comparators (sandbox.md §7.1). Our own implementation of testlib's standard
// checkers (wcmp, lcmp, fcmp-like, rcmp/dcmp, yesno) and of LiveCodeBench's stdin rule
// (suites.md §1.4). Everything works on bytes; numbers in the LCB rule are compared as exact
// decimals, never through binary floating point.

#include <algorithm>
#include <cerrno>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "harness/types.h"
#include "sandbox/sandbox.h"

namespace v4eval::sandbox {
namespace {

std::string_view skip_bom(std::string_view s) {
  if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  return s;
}

// A short printable excerpt for messages (testlib's compress: at most 64 characters).
std::string excerpt(std::string_view s) {
  std::string out;
  size_t n = std::min<size_t>(s.size(), 64);
  for (size_t i = 0; i < n; ++i) out += (s[i] == '\0') ? '~' : s[i];
  if (s.size() > 64) {
    out.resize(30);
    out += "...";
    std::string_view tail = s.substr(s.size() - 31);
    for (char c : tail) out += (c == '\0') ? '~' : c;
  }
  return out;
}

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_ascii_space(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !is_ascii_space(s[j])) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Lines split on '\n', one trailing '\r' dropped per line, trailing empty lines removed.
std::vector<std::string_view> lines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    std::string_view line = s.substr(start, nl == std::string_view::npos ? s.npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

std::string ordinal(size_t n) {
  std::string suffix = "th";
  if (n % 100 < 11 || n % 100 > 13) {
    if (n % 10 == 1)
      suffix = "st";
    else if (n % 10 == 2)
      suffix = "nd";
    else if (n % 10 == 3)
      suffix = "rd";
  }
  return std::to_string(n) + suffix;
}

Comparison ok() { return {true, ""}; }
Comparison wrong(std::string message) { return {false, std::move(message)}; }

Comparison compare_token_lists(const std::vector<std::string_view>& out,
                               const std::vector<std::string_view>& ans,
                               bool (*equal)(std::string_view, std::string_view, double,
                                             std::string*),
                               double eps, const std::string& where) {
  size_t n = std::min(out.size(), ans.size());
  for (size_t i = 0; i < n; ++i) {
    std::string why;
    if (!equal(out[i], ans[i], eps, &why))
      return wrong(where + ordinal(i + 1) + " words differ - expected: '" + excerpt(ans[i]) +
                   "', found: '" + excerpt(out[i]) + "'" + (why.empty() ? "" : " (" + why + ")"));
  }
  if (ans.size() > out.size())
    return wrong(where + "answer contains longer sequence [length = " + std::to_string(ans.size()) +
                 "], but output contains " + std::to_string(out.size()) + " elements");
  if (out.size() > ans.size())
    return wrong(where + "participant output contains longer sequence [length = " +
                 std::to_string(out.size()) + "], but answer contains " +
                 std::to_string(ans.size()) + " elements");
  return ok();
}

bool exact_token(std::string_view a, std::string_view b, double, std::string*) { return a == b; }

// A token as testlib reads a double: the whole token must parse (decimal or exponent notation,
// inf/nan allowed), no hexadecimal floats.
bool parse_double_token(std::string_view tok, double* value) {
  if (tok.empty() || tok.size() > 400) return false;
  for (char c : tok)
    if (c == 'x' || c == 'X' || c == 'p' || c == 'P') return false;
  std::string s(tok);
  char* end = nullptr;
  errno = 0;
  // strtod honours LC_NUMERIC; the harness never changes it from "C".
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return false;
  *value = v;
  return true;
}

bool float_token(std::string_view out, std::string_view ans, double eps, std::string* why) {
  double expected = 0;
  if (!parse_double_token(ans, &expected)) return out == ans;
  double result = 0;
  if (!parse_double_token(out, &result)) {
    *why = "not a number";
    return false;
  }
  if (!double_compare(expected, result, eps)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "error %.3g > %.3g", std::fabs(result - expected), eps);
    *why = buf;
    return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool yesno_token(std::string_view out, std::string_view ans, double, std::string*) {
  std::string a = lower(ans);
  if (a == "yes" || a == "no") return lower(out) == a;
  return out == ans;
}

// ---- LiveCodeBench: Python str.strip()/split() whitespace and exact Decimal equality ----------

// Length in bytes of the Python-whitespace character at s[i], or 0. Python's str.isspace covers
// ASCII \t\n\v\f\r, \x1c-\x1f, space, and the Unicode spaces below (UTF-8 encoded here).
size_t py_space_len(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return 1;
  if (c < 0x80) return 0;
  auto at = [&](size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u;
  };
  if (c == 0xc2 && (at(1) == 0x85 || at(1) == 0xa0)) return 2;  // U+0085, U+00A0
  if (c == 0xe1 && at(1) == 0x9a && at(2) == 0x80) return 3;    // U+1680
  if (c == 0xe2 && at(1) == 0x80) {
    unsigned d = at(2);
    if ((d >= 0x80 && d <= 0x8a) || d == 0xa8 || d == 0xa9 || d == 0xaf)
      return 3;  // U+2000-200A, 2028, 2029, 202F
  }
  if (c == 0xe2 && at(1) == 0x81 && at(2) == 0x9f) return 3;  // U+205F
  if (c == 0xe3 && at(1) == 0x80 && at(2) == 0x80) return 3;  // U+3000
  return 0;
}

// Length of a Python whitespace character ending at s[end-1], or 0.
size_t py_space_len_before(std::string_view s, size_t end) {
  for (size_t len = 1; len <= 3 && len <= end; ++len)
    if (py_space_len(s, end - len) == len) return len;
  return 0;
}

std::string_view py_strip(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e) {
    size_t n = py_space_len(s, b);
    if (n == 0) break;
    b += n;
  }
  while (e > b) {
    size_t n = py_space_len_before(s, e);
    if (n == 0) break;
    e -= n;
  }
  return s.substr(b, e - b);
}

std::vector<std::string_view> py_split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t n;
    while (i < s.size() && (n = py_space_len(s, i)) > 0) i += n;
    size_t j = i;
    while (j < s.size() && py_space_len(s, j) == 0) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// An exact decimal value as Python's Decimal(str) builds it, normalised so that equal values
// have equal representations: sign, significant digits without leading/trailing zeros, and the
// exponent of the last digit.
struct Decimal {
  enum Kind { kFinite, kInfinity, kNaN } kind = kFinite;
  bool negative = false;
  std::string digits;  // empty: zero
  __int128 exponent = 0;
  bool operator==(const Decimal& o) const {
    if (kind == kNaN || o.kind == kNaN) return false;  // NaN never equals anything
    if (kind != o.kind) return false;
    if (kind == kInfinity) return negative == o.negative;
    if (digits.empty() || o.digits.empty()) return digits.empty() && o.digits.empty();  // 0 == -0
    return negative == o.negative && digits == o.digits && exponent == o.exponent;
  }
};

// Python's decimal grammar: [sign] (digits [. [digits]] | . digits) [e [sign] digits]
// | [sign] inf[inity] | [sign] [s]nan [digits]; underscores only between digits.
bool parse_decimal(std::string_view tok, Decimal* d) {
  size_t i = 0;
  if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) d->negative = tok[i++] == '-';
  std::string rest = lower(tok.substr(i));
  if (rest == "inf" || rest == "infinity") {
    d->kind = Decimal::kInfinity;
    return true;
  }
  if (rest.rfind("nan", 0) == 0 || rest.rfind("snan", 0) == 0) {
    size_t k = rest[0] == 's' ? 4 : 3;
    for (; k < rest.size(); ++k)
      if (!std::isdigit(static_cast<unsigned char>(rest[k]))) return false;
    d->kind = Decimal::kNaN;
    return true;
  }
  auto is_digit = [&](size_t k) { return k < tok.size() && tok[k] >= '0' && tok[k] <= '9'; };
  std::string mantissa;
  int64_t fraction_digits = 0;
  bool any_digit = false, seen_dot = false;
  for (; i < tok.size(); ++i) {
    char c = tok[i];
    if (c >= '0' && c <= '9') {
      mantissa += c;
      any_digit = true;
      if (seen_dot) ++fraction_digits;
    } else if (c == '_') {
      if (!(i > 0 && is_digit(i - 1) && is_digit(i + 1))) return false;
    } else if (c == '.' && !seen_dot) {
      seen_dot = true;
    } else {
      break;
    }
  }
  if (!any_digit) return false;
  __int128 exponent = 0;
  if (i < tok.size()) {
    if (tok[i] != 'e' && tok[i] != 'E') return false;
    ++i;
    bool neg = false;
    if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) neg = tok[i++] == '-';
    if (!is_digit(i)) return false;
    int n = 0;
    for (; i < tok.size(); ++i) {
      if (tok[i] == '_') {
        if (!(is_digit(i - 1) && is_digit(i + 1))) return false;
        continue;
      }
      if (!is_digit(i)) return false;
      if (exponent == 0 && tok[i] == '0') continue;
      if (++n > 30) return false;  // beyond any real output; compared as text instead
      exponent = exponent * 10 + (tok[i] - '0');
    }
    if (neg) exponent = -exponent;
  }
  size_t first = mantissa.find_first_not_of('0');
  if (first == std::string::npos) {
    d->digits.clear();
    return true;
  }
  mantissa.erase(0, first);
  size_t last = mantissa.find_last_not_of('0');
  int64_t trailing = static_cast<int64_t>(mantissa.size() - 1 - last);
  mantissa.resize(last + 1);
  d->digits = std::move(mantissa);
  d->exponent = exponent - fraction_digits + trailing;
  return true;
}

bool lcb_decimal_line(std::string_view line, std::vector<Decimal>* out) {
  for (auto tok : py_split(line)) {
    Decimal d;
    if (!parse_decimal(tok, &d)) return false;
    out->push_back(std::move(d));
  }
  return true;
}

std::vector<std::string_view> lcb_lines(std::string_view text) {
  text = py_strip(text);
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t nl = text.find('\n', start);
    out.push_back(py_strip(text.substr(start, nl == text.npos ? text.npos : nl - start)));
    if (nl == text.npos) break;
    start = nl + 1;
  }
  return out;
}

Comparison compare_lcb(std::string_view output, std::string_view answer) {
  auto got = lcb_lines(output), want = lcb_lines(answer);
  if (got.size() != want.size()) return wrong("Wrong answer: mismatched output length");
  for (size_t k = 0; k < got.size(); ++k) {
    if (got[k] == want[k]) continue;
    std::vector<Decimal> a, b;
    if (lcb_decimal_line(got[k], &a) && lcb_decimal_line(want[k], &b) && a == b) continue;
    return wrong("Wrong answer at output_line_idx=" + std::to_string(k) + ": " + excerpt(got[k]) +
                 " != " + excerpt(want[k]));
  }
  return ok();
}

// Python's == on JSON values: numbers by value whatever their type (bool is an int: True == 1),
// lists in order, dicts as key sets with equal values.
bool python_equal(const v4eval::Json& a, const v4eval::Json& b) {
  auto numeric = [](const v4eval::Json& x) { return x.is_number() || x.is_boolean(); };
  if (numeric(a) && numeric(b)) {
    // long double holds every int64 and every double exactly.
    auto value = [](const v4eval::Json& x) -> long double {
      if (x.is_boolean()) return x.get<bool>() ? 1 : 0;
      if (x.is_number_unsigned()) return static_cast<long double>(x.get<uint64_t>());
      if (x.is_number_integer()) return static_cast<long double>(x.get<int64_t>());
      return static_cast<long double>(x.get<double>());
    };
    return value(a) == value(b);
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!python_equal(a[i], b[i])) return false;
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !python_equal(it.value(), *other)) return false;
    }
    return true;
  }
  return a == b;  // strings, null
}

Comparison compare_lcb_call(std::string_view output, std::string_view answer) {
  v4eval::Json got, want;
  try {
    want = v4eval::Json::parse(answer);
  } catch (const std::exception&) {
    return wrong("the expected value is not JSON");
  }
  try {
    got = v4eval::Json::parse(output);
  } catch (const std::exception&) {
    return wrong("Wrong Answer: the returned value is not JSON: " + excerpt(output));
  }
  if (python_equal(got, want)) return ok();
  return wrong("Wrong Answer: " + excerpt(got.dump()) + " != " + excerpt(want.dump()));
}

}  // namespace

bool double_compare(double expected, double result, double eps) {
  eps += 1e-15;
  auto is_infinite = [](double r) { return r > 1e300 || r < -1e300; };
  if (std::isnan(expected)) return std::isnan(result);
  if (is_infinite(expected)) {
    if (expected > 0) return result > 0 && is_infinite(result);
    return result < 0 && is_infinite(result);
  }
  if (std::isnan(result) || is_infinite(result)) return false;
  if (std::fabs(result - expected) <= eps) return true;
  double minv = std::min(expected * (1.0 - eps), expected * (1.0 + eps));
  double maxv = std::max(expected * (1.0 - eps), expected * (1.0 + eps));
  return result >= minv && result <= maxv;
}

Result<CompareMode> parse_compare_mode(std::string_view spec) {
  CompareMode m;
  if (spec == "exact")
    m.kind = CompareMode::kExact;
  else if (spec == "lines")
    m.kind = CompareMode::kLines;
  else if (spec == "tokens")
    m.kind = CompareMode::kTokens;
  else if (spec == "line-tokens")
    m.kind = CompareMode::kLineTokens;
  else if (spec == "lcb")
    m.kind = CompareMode::kLcb;
  else if (spec == "yesno")
    m.kind = CompareMode::kYesNo;
  else if (spec == "lcb-call")
    m.kind = CompareMode::kLcbCall;
  else if (spec == "float")
    m.kind = CompareMode::kFloat;
  else if (spec.rfind("float:", 0) == 0) {
    m.kind = CompareMode::kFloat;
    std::string eps(spec.substr(6));
    char* end = nullptr;
    m.epsilon = std::strtod(eps.c_str(), &end);
    if (eps.empty() || end != eps.c_str() + eps.size() || !(m.epsilon >= 0) || m.epsilon >= 1)
      return InvalidArgument("compare mode '" + std::string(spec) +
                             "': the tolerance must be a number in [0, 1), e.g. float:1e-6");
  } else {
    return InvalidArgument(
        "unknown compare mode '" + std::string(spec) +
        "' (exact, lines, tokens, line-tokens, float[:EPS], lcb, lcb-call, yesno)");
  }
  return m;
}

std::string compare_mode_name(const CompareMode& mode) {
  switch (mode.kind) {
    case CompareMode::kExact:
      return "exact";
    case CompareMode::kLines:
      return "lines";
    case CompareMode::kTokens:
      return "tokens";
    case CompareMode::kLineTokens:
      return "line-tokens";
    case CompareMode::kLcb:
      return "lcb";
    case CompareMode::kYesNo:
      return "yesno";
    case CompareMode::kLcbCall:
      return "lcb-call";
    case CompareMode::kFloat: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "float:%g", mode.epsilon);
      return buf;
    }
  }
  return "?";
}

Comparison compare_output(const CompareMode& mode, std::string_view output,
                          std::string_view answer) {
  // testlib skips a BOM; the exact and LiveCodeBench rules see the bytes as the reference does.
  if (mode.kind != CompareMode::kExact && mode.kind != CompareMode::kLcb &&
      mode.kind != CompareMode::kLcbCall)
    output = skip_bom(output);
  switch (mode.kind) {
    case CompareMode::kExact: {
      if (output == answer) return ok();
      size_t i = 0;
      while (i < output.size() && i < answer.size() && output[i] == answer[i]) ++i;
      return wrong("outputs differ at byte " + std::to_string(i) + " (output " +
                   std::to_string(output.size()) + " bytes, answer " +
                   std::to_string(answer.size()) + " bytes)");
    }
    case CompareMode::kLines: {
      auto out = lines(output), ans = lines(answer);
      for (size_t i = 0; i < std::min(out.size(), ans.size()); ++i)
        if (out[i] != ans[i])
          return wrong(ordinal(i + 1) + " lines differ - expected: '" + excerpt(ans[i]) +
                       "', found: '" + excerpt(out[i]) + "'");
      if (out.size() != ans.size())
        return wrong("expected " + std::to_string(ans.size()) + " lines, found " +
                     std::to_string(out.size()));
      return ok();
    }
    case CompareMode::kTokens:
      return compare_token_lists(tokens(output), tokens(answer), exact_token, 0, "");
    case CompareMode::kFloat:
      return compare_token_lists(tokens(output), tokens(answer), float_token, mode.epsilon, "");
    case CompareMode::kYesNo:
      return compare_token_lists(tokens(output), tokens(answer), yesno_token, 0, "");
    case CompareMode::kLineTokens: {
      auto out = lines(output), ans = lines(answer);
      for (size_t i = 0; i < std::min(out.size(), ans.size()); ++i) {
        auto r = compare_token_lists(tokens(out[i]), tokens(ans[i]), exact_token, 0,
                                     "line " + std::to_string(i + 1) + ": ");
        if (!r.accepted) return r;
      }
      if (out.size() != ans.size())
        return wrong("expected " + std::to_string(ans.size()) + " lines, found " +
                     std::to_string(out.size()));
      return ok();
    }
    case CompareMode::kLcb:
      return compare_lcb(output, answer);
    case CompareMode::kLcbCall:
      return compare_lcb_call(output, answer);
  }
  return wrong("unknown compare mode");
}

}  // namespace v4eval::sandbox
