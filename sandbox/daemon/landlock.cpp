#include "sandbox/daemon/landlock.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "sandbox/daemon/sys.h"

namespace v4eval::sandbox {
namespace {

// linux/landlock.h, with the fields and rights added after Debian 12's headers.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;  // ABI 4 (6.7)
  uint64_t scoped;              // ABI 6 (6.12)
};
struct PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

constexpr uint32_t kCreateRulesetVersion = 1u << 0;
constexpr int kRulePathBeneath = 1;

constexpr uint64_t kExecute = 1ull << 0, kWriteFile = 1ull << 1, kReadFile = 1ull << 2,
                   kReadDir = 1ull << 3, kRemoveDir = 1ull << 4, kRemoveFile = 1ull << 5,
                   kMakeChar = 1ull << 6, kMakeDir = 1ull << 7, kMakeReg = 1ull << 8,
                   kMakeSock = 1ull << 9, kMakeFifo = 1ull << 10, kMakeBlock = 1ull << 11,
                   kMakeSym = 1ull << 12, kRefer = 1ull << 13 /* ABI 2 */,
                   kTruncate = 1ull << 14 /* ABI 3 */, kIoctlDev = 1ull << 15 /* ABI 5 */;
constexpr uint64_t kNetBindTcp = 1ull << 0, kNetConnectTcp = 1ull << 1;       // ABI 4
constexpr uint64_t kScopeAbstractUnix = 1ull << 0, kScopeSignal = 1ull << 1;  // ABI 6

uint64_t fs_rights(int abi) {
  uint64_t r = kExecute | kWriteFile | kReadFile | kReadDir | kRemoveDir | kRemoveFile | kMakeChar |
               kMakeDir | kMakeReg | kMakeSock | kMakeFifo | kMakeBlock | kMakeSym;
  if (abi >= 2) r |= kRefer;
  if (abi >= 3) r |= kTruncate;
  if (abi >= 5) r |= kIoctlDev;
  return r;
}

}  // namespace

int landlock_abi() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

Result<int> landlock_ruleset(const LandlockRules& rules) {
  int abi = landlock_abi();
  if (abi <= 0) return Unavailable("landlock not available");
  RulesetAttr attr{fs_rights(abi), 0, 0};
  size_t size = sizeof(uint64_t);
  if (abi >= 4) {
    attr.handled_access_net = kNetBindTcp | kNetConnectTcp;  // no rules: all TCP denied
    size = 2 * sizeof(uint64_t);
  }
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnix | kScopeSignal;
    size = sizeof attr;
  }
  sys::Fd ruleset(static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, size, 0)));
  if (!ruleset.valid()) return Unavailable(sys::errno_message("landlock_create_ruleset"));
  uint64_t all = fs_rights(abi);
  uint64_t file_rights =
      kExecute | kWriteFile | kReadFile | (abi >= 3 ? kTruncate : 0) | (abi >= 5 ? kIoctlDev : 0);
  auto add = [&](const std::string& path, uint64_t rights, bool is_file) -> Status {
    sys::Fd fd(::open(path.c_str(), O_PATH | O_CLOEXEC | (is_file ? 0 : O_DIRECTORY)));
    if (!fd.valid()) return Status::Ok();  // absent on this system: nothing to allow
    PathBeneathAttr pb{rights & (is_file ? file_rights : all), fd.get()};
    if (::syscall(SYS_landlock_add_rule, ruleset.get(), kRulePathBeneath, &pb, 0) != 0)
      return Unavailable(sys::errno_message("landlock_add_rule " + path));
    return Status::Ok();
  };
  for (const auto& p : rules.read_exec)
    if (auto s = add(p, kExecute | kReadFile | kReadDir, false); !s.ok()) return s;
  for (const auto& p : rules.read_only)
    if (auto s = add(p, kExecute | kReadFile | kReadDir, false); !s.ok()) return s;
  for (const auto& p : rules.read_write)
    if (auto s = add(p, all, false); !s.ok()) return s;
  for (const auto& p : rules.read_write_files)
    if (auto s = add(p, kReadFile | kWriteFile | (abi >= 3 ? kTruncate : 0), true); !s.ok())
      return s;
  return ruleset.release();
}

}  // namespace v4eval::sandbox
