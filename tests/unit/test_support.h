#pragma once
// Paths and small helpers shared by the unit tests.

#include <cstdlib>
#include <string>

namespace v4eval::test {

// ../shared beside the checkout (CI lays a copy there); V4EVAL_SHARED_DIR overrides.
inline std::string shared_dir() {
  if (const char* env = std::getenv("V4EVAL_SHARED_DIR")) return env;
  return V4EVAL_SHARED_DIR;
}
inline std::string source_dir() { return V4EVAL_SOURCE_DIR; }

}  // namespace v4eval::test
