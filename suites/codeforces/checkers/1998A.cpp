// Checker for Codeforces 1998A "Find K Distinct Points with Fixed Center" (CodeElo special
// judge: any valid set of points). testlib's interface: checker <input> <output> <answer>;
// exit 0 accepted, 1 wrong answer, 3 checker failure; the verdict line on stderr.
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <utility>

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
  const long long kLimit = 1000000000LL;
  for (int c = 1; c <= t; ++c) {
    long long xc = 0, yc = 0, k = 0;
    if (!(in >> xc >> yc >> k)) {
      std::fprintf(stderr, "FAIL bad input\n");
      return 3;
    }
    std::set<std::pair<long long, long long>> seen;
    long long sx = 0, sy = 0;
    for (long long i = 0; i < k; ++i) {
      std::string a, b;
      if (!(out >> a >> b)) {
        std::fprintf(stderr, "wrong answer test case %d: %lld points expected\n", c, k);
        return 1;
      }
      long long x = 0, y = 0;
      try {
        size_t ua = 0, ub = 0;
        x = std::stoll(a, &ua);
        y = std::stoll(b, &ub);
        if (ua != a.size() || ub != b.size()) throw 0;
      } catch (...) {
        std::fprintf(stderr, "wrong answer test case %d: '%s %s' is not a pair of integers\n", c,
                     a.c_str(), b.c_str());
        return 1;
      }
      if (x < -kLimit || x > kLimit || y < -kLimit || y > kLimit) {
        std::fprintf(stderr, "wrong answer test case %d: point (%lld, %lld) out of range\n", c, x,
                     y);
        return 1;
      }
      if (!seen.insert({x, y}).second) {
        std::fprintf(stderr, "wrong answer test case %d: point (%lld, %lld) repeated\n", c, x, y);
        return 1;
      }
      sx += x;
      sy += y;
    }
    if (sx != xc * k || sy != yc * k) {
      std::fprintf(stderr, "wrong answer test case %d: the center is not (%lld, %lld)\n", c, xc,
                   yc);
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
