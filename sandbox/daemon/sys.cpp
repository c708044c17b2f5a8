#include "sandbox/daemon/sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace v4eval::sandbox::sys {

std::string errno_text(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "E?") + " (" + std::strerror(err) + ")";
}

std::string errno_message(std::string_view what) {
  return std::string(what) + ": " + errno_text(errno);
}

bool write_all(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd, data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

Status write_file(const std::string& path, std::string_view data) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd.valid()) return Internal(errno_message("open " + path));
  if (!write_all(fd.get(), data)) return Internal(errno_message("write " + path));
  return Status::Ok();
}

Result<std::string> read_file(const std::string& path, size_t cap) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Internal(errno_message("open " + path));
  std::string out;
  char buf[8192];
  while (out.size() < cap) {
    ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Internal(errno_message("read " + path));
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  if (out.size() > cap) out.resize(cap);
  return out;
}

bool pread_text(int fd, std::string* out) {
  char buf[4096];
  ssize_t r = ::pread(fd, buf, sizeof buf - 1, 0);
  if (r < 0) return false;
  out->assign(buf, static_cast<size_t>(r));
  return true;
}

int64_t parse_i64(std::string_view s, int64_t fallback) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  bool neg = false;
  if (!s.empty() && s.front() == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  if (s.empty() || s.front() < '0' || s.front() > '9') return fallback;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') break;
    v = v * 10 + (c - '0');
  }
  return neg ? -v : v;
}

int64_t keyed_value(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == text.npos ? text.npos : nl - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ')
      return parse_i64(line.substr(key.size() + 1));
    if (nl == text.npos) break;
    pos = nl + 1;
  }
  return -1;
}

Status make_dirs(const std::string& path, mode_t mode) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST)
      return Internal(errno_message("mkdir " + prefix));
  }
  return Status::Ok();
}

namespace {

// Removes the entries of the directory open as `dirfd` (consumed), staying on device `dev`.
bool remove_entries(int dirfd, dev_t dev, int depth) {
  if (depth > 64) {
    ::close(dirfd);
    return false;
  }
  DIR* d = ::fdopendir(dirfd);
  if (!d) {
    ::close(dirfd);
    return false;
  }
  bool ok = true;
  while (dirent* e = ::readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) {  // a mount point: never descend into another file system
        ok = false;
        continue;
      }
      int sub = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0 || !remove_entries(sub, dev, depth + 1)) ok = false;
      if (::unlinkat(::dirfd(d), e->d_name, AT_REMOVEDIR) != 0) ok = false;
    } else if (::unlinkat(::dirfd(d), e->d_name, 0) != 0) {
      ok = false;
    }
  }
  ::closedir(d);
  return ok;
}

}  // namespace

Status remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT ? Status::Ok() : Internal(errno_message("lstat " + path));
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0) return Internal(errno_message("unlink " + path));
    return Status::Ok();
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Internal(errno_message("open " + path));
  bool ok = remove_entries(fd, st.st_dev, 0);
  if (::rmdir(path.c_str()) != 0) return Internal(errno_message("rmdir " + path));
  return ok ? Status::Ok() : Internal("could not remove everything under " + path);
}

bool process_alive(pid_t pid, std::string_view comm_prefix) {
  if (pid <= 0) return false;
  auto comm = read_file("/proc/" + std::to_string(pid) + "/comm", 64);
  if (!comm.ok()) return false;
  return comm->rfind(comm_prefix, 0) == 0;
}

int64_t monotonic_us() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace v4eval::sandbox::sys
