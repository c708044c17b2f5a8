#pragma once
// SHA-256 (FIPS 180-4), used for request/prompt/data hashes that must be stable across runs.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace v4eval {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::array<uint8_t, 32> digest();  // finalises; the object is then spent
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view data);

}  // namespace v4eval
