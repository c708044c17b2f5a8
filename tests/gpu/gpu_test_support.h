#pragma once
// Device buffers, random inputs and comparisons for the CUDA-vs-CPU kernel tests.

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/numeric.h"

namespace v4eval::gpu_test {

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// Synchronises and surfaces asynchronous kernel errors.
inline void sync() {
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  check(cudaGetLastError(), "kernel");
}

// A device copy of a host vector (or `n` elements poisoned with 0xff bytes), freed on scope exit.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    check(cudaMalloc(reinterpret_cast<void**>(&ptr_), std::max<size_t>(n, 1) * sizeof(T)),
          "cudaMalloc");
    check(cudaMemset(ptr_, 0xff, std::max<size_t>(n, 1) * sizeof(T)), "cudaMemset");
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    check(cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  ~DeviceArray() { cudaFree(const_cast<void*>(static_cast<const void*>(ptr_))); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return ptr_; }
  std::vector<T> host() const {
    sync();
    std::vector<T> out(n_);
    check(cudaMemcpy(out.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return out;
  }

 private:
  T* ptr_ = nullptr;
  size_t n_;
};

class Random {
 public:
  explicit Random(uint64_t seed) : rng_(seed) {}
  // BF16 values ~ N(0, sigma), a few of them outliers (x 30) so group scales vary.
  std::vector<uint16_t> bf16(size_t n, float sigma = 1.0f) {
    std::normal_distribution<float> d(0.0f, sigma);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<uint16_t> v(n);
    for (auto& x : v) x = kernels::f32_to_bf16(d(rng_) * (u(rng_) < 0.01f ? 30.0f : 1.0f));
    return v;
  }
  std::vector<float> f32(size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng_);
    return v;
  }
  // E4M3 codes, never NaN (0x7f / 0xff).
  std::vector<uint8_t> e4m3(size_t n) {
    std::uniform_int_distribution<int> d(0, 255);
    std::vector<uint8_t> v(n);
    for (auto& x : v) {
      do x = static_cast<uint8_t>(d(rng_));
      while ((x & 0x7f) == 0x7f);
    }
    return v;
  }
  std::vector<uint8_t> bytes(size_t n) {
    std::uniform_int_distribution<int> d(0, 255);
    std::vector<uint8_t> v(n);
    for (auto& x : v) x = static_cast<uint8_t>(d(rng_));
    return v;
  }
  // E8M0 scales around 2^(center − 127).
  std::vector<uint8_t> e8m0(size_t n, int center = 120, int spread = 6) {
    std::uniform_int_distribution<int> d(center - spread, center + spread);
    std::vector<uint8_t> v(n);
    for (auto& x : v) x = static_cast<uint8_t>(d(rng_));
    return v;
  }
  int64_t integer(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  std::mt19937_64& engine() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

// Mismatch summary of two arrays; `ok` under the given tolerance.
struct Diff {
  size_t count = 0;      // elements that differ at all
  size_t bad = 0;        // elements beyond tolerance
  double max_abs = 0.0;  // largest absolute difference
  size_t first_bad = SIZE_MAX;
  std::string describe(size_t n) const {
    std::ostringstream s;
    s << count << "/" << n << " differ, " << bad << " beyond tolerance, max |diff| " << max_abs;
    if (first_bad != SIZE_MAX) s << ", first bad at " << first_bad;
    return s.str();
  }
};

// Values compared as floats: |a − b| <= atol + rtol·|b|; NaN never passes unless both NaN.
inline Diff compare(const std::vector<float>& got, const std::vector<float>& want, double rtol,
                    double atol) {
  Diff d;
  for (size_t i = 0; i < want.size(); ++i) {
    const double a = got[i], b = want[i];
    if (std::isnan(a) && std::isnan(b)) continue;
    if (a == b) continue;
    ++d.count;
    const double diff = std::fabs(a - b);
    if (!std::isnan(diff)) d.max_abs = std::max(d.max_abs, diff);
    if (!(diff <= atol + rtol * std::fabs(b))) {
      if (d.first_bad == SIZE_MAX) d.first_bad = i;
      ++d.bad;
    }
  }
  return d;
}

inline std::vector<float> widen(const std::vector<uint16_t>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = kernels::bf16_to_f32(v[i]);
  return out;
}

// BF16 arrays: bit-identical when max_ulps == 0; else at most max_ulps BF16 steps apart.
inline Diff compare_bf16(const std::vector<uint16_t>& got, const std::vector<uint16_t>& want,
                         int max_ulps) {
  Diff d;
  auto ordered = [](uint16_t b) {
    return (b & 0x8000) ? -static_cast<int>(b & 0x7fff) : static_cast<int>(b);
  };
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] == want[i]) continue;
    ++d.count;
    const float a = kernels::bf16_to_f32(got[i]), b = kernels::bf16_to_f32(want[i]);
    d.max_abs = std::max(d.max_abs, static_cast<double>(std::fabs(a - b)));
    if (std::abs(ordered(got[i]) - ordered(want[i])) > max_ulps || std::isnan(a) != std::isnan(b)) {
      if (d.first_bad == SIZE_MAX) d.first_bad = i;
      ++d.bad;
    }
  }
  return d;
}

}  // namespace v4eval::gpu_test
