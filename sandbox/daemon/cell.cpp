#include "sandbox/daemon/cell.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>

#include "sandbox/daemon/landlock.h"

namespace v4eval::sandbox {
namespace {

Status mount_or_error(const char* source, const std::string& target, const char* fstype,
                      unsigned long flags, const std::string& data) {
  if (::mount(source, target.c_str(), fstype, flags, data.empty() ? nullptr : data.c_str()) != 0)
    return Internal(
        sys::errno_message("mount " + std::string(fstype ? fstype : "bind") + " on " + target));
  return Status::Ok();
}

// Remount of a bind mount keeping the flags the kernel locks in a less privileged mount
// namespace (atime mode, nosuid/nodev/noexec, read-only), or it refuses with EPERM.
Status remount_bind(const std::string& target, bool readonly, unsigned long extra) {
  struct statvfs st;
  if (::statvfs(target.c_str(), &st) != 0) return Internal(sys::errno_message("statvfs " + target));
  unsigned long flags = MS_REMOUNT | MS_BIND | extra;
  if (readonly || (st.f_flag & ST_RDONLY)) flags |= MS_RDONLY;
  if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return mount_or_error(nullptr, target, nullptr, flags, "");
}

Status remount_readonly(const std::string& target, unsigned long extra) {
  return remount_bind(target, true, extra);
}

Status bind_readonly(const std::string& source, const std::string& target, unsigned long extra) {
  if (auto s = mount_or_error(source.c_str(), target, nullptr, MS_BIND | MS_REC, ""); !s.ok())
    return s;
  return remount_readonly(target, extra);
}

Status write_new_file(int dirfd, const std::string& name, std::string_view content, mode_t mode) {
  sys::Fd fd(
      ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) return Internal(sys::errno_message("create " + name));
  if (!sys::write_all(fd.get(), content)) return Internal(sys::errno_message("write " + name));
  if (::fchmod(fd.get(), mode) != 0) return Internal(sys::errno_message("chmod " + name));
  return Status::Ok();
}

bool valid_file_name(const std::string& name) {
  return !name.empty() && name.size() < 256 && name != "." && name != ".." &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

}  // namespace

Cell::Cell(Tier tier, std::string dir, uid_t uid, gid_t gid, CellCgroup cgroup)
    : tier_(tier), dir_(std::move(dir)), uid_(uid), gid_(gid), cgroup_(std::move(cgroup)) {}

Status Cell::setup() {
  if (auto s = cgroup_.open(); !s.ok()) return s;
  if (tier_ == Tier::kWeak) {
    for (const char* sub : {"/box", "/prog"})
      if (auto s = sys::make_dirs(dir_ + sub, 0755); !s.ok()) return s;
    if (::geteuid() == 0 && ::chown((dir_ + "/box").c_str(), uid_, gid_) != 0)
      return Internal(sys::errno_message("chown box"));
    box_fd_.reset(::open((dir_ + "/box").c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!box_fd_.valid()) return Internal(sys::errno_message("open box"));
    return build_landlock();
  }
  return build_root();
}

Status Cell::build_root() {
  if (auto s = mount_or_error("v4eval-root", dir_, "tmpfs", MS_NOSUID | MS_NODEV,
                              "size=4m,nr_inodes=256,mode=0755");
      !s.ok())
    return s;
  sys::Fd root(::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return Internal(sys::errno_message("open root"));
  for (const char* d : {"usr", "dev", "box", "prog", "pch", "etc"})
    if (::mkdirat(root.get(), d, 0755) != 0)
      return Internal(sys::errno_message(std::string("mkdir ") + d));
  // Debian 12 is merged-/usr: /bin, /lib, /lib64, /sbin are symbolic links into /usr. On a
  // system where one is a real directory, bind it read-only instead.
  for (const char* top : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
    std::string host = std::string("/") + top;
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[256];
      ssize_t n = ::readlink(host.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      if (::symlinkat(target, root.get(), top) != 0)
        return Internal(sys::errno_message("symlink " + host));
    } else if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(root.get(), top, 0755) != 0)
        return Internal(sys::errno_message("mkdir " + host));
      if (auto s = bind_readonly(host, dir_ + host, MS_NOSUID | MS_NODEV); !s.ok()) return s;
    }
  }
  if (::symlinkat("box", root.get(), "tmp") != 0)
    return Internal(sys::errno_message("symlink tmp"));
  std::string passwd = "root:x:0:0:root:/box:/usr/sbin/nologin\n";
  std::string group = "root:x:0:\n";
  if (uid_ != 0) {
    passwd += "sandbox:x:" + std::to_string(uid_) + ":" + std::to_string(gid_) +
              ":sandbox:/box:/usr/sbin/nologin\n";
    group += "sandbox:x:" + std::to_string(gid_) + ":\n";
  }
  sys::Fd etc(::openat(root.get(), "etc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (auto [name, text] : {std::pair<const char*, std::string>{"passwd", passwd},
                            {"group", group},
                            {"nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n"},
                            {"hosts", "127.0.0.1 localhost\n"}})
    if (auto s = write_new_file(etc.get(), name, text, 0644); !s.ok()) return s;

  if (auto s = bind_readonly("/usr", dir_ + "/usr", MS_NOSUID | MS_NODEV); !s.ok()) return s;
  sys::Fd dev(::openat(root.get(), "dev", O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (const char* node : {"null", "zero", "full", "random", "urandom"}) {
    if (auto s = write_new_file(dev.get(), node, "", 0666); !s.ok()) return s;
    std::string target = dir_ + "/dev/" + node;
    if (auto s =
            mount_or_error((std::string("/dev/") + node).c_str(), target, nullptr, MS_BIND, "");
        !s.ok())
      return s;
    // Writes to /dev/null and /dev/full must work; the others are read-only.
    bool writable = !std::strcmp(node, "null") || !std::strcmp(node, "full");
    if (auto s = remount_bind(target, !writable, MS_NOSUID | MS_NOEXEC); !s.ok()) return s;
  }
  return remount_readonly(dir_, MS_NOSUID | MS_NODEV);
}

Status Cell::build_landlock() {
  LandlockRules rules;
  rules.read_exec = {"/usr"};
  rules.read_only = {dir_ + "/prog"};
  rules.read_write_files = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};
  rules.read_write = {dir_ + "/box"};
  if (!pch_host_.empty()) rules.read_only.push_back(pch_host_);
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib64"}) {
    struct stat st;
    if (::lstat(top, &st) == 0 && S_ISDIR(st.st_mode)) rules.read_exec.push_back(top);
  }
  auto fd = landlock_ruleset(rules);
  if (fd.ok()) landlock_fd_.reset(*fd);
  return Status::Ok();  // no Landlock: the tier report says so
}

Status Cell::attach_pch(const std::string& host_path) {
  if (pch_ready_) return Status::Ok();
  if (tier_ == Tier::kWeak) {
    pch_host_ = host_path;
  } else {
    if (auto s = bind_readonly(host_path, dir_ + "/pch", MS_NOSUID | MS_NODEV); !s.ok()) return s;
  }
  pch_ready_ = true;
  return Status::Ok();
}

Status Cell::reset_box(int64_t bytes) {
  if (tier_ == Tier::kWeak) {
    std::string box = dir_ + "/box";
    if (auto s = sys::remove_tree(box); !s.ok()) {
      // remove_tree removes the directory too; a failure leaves files we cannot delete.
      return s;
    }
    if (::mkdir(box.c_str(), 0700) != 0) return Internal(sys::errno_message("mkdir box"));
    if (::geteuid() == 0 && ::chown(box.c_str(), uid_, gid_) != 0)
      return Internal(sys::errno_message("chown box"));
    box_fd_.reset(::open(box.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!box_fd_.valid()) return Internal(sys::errno_message("open box"));
    // Landlock rules hold the old inode: rebuild them for the new directory.
    return build_landlock();
  }
  std::string box = dir_ + "/box";
  // A box the last program left untouched (no file, no byte, root directory as made) is
  // reused: most programs write nothing, and a fresh tmpfs costs a mount and an unmount.
  if (box_mounted_ && box_fd_.valid() && bytes == box_bytes_) {
    struct statfs fs;
    struct stat st;
    if (::fstatfs(box_fd_.get(), &fs) == 0 && ::fstat(box_fd_.get(), &st) == 0 &&
        fs.f_files - fs.f_ffree == 1 && fs.f_blocks == fs.f_bfree && st.st_uid == uid_ &&
        st.st_gid == gid_ && (st.st_mode & 07777) == 0700 && st.st_nlink == 2 &&
        ::flistxattr(box_fd_.get(), nullptr, 0) == 0)
      return Status::Ok();
  }
  box_fd_.reset();
  if (box_mounted_ && ::umount2(box.c_str(), MNT_DETACH) != 0)
    return Internal(sys::errno_message("umount box"));
  box_mounted_ = false;
  int64_t inodes = std::max<int64_t>(1024, std::min<int64_t>(bytes / 4096, 65536));
  std::string opts = "size=" + std::to_string(std::max<int64_t>(bytes, 4096)) +
                     ",nr_inodes=" + std::to_string(inodes) +
                     ",mode=0700,uid=" + std::to_string(uid_) + ",gid=" + std::to_string(gid_);
  if (auto s = mount_or_error("v4eval-box", box, "tmpfs", MS_NOSUID | MS_NODEV, opts); !s.ok())
    return s;
  box_mounted_ = true;
  box_bytes_ = bytes;
  box_fd_.reset(::open(box.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!box_fd_.valid()) return Internal(sys::errno_message("open box"));
  return Status::Ok();
}

Status Cell::install(const std::string& key, const std::vector<ProgramFile>& files) {
  if (!key.empty() && key == installed_key_) return Status::Ok();
  installed_key_.clear();
  std::string prog = dir_ + "/prog";
  int64_t total = 0;
  for (const auto& f : files) {
    if (!valid_file_name(f.name)) return InvalidArgument("bad program file name '" + f.name + "'");
    total += static_cast<int64_t>(f.content.size()) + 4096;
  }
  if (tier_ == Tier::kWeak) {
    if (auto s = sys::remove_tree(prog); !s.ok()) return s;
    if (::mkdir(prog.c_str(), 0755) != 0) return Internal(sys::errno_message("mkdir prog"));
  } else {
    if (prog_mounted_ && ::umount2(prog.c_str(), MNT_DETACH) != 0)
      return Internal(sys::errno_message("umount prog"));
    prog_mounted_ = false;
    if (auto s = mount_or_error("v4eval-prog", prog, "tmpfs", MS_NOSUID | MS_NODEV,
                                "size=" + std::to_string(total + (1 << 20)) + ",mode=0755");
        !s.ok())
      return s;
    prog_mounted_ = true;
  }
  sys::Fd dir(::open(prog.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return Internal(sys::errno_message("open prog"));
  for (const auto& f : files)
    if (auto s = write_new_file(dir.get(), f.name, f.content, f.executable ? 0755 : 0644); !s.ok())
      return s;
  if (tier_ != Tier::kWeak)
    if (auto s = mount_or_error(nullptr, prog, nullptr,
                                MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, "");
        !s.ok())
      return s;
  if (tier_ == Tier::kWeak)
    if (auto s = build_landlock(); !s.ok()) return s;  // the prog directory is new
  installed_key_ = key;
  return Status::Ok();
}

Status Cell::write_box_file(const std::string& name, std::string_view content) {
  if (!valid_file_name(name)) return InvalidArgument("bad file name '" + name + "'");
  if (!box_fd_.valid()) return Internal("write_box_file: no box");
  sys::Fd fd(::openat(box_fd_.get(), name.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return Internal(sys::errno_message("create box/" + name));
  if (!sys::write_all(fd.get(), content)) return Internal(sys::errno_message("write box/" + name));
  return Status::Ok();
}

Result<std::string> Cell::read_box_file(const std::string& name, size_t cap) {
  if (!valid_file_name(name)) return InvalidArgument("bad file name '" + name + "'");
  open_how how{};
  how.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  sys::Fd fd(
      static_cast<int>(::syscall(SYS_openat2, box_fd_.get(), name.c_str(), &how, sizeof how)));
  if (!fd.valid()) return NotFound(sys::errno_message("open box/" + name));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return NotFound("box/" + name + " is not a regular file");
  if (st.st_size > static_cast<off_t>(cap))
    return NotFound("box/" + name + " is larger than allowed");
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t off = 0;
  while (off < out.size()) {
    ssize_t r = ::read(fd.get(), out.data() + off, out.size() - off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    off += static_cast<size_t>(r);
  }
  out.resize(off);
  return out;
}

}  // namespace v4eval::sandbox
