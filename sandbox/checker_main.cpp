// v4eval-checker: the built-in comparison modes behind testlib's checker interface, for
// places that expect a checker program (e.g. after an interactor, or another judge):
//
//   v4eval-checker [--mode exact|lines|tokens|line-tokens|float[:EPS]|lcb|yesno] INPUT OUTPUT
//   ANSWER
//
// Exit codes as testlib: 0 accepted, 1 wrong answer, 3 checker failure; the verdict line
// ("ok ..." / "wrong answer ...") goes to stderr. The default mode is tokens (testlib wcmp).

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "sandbox/sandbox.h"

namespace {

bool read_all(const char* path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace v4eval::sandbox;
  std::string mode_spec = "tokens";
  std::vector<const char*> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mode" && i + 1 < argc)
      mode_spec = argv[++i];
    else if (a.rfind("--mode=", 0) == 0)
      mode_spec = a.substr(7);
    else if (a == "--help" || a == "-h") {
      std::fputs("usage: v4eval-checker [--mode MODE] INPUT OUTPUT ANSWER\n", stdout);
      return 0;
    } else
      files.push_back(argv[i]);
  }
  if (files.size() < 3) {
    std::fputs("FAIL usage: v4eval-checker [--mode MODE] INPUT OUTPUT ANSWER\n", stderr);
    return 3;
  }
  auto mode = parse_compare_mode(mode_spec);
  if (!mode.ok()) {
    std::fprintf(stderr, "FAIL %s\n", mode.status().message().c_str());
    return 3;
  }
  std::string output, answer;
  if (!read_all(files[1], &output) || !read_all(files[2], &answer)) {
    std::fputs("FAIL cannot read the output or the answer file\n", stderr);
    return 3;
  }
  Comparison c = compare_output(*mode, output, answer);
  if (c.accepted) {
    std::fprintf(stderr, "ok %s\n", compare_mode_name(*mode).c_str());
    return 0;
  }
  std::fprintf(stderr, "wrong answer %s\n", c.message.c_str());
  return 1;
}
