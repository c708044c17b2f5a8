#pragma once
// Paths and small helpers shared by the unit tests.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

}  // namespace v4eval::test
