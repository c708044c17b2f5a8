// bench_v4_linear: the CPU reference FP8 block-scaled linear and FP4 expert linear
// (kernels/cpu) at V4-Flash shapes, next to a plain FP32 GEMM (same loop order, same shape)
// measured in the same run. The reference ops run on every core (kernels/cpu/parallel.h;
// V4EVAL_CPU_THREADS=1 for one thread); the FP32 GEMM is a plain single-threaded loop. These
// figures are the baseline the CUDA path is compared with, not a target.
//
//   bench_v4_linear [--rows R]     (default 8 rows = tokens)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/numeric.h"
#include "kernels/ops.h"

using namespace v4eval::kernels;

namespace {

template <class F>
double best_seconds(F&& f, int repeats = 3) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

void fp32_gemm(const float* x, int64_t rows, int64_t k, const float* w, int64_t n, float* y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      float acc = 0.0f;
      const float* wr = w + o * k;
      const float* xr = x + r * k;
      for (int64_t i = 0; i < k; ++i) acc += wr[i] * xr[i];
      y[r * n + o] = acc;
    }
}

void report(const char* name, int64_t rows, int64_t n, int64_t k, double s) {
  std::printf("%-34s rows=%-3lld n=%-5lld k=%-5lld %8.2f ms %8.2f GFLOP/s\n", name,
              static_cast<long long>(rows), static_cast<long long>(n), static_cast<long long>(k),
              s * 1e3, 2.0 * double(rows) * double(n) * double(k) / s / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 8;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--rows") rows = std::max(1, std::atoi(argv[i + 1]));
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Shape {
    const char* what;
    int64_t n, k;
    bool fp4;
  };
  const Shape shapes[] = {{"FP8 linear (d x d)", 4096, 4096, false},
                          {"FP4 expert w1 (I x d)", 2048, 4096, true},
                          {"FP4 expert w2 (d x I)", 4096, 2048, true}};
  for (const Shape& s : shapes) {
    std::vector<bf16> x(static_cast<size_t>(rows * s.k));
    std::vector<float> xf(x.size());
    for (size_t i = 0; i < x.size(); ++i) xf[i] = bf16_to_f32(x[i] = f32_to_bf16(normal(rng)));
    std::vector<bf16> y(static_cast<size_t>(rows * s.n));
    std::vector<float> yf(y.size());
    std::vector<float> wf(static_cast<size_t>(s.n * s.k));
    for (auto& v : wf) v = normal(rng) * 0.01f;
    double t;
    if (s.fp4) {
      std::vector<uint8_t> w(static_cast<size_t>(s.n * s.k / 2)), ws(static_cast<size_t>(s.n * s.k / 32));
      for (auto& b : w) b = static_cast<uint8_t>(rng() & 0xff);
      for (auto& b : ws) b = static_cast<uint8_t>(118 + rng() % 4);
      t = best_seconds([&] { fp4_linear(x.data(), rows, s.k, w.data(), ws.data(), s.n, y.data()); });
    } else {
      std::vector<uint8_t> w(static_cast<size_t>(s.n * s.k)),
          ws(static_cast<size_t>((s.n / 128) * (s.k / 128)));
      for (auto& b : w) b = f32_to_e4m3(normal(rng) * 32.0f);
      for (auto& b : ws) b = static_cast<uint8_t>(118 + rng() % 4);
      t = best_seconds([&] { fp8_linear(x.data(), rows, s.k, w.data(), ws.data(), s.n, y.data()); });
    }
    report(s.what, rows, s.n, s.k, t);
    double tf = best_seconds([&] { fp32_gemm(xf.data(), rows, s.k, wf.data(), s.n, yf.data()); });
    report("  plain FP32 GEMM, same shape", rows, s.n, s.k, tf);
  }
  return 0;
}
