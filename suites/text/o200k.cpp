#include "suites/text/o200k.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#ifndef V4EVAL_DEFAULT_O200K_PATH
#define V4EVAL_DEFAULT_O200K_PATH "tools/node/node_modules/tiktoken/encoders/o200k_base.json"
#endif

namespace v4eval::text {
namespace {

constexpr uint32_t kNoRank = std::numeric_limits<uint32_t>::max();

// ---------------------------------------------------------------------------------------------
// Hashing and the rank table.

inline uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t mix(uint64_t a, uint64_t b) {
  __uint128_t m = static_cast<__uint128_t>(a ^ 0xa0761d6478bd642full) * (b ^ 0xe7037ed1a0b428dbull);
  return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
}
// A wyhash-style hash: pieces are short (mostly < 16 bytes), so few multiplies per lookup.
inline uint64_t hash_bytes(const char* p, size_t n) {
  uint64_t h = 0x8ebc6af09c88c6e3ull ^ n;
  while (n > 8) {
    h = mix(h, load64(p));
    p += 8;
    n -= 8;
  }
  uint64_t tail;
  if (n >= 4) {
    tail = load32(p) | (load32(p + n - 4) << 32);
  } else if (n > 0) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    tail = (uint64_t{u[0]} << 16) | (uint64_t{u[n >> 1]} << 8) | u[n - 1];
  } else {
    tail = 0;
  }
  return mix(h ^ 0x589965cc75374cc3ull, tail);
}

// Inline compare for the short strings of a vocabulary (a libc memcmp call costs more).
inline bool bytes_equal(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (load64(a + i) != load64(b + i)) return false;
    }
    return load64(a + n - 8) == load64(b + n - 8);
  }
  if (n >= 4) return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Byte string -> rank. All token bytes live in one arena. The open-addressing table holds
// (24 bits of hash << 40 | min(length, 255) << 32 | rank + 1), so that a probe leaves the table
// only when hash bits and length agree, which is almost always a hit.
class RankTable {
 public:
  // Returns false when `rank` is already taken (a corrupt vocabulary).
  bool add(std::string_view bytes, uint32_t rank) {
    if (rank >= spans_.size()) spans_.resize(size_t{rank} + 1, Span{0, 0});
    if (spans_[rank].len != 0) return false;
    spans_[rank] = {static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(bytes.size())};
    arena_.append(bytes);
    max_len_ = std::max(max_len_, bytes.size());
    ++size_;
    return true;
  }

  // Builds the hash table; returns false on a duplicate byte string.
  bool finish() {
    size_t capacity = 1024;
    while (capacity < size_ * 2 + 1) capacity <<= 1;  // load factor <= 1/2
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    for (uint32_t rank = 0; rank < spans_.size(); ++rank) {
      if (spans_[rank].len == 0) continue;
      std::string_view bytes = token(rank);
      if (find(bytes.data(), bytes.size()) != kNoRank) return false;
      uint64_t h = hash_bytes(bytes.data(), bytes.size());
      size_t i = h & mask_;
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = key_bits(h, bytes.size()) | (uint64_t{rank} + 1);
    }
    return true;
  }

  uint32_t find(const char* p, size_t n) const {
    if (n > max_len_) return kNoRank;
    const uint64_t h = hash_bytes(p, n);
    const uint64_t key = key_bits(h, n);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return kNoRank;
      if ((slot & ~uint64_t{0xffffffff}) == key) {
        const uint32_t rank = static_cast<uint32_t>(slot) - 1;
        const Span& span = spans_[rank];
        if (span.len == n && bytes_equal(arena_.data() + span.off, p, n)) return rank;
      }
    }
  }

  bool contains_rank(uint32_t rank) const { return rank < spans_.size() && spans_[rank].len != 0; }
  std::string_view token(uint32_t rank) const {
    return {arena_.data() + spans_[rank].off, spans_[rank].len};
  }
  size_t size() const { return size_; }

 private:
  struct Span {
    uint32_t off, len;  // len 0: no such rank
  };
  static uint64_t key_bits(uint64_t h, size_t n) {
    return (h & 0xffffff0000000000ull) | (uint64_t{std::min<size_t>(n, 255)} << 32);
  }

  std::string arena_;
  std::vector<Span> spans_;  // by rank
  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  size_t max_len_ = 0;
};

// ---------------------------------------------------------------------------------------------
// UTF-8.

// Length of the valid UTF-8 sequence starting at p (RFC 3629: no overlongs, no surrogates,
// <= U+10FFFF), or 0 when p does not start one.
inline size_t utf8_char_length(const unsigned char* p, const unsigned char* end) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t avail = static_cast<size_t>(end - p);
  auto cont = [](unsigned char b) { return (b & 0xc0) == 0x80; };
  if (c >= 0xc2 && c <= 0xdf) return avail >= 2 && cont(p[1]) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (avail < 3 || !cont(p[1]) || !cont(p[2])) return 0;
    if (c == 0xe0 && p[1] < 0xa0) return 0;   // overlong
    if (c == 0xed && p[1] >= 0xa0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (avail < 4 || !cont(p[1]) || !cont(p[2]) || !cont(p[3])) return 0;
    if (c == 0xf0 && p[1] < 0x90) return 0;   // overlong
    if (c == 0xf4 && p[1] >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

// Length of the longest valid UTF-8 prefix of [p, end).
size_t valid_utf8_prefix(const unsigned char* p, const unsigned char* end) {
  const unsigned char* start = p;
  while (p < end) {
    // ASCII fast path, 8 bytes at a time.
    while (end - p >= 8 && (load64(reinterpret_cast<const char*>(p)) & 0x8080808080808080ull) == 0)
      p += 8;
    if (p == end) break;
    size_t n = utf8_char_length(p, end);
    if (n == 0) break;
    p += n;
  }
  return static_cast<size_t>(p - start);
}

// Length of the run of invalid bytes at p: up to the next position where a valid character
// starts.
size_t invalid_utf8_run(const unsigned char* p, const unsigned char* end) {
  const unsigned char* q = p + 1;
  while (q < end && utf8_char_length(q, end) == 0) ++q;
  return static_cast<size_t>(q - p);
}

// ---------------------------------------------------------------------------------------------
// The pre-tokenizer pattern.

// tiktoken compiles pat_str with Rust's fancy-regex, which hands `\s` and `\p{..}` to the regex
// crate. Two differences from PCRE2 10.42 (Debian 12) matter, both found by comparing every code
// point with the npm package (test_o200k.cpp, "every code point"):
//
// 1. `\s` is \p{White_Space} in the regex crate; PCRE2 with UCP defines it as \p{Zs}, \h or
//    \v, which adds U+180E (MONGOLIAN VOWEL SEPARATOR, a format character since Unicode 6.3).
//    The White_Space set is spelled out instead.
constexpr const char* kWhiteSpace =
    "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";

// 2. The regex crate (regex-syntax 0.8.5+, used by tiktoken 1.0.22) has Unicode 16.0 tables;
//    PCRE2 10.42 has Unicode 14.0, where ~9,400 later letters, marks and digits (CJK Extension
//    H and I, Egyptian Hieroglyphs Extended-A, Kawi, Garay, ...) are unassigned, so "\u{31350}"
//    would split differently. Each \p{X} is widened by the code points that are X in Unicode
//    16.0 but not in Unicode 14.0. No code point leaves a class between the two versions, so
//    this is also exact with a PCRE2 built on Unicode 15 or 16. A PCRE2 on Unicode 17 or later
//    would add letters tiktoken does not know; the every-code-point test would catch it.
//    Generated from regex-syntax/src/unicode_tables/general_category.rs (ucd-16.0.0) minus
//    what PCRE2 10.42 matches for \p{X}, code point by code point.
struct ClassAddition {
  const char* name;
  const char* ranges;
};
constexpr ClassAddition kUnicode16Additions[] = {
    {"L",
     "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}"
     "\\x{10D4A}-\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}"
     "\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}"
     "\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}"
     "\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D40}-"
     "\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}"
     "\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}"
     "\\x{31350}-\\x{323AF}"},
    {"Lu", "\\x{1C89}\\x{A7CB}-\\x{A7CC}\\x{A7DA}\\x{A7DC}\\x{10D50}-\\x{10D65}"},
    {"Ll", "\\x{1C8A}\\x{A7CD}\\x{A7DB}\\x{10D70}-\\x{10D85}\\x{1DF25}-\\x{1DF2A}"},
    {"Lt", ""},
    {"Lm",
     "\\x{10D4E}\\x{10D6F}\\x{16D40}-\\x{16D42}\\x{16D6B}-\\x{16D6C}\\x{1E030}-\\x{1E06D}"
     "\\x{1E4EB}"},
    {"Lo",
     "\\x{105C0}-\\x{105F3}\\x{10D4A}-\\x{10D4D}\\x{10D4F}\\x{10EC2}-\\x{10EC4}\\x{1123F}-"
     "\\x{11240}\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}"
     "\\x{113D1}\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-"
     "\\x{11F33}\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}"
     "\\x{16D43}-\\x{16D6A}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1E4D0}-\\x{1E4EA}\\x{1E5D0}-"
     "\\x{1E5ED}\\x{1E5F0}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}"},
    {"M",
     "\\x{897}\\x{CF3}\\x{ECE}\\x{10D69}-\\x{10D6D}\\x{10EFC}-\\x{10EFF}\\x{11241}"
     "\\x{113B8}-\\x{113C0}\\x{113C2}\\x{113C5}\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113D0}"
     "\\x{113D2}\\x{113E1}-\\x{113E2}\\x{11F00}-\\x{11F01}\\x{11F03}\\x{11F34}-\\x{11F3A}"
     "\\x{11F3E}-\\x{11F42}\\x{11F5A}\\x{13440}\\x{13447}-\\x{13455}\\x{1611E}-\\x{1612F}"
     "\\x{1E08F}\\x{1E4EC}-\\x{1E4EF}\\x{1E5EE}-\\x{1E5EF}"},
    {"N",
     "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}"
     "\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}"
     "\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}"},
};

const char* unicode16_additions(std::string_view name) {
  for (const auto& a : kUnicode16Additions) {
    if (name == a.name) return a.ranges;
  }
  return nullptr;
}

// Rewrites pat_str for PCRE2 (see above). Returns false on a construct it cannot rewrite
// exactly (\\S or \\P{X} inside a character class), which o200k_base does not use.
bool rewrite_pattern(std::string_view pat, std::string* out) {
  out->clear();
  bool in_class = false;
  for (size_t i = 0; i < pat.size(); ++i) {
    char c = pat[i];
    if (c == '\\' && i + 1 < pat.size()) {
      char e = pat[++i];
      if (e == 's') {
        *out += in_class ? kWhiteSpace : std::string("[") + kWhiteSpace + "]";
      } else if (e == 'S') {
        if (in_class) return false;
        *out += std::string("[^") + kWhiteSpace + "]";
      } else if ((e == 'p' || e == 'P') && i + 1 < pat.size() && pat[i + 1] == '{') {
        size_t close = pat.find('}', i);
        if (close == std::string_view::npos) return false;
        std::string_view name = pat.substr(i + 2, close - i - 2);
        std::string prop(pat.substr(i - 1, close - i + 2));  // "\\p{X}"
        i = close;
        const char* extra = unicode16_additions(name);
        if (extra == nullptr || *extra == '\0') {
          *out += prop;
        } else if (e == 'p') {
          *out += in_class ? prop + extra : "[" + prop + extra + "]";
        } else {
          if (in_class) return false;
          *out += "[^\\p{" + std::string(name) + "}" + extra + "]";
        }
      } else {
        *out += c;
        *out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      *out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < pat.size() && pat[i + 1] == '^') *out += pat[++i];
      if (i + 1 < pat.size() && pat[i + 1] == ']') *out += pat[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    *out += c;
  }
  return true;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  int n = pcre2_get_error_message(code, buf, sizeof buf);
  return n < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<char*>(buf));
}

// ---------------------------------------------------------------------------------------------
// base64 (RFC 4648, padded), as written by js-tiktoken.

bool base64_decode(std::string_view in, std::string* out) {
  static constexpr uint8_t kInvalid = 0xff;
  static const auto kTable = [] {
    std::array<uint8_t, 256> t{};
    t.fill(kInvalid);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
    return t;
  }();
  out->clear();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    uint8_t v = kTable[static_cast<unsigned char>(ch)];
    if (v == kInvalid) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return bits < 6;  // a lone trailing sextet cannot be produced by an encoder
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// The ASCII fast path of the pre-tokenizer.
//
// On ASCII the o200k pattern reduces to a few rules, applied at each piece start (alternatives
// numbered as in pat_str):
//   1-2. an optional prefix [^\r\n letter digit] before a letter, then [A-Z]*[a-z]+ or
//        [A-Z]+ (the same span), then an optional 's 't 're 've 'm 'll 'd in any case;
//   3.   1-3 digits;
//   4.   an optional space, a run of [^\s letter digit], then [\r\n/]*;
//   5-7. a whitespace run: up to its last \r or \n if it has one; else all of it at the end of
//        the text; else all but its last character if it is longer than one; else itself.
// The rules decide a piece's end by looking at bytes up to one past the piece (two or three
// for a contraction). Whenever one of those bytes is not ASCII the fast path gives up and that
// piece comes from PCRE2, so the fast path never has to know Unicode classes. The randomised
// test "ASCII fast path agrees with PCRE2" compares the two piece by piece.

enum : uint8_t {
  kUpper = 1,
  kLower = 2,
  kDigit = 4,
  kSpace = 8,     // \t \n \v \f \r and ' ': \s on ASCII
  kNewline = 16,  // \r \n
  kOther = 32,    // the rest of ASCII: punctuation, symbols, control characters
  kHigh = 64,     // a byte of a multi-byte character
  kLetter = kUpper | kLower,
};

constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (int b = 0; b < 256; ++b) {
    uint8_t c = kOther;
    if (b >= 0x80) {
      c = kHigh;
    } else if (b >= 'A' && b <= 'Z') {
      c = kUpper;
    } else if (b >= 'a' && b <= 'z') {
      c = kLower;
    } else if (b >= '0' && b <= '9') {
      c = kDigit;
    } else if (b == '\r' || b == '\n') {
      c = kSpace | kNewline;
    } else if ((b >= '\t' && b <= '\r') || b == ' ') {
      c = kSpace;
    }
    t[static_cast<size_t>(b)] = c;
  }
  return t;
}();

constexpr size_t kGiveUp = std::numeric_limits<size_t>::max();

// The pat_str the fast path implements (tiktoken's o200k_base); any other pattern gets PCRE2
// alone.
constexpr std::string_view kO200kPattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// End of the piece that starts at s[i] (i < n), or kGiveUp when it depends on non-ASCII bytes.
size_t ascii_piece_end(const unsigned char* s, size_t i, size_t n) {
  auto cls = [&](size_t k) -> uint8_t { return k < n ? kByteClass[s[k]] : 0; };  // 0: the end
  const uint8_t c = cls(i);
  if (c & kHigh) return kGiveUp;

  size_t word = i;  // where the letters of alternatives 1-2 start
  if (!(c & (kLetter | kDigit | kNewline))) {
    uint8_t next = cls(i + 1);
    if (next & kHigh) return kGiveUp;
    if (next & kLetter) word = i + 1;
  }
  if (cls(word) & kLetter) {  // 1-2
    size_t k = word;
    while (cls(k) & kUpper) ++k;
    while (cls(k) & kLower) ++k;
    if (cls(k) & kHigh) return kGiveUp;
    if (k < n && s[k] == '\'') {
      uint8_t a = cls(k + 1);
      if (a & kHigh) return kGiveUp;  // "'\u017F" is "'s" to a case-insensitive match
      if (a & kLetter) {
        char l = static_cast<char>(s[k + 1] | 0x20);
        if (l == 's' || l == 't' || l == 'm' || l == 'd') return k + 2;
        if (l == 'r' || l == 'v' || l == 'l') {
          uint8_t b = cls(k + 2);
          if (b & kHigh) return kGiveUp;
          char l2 = static_cast<char>(s[k + 2] | 0x20);
          if ((b & kLetter) && l2 == (l == 'l' ? 'l' : 'e')) return k + 3;
        }
      }
    }
    return k;
  }
  if (c & kDigit) {  // 3
    size_t k = i + 1;
    while (k < i + 3 && (cls(k) & kDigit)) ++k;
    if (k < i + 3 && (cls(k) & kHigh)) return kGiveUp;
    return k;
  }
  size_t punct = kGiveUp;  // where the run of alternative 4 starts
  if (c & kOther) {
    punct = i;
  } else if (s[i] == ' ' && (cls(i + 1) & kOther)) {
    punct = i + 1;
  }
  if (punct != kGiveUp) {  // 4
    size_t k = punct;
    while (cls(k) & kOther) ++k;
    if (cls(k) & kHigh) return kGiveUp;
    while (k < n && (s[k] == '\r' || s[k] == '\n' || s[k] == '/')) ++k;
    return k;
  }
  // 5-7: c is whitespace.
  size_t k = i, last_newline = kGiveUp;
  for (uint8_t ck; (ck = cls(k)) & kSpace; ++k) {
    if (ck & kNewline) last_newline = k;
  }
  if (cls(k) & kHigh) return kGiveUp;
  if (last_newline != kGiveUp) return last_newline + 1;
  if (k == n || k - i == 1) return k;
  return k - 1;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct O200k::Impl {
  RankTable ranks;
  std::array<uint32_t, 256> byte_rank{};
  std::vector<uint32_t> pair_rank;  // 65536 entries: the rank of each two-byte string
  std::unordered_map<uint32_t, std::string> special_by_id;
  pcre2_code* regex = nullptr;
  bool ascii_fast_path = false;  // pat_str is o200k's

  ~Impl() { pcre2_code_free(regex); }

  // Per-call scratch, reused across pieces so that encoding allocates only for the output
  // (and for the scratch of the longest piece).
  struct Scratch {
    pcre2_match_data* match = nullptr;
    std::vector<uint32_t> start, tok, rank, next, prev;
    std::vector<uint64_t> heap;
    Scratch() : match(pcre2_match_data_create(1, nullptr)) {}
    ~Scratch() { pcre2_match_data_free(match); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
  };

  uint32_t rank_of_pair(const char* p) const {
    return pair_rank[(size_t{static_cast<unsigned char>(p[0])} << 8) |
                     static_cast<unsigned char>(p[1])];
  }

  // Cuts `text` into pieces: valid UTF-8 by the pattern, each maximal run of invalid bytes as
  // one piece. Calls on_piece(start, length) in order; the pieces tile the text.
  template <class OnPiece>
  void split(std::string_view text, bool fast_path, Scratch& s, OnPiece&& on_piece) const;

  // Pieces of valid UTF-8 [p, p + n): the ASCII fast path where it applies, else PCRE2.
  template <class OnPiece>
  void split_valid(const char* p, size_t n, bool fast_path, Scratch& s, OnPiece& on_piece) const;

  // Calls emit(rank) for every token of `text`, in order.
  template <class Emit>
  void encode_with(std::string_view text, Emit emit) const {
    Scratch s;
    split(text, /*fast_path=*/true, s,
          [&](const char* p, size_t n) { encode_piece(p, n, s, emit); });
  }

  template <class Emit>
  void encode_piece(const char* p, size_t n, Scratch& s, Emit& emit) const {
    if (n == 1) {
      emit(byte_rank[static_cast<unsigned char>(p[0])]);
      return;
    }
    uint32_t whole = ranks.find(p, n);
    if (whole != kNoRank) {
      emit(whole);
    } else if (n <= kLinearMergeMaxBytes) {
      merge_linear(p, n, s, emit);
    } else {
      merge_heap(p, n, s, emit);
    }
  }

  // tiktoken's _byte_pair_merge: repeatedly merge the lowest-ranked adjacent pair, the leftmost
  // one on ties. O(n * merges); the fastest choice for the short pieces of ordinary text.
  template <class Emit>
  void merge_linear(const char* p, size_t n, Scratch& s, Emit& emit) const;

  // The same merge order with a heap ordered by (rank, start): O(n log n), so that a long piece
  // (a 100 KB run of letters) does not take quadratic time.
  template <class Emit>
  void merge_heap(const char* p, size_t n, Scratch& s, Emit& emit) const;

  static constexpr size_t kLinearMergeMaxBytes = 256;
};

template <class OnPiece>
void O200k::Impl::split(std::string_view text, bool fast_path, Scratch& s,
                        OnPiece&& on_piece) const {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* end = p + text.size();
  while (p < end) {
    size_t valid = valid_utf8_prefix(p, end);
    if (valid > 0) {
      split_valid(reinterpret_cast<const char*>(p), valid, fast_path && ascii_fast_path, s,
                  on_piece);
      p += valid;
    }
    if (p < end) {
      size_t invalid = invalid_utf8_run(p, end);
      on_piece(reinterpret_cast<const char*>(p), invalid);
      p += invalid;
    }
  }
}

template <class OnPiece>
void O200k::Impl::split_valid(const char* p, size_t n, bool fast_path, Scratch& s,
                              OnPiece& on_piece) const {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(p);
  size_t offset = 0;
  while (offset < n) {
    if (fast_path) {
      size_t end = ascii_piece_end(subject, offset, n);
      if (end != kGiveUp) {
        on_piece(p + offset, end - offset);
        offset = end;
        continue;
      }
    }
    // The text was validated, so the JIT entry point (which skips the UTF check that would
    // rescan the rest of the subject on every call) is safe.
    int rc = pcre2_jit_match(regex, subject, n, offset, 0, s.match, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      rc = pcre2_match(regex, subject, n, offset, PCRE2_NO_UTF_CHECK, s.match, nullptr);
    }
    size_t match_start = n, match_end = n;  // no match: the rest is a gap
    if (rc > 0) {
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.match);
      match_start = ov[0];
      match_end = ov[1];
    } else if (rc != PCRE2_ERROR_NOMATCH) {
      // A resource limit (o200k's pattern needs a few frames at most): one character is a
      // piece, so that progress is made and nothing is lost.
      match_start = offset;
      match_end = offset + utf8_char_length(subject + offset, subject + n);
    }
    // o200k's pattern matches every character, so gaps and failures do not occur; should a
    // vocabulary's pattern leave text unmatched, it is encoded as bytes rather than dropped.
    if (match_start > offset) on_piece(p + offset, match_start - offset);
    if (match_end == match_start) {
      if (match_start >= n) break;
      // An empty match: step over one character, as tiktoken's find_iter would.
      size_t step = utf8_char_length(subject + match_start, subject + n);
      on_piece(p + match_start, step);
      offset = match_start + step;
      continue;
    }
    on_piece(p + match_start, match_end - match_start);
    offset = match_end;
  }
}

template <class Emit>
void O200k::Impl::merge_linear(const char* p, size_t n, Scratch& s, Emit& emit) const {
  // Part i spans [start[i], start[i + 1]) and is token tok[i]; rank[i] is the rank of part i
  // merged with part i + 1 (kNoRank for the last part). start[parts] == n.
  s.start.resize(n + 1);
  s.tok.resize(n);
  s.rank.resize(n);
  uint32_t* start = s.start.data();
  uint32_t* tok = s.tok.data();
  uint32_t* rank = s.rank.data();
  for (size_t i = 0; i < n; ++i) {
    start[i] = static_cast<uint32_t>(i);
    tok[i] = byte_rank[static_cast<unsigned char>(p[i])];
    rank[i] = i + 1 < n ? rank_of_pair(p + i) : kNoRank;
  }
  start[n] = static_cast<uint32_t>(n);
  size_t parts = n;
  for (;;) {
    uint32_t min_rank = kNoRank;
    size_t i = 0;
    for (size_t k = 0; k + 1 < parts; ++k) {
      if (rank[k] < min_rank) {
        min_rank = rank[k];
        i = k;
      }
    }
    if (min_rank == kNoRank) break;
    // Merge part i + 1 into part i.
    tok[i] = min_rank;
    std::memmove(start + i + 1, start + i + 2, (parts - i - 1) * sizeof(uint32_t));
    std::memmove(tok + i + 1, tok + i + 2, (parts - i - 2) * sizeof(uint32_t));
    std::memmove(rank + i + 1, rank + i + 2, (parts - i - 2) * sizeof(uint32_t));
    --parts;
    rank[i] = i + 1 < parts ? ranks.find(p + start[i], start[i + 2] - start[i]) : kNoRank;
    if (i > 0) rank[i - 1] = ranks.find(p + start[i - 1], start[i + 1] - start[i - 1]);
  }
  for (size_t i = 0; i < parts; ++i) emit(tok[i]);
}

template <class Emit>
void O200k::Impl::merge_heap(const char* p, size_t n, Scratch& s, Emit& emit) const {
  // Parts form a linked list indexed by their first byte; tok[i] is part i's token and rank[i]
  // the rank of part i merged with its successor (kNoRank if none). A heap entry is acted on
  // only while it still agrees with rank[i], and stale ones are skipped. Popping the least
  // (rank, start) is exactly tiktoken's choice of the leftmost lowest-ranked pair.
  const uint32_t end = static_cast<uint32_t>(n);  // also "none" for next/prev
  s.next.resize(n);
  s.prev.resize(n);
  s.tok.resize(n);
  s.rank.resize(n);
  uint32_t* next = s.next.data();
  uint32_t* prev = s.prev.data();
  uint32_t* tok = s.tok.data();
  uint32_t* rank = s.rank.data();
  std::vector<uint64_t>& heap = s.heap;
  heap.clear();
  for (uint32_t i = 0; i < end; ++i) {
    next[i] = i + 1;
    prev[i] = i == 0 ? end : i - 1;
    tok[i] = byte_rank[static_cast<unsigned char>(p[i])];
    rank[i] = i + 1 < end ? rank_of_pair(p + i) : kNoRank;
    if (rank[i] != kNoRank) heap.push_back((uint64_t{rank[i]} << 32) | i);
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<>());
  auto update = [&](uint32_t i) {
    uint32_t j = next[i];
    rank[i] = j == end ? kNoRank : ranks.find(p + i, next[j] - i);
    if (rank[i] != kNoRank) {
      heap.push_back((uint64_t{rank[i]} << 32) | i);
      std::push_heap(heap.begin(), heap.end(), std::greater<>());
    }
  };
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const uint64_t top = heap.back();
    heap.pop_back();
    const uint32_t i = static_cast<uint32_t>(top);
    const uint32_t r = static_cast<uint32_t>(top >> 32);
    if (rank[i] != r || next[i] == end) continue;  // stale
    const uint32_t j = next[i];
    tok[i] = r;
    next[i] = next[j];
    if (next[j] != end) prev[next[j]] = i;
    next[j] = prev[j] = end;
    rank[j] = kNoRank;  // j is gone: its entries are stale
    update(i);
    if (prev[i] != end) update(prev[i]);
  }
  for (uint32_t i = 0; i != end; i = next[i]) emit(tok[i]);
}

namespace {

struct AppendIds {
  std::vector<uint32_t>* out;
  void operator()(uint32_t id) const { out->push_back(id); }
};

struct CountIds {
  size_t* n;
  void operator()(uint32_t) const { ++*n; }
};

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string why = std::strerror(err);
    if (err == ENOENT) return NotFound("o200k: cannot open " + path + ": " + why);
    return IoError("o200k: cannot open " + path + ": " + why);
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return IoError("o200k: error reading " + path);
  return buf.str();
}

}  // namespace

O200k::O200k(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
O200k::~O200k() = default;

Result<std::unique_ptr<O200k>> O200k::load(const std::string& path) {
  Result<std::string> text = read_file(path);
  if (!text.ok()) return text.status();
  auto bad = [&](const std::string& why) { return DataError("o200k: " + path + ": " + why); };

  nlohmann::json doc = nlohmann::json::parse(text.value(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad("not valid JSON");
  if (!doc.is_object()) return bad("not a JSON object");
  auto field = doc.find("pat_str");
  if (field == doc.end() || !field->is_string()) return bad("missing string field pat_str");
  std::string pat_str = field->get<std::string>();
  field = doc.find("bpe_ranks");
  if (field == doc.end() || !field->is_string()) return bad("missing string field bpe_ranks");
  const std::string& bpe_ranks = field->get_ref<const std::string&>();

  auto impl = std::make_unique<Impl>();

  // bpe_ranks: lines "<ignored> <first_rank> <b64> <b64> ..."; the k-th b64 token has rank
  // first_rank + k.
  std::string bytes;
  size_t line_start = 0, line_no = 0;
  while (line_start < bpe_ranks.size()) {
    size_t line_end = bpe_ranks.find('\n', line_start);
    if (line_end == std::string::npos) line_end = bpe_ranks.size();
    std::string_view line(bpe_ranks.data() + line_start, line_end - line_start);
    line_start = line_end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    std::vector<std::string_view> fields;
    for (size_t pos = 0; pos <= line.size();) {
      size_t sp = line.find(' ', pos);
      if (sp == std::string_view::npos) sp = line.size();
      if (sp > pos) fields.push_back(line.substr(pos, sp - pos));
      pos = sp + 1;
    }
    std::string where = "bpe_ranks line " + std::to_string(line_no);
    if (fields.size() < 2) return bad(where + ": expected \"<name> <first_rank> <b64>...\"");
    uint64_t first = 0;
    for (char c : fields[1]) {
      if (c < '0' || c > '9' || first > (1u << 30)) return bad(where + ": bad first rank");
      first = first * 10 + static_cast<uint64_t>(c - '0');
    }
    if (first + fields.size() > (uint64_t{1} << 30)) return bad(where + ": rank too large");
    for (size_t k = 2; k < fields.size(); ++k) {
      if (!base64_decode(fields[k], &bytes) || bytes.empty())
        return bad(where + ": bad base64 token '" + std::string(fields[k]) + "'");
      if (!impl->ranks.add(bytes, static_cast<uint32_t>(first + k - 2)))
        return bad(where + ": rank " + std::to_string(first + k - 2) + " given twice");
    }
  }
  if (!impl->ranks.finish()) return bad("bpe_ranks: a byte string has two ranks");
  // Byte-pair merging starts from single bytes, so each of the 256 must be a token.
  for (int b = 0; b < 256; ++b) {
    char c = static_cast<char>(b);
    impl->byte_rank[static_cast<size_t>(b)] = impl->ranks.find(&c, 1);
    if (impl->byte_rank[static_cast<size_t>(b)] == kNoRank)
      return bad("bpe_ranks: no token for byte " + std::to_string(b));
  }
  impl->pair_rank.resize(65536);
  for (size_t pair = 0; pair < 65536; ++pair) {
    char two[2] = {static_cast<char>(pair >> 8), static_cast<char>(pair & 0xff)};
    impl->pair_rank[pair] = impl->ranks.find(two, 2);
  }

  field = doc.find("special_tokens");
  if (field != doc.end()) {
    if (!field->is_object()) return bad("special_tokens is not an object");
    for (const auto& [name, id] : field->items()) {
      if (!id.is_number_unsigned() || id.get<uint64_t>() > kNoRank - 1)
        return bad("special token " + name + " has no valid id");
      impl->special_by_id[id.get<uint32_t>()] = name;
    }
  }

  impl->ascii_fast_path = pat_str == kO200kPattern;
  std::string pattern;
  if (!rewrite_pattern(pat_str, &pattern))
    return bad("pat_str: \\S or \\P{..} inside a class is not supported");
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  impl->regex = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
  if (impl->regex == nullptr) {
    return bad("pat_str does not compile at offset " + std::to_string(err_offset) + ": " +
               pcre2_message(err));
  }
  // split_valid() calls pcre2_jit_match, so the JIT is required, not an optimisation.
  err = pcre2_jit_compile(impl->regex, PCRE2_JIT_COMPLETE);
  if (err != 0) return Internal("o200k: PCRE2 JIT unavailable: " + pcre2_message(err));

  return std::unique_ptr<O200k>(new O200k(std::move(impl)));
}

std::string O200k::default_path() {
  const char* env = std::getenv("V4EVAL_O200K_PATH");
  if (env != nullptr && *env != '\0') return env;
  return V4EVAL_DEFAULT_O200K_PATH;
}

Result<const O200k*> O200k::shared() {
  // Never destroyed, so that threads still encoding at exit do not race a destructor.
  static const auto* const loaded = new Result<std::unique_ptr<O200k>>(load(default_path()));
  if (!loaded->ok()) return loaded->status();
  return static_cast<const O200k*>(loaded->value().get());
}

std::vector<uint32_t> O200k::encode(std::string_view utf8) const {
  std::vector<uint32_t> ids;
  ids.reserve(utf8.size() / 4 + 8);  // ~4.5 bytes per token on English text
  impl_->encode_with(utf8, AppendIds{&ids});
  return ids;
}

size_t O200k::count(std::string_view utf8) const {
  size_t n = 0;
  impl_->encode_with(utf8, CountIds{&n});
  return n;
}

std::string O200k::decode(const std::vector<uint32_t>& ids) const {
  std::string out;
  for (uint32_t id : ids) {
    if (impl_->ranks.contains_rank(id)) {
      out += impl_->ranks.token(id);
    } else if (auto it = impl_->special_by_id.find(id); it != impl_->special_by_id.end()) {
      out += it->second;
    }
  }
  return out;
}

size_t O200k::vocabulary_size() const { return impl_->ranks.size(); }

std::vector<std::string_view> O200k::pieces(std::string_view utf8, bool pcre2_only) const {
  std::vector<std::string_view> out;
  Impl::Scratch s;
  impl_->split(utf8, !pcre2_only, s, [&](const char* p, size_t n) { out.emplace_back(p, n); });
  return out;
}

}  // namespace v4eval::text
