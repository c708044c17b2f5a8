#include "backends/v4/tiny_tokenizer.h"

#include <string>

#include "backends/v4/chat.h"

namespace v4eval::v4 {
namespace {

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// GPT-2's ByteLevel alphabet: printable Latin-1 bytes stand for themselves, the others map to
// U+0100 onwards in byte order.
std::string byte_symbol(int b) {
  const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  uint32_t cp = static_cast<uint32_t>(b);
  if (!printable) {
    uint32_t n = 0;
    for (int x = 0; x < b; ++x) {
      const bool p = (x >= '!' && x <= '~') || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
      if (!p) ++n;
    }
    cp = 256 + n;
  }
  std::string s;
  append_utf8(cp, &s);
  return s;
}

}  // namespace

Json tiny_tokenizer_json() {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_symbol(b)] = 3 + b;
  Json added = Json::array();
  auto add = [&](std::string_view content, int id) {
    added.push_back({{"id", id}, {"content", std::string(content)}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                     {"special", true}});
  };
  add(kBos, 0);
  add(kEos, 1);
  add("<\xef\xbd\x9c\xe2\x96\x81pad\xe2\x96\x81\xef\xbd\x9c>", 2);  // <｜▁pad▁｜>
  add(kUser, 259);
  add(kAssistant, 260);
  add(kThinkStart, 261);
  add(kThinkEnd, 262);
  return Json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers", Json::array({{{"type", "ByteLevel"}, {"add_prefix_space", false},
                                        {"trim_offsets", false}, {"use_regex", false}}})}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true},
                   {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
        {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab},
        {"merges", Json::array()}}},
  };
}

}  // namespace v4eval::v4
