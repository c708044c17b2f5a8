#pragma once
// The seccomp-bpf denylist (sandbox.md §4.5), emitted by us (no libseccomp), built once in the
// launcher and loaded in each child with one seccomp() call.

#include <linux/filter.h>

#include <vector>

namespace v4eval::sandbox {

// Default allow. Foreign ABIs (32-bit, x32) kill the process; kernel, namespace, mount,
// tracing and cross-sandbox calls fail with EPERM; sockets other than AF_UNIX fail with
// EAFNOSUPPORT; clone with namespace flags fails with EPERM; clone3 fails with ENOSYS (its
// flags cannot be inspected; glibc falls back to clone); ioctl TIOCSTI/TIOCLINUX fail.
std::vector<sock_filter> build_seccomp_filter();

}  // namespace v4eval::sandbox
