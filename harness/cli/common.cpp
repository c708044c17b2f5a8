#include <cstdio>

#include "git_revision.h"  // generated at build time (cmake/git_revision.cmake)
#include "harness/cli/commands.h"

#ifndef V4EVAL_VERSION
#define V4EVAL_VERSION "0.0.0"
#endif

namespace v4eval::cli {

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "v4eval: %s\n", message.c_str());
  return code;
}

std::string version_string() {
  return std::string("v4eval ") + V4EVAL_VERSION + " (git " + V4EVAL_GIT_REVISION + ")";
}

}  // namespace v4eval::cli
