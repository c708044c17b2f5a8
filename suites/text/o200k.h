#pragma once
// O200k: an exact, fast o200k_base tokenizer (the byte-pair encoding of GPT-4o and later),
// producing the same ids as tiktoken's encode_ordinary. Used to size prompts (MRCR context
// lengths) and to count tokens of model outputs without a network round trip.
//
// Reference: tiktoken (openai/tiktoken, src/lib.rs); tests/unit/test_o200k.cpp compares ids
// with the npm package `tiktoken` on real data and on Unicode edge cases.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "harness/status.h"

namespace v4eval::text {

class O200k {
 public:
  // Loads tiktoken's encoders/o200k_base.json: {pat_str, special_tokens, bpe_ranks}, where
  // bpe_ranks is js-tiktoken's compressed form, lines "<ignored> <first_rank> <b64> <b64> ...".
  // Errors: NotFound/IoError when the file cannot be read, DataError when it is malformed; the
  // message names the file.
  static Result<std::unique_ptr<O200k>> load(const std::string& path);

  // Where the ranks are looked for: $V4EVAL_O200K_PATH if set, else the compile-time
  // V4EVAL_DEFAULT_O200K_PATH (<repo>/tools/node/node_modules/tiktoken/encoders/o200k_base.json).
  static std::string default_path();

  // Process-wide instance loaded once from default_path() (thread-safe lazy init). A failed load
  // is remembered: every call returns the same error.
  static Result<const O200k*> shared();

  ~O200k();
  O200k(const O200k&) = delete;
  O200k& operator=(const O200k&) = delete;

  // Like tiktoken's encode_ordinary: special-token strings ("<|endoftext|>") are plain text.
  // Valid UTF-8 gives exactly tiktoken's ids. Invalid UTF-8 never fails: the text is cut at
  // each maximal run of invalid bytes, valid parts are encoded as above and each invalid run is
  // byte-pair encoded as one piece, so decode(encode(x)) == x for any bytes. (tiktoken itself
  // cannot see such input: Python and JS replace it with U+FFFD before encoding.)
  // Memory: the output plus O(longest piece) scratch. Thread-safe.
  std::vector<uint32_t> encode(std::string_view utf8) const;

  // == encode(utf8).size(), without materialising the ids. Thread-safe.
  size_t count(std::string_view utf8) const;

  // The bytes of the tokens, concatenated (may be invalid UTF-8 if a multi-byte character is
  // split across the ids given). Special-token ids decode to their text; ids that are not in
  // the vocabulary decode to nothing. Thread-safe.
  std::string decode(const std::vector<uint32_t>& ids) const;

  // Number of ordinary (byte-pair) tokens; special tokens are not counted.
  size_t vocabulary_size() const;

  // The pre-tokenizer's pieces (pat_str matches, and runs of invalid UTF-8), in order; they
  // tile `utf8`. pcre2_only bypasses the ASCII fast path, the reference it is tested against.
  // For tests and debugging. Thread-safe.
  std::vector<std::string_view> pieces(std::string_view utf8, bool pcre2_only = false) const;

 private:
  struct Impl;
  explicit O200k(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace v4eval::text
