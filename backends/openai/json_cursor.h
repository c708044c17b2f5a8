#pragma once
// A strict, allocation-free JSON reader for the hot path of the `openai:` backend: a completion
// body is walked once and only the fields the backend keeps are decoded. nlohmann's parser
// builds a tree of every field and lexes one character at a time (it was a third of a worker's
// CPU per request in bench_http); this reads the same grammar in place.
//
// It accepts exactly what nlohmann::json::parse accepts, or gives up: every failure (bad JSON,
// invalid UTF-8, a number outside 64 bits, nesting deeper than kMaxDepth, a byte-order mark)
// just says "not taken", and the caller falls back to the tree parser, whose answer then
// stands. So it never has to produce an error message of its own.

#include <cstdint>
#include <string>
#include <string_view>

namespace v4eval::openai {

// Length of the valid UTF-8 sequence at s[i] (1-4 bytes; RFC 3629: no overlong forms,
// surrogates or code points past U+10FFFF, as nlohmann checks), or 0 when it is not one.
size_t utf8_sequence(std::string_view s, size_t i);

class JsonCursor {
 public:
  static constexpr int kMaxDepth = 256;
  enum class Type { kObject, kArray, kString, kNumber, kTrue, kFalse, kNull, kBad };

  explicit JsonCursor(std::string_view text) : s_(text) {}

  // The type of the value at the cursor (after skipping whitespace); nothing is consumed.
  Type peek();
  // Consumes `c` (after whitespace) when it is next.
  bool consume(char c);
  // A string: decoded into *out (null: validated and skipped).
  bool string(std::string* out);
  // An integer as nlohmann types it (no fraction or exponent, within int64 or uint64); a
  // number that is not one is consumed and *is_integer set false.
  bool number(int64_t* value, bool* is_integer);
  // Any value, validated and skipped.
  bool skip(int depth = 0);

  // Object walking: call begin_object, then next_key until it returns false with ok() true
  // (the closing brace was consumed) or false (bad input).
  bool begin_object() { return consume('{') && (first_ = true); }
  bool next_key(std::string* key);
  bool begin_array() { return consume('[') && (first_ = true); }
  // Before each array element: false at the closing bracket (consumed) or on bad input.
  bool next_element();

  bool ok() const { return ok_; }
  bool fail() { return ok_ = false; }
  // After the top-level value: only whitespace may follow.
  bool at_end();

 private:
  void ws();
  bool next_in(char close);
  bool literal(std::string_view word);
  bool hex4(uint32_t* value);
  // Validates a number; [*digits_begin, *digits_end) is its integer part, sign excluded.
  bool scan_number(size_t* digits_begin, size_t* digits_end, bool* integer);

  std::string_view s_;
  size_t i_ = 0;
  bool ok_ = true;
  bool first_ = true;
};

}  // namespace v4eval::openai
