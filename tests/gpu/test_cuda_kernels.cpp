// Every CUDA op of kernels/cuda against its CPU reference (kernels/cpu) on random inputs, at
// small shapes (edge cases: tails, padding, ties) and at V4-Flash shapes. Ops that keep the
// reference's operation order must agree bit for bit; the others (tree reductions, expf/cosf
// against the host's libm) within the tolerances stated in kernels/README.md.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <vector>

#include "kernels/cuda/moe.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/stream.h"
#include "kernels/numeric.h"
#include "kernels/ops.h"
#include "tests/gpu/gpu_test_support.h"

namespace cpu = v4eval::kernels;
namespace gpu = v4eval::kernels::cuda;
using v4eval::gpu_test::compare;
using v4eval::gpu_test::compare_bf16;
using v4eval::gpu_test::DeviceArray;
using v4eval::gpu_test::Random;
using v4eval::gpu_test::widen;
using bf16 = uint16_t;

namespace {

template <typename T>
size_t sz(T v) {
  return static_cast<size_t>(v);
}

#define REQUIRE_EXACT_BF16(got, want)                                   \
  do {                                                                  \
    const auto d_ = compare_bf16((got), (want), 0);                     \
    INFO(d_.describe((want).size()));                                   \
    REQUIRE(d_.count == 0);                                             \
  } while (0)

#define REQUIRE_BF16_WITHIN(got, want, ulps, max_fraction)              \
  do {                                                                  \
    const auto d_ = compare_bf16((got), (want), (ulps));                \
    INFO(d_.describe((want).size()));                                   \
    REQUIRE(d_.bad == 0);                                               \
    REQUIRE(d_.count <= (max_fraction) * (want).size() + 1);            \
  } while (0)

}  // namespace

TEST_CASE("a8_quantize matches the CPU bit for bit", "[cuda][linear]") {
  Random rnd(1);
  for (auto [rows, k] : {std::pair<int64_t, int64_t>{3, 256}, {64, 4096}}) {
    auto x = rnd.bf16(sz(rows * k));
    std::fill(x.begin(), x.begin() + 128, bf16{0});  // an all-zero group: the 1e-4 clamp
    std::vector<uint8_t> codes(sz(rows * k)), scales(sz(rows * k / 128));
    cpu::a8_quantize(x.data(), rows, k, codes.data(), scales.data());
    DeviceArray<bf16> dx(x);
    DeviceArray<uint8_t> dc(sz(rows * k)), ds(sz(rows * k / 128));
    gpu::a8_quantize(dx.get(), rows, k, dc.get(), ds.get());
    REQUIRE(dc.host() == codes);
    REQUIRE(ds.host() == scales);
  }
}

namespace {
struct LinearShape {
  int64_t rows, k, n;
};

// Runs a scope with the tensor-core GEMM path (gpu::GemmMode::kTensorCore).
class TensorCoreScope {
 public:
  TensorCoreScope() : previous_(gpu::set_gemm_mode(gpu::GemmMode::kTensorCore)) {}
  ~TensorCoreScope() { gpu::set_gemm_mode(previous_); }
  TensorCoreScope(const TensorCoreScope&) = delete;
  TensorCoreScope& operator=(const TensorCoreScope&) = delete;

 private:
  gpu::GemmMode previous_;
};

// Tensor-core results: the chunk sums differ in order/precision only, so every element must be
// within 1% of the reference or 0.1% of the largest output (a wrong fragment layout is O(1)).
void require_close_gemm(const std::vector<bf16>& got, const std::vector<bf16>& want) {
  const auto g = widen(got), w = widen(want);
  double maxabs = 0.0;
  for (float v : w) maxabs = std::max(maxabs, static_cast<double>(std::fabs(v)));
  const auto d = compare(g, w, 1e-2, 1e-3 * maxabs);
  INFO(d.describe(w.size()) << " (max |ref| " << maxabs << ")");
  REQUIRE(d.bad == 0);
}

void check_fp8_linear(const LinearShape& s, uint64_t seed, bool tensor_core = false) {
  Random rnd(seed);
  const auto x = rnd.bf16(sz(s.rows * s.k));
  const auto w = rnd.e4m3(sz(s.n * s.k));
  const auto ws = rnd.e8m0(sz(((s.n + 127) / 128) * (s.k / 128)));
  std::vector<bf16> want(sz(s.rows * s.n));
  cpu::fp8_linear(x.data(), s.rows, s.k, w.data(), ws.data(), s.n, want.data());
  DeviceArray<bf16> dx(x), dy(sz(s.rows * s.n));
  DeviceArray<uint8_t> dw(w), dws(ws);
  {
    std::optional<TensorCoreScope> tc;
    if (tensor_core) tc.emplace();
    gpu::fp8_linear(dx.get(), s.rows, s.k, dw.get(), dws.get(), s.n, dy.get());
  }
  INFO("rows " << s.rows << " k " << s.k << " n " << s.n);
  if (tensor_core) {
    require_close_gemm(dy.host(), want);
  } else {
    REQUIRE_EXACT_BF16(dy.host(), want);
  }
}

void check_fp4_linear(const LinearShape& s, uint64_t seed, bool tensor_core = false) {
  Random rnd(seed);
  const auto x = rnd.bf16(sz(s.rows * s.k));
  const auto w = rnd.bytes(sz(s.n * s.k / 2));
  const auto ws = rnd.e8m0(sz(s.n * s.k / 32));
  std::vector<bf16> want(sz(s.rows * s.n));
  cpu::fp4_linear(x.data(), s.rows, s.k, w.data(), ws.data(), s.n, want.data());
  DeviceArray<bf16> dx(x), dy(sz(s.rows * s.n));
  DeviceArray<uint8_t> dw(w), dws(ws);
  {
    std::optional<TensorCoreScope> tc;
    if (tensor_core) tc.emplace();
    gpu::fp4_linear(dx.get(), s.rows, s.k, dw.get(), dws.get(), s.n, dy.get());
  }
  INFO("rows " << s.rows << " k " << s.k << " n " << s.n);
  if (tensor_core) {
    require_close_gemm(dy.host(), want);
  } else {
    REQUIRE_EXACT_BF16(dy.host(), want);
  }
}
}  // namespace

TEST_CASE("fp8_linear decode path matches the CPU bit for bit", "[cuda][linear]") {
  check_fp8_linear({1, 256, 200}, 2);
  check_fp8_linear({5, 4608, 131}, 3);     // more than 32 chunks: two chunk tiles
  check_fp8_linear({1, 4096, 4096}, 4);    // V4-Flash wq_a-like
  check_fp8_linear({8, 4096, 1024}, 5);
}

TEST_CASE("fp8_linear multi-row paths match the CPU bit for bit", "[cuda][linear]") {
  // <= 64 rows on few tiles: 8-row decode tiles; 300 rows: the tiled kernel.
  check_fp8_linear({9, 128, 70}, 6);
  check_fp8_linear({37, 384, 260}, 7);
  check_fp8_linear({64, 4096, 4096}, 8);   // decode batch 64 at V4-Flash d
  check_fp8_linear({300, 1024, 4096}, 9);  // prefill-like (wq_b row block)
}

TEST_CASE("fp4_linear decode path matches the CPU bit for bit", "[cuda][linear]") {
  check_fp4_linear({1, 128, 64}, 10);
  check_fp4_linear({1, 4096, 2048}, 11);   // V4-Flash expert W1/W3
  check_fp4_linear({6, 2048, 4096}, 12);   // V4-Flash expert W2
}

TEST_CASE("fp4_linear multi-row paths match the CPU bit for bit", "[cuda][linear]") {
  check_fp4_linear({20, 256, 100}, 13);
  check_fp4_linear({100, 4096, 2048}, 14);
}

TEST_CASE("fp8_linear and fp4_linear tensor-core path stay close to the CPU", "[cuda][linear]") {
  check_fp8_linear({9, 128, 70}, 40, true);
  check_fp8_linear({37, 384, 260}, 41, true);
  check_fp8_linear({300, 1024, 4096}, 42, true);
  check_fp8_linear({130, 4096, 512}, 43, true);
  check_fp4_linear({20, 256, 100}, 44, true);
  check_fp4_linear({200, 4096, 2048}, 45, true);
}

TEST_CASE("bf16_linear and f32_linear match the CPU's lane order bit for bit", "[cuda][linear]") {
  Random rnd(15);
  for (LinearShape s : {LinearShape{1, 4096, 1024}, {3, 100, 50}, {8, 4096, 64}, {33, 130, 70},
                        {70, 4096, 512}}) {
    INFO("rows " << s.rows << " k " << s.k << " n " << s.n);
    const auto x = rnd.bf16(sz(s.rows * s.k));
    const auto w = rnd.bf16(sz(s.n * s.k), 0.05f);
    std::vector<bf16> want(sz(s.rows * s.n));
    std::vector<float> want32(sz(s.rows * s.n));
    cpu::bf16_linear(x.data(), s.rows, s.k, w.data(), s.n, want.data());
    cpu::f32_linear(x.data(), s.rows, s.k, w.data(), s.n, want32.data());
    DeviceArray<bf16> dx(x), dw(w), dy(sz(s.rows * s.n));
    DeviceArray<float> dy32(sz(s.rows * s.n));
    gpu::bf16_linear(dx.get(), s.rows, s.k, dw.get(), s.n, dy.get());
    gpu::f32_linear(dx.get(), s.rows, s.k, dw.get(), s.n, dy32.get());
    REQUIRE_EXACT_BF16(dy.host(), want);
    const auto d = compare(dy32.host(), want32, 0.0, 0.0);
    INFO(d.describe(want32.size()));
    REQUIRE(d.count == 0);
  }
}

TEST_CASE("f32_linear at the V4-Flash head width", "[cuda][linear]") {
  Random rnd(16);
  const int64_t rows = 1, k = 4096, n = 16384;  // a slice of the 129280-row head
  const auto x = rnd.bf16(sz(rows * k));
  const auto w = rnd.bf16(sz(n * k), 0.02f);
  std::vector<float> want(sz(rows * n));
  cpu::f32_linear(x.data(), rows, k, w.data(), n, want.data());
  DeviceArray<bf16> dx(x), dw(w);
  DeviceArray<float> dy(sz(rows * n));
  gpu::f32_linear(dx.get(), rows, k, dw.get(), n, dy.get());
  REQUIRE(dy.host() == want);
}

TEST_CASE("k8_simulate and q4_simulate match the CPU bit for bit", "[cuda][quant]") {
  Random rnd(17);
  const int64_t rows = 50, stride = 512;
  auto x = rnd.bf16(sz(rows * stride));
  auto want = x;
  cpu::k8_simulate(want.data(), rows, stride, 448);
  DeviceArray<bf16> dx(x);
  gpu::k8_simulate(dx.get(), rows, stride, 448);
  REQUIRE_EXACT_BF16(dx.host(), want);

  const int64_t qrows = 3 * 64, qdim = 128;  // 3 tokens × 64 indexer heads
  auto q = rnd.bf16(sz(qrows * qdim));
  auto qwant = q;
  cpu::q4_simulate(qwant.data(), qrows, qdim, qdim);
  DeviceArray<bf16> dq(q);
  gpu::q4_simulate(dq.get(), qrows, qdim, qdim);
  REQUIRE_EXACT_BF16(dq.host(), qwant);
}

TEST_CASE("rms_norm matches the CPU within one BF16 step", "[cuda][norm]") {
  Random rnd(18);
  for (auto [rows, dim] : {std::pair<int64_t, int64_t>{1, 4096}, {300, 4096}, {7, 128}, {2, 1024}}) {
    const auto x = rnd.bf16(sz(rows * dim));
    const auto w = rnd.bf16(sz(dim));
    for (const bf16* wp : {static_cast<const bf16*>(nullptr), w.data()}) {
      std::vector<bf16> want(sz(rows * dim));
      cpu::rms_norm(x.data(), rows, dim, wp, 1e-6f, want.data());
      DeviceArray<bf16> dx(x), dw(w), dy(sz(rows * dim));
      gpu::rms_norm(dx.get(), rows, dim, wp ? dw.get() : nullptr, 1e-6f, dy.get());
      REQUIRE_BF16_WITHIN(dy.host(), want, 1, 0.01);  // tree-ordered sum of squares
    }
  }
}

TEST_CASE("head_rms_norm_bf16 matches the CPU bit for bit", "[cuda][norm]") {
  Random rnd(19);
  for (auto [rows, heads, dim] : {std::tuple<int64_t, int64_t, int64_t>{5, 64, 512}, {3, 2, 128}}) {
    auto x = rnd.bf16(sz(rows * heads * dim));
    auto want = x;
    cpu::head_rms_norm_bf16(want.data(), rows, heads, dim, 1e-6f);
    DeviceArray<bf16> dx(x);
    gpu::head_rms_norm_bf16(dx.get(), rows, heads, dim, 1e-6f);
    REQUIRE_EXACT_BF16(dx.host(), want);
  }
}

TEST_CASE("rope_frequencies and rope_rotate match the CPU", "[cuda][rope]") {
  Random rnd(20);
  const int64_t rope_dim = 64, dim = 512, stride = 64 * 512, rows = 33;
  std::vector<float> freqs(32);
  cpu::rope_frequencies(rope_dim, 160000.0, 16.0, 65536, 32.0, 1.0, freqs.data());
  DeviceArray<float> dfreqs(32);
  gpu::rope_frequencies(rope_dim, 160000.0, 16.0, 65536, 32.0, 1.0, dfreqs.get());
  REQUIRE(dfreqs.host() == freqs);
  std::vector<int64_t> pos(rows);
  for (auto& p : pos) p = rnd.integer(0, 1 << 20);
  pos[0] = 0;
  const auto x = rnd.bf16(sz(rows * stride));
  for (bool inverse : {false, true}) {
    auto want = x;
    // Rotate head 5 of each row (row stride = all heads): offset pointer, dim = head width.
    cpu::rope_rotate(want.data() + 5 * dim, rows, stride, dim, rope_dim, pos.data(), freqs.data(),
                     inverse);
    DeviceArray<bf16> dx(x);
    DeviceArray<int64_t> dpos(pos);
    gpu::rope_rotate(dx.get() + 5 * dim, rows, stride, dim, rope_dim, dpos.get(), dfreqs.get(),
                     inverse);
    REQUIRE_BF16_WITHIN(dx.host(), want, 1, 0.01);  // cosf/sinf vs the host's libm
  }
}

TEST_CASE("hadamard matches the CPU bit for bit", "[cuda][quant]") {
  Random rnd(21);
  for (auto [rows, n] : {std::pair<int64_t, int64_t>{10, 128}, {3, 4096}, {2, 2}}) {
    auto x = rnd.f32(sz(rows * n), -3.0f, 3.0f);
    auto want = x;
    cpu::hadamard(want.data(), rows, n);
    DeviceArray<float> dx(x);
    gpu::hadamard(dx.get(), rows, n);
    REQUIRE(dx.host() == want);
  }
}

TEST_CASE("sinkhorn and mhc_pre / mhc_head_pre match the CPU", "[cuda][mhc]") {
  Random rnd(22);
  auto c = rnd.f32(16, -4.0f, 4.0f);
  auto cwant = c;
  cpu::sinkhorn(cwant.data(), 4, 20, 1e-6f);
  DeviceArray<float> dc(c);
  gpu::sinkhorn(dc.get(), 4, 20, 1e-6f);
  {
    const auto d = compare(dc.host(), cwant, 1e-5, 1e-7);  // expf vs the host's exp
    INFO(d.describe(16));
    REQUIRE(d.bad == 0);
  }
  for (auto [rows, d] : {std::pair<int64_t, int64_t>{3, 4096}, {64, 4096}, {5, 128}}) {
    const int64_t hc = 4, flat = hc * d, outs = (2 + hc) * hc;
    const auto h = rnd.bf16(sz(rows * flat));
    const auto fn = rnd.f32(sz(outs * flat), -0.02f, 0.02f);
    const auto base = rnd.f32(sz(outs), -1.0f, 1.0f);
    const std::vector<float> scale = {0.7f, 1.3f, 2.0f};
    std::vector<float> pre(sz(rows * hc)), post(sz(rows * hc)), comb(sz(rows * hc * hc));
    cpu::mhc_pre(h.data(), rows, hc, d, fn.data(), base.data(), scale.data(), 20, 1e-6f, 1e-6f,
                 pre.data(), post.data(), comb.data());
    DeviceArray<bf16> dh(h);
    DeviceArray<float> dfn(fn), dbase(base), dscale(scale), dpre(sz(rows * hc)),
        dpost(sz(rows * hc)), dcomb(sz(rows * hc * hc));
    gpu::mhc_pre(dh.get(), rows, hc, d, dfn.get(), dbase.get(), dscale.get(), 20, 1e-6f, 1e-6f,
                 dpre.get(), dpost.get(), dcomb.get());
    // Tree-ordered projections (FP32, 16384 terms) and expf: relative 1e-4.
    for (auto [got, want] : {std::pair{dpre.host(), pre}, {dpost.host(), post}, {dcomb.host(), comb}}) {
      const auto diff = compare(got, want, 1e-4, 1e-6);
      INFO("rows " << rows << " d " << d << ": " << diff.describe(want.size()));
      REQUIRE(diff.bad == 0);
    }
    std::vector<float> hpre(sz(rows * hc));
    cpu::mhc_head_pre(h.data(), rows, hc, d, fn.data(), base.data(), scale.data(), 1e-6f, 1e-6f,
                      hpre.data());
    DeviceArray<float> dhpre(sz(rows * hc));
    gpu::mhc_head_pre(dh.get(), rows, hc, d, dfn.get(), dbase.get(), dscale.get(), 1e-6f, 1e-6f,
                      dhpre.get());
    const auto diff = compare(dhpre.host(), hpre, 1e-4, 1e-6);
    INFO(diff.describe(hpre.size()));
    REQUIRE(diff.bad == 0);
  }
}

TEST_CASE("mhc_collapse and mhc_expand match the CPU bit for bit", "[cuda][mhc]") {
  Random rnd(23);
  for (auto [rows, d] : {std::pair<int64_t, int64_t>{3, 4096}, {17, 128}}) {
    const int64_t hc = 4;
    const auto h = rnd.bf16(sz(rows * hc * d));
    const auto y = rnd.bf16(sz(rows * d));
    const auto pre = rnd.f32(sz(rows * hc), 0.0f, 1.0f);
    const auto post = rnd.f32(sz(rows * hc), 0.0f, 2.0f);
    const auto comb = rnd.f32(sz(rows * hc * hc), 0.0f, 1.0f);
    std::vector<bf16> x(sz(rows * d)), out(sz(rows * hc * d));
    cpu::mhc_collapse(h.data(), rows, hc, d, pre.data(), x.data());
    cpu::mhc_expand(h.data(), y.data(), rows, hc, d, post.data(), comb.data(), out.data());
    DeviceArray<bf16> dh(h), dy(y), dx(sz(rows * d)), dout(sz(rows * hc * d));
    DeviceArray<float> dpre(pre), dpost(post), dcomb(comb);
    gpu::mhc_collapse(dh.get(), rows, hc, d, dpre.get(), dx.get());
    gpu::mhc_expand(dh.get(), dy.get(), rows, hc, d, dpost.get(), dcomb.get(), dout.get());
    REQUIRE_EXACT_BF16(dx.host(), x);
    REQUIRE_EXACT_BF16(dout.host(), out);
  }
}

TEST_CASE("compress_pool matches the CPU", "[cuda][compressor]") {
  Random rnd(24);
  for (auto [entries, slots, width] :
       {std::tuple<int64_t, int64_t, int64_t>{40, 8, 512}, {3, 128, 512}, {5, 8, 128}}) {
    const auto a = rnd.f32(sz(entries * slots * width), -2.0f, 2.0f);
    auto z = rnd.f32(sz(entries * slots * width), -5.0f, 5.0f);
    for (int64_t s = 0; s < slots / 2 && slots == 8; ++s)  // entry 0: its A slots absent
      std::fill_n(z.begin() + s * width, width, -std::numeric_limits<float>::infinity());
    std::vector<bf16> want(sz(entries * width));
    cpu::compress_pool(a.data(), z.data(), entries, slots, width, want.data());
    DeviceArray<float> da(a), dz(z);
    DeviceArray<bf16> dv(sz(entries * width));
    gpu::compress_pool(da.get(), dz.get(), entries, slots, width, dv.get());
    REQUIRE_BF16_WITHIN(dv.host(), want, 1, 0.02);  // expf vs the host's exp
  }
}

TEST_CASE("indexer_scores matches the CPU bit for bit", "[cuda][indexer]") {
  Random rnd(25);
  for (auto [rows, heads, dim, n_keys] :
       {std::tuple<int64_t, int64_t, int64_t, int64_t>{4, 64, 128, 1000}, {3, 2, 64, 9}}) {
    auto q = rnd.bf16(sz(rows * heads * dim));
    auto keys = rnd.bf16(sz(n_keys * dim));
    cpu::q4_simulate(q.data(), rows * heads, dim, dim);
    cpu::q4_simulate(keys.data(), n_keys, dim, dim);
    const auto w = rnd.bf16(sz(rows * heads), 0.01f);
    std::vector<int64_t> nvis(sz(rows));
    for (int64_t r = 0; r < rows; ++r) nvis[sz(r)] = (r == 0) ? 0 : rnd.integer(1, n_keys);
    std::vector<float> want(sz(rows * n_keys));
    cpu::indexer_scores(q.data(), w.data(), rows, heads, dim, keys.data(), n_keys, nvis.data(),
                        want.data());
    DeviceArray<bf16> dq(q), dw(w), dk(keys);
    DeviceArray<int64_t> dn(nvis);
    DeviceArray<float> ds(sz(rows * n_keys));
    gpu::indexer_scores(dq.get(), dw.get(), rows, heads, dim, dk.get(), n_keys, dn.get(), ds.get());
    const auto d = compare(ds.host(), want, 0.0, 0.0);
    INFO(d.describe(want.size()));
    REQUIRE(d.count == 0);
  }
}

TEST_CASE("topk_indices matches the CPU, ties to the lower index", "[cuda][indexer]") {
  Random rnd(26);
  for (auto [rows, n, k] : {std::tuple<int64_t, int64_t, int64_t>{6, 3000, 512},
                            {4, 20, 4}, {2, 262144, 512}}) {
    std::vector<float> s(sz(rows * n));
    for (auto& v : s) v = cpu::round_bf16(static_cast<float>(rnd.integer(-40, 40)) / 8.0f);  // ties
    s[1] = -std::numeric_limits<float>::infinity();
    s[2] = -0.0f;
    std::vector<int64_t> nvis(sz(rows));
    for (int64_t r = 0; r < rows; ++r) nvis[sz(r)] = rnd.integer(0, n);
    nvis[0] = n;
    if (rows > 2) nvis[1] = 0;
    if (rows > 3) nvis[2] = std::min<int64_t>(k - 1, n);
    std::vector<int32_t> want(sz(rows * k));
    cpu::topk_indices(s.data(), rows, n, nvis.data(), k, want.data());
    DeviceArray<float> ds(s);
    DeviceArray<int64_t> dn(nvis);
    DeviceArray<int32_t> di(sz(rows * k));
    gpu::topk_indices(ds.get(), rows, n, dn.get(), k, di.get());
    INFO("rows " << rows << " n " << n << " k " << k);
    REQUIRE(di.host() == want);
  }
}

TEST_CASE("sparse_attention matches the CPU", "[cuda][attention]") {
  Random rnd(27);
  for (auto [rows, heads, dim, n_kv, max_keys] :
       {std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>{3, 64, 512, 1000, 640},
        {40, 64, 512, 300, 160}, {2, 2, 128, 20, 9}, {1, 64, 512, 9000, 8320}}) {
    const auto q = rnd.bf16(sz(rows * heads * dim));
    const auto kv = rnd.bf16(sz(n_kv * dim));
    const auto sink = rnd.f32(sz(heads), -2.0f, 2.0f);
    std::vector<int32_t> idx(sz(rows * max_keys));
    for (auto& i : idx) i = rnd.integer(0, 9) == 0 ? -1 : static_cast<int32_t>(rnd.integer(0, n_kv - 1));
    if (rows > 1) std::fill_n(idx.begin() + max_keys, max_keys, -1);  // row 1: no keys at all
    if (max_keys > 128) std::fill_n(idx.begin() + 64, 64, -1);        // row 0: a padding tile
    const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
    std::vector<bf16> want(sz(rows * heads * dim));
    cpu::sparse_attention(q.data(), rows, heads, dim, kv.data(), idx.data(), max_keys, sink.data(),
                          scale, want.data());
    DeviceArray<bf16> dq(q), dkv(kv), dout(sz(rows * heads * dim));
    DeviceArray<int32_t> didx(idx);
    DeviceArray<float> dsink(sink);
    gpu::sparse_attention(dq.get(), rows, heads, dim, dkv.get(), didx.get(), max_keys, dsink.get(),
                          scale, dout.get());
    INFO("rows " << rows << " heads " << heads << " keys " << max_keys);
    REQUIRE_BF16_WITHIN(dout.host(), want, 2, 0.05);  // expf vs the host's exp
  }
}

TEST_CASE("moe_route matches the CPU", "[cuda][moe]") {
  Random rnd(28);
  const int64_t rows = 50, experts = 256, k = 6;
  const auto logits = rnd.f32(sz(rows * experts), -6.0f, 25.0f);
  const auto bias = rnd.f32(sz(experts), -0.5f, 0.5f);
  std::vector<int64_t> hash(sz(rows * k));
  for (auto& h : hash) h = rnd.integer(0, experts - 1);
  for (const int64_t* hp : {static_cast<const int64_t*>(nullptr), static_cast<const int64_t*>(hash.data())}) {
    std::vector<int32_t> ex(sz(rows * k));
    std::vector<float> wt(sz(rows * k));
    cpu::moe_route(logits.data(), rows, experts, k, bias.data(), hp, 1.5f, ex.data(), wt.data());
    DeviceArray<float> dl(logits), db(bias), dwt(sz(rows * k));
    DeviceArray<int64_t> dh(hash);
    DeviceArray<int32_t> dex(sz(rows * k));
    gpu::moe_route(dl.get(), rows, experts, k, db.get(), hp ? dh.get() : nullptr, 1.5f, dex.get(),
                   dwt.get());
    REQUIRE(dex.host() == ex);
    const auto d = compare(dwt.host(), wt, 1e-6, 0.0);  // log1pf/expf vs the host's libm
    INFO(d.describe(wt.size()));
    REQUIRE(d.bad == 0);
  }
}

TEST_CASE("swiglu_clamped matches the CPU", "[cuda][moe]") {
  Random rnd(29);
  const int64_t rows = 10, n = 2048;
  const auto a = rnd.bf16(sz(rows * n), 6.0f);
  const auto b = rnd.bf16(sz(rows * n), 6.0f);
  const auto rw = rnd.f32(sz(rows), 0.0f, 1.5f);
  for (const float* rp : {static_cast<const float*>(nullptr), rw.data()}) {
    std::vector<bf16> want(sz(rows * n));
    cpu::swiglu_clamped(a.data(), b.data(), rows, n, 10.0f, rp, want.data());
    DeviceArray<bf16> da(a), db(b), du(sz(rows * n));
    DeviceArray<float> drw(rw);
    gpu::swiglu_clamped(da.get(), db.get(), rows, n, 10.0f, rp ? drw.get() : nullptr, du.get());
    REQUIRE_BF16_WITHIN(du.host(), want, 1, 0.01);
  }
}

TEST_CASE("sample_token matches the CPU", "[cuda][sampling]") {
  Random rnd(30);
  const int64_t vocab = 129280;
  auto logits = rnd.f32(sz(vocab), -10.0f, 10.0f);
  logits[777] = logits[4242] = 25.0f;  // equal maxima: greedy takes the lower index
  DeviceArray<float> dl(logits);
  REQUIRE(gpu::sample_token(dl.get(), vocab, 0.0f, 1.0f, 0.5) == 777);
  for (double u : {0.0, 0.3, 0.9999})
    for (float t : {0.7f, 1.0f})
      for (float p : {0.9f, 1.0f})
        REQUIRE(gpu::sample_token(dl.get(), vocab, t, p, u) ==
                cpu::sample_token(logits.data(), vocab, t, p, u));
}

namespace {
// The MoE pipeline of moe.h against per-expert CPU fp4_linear calls.
void check_moe(int64_t rows, int64_t n_experts, int64_t k, int64_t d, int64_t inter, uint64_t seed,
               bool tensor_core = false) {
  Random rnd(seed);
  const int64_t pairs = rows * k;
  const auto x = rnd.bf16(sz(rows * d));
  std::vector<int32_t> experts(sz(pairs));
  for (int64_t r = 0; r < rows; ++r) {  // k distinct experts a row, skewed towards low ids
    std::vector<int32_t> ids(sz(n_experts));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rnd.engine());
    if (r % 3 == 0) std::sort(ids.begin(), ids.begin() + k);
    std::copy_n(ids.begin(), k, experts.begin() + r * k);
  }
  const auto weights = rnd.f32(sz(pairs), 0.1f, 1.0f);
  std::vector<std::vector<uint8_t>> w(sz(n_experts)), ws(sz(n_experts));
  std::vector<std::unique_ptr<DeviceArray<uint8_t>>> dw, dws;
  std::vector<const uint8_t*> wp, wsp;
  for (int64_t e = 0; e < n_experts; ++e) {
    w[sz(e)] = rnd.bytes(sz(inter * d / 2));
    ws[sz(e)] = rnd.e8m0(sz(inter * d / 32));
    dw.push_back(std::make_unique<DeviceArray<uint8_t>>(w[sz(e)]));
    dws.push_back(std::make_unique<DeviceArray<uint8_t>>(ws[sz(e)]));
    wp.push_back(dw.back()->get());
    wsp.push_back(dws.back()->get());
  }
  DeviceArray<const uint8_t*> dwp(wp), dwsp(wsp);
  DeviceArray<bf16> dx(x), dxs(sz(pairs * d)), dys(sz(pairs * inter));
  DeviceArray<int32_t> dex(experts), dsorted(sz(pairs)), dpos(sz(pairs)), doff(sz(n_experts + 1));
  DeviceArray<float> dwt(weights), dsw(sz(pairs));
  gpu::moe_plan(dex.get(), rows, k, n_experts, dsorted.get(), dpos.get(), doff.get());
  gpu::moe_gather(dx.get(), d, dsorted.get(), rows, k, dwt.get(), dxs.get(), dsw.get());
  {
    std::optional<TensorCoreScope> tc;
    if (tensor_core) tc.emplace();
    gpu::fp4_grouped_linear(dxs.get(), pairs, d, doff.get(), n_experts, dwp.get(), dwsp.get(),
                            inter, dys.get());
  }
  const auto sorted = dsorted.host(), pos = dpos.host(), off = doff.host();
  const auto sw = dsw.host();
  const auto ys = dys.host();
  // The plan: a stable sort by expert, pos its inverse.
  for (int64_t p = 0; p < pairs; ++p) {
    REQUIRE(pos[sz(sorted[sz(p)])] == p);
    REQUIRE(sw[sz(p)] == weights[sz(sorted[sz(p)])]);
    if (p > 0) {
      const int32_t a = experts[sz(sorted[sz(p - 1)])], b = experts[sz(sorted[sz(p)])];
      REQUIRE((a < b || (a == b && sorted[sz(p - 1)] < sorted[sz(p)])));
    }
  }
  REQUIRE(off[sz(n_experts)] == pairs);
  // Each pair's expert output equals the CPU's fp4_linear of its token.
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t pair = sorted[sz(p)], row = pair / k, e = experts[sz(pair)];
    REQUIRE(off[sz(e)] <= p);
    REQUIRE(p < off[sz(e + 1)]);
    std::vector<bf16> want(sz(inter));
    cpu::fp4_linear(x.data() + row * d, 1, d, w[sz(e)].data(), ws[sz(e)].data(), inter, want.data());
    std::vector<bf16> got(ys.begin() + p * inter, ys.begin() + (p + 1) * inter);
    INFO("pair " << pair << " expert " << e);
    if (tensor_core) {
      require_close_gemm(got, want);
    } else {
      REQUIRE_EXACT_BF16(got, want);
    }
  }
  // Combine: Σ over slots in order (+ shared) in FP32, one rounding.
  const int64_t dout = inter;
  const auto shared = rnd.bf16(sz(rows * dout));
  DeviceArray<bf16> dshared(shared), dy(sz(rows * dout));
  gpu::moe_combine(dys.get(), dpos.get(), rows, k, dout, dshared.get(), dy.get());
  std::vector<bf16> want(sz(rows * dout));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < dout; ++c) {
      float acc = 0.0f;
      for (int64_t s = 0; s < k; ++s)
        acc += cpu::bf16_to_f32(ys[sz(pos[sz(r * k + s)] * dout + c)]);
      acc += cpu::bf16_to_f32(shared[sz(r * dout + c)]);
      want[sz(r * dout + c)] = cpu::f32_to_bf16(acc);
    }
  REQUIRE_EXACT_BF16(dy.host(), want);
}
}  // namespace

TEST_CASE("grouped FP4 expert GEMM (decode path) matches per-expert CPU linears", "[cuda][moe]") {
  check_moe(2, 16, 6, 256, 128, 31);
  check_moe(1, 32, 6, 4096, 2048, 32);  // V4-Flash expert W1 shape, one token
}

TEST_CASE("grouped FP4 expert GEMM (tiled path) matches per-expert CPU linears", "[cuda][moe]") {
  check_moe(200, 8, 2, 256, 384, 33);
  check_moe(96, 16, 6, 2048, 512, 34);
}

TEST_CASE("grouped FP4 expert GEMM (tensor-core path) stays close to per-expert CPU linears",
          "[cuda][moe]") {
  check_moe(200, 8, 2, 256, 384, 35, true);
  check_moe(96, 16, 6, 2048, 512, 36, true);
}
