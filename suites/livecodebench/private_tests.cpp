// Decoding of LiveCodeBench's private tests. Reference: lcb_runner/benchmarks/code_generation.py
// (LiveCodeBench @ 28fef95), CodeGenerationProblem.__post_init__; pickle opcodes from CPython's
// Lib/pickletools.py documentation.

#include "suites/livecodebench/private_tests.h"

#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "harness/types.h"

namespace v4eval::lcb {
namespace {

std::string hex_byte(unsigned char c) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[c >> 4] + digits[c & 15];
}

uint64_t read_le(std::string_view s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}

}  // namespace

Result<std::string> base64_decode(std::string_view text) {
  static const std::array<int8_t, 256> table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = int8_t(i);
    return t;
  }();
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t quads = 0;  // alphabet characters seen
  size_t pad = 0;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '=') {
      // binascii stops at padding that completes a quantum; padding elsewhere is an error.
      ++pad;
      continue;
    }
    int8_t v = table[c];
    if (v < 0) continue;  // not in the alphabet: skipped, as b64decode(validate=False) does
    if (pad) return DataError("base64: data after padding");
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    ++quads;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  size_t rem = quads % 4;
  if (rem == 1) return DataError("base64: invalid length (" + std::to_string(quads) + " symbols)");
  if (rem != 0 && pad < 4 - rem) return DataError("base64: incorrect padding");
  return out;
}

Result<std::string> zlib_decompress(std::string_view data) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return Internal("zlib: inflateInit failed");
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  size_t in_left = data.size();
  int rc = Z_OK;
  std::array<char, 1 << 16> chunk;
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0 && in_left > 0) {
      uInt n = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
      zs.avail_in = n;
      in_left -= n;
    }
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      std::string msg = zs.msg ? zs.msg : ("error " + std::to_string(rc));
      inflateEnd(&zs);
      if (rc == Z_BUF_ERROR) msg = "truncated stream";
      return DataError("zlib: " + msg);
    }
    out.append(chunk.data(), chunk.size() - zs.avail_out);
    if (rc == Z_OK && zs.avail_in == 0 && in_left == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return DataError("zlib: truncated stream");
    }
  }
  inflateEnd(&zs);
  return out;
}

Result<std::string> unpickle_string(std::string_view p) {
  std::optional<std::string> value;
  size_t pos = 0;
  auto need = [&](size_t n, const char* what) -> Status {
    if (pos + n > p.size())
      return DataError(std::string("pickle: truncated ") + what + " at offset " +
                       std::to_string(pos));
    return Status::Ok();
  };
  auto take_string = [&](int len_bytes, const char* name) -> Status {
    if (auto s = need(size_t(len_bytes), name); !s.ok()) return s;
    uint64_t len = read_le(p, pos, len_bytes);
    pos += size_t(len_bytes);
    if (len > p.size() - pos)
      return DataError(std::string("pickle: truncated ") + name + " payload");
    if (value) return DataError("pickle: more than one value (only a single str is expected)");
    value = std::string(p.substr(pos, size_t(len)));
    pos += size_t(len);
    return Status::Ok();
  };
  while (pos < p.size()) {
    unsigned char op = static_cast<unsigned char>(p[pos]);
    size_t at = pos++;
    Status s;
    switch (op) {
      case 0x80:  // PROTO <u8>
        s = need(1, "PROTO");
        pos += 1;
        break;
      case 0x95:  // FRAME <u64 length>: framing only, the opcodes follow inline
        s = need(8, "FRAME");
        pos += 8;
        break;
      case 0x8c:  // SHORT_BINUNICODE <u8 length> <utf-8>
        s = take_string(1, "SHORT_BINUNICODE");
        break;
      case 'X':  // BINUNICODE <u32 length> <utf-8>
        s = take_string(4, "BINUNICODE");
        break;
      case 0x8d:  // BINUNICODE8 <u64 length> <utf-8>
        s = take_string(8, "BINUNICODE8");
        break;
      case 0x94:  // MEMOIZE
        break;
      case 'q':  // BINPUT <u8>
        s = need(1, "BINPUT");
        pos += 1;
        break;
      case 'r':  // LONG_BINPUT <u32>
        s = need(4, "LONG_BINPUT");
        pos += 4;
        break;
      case '.':  // STOP
        if (!value) return DataError("pickle: STOP without a value");
        return std::move(*value);
      default:
        return DataError("pickle: unsupported opcode " + hex_byte(op) + " at offset " +
                         std::to_string(at) + " (only a pickled str is expected)");
    }
    if (!s.ok()) return s;
  }
  return DataError("pickle: no STOP opcode");
}

Result<std::string> private_tests_json(std::string_view field) {
  // The reference: json.loads(field) first; only when that raises, the encoded form.
  if (Json::accept(field)) return std::string(field);
  auto raw = base64_decode(field);
  if (!raw.ok())
    return Status(raw.status().code(), "private_test_cases: " + raw.status().message());
  auto inflated = zlib_decompress(*raw);
  if (!inflated.ok())
    return Status(inflated.status().code(), "private_test_cases: " + inflated.status().message());
  auto text = unpickle_string(*inflated);
  if (!text.ok())
    return Status(text.status().code(), "private_test_cases: " + text.status().message());
  return std::move(*text);
}

}  // namespace v4eval::lcb
