#include "backends/openai/json_cursor.h"

#include <limits>

namespace v4eval::openai {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

size_t utf8_sequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(k) & 0xC0) != 0x80) return 0;
  if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) >= 0xA0) || (c == 0xF0 && b(1) < 0x90) ||
      (c == 0xF4 && b(1) >= 0x90))
    return 0;
  return n;
}

void JsonCursor::ws() {
  while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
    ++i_;
}

JsonCursor::Type JsonCursor::peek() {
  ws();
  if (!ok_ || i_ >= s_.size()) return Type::kBad;
  switch (s_[i_]) {
    case '{': return Type::kObject;
    case '[': return Type::kArray;
    case '"': return Type::kString;
    case 't': return Type::kTrue;
    case 'f': return Type::kFalse;
    case 'n': return Type::kNull;
    default: return s_[i_] == '-' || is_digit(s_[i_]) ? Type::kNumber : Type::kBad;
  }
}

bool JsonCursor::consume(char c) {
  ws();
  if (!ok_ || i_ >= s_.size() || s_[i_] != c) return false;
  ++i_;
  return true;
}

bool JsonCursor::literal(std::string_view word) {
  if (s_.substr(i_, word.size()) != word) return fail();
  i_ += word.size();
  return true;
}

bool JsonCursor::hex4(uint32_t* value) {
  if (i_ + 4 > s_.size()) return fail();
  uint32_t v = 0;
  for (int k = 0; k < 4; ++k) {
    char c = s_[i_++];
    v <<= 4;
    if (is_digit(c))
      v |= uint32_t(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= uint32_t(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= uint32_t(c - 'A' + 10);
    else
      return fail();
  }
  *value = v;
  return true;
}

bool JsonCursor::string(std::string* out) {
  if (!consume('"')) return fail();
  if (out) out->clear();
  size_t run = i_;  // plain bytes not yet copied to *out
  while (true) {
    if (i_ >= s_.size()) return fail();
    unsigned char c = static_cast<unsigned char>(s_[i_]);
    if (c == '"' || c == '\\') {
      if (out) out->append(s_.data() + run, i_ - run);
      ++i_;
      if (c == '"') return true;
      if (i_ >= s_.size()) return fail();
      char e = s_[i_++];
      uint32_t cp = 0;
      switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u': {
          if (!hex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return fail();  // a lone low surrogate
          if (cp >= 0xD800 && cp <= 0xDBFF) {               // must pair with a low one
            uint32_t low = 0;
            if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') return fail();
            i_ += 2;
            if (!hex4(&low) || low < 0xDC00 || low > 0xDFFF) return fail();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          break;
        }
        default:
          return fail();
      }
      if (out) append_utf8(*out, cp);
      run = i_;
    } else if (c < 0x20) {
      return fail();  // control characters must be escaped
    } else if (c < 0x80) {
      ++i_;
    } else {
      size_t n = utf8_sequence(s_, i_);
      if (n == 0) return fail();
      i_ += n;
    }
  }
}

bool JsonCursor::scan_number(size_t* digits_begin, size_t* digits_end, bool* integer) {
  ws();
  if (i_ < s_.size() && s_[i_] == '-') ++i_;
  *digits_begin = i_;
  if (i_ >= s_.size() || !is_digit(s_[i_])) return fail();
  if (s_[i_] == '0') {
    ++i_;  // no leading zeros
  } else {
    while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
  }
  *digits_end = i_;
  *integer = true;
  if (i_ < s_.size() && s_[i_] == '.') {
    *integer = false;
    ++i_;
    if (i_ >= s_.size() || !is_digit(s_[i_])) return fail();
    while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
  }
  if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
    *integer = false;
    ++i_;
    if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
    if (i_ >= s_.size() || !is_digit(s_[i_])) return fail();
    while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
  }
  return true;
}

bool JsonCursor::number(int64_t* value, bool* is_integer) {
  size_t begin = 0, end = 0;
  if (!scan_number(&begin, &end, is_integer)) return false;
  *value = 0;
  if (!*is_integer) return true;
  // nlohmann keeps an integer that fits int64 (negative) or uint64 (positive) as one and any
  // other as a double; callers here only want int64 values, so larger ones are not taken.
  uint64_t v = 0;
  for (size_t k = begin; k < end; ++k) {
    uint64_t d = uint64_t(s_[k] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return fail();
    v = v * 10 + d;
  }
  if (v > uint64_t(std::numeric_limits<int64_t>::max())) return fail();
  bool negative = begin > 0 && s_[begin - 1] == '-';
  *value = negative ? -int64_t(v) : int64_t(v);
  return true;
}

// Before each member of an object or array: false at `close` (consumed) or on bad input.
bool JsonCursor::next_in(char close) {
  ws();
  if (!ok_ || i_ >= s_.size()) return fail();
  bool first = first_;
  first_ = false;  // from here on, the container (or, at its end, its holder) has had a value
  if (s_[i_] == close) {
    ++i_;
    return false;
  }
  if (!first) {
    if (s_[i_] != ',') return fail();
    ++i_;
  }
  return true;
}

bool JsonCursor::next_key(std::string* key) {
  if (!next_in('}')) return false;
  if (!string(key) || !consume(':')) return fail();
  return true;
}

bool JsonCursor::next_element() { return next_in(']'); }

bool JsonCursor::skip(int depth) {
  if (depth > kMaxDepth) return fail();
  switch (peek()) {
    case Type::kObject:
      begin_object();
      while (next_key(nullptr))
        if (!skip(depth + 1)) return false;
      return ok_;
    case Type::kArray:
      begin_array();
      while (next_element())
        if (!skip(depth + 1)) return false;
      return ok_;
    case Type::kString:
      return string(nullptr);
    case Type::kNumber: {
      size_t begin, end;
      bool integer;
      return scan_number(&begin, &end, &integer);
    }
    case Type::kTrue:
      return literal("true");
    case Type::kFalse:
      return literal("false");
    case Type::kNull:
      return literal("null");
    case Type::kBad:
      return fail();
  }
  return fail();
}

bool JsonCursor::at_end() {
  ws();
  return ok_ && i_ == s_.size();
}

}  // namespace v4eval::openai
