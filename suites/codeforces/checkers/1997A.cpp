// Checker for Codeforces 1997A "Strong Password" (CodeElo special judge: any optimal answer).
// testlib's interface: checker <input> <output> <answer>; exit 0 accepted, 1 wrong answer,
// 2 presentation error, 3 checker failure; the verdict line on stderr.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

static int typing_time(const std::string& s) {
  int t = 0;
  for (size_t i = 0; i < s.size(); ++i) t += (i > 0 && s[i] == s[i - 1]) ? 1 : 2;
  return t;
}

static int best_time(const std::string& s) {
  int best = 0;
  for (size_t pos = 0; pos <= s.size(); ++pos)
    for (char c = 'a'; c <= 'z'; ++c) {
      std::string t = s;
      t.insert(t.begin() + long(pos), c);
      if (typing_time(t) > best) best = typing_time(t);
    }
  return best;
}

// s with exactly one lowercase letter inserted somewhere.
static bool one_inserted(const std::string& s, const std::string& t) {
  if (t.size() != s.size() + 1) return false;
  size_t i = 0;
  while (i < s.size() && s[i] == t[i]) ++i;
  if (t[i] < 'a' || t[i] > 'z') return false;
  return s.compare(i, std::string::npos, t, i + 1, std::string::npos) == 0;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "FAIL usage: checker input output answer\n");
    return 3;
  }
  std::ifstream in(argv[1]), out(argv[2]);
  int t = 0;
  if (!(in >> t)) {
    std::fprintf(stderr, "FAIL bad input\n");
    return 3;
  }
  for (int k = 1; k <= t; ++k) {
    std::string s, got;
    if (!(in >> s)) {
      std::fprintf(stderr, "FAIL bad input\n");
      return 3;
    }
    if (!(out >> got)) {
      std::fprintf(stderr, "wrong answer test case %d: answer missing\n", k);
      return 1;
    }
    if (!one_inserted(s, got)) {
      std::fprintf(stderr, "wrong answer test case %d: '%s' is not '%s' with one letter inserted\n",
                   k, got.c_str(), s.c_str());
      return 1;
    }
    int want = best_time(s), have = typing_time(got);
    if (have != want) {
      std::fprintf(stderr, "wrong answer test case %d: typing time %d, the best is %d\n", k, have,
                   want);
      return 1;
    }
  }
  std::string extra;
  if (out >> extra) {
    std::fprintf(stderr, "wrong answer extra output\n");
    return 1;
  }
  std::fprintf(stderr, "ok %d test cases\n", t);
  return 0;
}
