#pragma once
// A byte-level tokenizer.json for the tiny test checkpoint (`v4 make-tiny --tokenizer`): no
// merges, so every byte is one token. Ids: BOS 0, EOS 1, pad 2, the 256 byte symbols 3..258,
// then the chat special tokens <｜User｜>, <｜Assistant｜>, <think>, </think> (259..262).
//
// Deviation from v4-model.md §6, needed only for end-to-end runs: the §6 config has
// vocab_size 256, which cannot hold the bytes and the specials, so a checkpoint written with
// this tokenizer has vocab_size = kTinyTokenizerVocab instead.

#include <cstdint>

#include "harness/types.h"

namespace v4eval::v4 {

inline constexpr int64_t kTinyTokenizerVocab = 263;

// The tokenizer.json document (Hugging Face format, loadable by v4::Tokenizer).
Json tiny_tokenizer_json();

}  // namespace v4eval::v4
