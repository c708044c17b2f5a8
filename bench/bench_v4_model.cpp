// bench_v4_model: the §6 tiny DeepSeek-V4 model on the CPU reference path (backends/v4/model):
// prefill tokens/s (one call and 128-token chunks), decode tokens/s with all-position and
// last-position logits, at a few context lengths. The tiny model is far too small to reach the
// roofline; these figures track the engine's per-call overhead and the ops' scaling.
//
//   bench_v4_model [--prefill N] [--decode N]     (defaults 1024 and 128)

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backends/v4/config.h"
#include "backends/v4/model.h"
#include "backends/v4/weights.h"

using namespace v4eval::v4;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n_prefill = 1024, n_decode = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--prefill") n_prefill = std::atoll(argv[i + 1]);
    else if (flag == "--decode") n_decode = std::atoll(argv[i + 1]);
  }
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("bench_v4_model_" + std::to_string(getpid()));
  if (auto s = write_random_checkpoint(dir.string(), tiny_config_json(), 1); !s.ok()) {
    std::fprintf(stderr, "bench_v4_model: %s\n", s.message().c_str());
    return 1;
  }
  auto model = Model::load(dir.string());
  if (!model.ok()) {
    std::fprintf(stderr, "bench_v4_model: %s\n", model.status().message().c_str());
    return 1;
  }
  std::mt19937_64 rng(1);
  std::vector<uint32_t> ids(static_cast<size_t>(n_prefill + n_decode));
  for (uint32_t& id : ids) id = static_cast<uint32_t>(rng() % 256);
  auto seq = (*model)->new_sequence();

  std::printf("tiny V4 model (d=128, 4 layers: window, CSA, HCA, CSA), CPU reference ops\n");
  auto t0 = std::chrono::steady_clock::now();
  auto r = seq->prefill(std::span<const uint32_t>(ids.data(), static_cast<size_t>(n_prefill)),
                        LogitRows::kLast);
  double s = seconds_since(t0);
  if (!r.ok()) return 1;
  std::printf("prefill %5lld tokens, one call,   last logits: %8.1f tokens/s (%.3f s)\n",
              static_cast<long long>(n_prefill), double(n_prefill) / s, s);

  seq->reset();
  t0 = std::chrono::steady_clock::now();
  for (int64_t at = 0; at < n_prefill; at += 128) {
    auto c = seq->prefill(std::span<const uint32_t>(ids.data() + at,
                                                    static_cast<size_t>(std::min<int64_t>(128, n_prefill - at))),
                          LogitRows::kAll);
    if (!c.ok()) return 1;
  }
  s = seconds_since(t0);
  std::printf("prefill %5lld tokens, 128-chunks, all logits:  %8.1f tokens/s (%.3f s)\n",
              static_cast<long long>(n_prefill), double(n_prefill) / s, s);

  t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n_decode; ++i)
    if (!seq->decode(ids[static_cast<size_t>(n_prefill + i)]).ok()) return 1;
  s = seconds_since(t0);
  std::printf("decode  %5lld tokens after %lld:             %8.1f tokens/s (%.2f ms/token)\n",
              static_cast<long long>(n_decode), static_cast<long long>(n_prefill),
              double(n_decode) / s, 1000.0 * s / double(n_decode));

  seq->reset();
  t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n_decode; ++i)
    if (!seq->decode(ids[static_cast<size_t>(i)]).ok()) return 1;
  s = seconds_since(t0);
  std::printf("decode  %5lld tokens from position 0:        %8.1f tokens/s (%.2f ms/token)\n",
              static_cast<long long>(n_decode), double(n_decode) / s, 1000.0 * s / double(n_decode));
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
