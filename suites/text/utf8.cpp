#include "suites/text/utf8.h"

#include <cstdint>

namespace v4eval::text {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

bool is_continuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

}  // namespace

std::u32string utf8_to_code_points(std::string_view utf8) {
  std::u32string out;
  out.reserve(utf8.size());
  const size_t n = utf8.size();
  size_t i = 0;
  while (i < n) {
    const auto lead = static_cast<uint8_t>(utf8[i]);
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    }
    // Sequence length and the allowed range of the second byte (Unicode Table 3-7); the
    // narrowed ranges after E0, ED, F0 and F4 exclude overlongs, surrogates and > U+10FFFF.
    int length = 0;
    uint8_t second_lo = 0x80;
    uint8_t second_hi = 0xBF;
    char32_t value = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      value = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      value = lead & 0x0F;
      if (lead == 0xE0) second_lo = 0xA0;
      if (lead == 0xED) second_hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      value = lead & 0x07;
      if (lead == 0xF0) second_lo = 0x90;
      if (lead == 0xF4) second_hi = 0x8F;
    } else {  // 80..C1, F5..FF never start a sequence
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    // Consume the longest valid prefix; the first byte that does not fit is not consumed, so
    // it starts the next sequence (maximal subpart rule).
    size_t j = i + 1;
    bool complete = true;
    for (int k = 1; k < length; ++k, ++j) {
      if (j >= n) {
        complete = false;
        break;
      }
      const auto byte = static_cast<uint8_t>(utf8[j]);
      const bool fits = k == 1 ? (byte >= second_lo && byte <= second_hi) : is_continuation(byte);
      if (!fits) {
        complete = false;
        break;
      }
      value = (value << 6) | (byte & 0x3F);
    }
    out.push_back(complete ? value : kReplacement);
    i = j;
  }
  return out;
}

std::string code_points_to_utf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) {
    if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) c = kReplacement;
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

}  // namespace v4eval::text
