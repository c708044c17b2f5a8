#include "backends/v4/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backends/v4/weights.h"
#include "kernels/numeric.h"
#include "kernels/ops.h"

namespace v4eval::v4 {

namespace k = v4eval::kernels;
using k::bf16;

namespace {

// A block-scaled FP8 or group-scaled FP4 weight [n, k] as the linears take it.
struct QuantLinear {
  const uint8_t* codes = nullptr;
  const uint8_t* scales = nullptr;
  int64_t n = 0, k = 0;
  bool fp4 = false;

  // y [rows, n] = W · A8(x) (§3.0).
  void operator()(const bf16* x, int64_t rows, bf16* y) const {
    if (rows == 0) return;
    if (fp4) k::fp4_linear(x, rows, k, codes, scales, n, y);
    else k::fp8_linear(x, rows, k, codes, scales, n, y);
  }
};

// One compressor (§3.6): ratio m, entry width Dc; overlap (CSA) iff m == 4.
struct CompressorWeights {
  int64_t ratio = 0, width = 0;
  bool overlap = false;
  const bf16* wkv = nullptr;    // [c·Dc, d]
  const bf16* wgate = nullptr;  // [c·Dc, d]
  const float* ape = nullptr;   // [m, c·Dc]
  const bf16* norm = nullptr;   // [Dc]
  int64_t proj_width() const { return (overlap ? 2 : 1) * width; }
};

struct MhcWeights {
  const float* fn = nullptr;
  const float* base = nullptr;
  const float* scale = nullptr;
  const bf16* norm = nullptr;  // attn_norm / ffn_norm
};

struct LayerWeights {
  LayerKind kind = LayerKind::kWindow;
  int64_t ratio = 0;
  bool hash_routed = false;
  const float* rope = nullptr;  // the layer's RoPE table (§3.5)
  MhcWeights hc_attn, hc_ffn;
  // Attention (§3.4).
  QuantLinear wq_a, wq_b, wkv, wo_b;
  const bf16* q_norm = nullptr;
  const bf16* kv_norm = nullptr;
  std::vector<bf16> wo_a;  // [G·R, H·D/G], scale folded in at load (§2.4 a)
  const float* sink = nullptr;
  CompressorWeights compressor;  // CSA, HCA
  // Lightning indexer (CSA, §3.7).
  QuantLinear index_wq_b;
  const bf16* index_weights_proj = nullptr;  // [Hi, d]
  CompressorWeights index_compressor;
  // MoE (§3.10).
  const bf16* gate = nullptr;          // [E, d]
  const float* gate_bias = nullptr;    // [E] (non-hash layers)
  const int64_t* tid2eid = nullptr;    // [V, k] (hash layers)
  QuantLinear shared_w1, shared_w3, shared_w2;
  std::vector<QuantLinear> expert_w1, expert_w3, expert_w2;
};

}  // namespace

struct Model::Weights {
  const bf16* embed = nullptr;  // [V, d]
  const bf16* head = nullptr;   // [V, d]
  const bf16* norm = nullptr;   // [d]
  const float* hc_head_fn = nullptr;
  const float* hc_head_base = nullptr;
  const float* hc_head_scale = nullptr;
  std::vector<float> rope_main, rope_compress;
  std::vector<LayerWeights> layers;  // main layers only; the MTP block is not run
  std::vector<std::vector<uint64_t>> owned;  // aligned copies of misaligned mapped tensors
};

namespace {

class Loader {
 public:
  Loader(const Checkpoint& ck, std::vector<std::vector<uint64_t>>* owned) : ck_(ck), owned_(owned) {}

  // The mapped data of a validated tensor as T*, copied when the mapping is misaligned for T.
  template <class T>
  const T* ptr(const std::string& name) {
    const TensorView* v = ck_.find(name);
    if (v == nullptr) return nullptr;  // validate_checkpoint() ran first: only for absent kinds
    if (reinterpret_cast<uintptr_t>(v->data) % alignof(T) == 0)
      return reinterpret_cast<const T*>(v->data);
    owned_->emplace_back((v->bytes + 7) / 8);
    std::memcpy(owned_->back().data(), v->data, v->bytes);
    return reinterpret_cast<const T*>(owned_->back().data());
  }

  QuantLinear quant(const std::string& name) {
    const TensorView* w = ck_.find(name + ".weight");
    const TensorView* s = ck_.find(name + ".scale");
    QuantLinear q;
    q.codes = w->data;
    q.scales = s->data;
    q.n = w->shape[0];
    q.fp4 = w->dtype == DType::kI8;
    q.k = q.fp4 ? w->shape[1] * 2 : w->shape[1];
    return q;
  }

  // §2.4 (a): W[o, i] = e4m3(Q[o, i]) · 2^(S[o/128, i/128] − 127), exact in BF16.
  std::vector<bf16> fold_fp8(const std::string& name) {
    QuantLinear q = quant(name);
    const int64_t scale_cols = (q.k + 127) / 128;
    std::vector<bf16> out(static_cast<size_t>(q.n * q.k));
    for (int64_t o = 0; o < q.n; ++o)
      for (int64_t i = 0; i < q.k; ++i) {
        float s = k::e8m0_to_f32(q.scales[(o / 128) * scale_cols + i / 128]);
        out[static_cast<size_t>(o * q.k + i)] =
            k::f32_to_bf16(k::e4m3_to_f32(q.codes[o * q.k + i]) * s);
      }
    return out;
  }

  CompressorWeights compressor(const std::string& prefix, int64_t ratio, int64_t width) {
    CompressorWeights c;
    c.ratio = ratio;
    c.width = width;
    c.overlap = ratio == 4;
    c.wkv = ptr<bf16>(prefix + "wkv.weight");
    c.wgate = ptr<bf16>(prefix + "wgate.weight");
    c.ape = ptr<float>(prefix + "ape");
    c.norm = ptr<bf16>(prefix + "norm.weight");
    return c;
  }

 private:
  const Checkpoint& ck_;
  std::vector<std::vector<uint64_t>>* owned_;
};

template <class T>
std::vector<T> zeros(int64_t n) {
  return std::vector<T>(static_cast<size_t>(n));
}

}  // namespace

// ---- Model ----------------------------------------------------------------------------------

Model::Model() = default;
Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::load(const std::string& dir, const ModelOptions& options) {
  ConfigOptions config_options;
  config_options.allow_test_ratios = options.allow_test_ratios;
  auto config = load_config(dir + "/config.json", config_options);
  if (!config.ok()) return config.status();
  auto ck = Checkpoint::open(dir);
  if (!ck.ok()) return ck.status();
  if (Status s = validate_checkpoint(**ck, *config); !s.ok()) return s;
  const V4Config& c = *config;
  if (options.max_context < 0 || options.max_context > c.max_position_embeddings)
    return InvalidArgument("max_context " + std::to_string(options.max_context) +
                           " is outside [1, max_position_embeddings = " +
                           std::to_string(c.max_position_embeddings) + "]");

  auto model = std::unique_ptr<Model>(new Model());
  model->config_ = c;
  model->max_context_ = options.max_context > 0 ? options.max_context : c.max_position_embeddings;
  model->checkpoint_ = std::move(ck).value();
  model->weights_ = std::make_unique<Weights>();
  Weights& w = *model->weights_;
  Loader ld(*model->checkpoint_, &w.owned);

  w.embed = ld.ptr<bf16>("embed.weight");
  w.head = ld.ptr<bf16>("head.weight");
  w.norm = ld.ptr<bf16>("norm.weight");
  w.hc_head_fn = ld.ptr<float>("hc_head_fn");
  w.hc_head_base = ld.ptr<float>("hc_head_base");
  w.hc_head_scale = ld.ptr<float>("hc_head_scale");
  const int64_t r = c.qk_rope_head_dim;
  w.rope_main.resize(static_cast<size_t>(r / 2));
  w.rope_compress.resize(static_cast<size_t>(r / 2));
  k::rope_frequencies(r, c.rope_theta, 1.0, c.yarn_original_max_position, c.yarn_beta_fast,
                      c.yarn_beta_slow, w.rope_main.data());
  k::rope_frequencies(r, c.compress_rope_theta, c.yarn_factor, c.yarn_original_max_position,
                      c.yarn_beta_fast, c.yarn_beta_slow, w.rope_compress.data());

  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    LayerWeights lw;
    lw.kind = c.layer_kind(i);
    lw.ratio = c.compress_ratios[static_cast<size_t>(i)];
    lw.hash_routed = i < c.num_hash_layers;
    lw.rope = lw.kind == LayerKind::kWindow ? w.rope_main.data() : w.rope_compress.data();
    for (auto [which, hc] : {std::pair{"attn", &lw.hc_attn}, std::pair{"ffn", &lw.hc_ffn}}) {
      hc->fn = ld.ptr<float>(p + "hc_" + which + "_fn");
      hc->base = ld.ptr<float>(p + "hc_" + which + "_base");
      hc->scale = ld.ptr<float>(p + "hc_" + which + "_scale");
      hc->norm = ld.ptr<bf16>(p + which + "_norm.weight");
    }
    lw.wq_a = ld.quant(p + "attn.wq_a");
    lw.wq_b = ld.quant(p + "attn.wq_b");
    lw.wkv = ld.quant(p + "attn.wkv");
    lw.wo_b = ld.quant(p + "attn.wo_b");
    lw.wo_a = ld.fold_fp8(p + "attn.wo_a");
    lw.q_norm = ld.ptr<bf16>(p + "attn.q_norm.weight");
    lw.kv_norm = ld.ptr<bf16>(p + "attn.kv_norm.weight");
    lw.sink = ld.ptr<float>(p + "attn.attn_sink");
    if (lw.kind != LayerKind::kWindow)
      lw.compressor = ld.compressor(p + "attn.compressor.", lw.ratio, c.head_dim);
    if (lw.kind == LayerKind::kCsa) {
      lw.index_wq_b = ld.quant(p + "attn.indexer.wq_b");
      lw.index_weights_proj = ld.ptr<bf16>(p + "attn.indexer.weights_proj.weight");
      lw.index_compressor = ld.compressor(p + "attn.indexer.compressor.", 4, c.index_head_dim);
    }
    lw.gate = ld.ptr<bf16>(p + "ffn.gate.weight");
    if (lw.hash_routed) lw.tid2eid = ld.ptr<int64_t>(p + "ffn.gate.tid2eid");
    else lw.gate_bias = ld.ptr<float>(p + "ffn.gate.bias");
    lw.shared_w1 = ld.quant(p + "ffn.shared_experts.w1");
    lw.shared_w3 = ld.quant(p + "ffn.shared_experts.w3");
    lw.shared_w2 = ld.quant(p + "ffn.shared_experts.w2");
    for (int64_t e = 0; e < c.n_routed_experts; ++e) {
      const std::string x = p + "ffn.experts." + std::to_string(e) + ".";
      lw.expert_w1.push_back(ld.quant(x + "w1"));
      lw.expert_w3.push_back(ld.quant(x + "w3"));
      lw.expert_w2.push_back(ld.quant(x + "w2"));
    }
    w.layers.push_back(std::move(lw));
  }
  return model;
}

std::unique_ptr<Sequence> Model::new_sequence() const {
  return std::unique_ptr<Sequence>(new Sequence(this));
}

// ---- Sequence state (§4.1) ------------------------------------------------------------------

namespace {

// One compressor's state: the partial block (a and z of its tokens, ape added to z, slot
// p mod m), for overlap compressors the A-halves of the last full block, and the entries.
struct CompressorState {
  std::vector<float> part_a, part_z;  // [m, c·Dc]
  std::vector<float> prev_a, prev_z;  // overlap: [m, Dc]
  std::vector<bf16> entries;          // [n_entries, Dc], in their stored form
  int64_t n_entries = 0;

  void init(const CompressorWeights& w) {
    part_a.assign(static_cast<size_t>(w.ratio * w.proj_width()), 0.0f);
    part_z.assign(part_a.size(), 0.0f);
    if (w.overlap) {
      prev_a.assign(static_cast<size_t>(w.ratio * w.width), 0.0f);
      prev_z.assign(prev_a.size(), 0.0f);
    }
    entries.clear();
    n_entries = 0;
  }
};

}  // namespace

// By layer kind: window-only layers use `window` only; HCA adds `kv`; CSA adds `kv` and the
// indexer keys `index`.
struct Sequence::LayerState {
  std::vector<bf16> window;  // ring [W, D], slot p mod W
  CompressorState kv;        // compressed main KV entries (CSA, HCA)
  CompressorState index;     // indexer keys (CSA)
};

Sequence::Sequence(const Model* model) : model_(model) {
  layers_.resize(model_->weights_->layers.size());
  reset();
}
Sequence::~Sequence() = default;

void Sequence::reset() {
  const V4Config& c = model_->config_;
  length_ = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LayerWeights& lw = model_->weights_->layers[i];
    LayerState& st = layers_[i];
    st.window.assign(static_cast<size_t>(c.sliding_window * c.head_dim), 0);
    if (lw.kind != LayerKind::kWindow) st.kv.init(lw.compressor);
    if (lw.kind == LayerKind::kCsa) st.index.init(lw.index_compressor);
  }
}

// ---- Forward --------------------------------------------------------------------------------

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Runs a compressor over the call's rows (§3.6, §3.9 step 2): appends their (a, z) to the
// partial block and emits every block that ends inside the call, in the stored form (main:
// K8 on the nope dims; indexer: Had then Q4).
void run_compressor(const V4Config& c, const CompressorWeights& w, CompressorState& s,
                    const bf16* x, int64_t rows, const int64_t* pos, const float* rope,
                    bool indexer_keys) {
  const int64_t m = w.ratio, dc = w.width, cw = w.proj_width(), d = c.hidden_size;
  const int64_t r = c.qk_rope_head_dim;
  auto a = zeros<float>(rows * cw);
  auto z = zeros<float>(rows * cw);
  k::f32_linear(x, rows, d, w.wkv, cw, a.data());
  k::f32_linear(x, rows, d, w.wgate, cw, z.data());

  const int64_t slots = w.overlap ? 2 * m : m;
  std::vector<float> batch_a, batch_z;  // [entries, slots, dc]
  std::vector<int64_t> block_pos;       // RoPE position of each entry: its first token
  for (int64_t t = 0; t < rows; ++t) {
    const int64_t p = pos[t], j = p % m;
    float* pa = s.part_a.data() + j * cw;
    float* pz = s.part_z.data() + j * cw;
    std::memcpy(pa, a.data() + t * cw, static_cast<size_t>(cw) * sizeof(float));
    const float* ape = w.ape + j * cw;
    for (int64_t u = 0; u < cw; ++u) pz[u] = z[static_cast<size_t>(t * cw + u)] + ape[u];
    if ((p + 1) % m != 0) continue;
    const int64_t b = (p + 1) / m - 1;
    block_pos.push_back(b * m);
    const size_t at = batch_a.size();
    batch_a.resize(at + static_cast<size_t>(slots * dc));
    batch_z.resize(batch_a.size());
    float* ea = batch_a.data() + at;
    float* ez = batch_z.data() + at;
    if (w.overlap) {
      // Slots 0..m-1: block b-1's A halves (absent for b = 0); slots m..2m-1: block b's B halves.
      for (int64_t q = 0; q < m; ++q) {
        float* sa = ea + q * dc;
        float* sz = ez + q * dc;
        if (b == 0) {
          std::fill(sa, sa + dc, 0.0f);
          std::fill(sz, sz + dc, kNegInf);
        } else {
          std::memcpy(sa, s.prev_a.data() + q * dc, static_cast<size_t>(dc) * sizeof(float));
          std::memcpy(sz, s.prev_z.data() + q * dc, static_cast<size_t>(dc) * sizeof(float));
        }
        std::memcpy(ea + (m + q) * dc, s.part_a.data() + q * cw + dc,
                    static_cast<size_t>(dc) * sizeof(float));
        std::memcpy(ez + (m + q) * dc, s.part_z.data() + q * cw + dc,
                    static_cast<size_t>(dc) * sizeof(float));
        // This block's A halves feed the next entry.
        std::memcpy(s.prev_a.data() + q * dc, s.part_a.data() + q * cw,
                    static_cast<size_t>(dc) * sizeof(float));
        std::memcpy(s.prev_z.data() + q * dc, s.part_z.data() + q * cw,
                    static_cast<size_t>(dc) * sizeof(float));
      }
    } else {
      std::memcpy(ea, s.part_a.data(), static_cast<size_t>(m * dc) * sizeof(float));
      std::memcpy(ez, s.part_z.data(), static_cast<size_t>(m * dc) * sizeof(float));
    }
  }
  const auto n_new = static_cast<int64_t>(block_pos.size());
  if (n_new == 0) return;
  auto pooled = zeros<bf16>(n_new * dc);
  k::compress_pool(batch_a.data(), batch_z.data(), n_new, slots, dc, pooled.data());
  auto v = zeros<bf16>(n_new * dc);
  k::rms_norm(pooled.data(), n_new, dc, w.norm, static_cast<float>(c.rms_norm_eps), v.data());
  k::rope_rotate(v.data(), n_new, dc, dc, r, block_pos.data(), rope, /*inverse=*/false);
  if (indexer_keys) {
    std::vector<float> f(v.size());
    for (size_t i = 0; i < v.size(); ++i) f[i] = k::bf16_to_f32(v[i]);
    k::hadamard(f.data(), n_new, dc);
    for (size_t i = 0; i < v.size(); ++i) v[i] = k::f32_to_bf16(f[i]);
    k::q4_simulate(v.data(), n_new, dc, dc);
  } else {
    k::k8_simulate(v.data(), n_new, dc, dc - r);
  }
  s.entries.insert(s.entries.end(), v.begin(), v.end());
  s.n_entries += n_new;
}

// Had then Q4 on every head of x [rows, dim] (the indexer query; §3.7 step 2).
void hadamard_q4(bf16* x, int64_t rows, int64_t dim) {
  std::vector<float> f(static_cast<size_t>(rows * dim));
  for (size_t i = 0; i < f.size(); ++i) f[i] = k::bf16_to_f32(x[i]);
  k::hadamard(f.data(), rows, dim);
  for (size_t i = 0; i < f.size(); ++i) x[i] = k::f32_to_bf16(f[i]);
  k::q4_simulate(x, rows, dim, dim);
}

}  // namespace


// The forward pass of one call over the Sequence's state.
struct SequenceForward {
  Sequence& seq;
  const V4Config& c;
  const Model::Weights& w;
  int64_t start;              // position of the call's first row
  int64_t rows;               // T
  std::vector<int64_t> pos;   // [T]
  std::span<const uint32_t> ids;

  float eps() const { return static_cast<float>(c.rms_norm_eps); }

  // The attention sub-layer (§3.4, §3.7–§3.9); x: normalised collapsed input [T, d];
  // out [T, d].
  void attention(size_t li, const bf16* x, bf16* out) {
    const LayerWeights& lw = w.layers[li];
    Sequence::LayerState& st = seq.layers_[li];
    const int64_t T = rows, H = c.num_attention_heads, D = c.head_dim;
    const int64_t r = c.qk_rope_head_dim, ql = c.q_lora_rank, W = c.sliding_window;
    const int64_t G = c.o_groups, R = c.o_lora_rank, hg = H * D / G;

    // 1. Query latent (also the indexer's query input).
    auto qa = zeros<bf16>(T * ql), cq = zeros<bf16>(T * ql);
    lw.wq_a(x, T, qa.data());
    k::rms_norm(qa.data(), T, ql, lw.q_norm, eps(), cq.data());
    // 2. Query: per-head unweighted RMS norm in BF16, RoPE on the last r dims.
    auto q = zeros<bf16>(T * H * D);
    lw.wq_b(cq.data(), T, q.data());
    k::head_rms_norm_bf16(q.data(), T, H, D, eps());
    std::vector<int64_t> pos_heads(static_cast<size_t>(T * H));
    for (int64_t t = 0; t < T; ++t)
      std::fill_n(pos_heads.begin() + t * H, H, pos[static_cast<size_t>(t)]);
    k::rope_rotate(q.data(), T * H, D, D, r, pos_heads.data(), lw.rope, /*inverse=*/false);
    // 3. KV: norm, RoPE, K8 on the nope dims.
    auto kv_lin = zeros<bf16>(T * D), kv = zeros<bf16>(T * D);
    lw.wkv(x, T, kv_lin.data());
    k::rms_norm(kv_lin.data(), T, D, lw.kv_norm, eps(), kv.data());
    k::rope_rotate(kv.data(), T, D, D, r, pos.data(), lw.rope, /*inverse=*/false);
    k::k8_simulate(kv.data(), T, D, D - r);

    // Raw keys of the call: positions lo .. start+T-1 (ring history, then the call's rows).
    const int64_t lo = std::max<int64_t>(0, start - (W - 1));
    const int64_t n_raw = start - lo + T;
    std::vector<bf16> kv_all;
    kv_all.reserve(static_cast<size_t>(n_raw * D));
    for (int64_t p = lo; p < start; ++p) {
      const bf16* slot = st.window.data() + (p % W) * D;
      kv_all.insert(kv_all.end(), slot, slot + D);
    }
    kv_all.insert(kv_all.end(), kv.begin(), kv.end());
    for (int64_t t = std::max<int64_t>(0, T - W); t < T; ++t)
      std::memcpy(st.window.data() + (pos[static_cast<size_t>(t)] % W) * D, kv.data() + t * D,
                  static_cast<size_t>(D) * sizeof(bf16));

    // 4. Compressed branch: emit the entries of blocks that end in this call.
    if (lw.kind != LayerKind::kWindow)
      run_compressor(c, lw.compressor, st.kv, x, T, pos.data(), lw.rope, false);
    std::vector<int32_t> selected;  // CSA: [T, topk] entry ids, -1 padded
    int64_t topk = 0;
    if (lw.kind == LayerKind::kCsa) {
      topk = c.index_topk;
      selected = index_select(lw, st, x, cq.data());
    }

    // 5. Key lists in the official layout (get_window_topk_idxs / get_compress_topk_idxs):
    // a window part of fixed width (min(T, W) for a call at position 0, else W) holding the
    // positions in ascending order then -1 padding, followed by the compressed entries. Only the
    // official kernel's 64-key tiles make the layout matter (rounding), not the key set.
    // Compressed entries are gathered once each into kv_all after the raw keys.
    std::vector<int64_t> n_compressed(static_cast<size_t>(T), 0);
    int64_t max_compressed = 0;
    if (lw.kind == LayerKind::kHca) {
      for (int64_t t = 0; t < T; ++t)
        n_compressed[static_cast<size_t>(t)] = (pos[static_cast<size_t>(t)] + 1) / lw.ratio;
      max_compressed = n_compressed.back();
    } else if (lw.kind == LayerKind::kCsa) {
      max_compressed = topk;
    }
    const int64_t window_width = start == 0 ? std::min(T, W) : W;
    const int64_t max_keys = window_width + max_compressed;
    std::vector<int32_t> key_idx(static_cast<size_t>(T * max_keys), -1);
    std::vector<int32_t> slot_of;  // entry id -> row of kv_all
    auto entry_slot = [&](int64_t b) {
      if (slot_of.empty()) slot_of.assign(static_cast<size_t>(st.kv.n_entries), -1);
      int32_t& s = slot_of[static_cast<size_t>(b)];
      if (s < 0) {
        s = static_cast<int32_t>(kv_all.size() / static_cast<size_t>(D));
        const bf16* e = st.kv.entries.data() + b * D;
        kv_all.insert(kv_all.end(), e, e + D);
      }
      return s;
    };
    for (int64_t t = 0; t < T; ++t) {
      const int64_t p = pos[static_cast<size_t>(t)];
      int32_t* row = key_idx.data() + t * max_keys;
      int64_t n = 0;
      for (int64_t q = std::max<int64_t>(0, p - W + 1); q <= p; ++q)
        row[n++] = static_cast<int32_t>(q - lo);
      n = window_width;  // the rest of the window part stays -1
      if (lw.kind == LayerKind::kHca) {
        for (int64_t b = 0; b < n_compressed[static_cast<size_t>(t)]; ++b) row[n++] = entry_slot(b);
      } else if (lw.kind == LayerKind::kCsa) {
        for (int64_t j = 0; j < topk; ++j) {
          int32_t b = selected[static_cast<size_t>(t * topk + j)];
          if (b >= 0) row[n++] = entry_slot(b);
        }
      }
    }
    // 6. Attention with the sink, then the inverse RoPE.
    auto o = zeros<bf16>(T * H * D);
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
    k::sparse_attention(q.data(), T, H, D, kv_all.data(), key_idx.data(), max_keys, lw.sink,
                        scale, o.data());
    k::rope_rotate(o.data(), T * H, D, D, r, pos_heads.data(), lw.rope, /*inverse=*/true);
    // 8. Grouped output projection: z_g = wo_a[g] · u_g (BF16), out = wo_b · A8(z).
    auto u = zeros<bf16>(T * hg), zg = zeros<bf16>(T * R), z = zeros<bf16>(T * G * R);
    for (int64_t g = 0; g < G; ++g) {
      for (int64_t t = 0; t < T; ++t)
        std::memcpy(u.data() + t * hg, o.data() + t * H * D + g * hg,
                    static_cast<size_t>(hg) * sizeof(bf16));
      k::bf16_linear(u.data(), T, hg, lw.wo_a.data() + g * R * hg, R, zg.data());
      for (int64_t t = 0; t < T; ++t)
        std::memcpy(z.data() + t * G * R + g * R, zg.data() + t * R,
                    static_cast<size_t>(R) * sizeof(bf16));
    }
    lw.wo_b(z.data(), T, out);
  }

  // The lightning indexer (§3.7): updates the indexer keys, scores every row against the keys
  // it may see and returns the top-k entry ids per row [T, index_topk] (ascending, -1 padded).
  std::vector<int32_t> index_select(const LayerWeights& lw, Sequence::LayerState& st,
                                    const bf16* x, const bf16* cq) {
    const int64_t T = rows, d = c.hidden_size, Hi = c.index_n_heads, Di = c.index_head_dim;
    const int64_t r = c.qk_rope_head_dim, topk = c.index_topk;
    run_compressor(c, lw.index_compressor, st.index, x, T, pos.data(), lw.rope, true);
    auto qi = zeros<bf16>(T * Hi * Di);
    lw.index_wq_b(cq, T, qi.data());
    std::vector<int64_t> pos_heads(static_cast<size_t>(T * Hi));
    for (int64_t t = 0; t < T; ++t)
      std::fill_n(pos_heads.begin() + t * Hi, Hi, pos[static_cast<size_t>(t)]);
    k::rope_rotate(qi.data(), T * Hi, Di, Di, r, pos_heads.data(), lw.rope, false);
    hadamard_q4(qi.data(), T * Hi, Di);
    // Head weights: weights_proj · x (BF16 linear) times Di^-½ · Hi^-½, rounded to BF16 as the
    // reference's BF16 tensor-times-scalar does.
    auto wh = zeros<bf16>(T * Hi);
    k::bf16_linear(x, T, d, lw.index_weights_proj, Hi, wh.data());
    const auto head_scale = static_cast<float>(std::pow(static_cast<double>(Di), -0.5) *
                                               std::pow(static_cast<double>(Hi), -0.5));
    for (bf16& v : wh) v = k::f32_to_bf16(k::bf16_to_f32(v) * head_scale);

    const int64_t n_keys = st.index.n_entries;
    std::vector<int32_t> selected(static_cast<size_t>(T * topk), -1);
    if (n_keys == 0) return selected;
    // Rows in blocks so that the score matrix stays small at long context.
    const int64_t block = std::max<int64_t>(1, (int64_t{1} << 24) / n_keys);
    std::vector<float> scores;
    std::vector<int64_t> n_visible;
    for (int64_t t0 = 0; t0 < T; t0 += block) {
      const int64_t nb = std::min(block, T - t0);
      scores.resize(static_cast<size_t>(nb * n_keys));
      n_visible.resize(static_cast<size_t>(nb));
      for (int64_t t = 0; t < nb; ++t)
        n_visible[static_cast<size_t>(t)] = (pos[static_cast<size_t>(t0 + t)] + 1) / 4;
      k::indexer_scores(qi.data() + t0 * Hi * Di, wh.data() + t0 * Hi, nb, Hi, Di,
                        st.index.entries.data(), n_keys, n_visible.data(), scores.data());
      k::topk_indices(scores.data(), nb, n_keys, n_visible.data(), topk,
                      selected.data() + t0 * topk);
    }
    return selected;
  }

  // The MoE sub-layer (§3.10); x [T, d] normalised, out [T, d].
  void moe(size_t li, const bf16* x, bf16* out) {
    const LayerWeights& lw = w.layers[li];
    const int64_t T = rows, d = c.hidden_size, E = c.n_routed_experts;
    const int64_t K = c.num_experts_per_tok, I = c.moe_intermediate_size;
    const auto limit = static_cast<float>(c.swiglu_limit);
    auto logits = zeros<float>(T * E);
    k::f32_linear(x, T, d, lw.gate, E, logits.data());
    std::vector<int64_t> hash_ids;
    if (lw.hash_routed) {
      hash_ids.resize(static_cast<size_t>(T * K));
      for (int64_t t = 0; t < T; ++t)
        std::memcpy(hash_ids.data() + t * K, lw.tid2eid + int64_t{ids[static_cast<size_t>(t)]} * K,
                    static_cast<size_t>(K) * sizeof(int64_t));
    }
    std::vector<int32_t> experts(static_cast<size_t>(T * K));
    auto weights = zeros<float>(T * K);
    k::moe_route(logits.data(), T, E, K, lw.hash_routed ? nullptr : lw.gate_bias,
                 lw.hash_routed ? hash_ids.data() : nullptr,
                 static_cast<float>(c.routed_scaling_factor), experts.data(), weights.data());

    // Routed experts in id order, each over the rows that selected it, summed in FP32 as the
    // reference accumulates them; then the shared expert; one rounding to BF16.
    auto acc = zeros<float>(T * d);
    std::vector<int64_t> sel_rows;
    std::vector<float> sel_w;
    std::vector<bf16> xe, a, b, u, ye;
    for (int64_t e = 0; e < E; ++e) {
      sel_rows.clear();
      sel_w.clear();
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < K; ++j)
          if (experts[static_cast<size_t>(t * K + j)] == e) {
            sel_rows.push_back(t);
            sel_w.push_back(weights[static_cast<size_t>(t * K + j)]);
          }
      const auto n = static_cast<int64_t>(sel_rows.size());
      if (n == 0) continue;
      xe.resize(static_cast<size_t>(n * d));
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(xe.data() + i * d, x + sel_rows[static_cast<size_t>(i)] * d,
                    static_cast<size_t>(d) * sizeof(bf16));
      a.resize(static_cast<size_t>(n * I));
      b.resize(a.size());
      u.resize(a.size());
      ye.resize(static_cast<size_t>(n * d));
      lw.expert_w1[static_cast<size_t>(e)](xe.data(), n, a.data());
      lw.expert_w3[static_cast<size_t>(e)](xe.data(), n, b.data());
      k::swiglu_clamped(a.data(), b.data(), n, I, limit, sel_w.data(), u.data());
      lw.expert_w2[static_cast<size_t>(e)](u.data(), n, ye.data());
      for (int64_t i = 0; i < n; ++i) {
        float* dst = acc.data() + sel_rows[static_cast<size_t>(i)] * d;
        const bf16* src = ye.data() + i * d;
        for (int64_t j = 0; j < d; ++j) dst[j] += k::bf16_to_f32(src[j]);
      }
    }
    a.resize(static_cast<size_t>(T * I));
    b.resize(a.size());
    u.resize(a.size());
    ye.resize(static_cast<size_t>(T * d));
    lw.shared_w1(x, T, a.data());
    lw.shared_w3(x, T, b.data());
    k::swiglu_clamped(a.data(), b.data(), T, I, limit, nullptr, u.data());
    lw.shared_w2(u.data(), T, ye.data());
    for (int64_t i = 0; i < T * d; ++i)
      out[i] = k::f32_to_bf16(acc[static_cast<size_t>(i)] + k::bf16_to_f32(ye[static_cast<size_t>(i)]));
  }

  // One mHC-wrapped sub-layer (§3.2): h [T, hc, d] is replaced by the mixed streams.
  template <class Sublayer>
  void mhc(const MhcWeights& hw, std::vector<bf16>& h, Sublayer&& sublayer) {
    const int64_t T = rows, hc = c.hc_mult, d = c.hidden_size;
    auto pre = zeros<float>(T * hc), post = zeros<float>(T * hc), comb = zeros<float>(T * hc * hc);
    k::mhc_pre(h.data(), T, hc, d, hw.fn, hw.base, hw.scale, c.hc_sinkhorn_iters,
               static_cast<float>(c.hc_eps), eps(), pre.data(), post.data(), comb.data());
    auto collapsed = zeros<bf16>(T * d), xn = zeros<bf16>(T * d), y = zeros<bf16>(T * d);
    k::mhc_collapse(h.data(), T, hc, d, pre.data(), collapsed.data());
    k::rms_norm(collapsed.data(), T, d, hw.norm, eps(), xn.data());
    sublayer(xn.data(), y.data());
    auto mixed = zeros<bf16>(T * hc * d);
    k::mhc_expand(h.data(), y.data(), T, hc, d, post.data(), comb.data(), mixed.data());
    h.swap(mixed);
  }

  Logits run(LogitRows which) {
    const int64_t T = rows, hc = c.hc_mult, d = c.hidden_size, V = c.vocab_size;
    // §3.1: embedding copied into the hc streams.
    auto h = zeros<bf16>(T * hc * d);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t s = 0; s < hc; ++s)
        std::memcpy(h.data() + (t * hc + s) * d, w.embed + int64_t{ids[static_cast<size_t>(t)]} * d,
                    static_cast<size_t>(d) * sizeof(bf16));
    for (size_t li = 0; li < w.layers.size(); ++li) {
      mhc(w.layers[li].hc_attn, h, [&](const bf16* x, bf16* y) { attention(li, x, y); });
      mhc(w.layers[li].hc_ffn, h, [&](const bf16* x, bf16* y) { moe(li, x, y); });
    }
    // §3.11: head over the wanted rows.
    const int64_t n = which == LogitRows::kAll ? T : 1;
    const bf16* hs = h.data() + (T - n) * hc * d;
    auto pre = zeros<float>(n * hc);
    k::mhc_head_pre(hs, n, hc, d, w.hc_head_fn, w.hc_head_base, w.hc_head_scale,
                    static_cast<float>(c.hc_eps), eps(), pre.data());
    auto collapsed = zeros<bf16>(n * d), xn = zeros<bf16>(n * d);
    k::mhc_collapse(hs, n, hc, d, pre.data(), collapsed.data());
    k::rms_norm(collapsed.data(), n, d, w.norm, eps(), xn.data());
    Logits out;
    out.rows = n;
    out.vocab = V;
    out.values.resize(static_cast<size_t>(n * V));
    k::f32_linear(xn.data(), n, d, w.head, V, out.values.data());
    return out;
  }
};

Result<Logits> Sequence::prefill(std::span<const uint32_t> ids, LogitRows rows) {
  const V4Config& c = model_->config_;
  if (ids.empty()) return InvalidArgument("v4 model: prefill of zero tokens");
  for (size_t i = 0; i < ids.size(); ++i)
    if (int64_t{ids[i]} >= c.vocab_size)
      return InvalidArgument("v4 model: token id " + std::to_string(ids[i]) + " at offset " +
                             std::to_string(i) + " is >= vocab_size " +
                             std::to_string(c.vocab_size));
  const auto T = static_cast<int64_t>(ids.size());
  if (length_ + T > model_->max_context_)
    return InvalidArgument("v4 model: " + std::to_string(length_ + T) +
                           " tokens exceed the context window of " +
                           std::to_string(model_->max_context_));
  SequenceForward f{*this, c, *model_->weights_, length_, T, {}, ids};
  f.pos.resize(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) f.pos[static_cast<size_t>(t)] = length_ + t;
  Logits out = f.run(rows);
  length_ += T;
  return out;
}

Result<Logits> Sequence::decode(uint32_t id) {
  return prefill(std::span<const uint32_t>(&id, 1), LogitRows::kLast);
}

}  // namespace v4eval::v4
