#pragma once
// LiveCodeBench's encoded `private_test_cases`: base64( zlib( pickle( <JSON text> ) ) ), read
// without Python (suites.md §1.1). The reference first tries plain `json.loads` and falls back
// to the encoded form; decode_private_tests() does the same.

#include <string>
#include <string_view>

#include "harness/status.h"

namespace v4eval::lcb {

// Python's base64.b64decode(s) with validate=False: characters outside the alphabet are
// skipped; the remaining length must be a multiple of 4 once padding is counted. DataError on
// bad padding.
Result<std::string> base64_decode(std::string_view text);

// zlib.decompress: a zlib stream (header, deflate, Adler-32). DataError when corrupt or
// truncated.
Result<std::string> zlib_decompress(std::string_view data);

// pickle.loads for a pickle whose value is one `str` (protocols 0-5 as written by CPython for a
// string: PROTO, FRAME, SHORT_BINUNICODE / BINUNICODE / BINUNICODE8, MEMOIZE / BINPUT /
// LONG_BINPUT, STOP). Returns the string's UTF-8 bytes. Any other opcode or value is a
// DataError naming the opcode and its offset.
Result<std::string> unpickle_string(std::string_view pickle);

// The JSON text of a `private_test_cases` field: the field itself when it parses as JSON,
// otherwise the decoded blob.
Result<std::string> private_tests_json(std::string_view field);

}  // namespace v4eval::lcb
