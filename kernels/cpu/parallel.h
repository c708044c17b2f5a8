#pragma once
// A small static parallel-for for the CPU reference ops. Each index is handled by exactly one
// thread and the callee keeps its own accumulation order, so results do not depend on the
// thread count. Threads are joined before returning (no detached threads, no pool).

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

namespace v4eval::kernels::cpu {

// Number of worker threads: V4EVAL_CPU_THREADS when set to a positive number (shared machines,
// tests of thread-count independence), else hardware_concurrency (at least 1).
inline int64_t worker_count() {
  if (const char* env = std::getenv("V4EVAL_CPU_THREADS")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n > 0) return n;
  }
  static const int64_t hw = std::max<int64_t>(1, std::thread::hardware_concurrency());
  return hw;
}

// Calls body(begin, end) on disjoint contiguous ranges covering [0, n). `work_per_item` is a
// rough cost in multiply-adds; below ~64k in total the loop runs on the calling thread, since
// starting threads costs tens of microseconds.
template <typename Body>
void parallel_for(int64_t n, int64_t work_per_item, Body&& body) {
  if (n <= 0) return;
  const int64_t min_work = int64_t{1} << 16;
  int64_t threads = std::min(worker_count(), n);
  if (work_per_item > 0)
    threads = std::min(threads, std::max<int64_t>(1, n * work_per_item / min_work));
  if (threads <= 1) {
    body(int64_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads - 1));
  const int64_t chunk = (n + threads - 1) / threads;
  for (int64_t t = 1; t < threads; ++t) {
    const int64_t b = t * chunk, e = std::min(n, b + chunk);
    if (b >= e) break;
    pool.emplace_back([&body, b, e] { body(b, e); });
  }
  body(int64_t{0}, std::min(n, chunk));
  for (auto& th : pool) th.join();
}

}  // namespace v4eval::kernels::cpu
