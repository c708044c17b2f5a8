#include "backends/v4/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace v4eval::v4 {
namespace {

using Json = nlohmann::json;

struct DTypeInfo {
  DType type;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::kBF16, "BF16", 2},  {DType::kF32, "F32", 4},       {DType::kF8E4M3, "F8_E4M3", 1},
    {DType::kF8E8M0, "F8_E8M0", 1}, {DType::kI8, "I8", 1},     {DType::kI64, "I64", 8},
    {DType::kU8, "U8", 1},      {DType::kF16, "F16", 2},       {DType::kI32, "I32", 4},
};

bool parse_dtype(const std::string& s, DType* out) {
  for (const auto& d : kDTypes) {
    if (s == d.name) return *out = d.type, true;
  }
  return false;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

const char* dtype_name(DType t) {
  for (const auto& d : kDTypes) {
    if (d.type == t) return d.name;
  }
  return "?";
}
size_t dtype_size(DType t) {
  for (const auto& d : kDTypes) {
    if (d.type == t) return d.size;
  }
  return 0;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct Checkpoint::Mapping {
  std::string path;
  void* base = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (base != nullptr && size > 0) munmap(base, size);
  }
};

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::string& dir) {
  namespace fs = std::filesystem;
  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  ck->dir_ = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("checkpoint: " + dir + " is not a directory");

  // Which shards, and which tensors the index puts in each.
  std::map<std::string, std::set<std::string>> shard_tensors;  // empty set: no index
  const std::string index_path = dir + "/model.safetensors.index.json";
  bool have_index = fs::exists(index_path, ec);
  if (have_index) {
    std::ifstream in(index_path, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    Json idx = Json::parse(buf.str(), nullptr, false);
    if (idx.is_discarded() || !idx.is_object() || !idx.contains("weight_map") ||
        !idx["weight_map"].is_object())
      return DataError("checkpoint: " + index_path + ": not an index (no weight_map object)");
    for (const auto& [name, file] : idx["weight_map"].items()) {
      if (!file.is_string() || file.get<std::string>().find('/') != std::string::npos)
        return DataError("checkpoint: " + index_path + ": bad shard name for " + name);
      shard_tensors[file.get<std::string>()].insert(name);
    }
  } else {
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".safetensors")
        shard_tensors[entry.path().filename().string()];
    }
    if (shard_tensors.empty()) return NotFound("checkpoint: no *.safetensors in " + dir);
  }

  for (const auto& [file, listed] : shard_tensors) {
    const std::string path = dir + "/" + file;
    auto bad = [&](const std::string& why) { return DataError("checkpoint: " + path + ": " + why); };
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT) return bad("missing (named by the index)");
      return IoError("checkpoint: cannot open " + path + ": " + std::strerror(err));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      ::close(fd);
      return IoError("checkpoint: cannot stat " + path);
    }
    auto m = std::make_unique<Mapping>();
    m->path = path;
    m->size = static_cast<size_t>(st.st_size);
    if (m->size < 8) {
      ::close(fd);
      return bad("truncated (" + std::to_string(m->size) + " bytes, no header)");
    }
    m->base = mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m->base == MAP_FAILED) {
      m->base = nullptr;
      return IoError("checkpoint: cannot map " + path + ": " + std::strerror(errno));
    }
    const auto* base = static_cast<const uint8_t*>(m->base);
    uint64_t header_len = 0;
    std::memcpy(&header_len, base, 8);  // little-endian hosts only (x86-64, aarch64)
    if (header_len > m->size - 8)
      return bad("truncated or corrupted: header length " + std::to_string(header_len) +
                 " exceeds the file size " + std::to_string(m->size));
    Json header = Json::parse(reinterpret_cast<const char*>(base + 8),
                              reinterpret_cast<const char*>(base + 8 + header_len), nullptr, false);
    if (header.is_discarded() || !header.is_object()) return bad("corrupted header (not JSON)");
    const size_t data_start = 8 + header_len;
    const size_t data_size = m->size - data_start;
    std::vector<std::pair<size_t, size_t>> spans;
    for (const auto& [name, info] : header.items()) {
      if (name == "__metadata__") continue;
      auto tbad = [&](const std::string& why) { return bad("tensor " + name + ": " + why); };
      if (!info.is_object() || !info.contains("dtype") || !info["dtype"].is_string() ||
          !info.contains("shape") || !info["shape"].is_array() || !info.contains("data_offsets") ||
          !info["data_offsets"].is_array() || info["data_offsets"].size() != 2)
        return tbad("malformed header entry");
      TensorView v;
      v.name = name;
      v.file = file;
      if (!parse_dtype(info["dtype"].get<std::string>(), &v.dtype))
        return tbad("unsupported dtype " + info["dtype"].get<std::string>());
      size_t numel = 1;
      for (const auto& d : info["shape"]) {
        if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40))
          return tbad("bad shape " + info["shape"].dump());
        v.shape.push_back(d.get<int64_t>());
        numel *= d.get<size_t>();
      }
      const auto& off = info["data_offsets"];
      if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        return tbad("bad data_offsets");
      size_t begin = off[0].get<size_t>(), end = off[1].get<size_t>();
      if (begin > end || end > data_size)
        return tbad("data [" + std::to_string(begin) + ", " + std::to_string(end) +
                    ") lies outside the file's " + std::to_string(data_size) +
                    " data bytes (truncated?)");
      if (end - begin != numel * dtype_size(v.dtype))
        return tbad(std::to_string(end - begin) + " bytes for " + info["dtype"].get<std::string>() +
                    " " + shape_string(v.shape));
      v.data = base + data_start + begin;
      v.bytes = end - begin;
      spans.emplace_back(begin, end);
      if (have_index && !listed.count(name))
        return tbad("not listed for this shard in model.safetensors.index.json");
      if (ck->tensors_.count(name))
        return tbad("also in " + ck->tensors_[name].file);
      ck->tensors_.emplace(name, std::move(v));
    }
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i) {
      if (spans[i].first < spans[i - 1].second) return bad("tensors overlap (corrupted header)");
    }
    for (const std::string& name : listed) {
      if (!ck->tensors_.count(name))
        return bad("tensor " + name + " is named by the index but absent from the shard");
    }
    ck->maps_.push_back(std::move(m));
  }
  return ck;
}

Checkpoint::~Checkpoint() = default;

const TensorView* Checkpoint::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Result<const TensorView*> Checkpoint::get(const std::string& name, DType dtype,
                                          const std::vector<int64_t>& shape) const {
  const TensorView* v = find(name);
  if (v == nullptr) return DataError("checkpoint " + dir_ + ": tensor " + name + " is missing");
  if (v->dtype != dtype || v->shape != shape)
    return DataError("checkpoint " + dir_ + ": tensor " + name + " in " + v->file + " is " +
                     dtype_name(v->dtype) + " " + shape_string(v->shape) + ", expected " +
                     dtype_name(dtype) + " " + shape_string(shape));
  return v;
}

Status write_safetensors(const std::string& path, const std::map<std::string, TensorData>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    size_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<size_t>(d);
    if (numel * dtype_size(t.dtype) != t.bytes.size())
      return InvalidArgument("write_safetensors: " + name + ": size does not match its shape");
    header[name] = {{"dtype", dtype_name(t.dtype)},
                    {"shape", t.shape},
                    {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h += ' ';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return IoError("cannot write " + path);
  uint64_t len = h.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& [name, t] : tensors)
    out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  out.close();
  if (!out) return IoError("writing " + path + " failed");
  return Status::Ok();
}

}  // namespace v4eval::v4
