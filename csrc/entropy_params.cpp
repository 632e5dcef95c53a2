// Gaussian-conditional entropy parameters, C++ backend (math in entropy_params.h, dither in dither_hash.h).
#include <atomic>
#include <string>
#include <vector>

#include "dither_hash.h"
#include "entropy_params.h"
#include "registry.h"

namespace {

// One row: levels clamped into the table (never an out-of-bounds read), the out-of-range ones counted
// (the call raises afterwards). Cloned for AVX-512 / AVX2 so the dither hash and divisions vectorise.
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) int64_t entropy_row(
    const float* mr, const float* sr, const int32_t* lr, const float* d, uint32_t last, uint32_t key,
    const float* bd, int32_t nbi, int32_t B, const int32_t* kr, int32_t* orow, int32_t* irow, float* br,
    float scale_min, float floor_p, int64_t W) {
  int64_t bad = 0;
  for (int64_t x = 0; x < W; ++x) {
    const uint32_t l = static_cast<uint32_t>(lr[x]);
    bad += l > last;
    const float dl = d[l > last ? last : l];
    const float u = rac::dither_value(rac::dither_bits(key, static_cast<uint32_t>(x)));
    const float m = rac::ep_mean(mr[x], dl, u);
    const float q = rac::ep_div(sr[x], dl);
    const int32_t off = rac::ep_offset(m);
    orow[x] = off;
    irow[x] = rac::ep_scale_index(q, bd, nbi) * B + rac::ep_mean_bucket(m, off, B);
    if (br) br[x] = rac::ep_bits(kr[x], m, q, scale_min, floor_p);
  }
  return bad;
}

// The coder's row (no likelihoods) in two vectorisable passes: first m, s/Δ and the offset of every element
// (kept in per-thread scratch), then the scale index as a count over the bounds — for each bound one
// compare-and-add sweep over the row (broadcast bound, no gathers: AMD's gathers are microcoded) —, then the
// table index. The count of !(r <= b) is ep_scale_index's result (a NaN counts every bound).
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) int64_t entropy_row_scan(
    const float* mr, const float* sr, const int32_t* lr, const float* d, uint32_t last, uint32_t key,
    const float* bd, int32_t nbi, int32_t B, int32_t* orow, int32_t* irow, float* mbuf, float* qbuf, int64_t W) {
  int64_t bad = 0;
  for (int64_t x = 0; x < W; ++x) {            // the table gather on its own (it would keep the rest scalar)
    const uint32_t l = static_cast<uint32_t>(lr[x]);
    bad += l > last;
    qbuf[x] = d[l > last ? last : l];
  }
  for (int64_t x = 0; x < W; ++x) {
    const float dl = qbuf[x];
    const float u = rac::dither_value(rac::dither_bits(key, static_cast<uint32_t>(x)));
    const float m = rac::ep_mean(mr[x], dl, u);
    mbuf[x] = m;
    qbuf[x] = rac::ep_div(sr[x], dl);
    orow[x] = rac::ep_offset(m);
  }
  constexpr int64_t kChunk = 64;                 // counts of a chunk stay in registers across the bounds
  for (int64_t x0 = 0; x0 < W; x0 += kChunk) {
    float q[kChunk];
    int32_t cnt[kChunk];
    const int64_t n = W - x0 < kChunk ? W - x0 : kChunk;
    for (int64_t t = 0; t < kChunk; ++t) {
      q[t] = t < n ? qbuf[x0 + t] : 0.0f;
      cnt[t] = 0;
    }
    for (int32_t i = 0; i < nbi; ++i) {
      const float b = bd[i];
      for (int64_t t = 0; t < kChunk; ++t) cnt[t] += !(q[t] <= b);
    }
    for (int64_t t = 0; t < n; ++t) irow[x0 + t] = cnt[t];
  }
  for (int64_t x = 0; x < W; ++x) irow[x] = irow[x] * B + rac::ep_mean_bucket(mbuf[x], orow[x], B);
  return bad;
}

constexpr int64_t kScanMaxBounds = 256;   // beyond this many bounds the binary search of entropy_row wins

// mu, scale, k: (N,C,H,W) contiguous; level (N,LC,H,W) int32 with LC = 1 (broadcast over C) or C.
// k == 0 / bits == 0: no likelihood. bounds: nb ascending float32 scale-table bounds.
void entropy_params(std::uintptr_t mu, std::uintptr_t scale, std::uintptr_t level, std::uintptr_t delta,
                    int64_t levels, std::uintptr_t bounds, int64_t nb, std::uintptr_t k, std::uintptr_t offset,
                    std::uintptr_t index, std::uintptr_t bits, int64_t N, int64_t C, int64_t H, int64_t W,
                    int64_t LC, uint32_t seed, uint32_t dither_frame, float scale_min, float floor_p, int64_t buckets) {
  rac::require(N >= 0 && C >= 0 && H >= 0 && W >= 0, "entropy_params: negative size");
  rac::require(LC == 1 || LC == C, "entropy_params: level map must have 1 or C channels");
  rac::require(levels > 0, "entropy_params: empty delta table");
  rac::require(nb >= 1 && nb < (1 << 20), "entropy_params: need 1..2^20 scale bounds");
  rac::require((k == 0) == (bits == 0), "entropy_params: k and bits go together");
  rac::require(buckets >= 1 && buckets <= 256 && (buckets & (buckets - 1)) == 0,
               "entropy_params: mean buckets must be a power of two in 1..256");
  const int32_t B = static_cast<int32_t>(buckets);
  const float* d = rac::as_ptr<const float>(delta);
  const float* bd = rac::as_ptr<const float>(bounds);
  const int32_t nbi = static_cast<int32_t>(nb);
  for (int64_t i = 0; i < levels; ++i)
    rac::require(std::isfinite(d[i]) && d[i] > 0.0f, "entropy_params: delta_table must be finite and positive");
  // without likelihoods (the coder's path) and with a table of up to kScanMaxBounds bounds: the two-pass row
  const bool scan = k == 0 && nb <= kScanMaxBounds;
  std::atomic<int64_t> bad{0};
#pragma omp parallel
  {
    std::vector<float> mbuf(scan ? static_cast<size_t>(W) : 0), qbuf(scan ? static_cast<size_t>(W) : 0);
#pragma omp for schedule(static)
  for (int64_t r = 0; r < N * C * H; ++r) {
    const int64_t row = r % H, c = (r / H) % C, n = r / (H * C);
    const uint32_t key = rac::dither_row_key(seed, dither_frame + static_cast<uint32_t>(n), static_cast<uint32_t>(c),
                                             static_cast<uint32_t>(row));
    const int32_t* lr = rac::as_ptr<const int32_t>(level) + ((n * LC + (LC == 1 ? 0 : c)) * H + row) * W;
    if (scan) {
      const int64_t b = entropy_row_scan(rac::as_ptr<const float>(mu) + r * W, rac::as_ptr<const float>(scale) + r * W,
                                         lr, d, static_cast<uint32_t>(levels - 1), key, bd, nbi, B,
                                         rac::as_ptr<int32_t>(offset) + r * W, rac::as_ptr<int32_t>(index) + r * W,
                                         mbuf.data(), qbuf.data(), W);
      if (b) bad += b;
      continue;
    }
    const int64_t b = entropy_row(rac::as_ptr<const float>(mu) + r * W, rac::as_ptr<const float>(scale) + r * W, lr, d,
                                  static_cast<uint32_t>(levels - 1), key, bd, nbi, B,
                                  k ? rac::as_ptr<const int32_t>(k) + r * W : nullptr,
                                  rac::as_ptr<int32_t>(offset) + r * W, rac::as_ptr<int32_t>(index) + r * W,
                                  bits ? rac::as_ptr<float>(bits) + r * W : nullptr, scale_min, floor_p, W);
    if (b) bad += b;
  }
  }
  if (bad.load())
    throw std::invalid_argument("entropy_params: level values must be in 0.." + std::to_string(levels - 1) + " (" +
                                std::to_string(bad.load()) + " were not; computed with clamped levels)");
}

}  // namespace

RAC_OPS(entropy_params) {
  namespace py = pybind11;
  m.def("entropy_params", &entropy_params, py::call_guard<py::gil_scoped_release>(),
        "offset = floor(μ/Δ + u + ½), table index (scale index of s/Δ · B + mean bucket) and (with k) "
        "−log2 P(k) (see entropy_params.h)");
}
