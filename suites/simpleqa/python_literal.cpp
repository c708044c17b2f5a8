#include "suites/simpleqa/python_literal.h"

#include <cstdlib>

#include "suites/text/utf8.h"

namespace v4eval::simpleqa {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  Result<Json> parse_all() {
    auto v = value();
    if (!v.ok()) return v;
    skip_ws();
    if (i_ != t_.size()) return fail("trailing text");
    return v;
  }

 private:
  Status fail(const std::string& what) const {
    return DataError("Python literal: " + what + " at offset " + std::to_string(i_));
  }
  void skip_ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
      ++i_;
  }
  bool starts(std::string_view w) const { return t_.substr(i_, w.size()) == w; }

  Result<Json> value() {
    skip_ws();
    if (i_ >= t_.size()) return fail("unexpected end");
    char c = t_[i_];
    if (c == '\'' || c == '"') return string();
    if (c == '[' || c == '(') return sequence(c == '[' ? ']' : ')');
    if (c == '{') return dict();
    if (starts("True")) { i_ += 4; return Json(true); }
    if (starts("False")) { i_ += 5; return Json(false); }
    if (starts("None")) { i_ += 4; return Json(); }
    return number();
  }

  Result<Json> number() {
    size_t start = i_;
    if (t_[i_] == '-' || t_[i_] == '+') ++i_;
    bool is_float = false;
    while (i_ < t_.size() && (isdigit(static_cast<unsigned char>(t_[i_])) || t_[i_] == '.' ||
                              t_[i_] == 'e' || t_[i_] == 'E' || t_[i_] == '_' ||
                              ((t_[i_] == '-' || t_[i_] == '+') && (t_[i_ - 1] == 'e' || t_[i_ - 1] == 'E')))) {
      if (t_[i_] == '.' || t_[i_] == 'e' || t_[i_] == 'E') is_float = true;
      ++i_;
    }
    std::string s;
    for (char ch : t_.substr(start, i_ - start)) if (ch != '_') s += ch;
    if (s.empty() || s == "-" || s == "+") return fail("unexpected character");
    char* end = nullptr;
    if (is_float) {
      double d = std::strtod(s.c_str(), &end);
      if (*end) return fail("bad number");
      return Json(d);
    }
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (*end) return fail("bad number");
    return Json(v);
  }

  Result<Json> string() {
    char q = t_[i_];
    bool triple = t_.substr(i_, 3) == std::string(3, q);
    i_ += triple ? 3 : 1;
    std::u32string out;
    std::string raw;  // undecoded UTF-8 run
    auto flush = [&] {
      out += text::utf8_to_code_points(raw);
      raw.clear();
    };
    while (true) {
      if (i_ >= t_.size()) return fail("unterminated string");
      char c = t_[i_];
      if (triple ? t_.substr(i_, 3) == std::string(3, q) : c == q) {
        i_ += triple ? 3 : 1;
        break;
      }
      if (c == '\n' && !triple) return fail("newline in string");
      if (c != '\\') {
        raw += c;
        ++i_;
        continue;
      }
      flush();
      if (++i_ >= t_.size()) return fail("unterminated escape");
      char e = t_[i_++];
      auto hex = [&](int digits) -> long {
        if (i_ + digits > t_.size()) return -1;
        std::string h(t_.substr(i_, digits));
        for (char ch : h) if (!isxdigit(static_cast<unsigned char>(ch))) return -1;
        i_ += digits;
        return std::strtol(h.c_str(), nullptr, 16);
      };
      switch (e) {
        case '\\': out += U'\\'; break;
        case '\'': out += U'\''; break;
        case '"': out += U'"'; break;
        case 'n': out += U'\n'; break;
        case 't': out += U'\t'; break;
        case 'r': out += U'\r'; break;
        case 'a': out += U'\a'; break;
        case 'b': out += U'\b'; break;
        case 'f': out += U'\f'; break;
        case 'v': out += U'\v'; break;
        case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
          int v = e - '0';
          for (int k = 0; k < 2 && i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '7'; ++k)
            v = v * 8 + (t_[i_++] - '0');
          out += char32_t(v);
          break;
        }
        case '\n': break;  // line continuation
        case 'x': case 'u': case 'U': {
          long v = hex(e == 'x' ? 2 : e == 'u' ? 4 : 8);
          if (v < 0) return fail("bad \\" + std::string(1, e) + " escape");
          out += char32_t(v);
          break;
        }
        default:  // Python keeps unknown escapes verbatim
          out += U'\\';
          out += char32_t(static_cast<unsigned char>(e));
      }
    }
    flush();
    return Json(text::code_points_to_utf8(out));
  }

  Result<Json> sequence(char close) {
    ++i_;
    Json arr = Json::array();
    while (true) {
      skip_ws();
      if (i_ < t_.size() && t_[i_] == close) { ++i_; return arr; }
      auto v = value();
      if (!v.ok()) return v;
      arr.push_back(std::move(*v));
      skip_ws();
      if (i_ < t_.size() && t_[i_] == ',') { ++i_; continue; }
      if (i_ < t_.size() && t_[i_] == close) { ++i_; return arr; }
      return fail(std::string("expected ',' or '") + close + "'");
    }
  }

  Result<Json> dict() {
    ++i_;
    Json obj = Json::object();
    while (true) {
      skip_ws();
      if (i_ < t_.size() && t_[i_] == '}') { ++i_; return obj; }
      auto k = value();
      if (!k.ok()) return k;
      if (!k->is_string()) return fail("dict keys must be strings");
      skip_ws();
      if (i_ >= t_.size() || t_[i_] != ':') return fail("expected ':'");
      ++i_;
      auto v = value();
      if (!v.ok()) return v;
      obj[k->get<std::string>()] = std::move(*v);
      skip_ws();
      if (i_ < t_.size() && t_[i_] == ',') { ++i_; continue; }
      if (i_ < t_.size() && t_[i_] == '}') { ++i_; return obj; }
      return fail("expected ',' or '}'");
    }
  }

  std::string_view t_;
  size_t i_ = 0;
};

}  // namespace

Result<Json> parse_python_literal(std::string_view text) { return Parser(text).parse_all(); }

}  // namespace v4eval::simpleqa
