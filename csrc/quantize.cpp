// Universal quantize / dequantize, C++ backend (see quantize.h for the math, dither_hash.h for u).
//
// Memory-bound loop structure (docs/design.md §4): the level map is (N,1,H,W) in the codec, shared by
// all C channels, so the table gather Δ = delta_table[level] runs once per pixel into a small
// per-thread buffer (a block of pixel rows, L1/L2-resident) and is reused for every channel; the
// per-element loop then only streams y (or k) in and k (or ŷ) out, computes the dither hash inline
// and vectorises (AVX-512 / AVX2 clones; the baseline x86-64 build has no 32-bit vector multiply and
// no vector floor, which made it ~20x slower than memory).
//
// Bad levels: the gather clamps every index into 0..levels−1 (never reads outside the table), counts
// the out-of-range ones, and the call raises std::invalid_argument (Python ValueError) afterwards —
// the check costs one compare per *pixel*, inside the gather that runs anyway. The table itself is
// checked (finite, > 0) on entry: O(levels), no pass over the data.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include <omp.h>
#include <vector>

#include "dither_hash.h"
#include "quantize.h"
#include "registry.h"

#define RAC_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))

namespace rac {

// Validates a delta table (finite, positive): O(levels) on the host.
inline void check_delta_table(const float* d, int64_t levels, const char* op) {
  require(levels > 0, std::string(op) + ": empty delta table");
  for (int64_t i = 0; i < levels; ++i)
    require(std::isfinite(d[i]) && d[i] > 0.0f, std::string(op) + ": delta_table must be finite and positive");
}

// drow[x] = d[clamp(level[x])]; returns how many levels were outside 0..levels−1.
RAC_CLONES inline int64_t gather_delta(const int32_t* lr, const float* d, uint32_t levels, float* drow, int64_t W) {
  int64_t bad = 0;
  const uint32_t last = levels - 1;
  for (int64_t x = 0; x < W; ++x) {
    const uint32_t l = static_cast<uint32_t>(lr[x]);  // negative -> huge -> clamped to the last level
    bad += l > last;
    drow[x] = d[l > last ? last : l];
  }
  return bad;
}

inline void raise_bad_levels(int64_t bad, int64_t levels, const char* op) {
  if (bad)
    throw std::invalid_argument(std::string(op) + ": level values must be in 0.." + std::to_string(levels - 1) +
                                " (" + std::to_string(bad) + " were not; computed with clamped levels)");
}

}  // namespace rac

namespace {

RAC_CLONES void quantize_row(const float* y, const float* d, int32_t* k, uint32_t key, int64_t W) {
  for (int64_t x = 0; x < W; ++x)
    k[x] = rac::quantize_value(y[x], d[x], rac::dither_value(rac::dither_bits(key, static_cast<uint32_t>(x))));
}

RAC_CLONES void dequantize_row(const int32_t* k, const float* d, float* y, uint32_t key, int64_t W) {
  for (int64_t x = 0; x < W; ++x)
    y[x] = rac::dequantize_value(k[x], d[x], rac::dither_value(rac::dither_bits(key, static_cast<uint32_t>(x))));
}

// Shapes: in/out (N,C,H,W) contiguous; level (N,LC,H,W) int32 with LC = 1 (broadcast over C) or C.
template <bool kEncode>
void run(std::uintptr_t in, std::uintptr_t level, std::uintptr_t delta, int64_t levels, std::uintptr_t out,
         int64_t N, int64_t C, int64_t H, int64_t W, int64_t LC, uint32_t seed, uint32_t dither_frame) {
  const char* op = kEncode ? "quantize" : "dequantize";
  rac::require(N >= 0 && C >= 0 && H >= 0 && W >= 0, std::string(op) + ": negative size");
  rac::require(LC == 1 || LC == C, std::string(op) + ": level map must have 1 or C channels");
  rac::require(levels > 0 && levels <= (int64_t{1} << 31), std::string(op) + ": delta table size out of range");
  const float* d = rac::as_ptr<const float>(delta);
  rac::check_delta_table(d, levels, op);
  if (N * C * H * W == 0) return;
  // Blocks of R pixel rows: Δ gathered once per block into an L2-resident buffer (≤ 64 Ki pixels), applied
  // to the C channels (LC = 1) or to its own channel (LC = C). Long blocks keep each channel's read and
  // write streams long (the prefetchers ramp up per stream); R shrinks so every thread gets ≥ 2 blocks.
  // (Streaming stores for the output were measured slower on this machine — 60 % vs 67 % of a same-bytes
  // copy, 1 thread, 4×16×270×480 — and are not used.)
  const int64_t threads = omp_get_max_threads();
  const int64_t by_cache = std::max<int64_t>(1, 65536 / std::max<int64_t>(W, 1));
  const int64_t by_threads = std::max<int64_t>(1, (N * (LC == 1 ? 1 : C) * H + 2 * threads - 1) / (2 * threads));
  const int64_t R = std::max<int64_t>(1, std::min({H, by_cache, by_threads}));
  const int64_t hblocks = (H + R - 1) / R;
  const int64_t G = LC == 1 ? 1 : C;  // level planes per image
  const int64_t blocks = N * G * hblocks;
  std::atomic<int64_t> bad{0};
#pragma omp parallel if (N * C * H * W > 32768)
  {
    std::vector<float> dbuf(static_cast<size_t>(R * W));
    int64_t my_bad = 0;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t hb = b % hblocks, g = (b / hblocks) % G, n = b / (hblocks * G);
      const int64_t y0 = hb * R, y1 = std::min(H, y0 + R);
      const int32_t* lp = rac::as_ptr<const int32_t>(level) + ((n * LC + g) * H + y0) * W;
      my_bad += rac::gather_delta(lp, d, static_cast<uint32_t>(levels), dbuf.data(), (y1 - y0) * W);
      for (int64_t c = (G == 1 ? 0 : g); c < (G == 1 ? C : g + 1); ++c) {
        for (int64_t yy = y0; yy < y1; ++yy) {
          const uint32_t key = rac::dither_row_key(seed, dither_frame + static_cast<uint32_t>(n),
                                                   static_cast<uint32_t>(c), static_cast<uint32_t>(yy));
          const int64_t off = ((n * C + c) * H + yy) * W;
          const float* dr = dbuf.data() + (yy - y0) * W;
          if constexpr (kEncode)
            quantize_row(rac::as_ptr<const float>(in) + off, dr, rac::as_ptr<int32_t>(out) + off, key, W);
          else
            dequantize_row(rac::as_ptr<const int32_t>(in) + off, dr, rac::as_ptr<float>(out) + off, key, W);
        }
      }
    }
    if (my_bad) bad += my_bad;
  }
  rac::raise_bad_levels(bad.load(), levels, op);
}

void quantize(std::uintptr_t y, std::uintptr_t level, std::uintptr_t delta, int64_t levels, std::uintptr_t k,
              int64_t N, int64_t C, int64_t H, int64_t W, int64_t LC, uint32_t seed, uint32_t dither_frame) {
  run<true>(y, level, delta, levels, k, N, C, H, W, LC, seed, dither_frame);
}

void dequantize(std::uintptr_t k, std::uintptr_t level, std::uintptr_t delta, int64_t levels, std::uintptr_t y,
                int64_t N, int64_t C, int64_t H, int64_t W, int64_t LC, uint32_t seed, uint32_t dither_frame) {
  run<false>(k, level, delta, levels, y, N, C, H, W, LC, seed, dither_frame);
}

}  // namespace

RAC_OPS(quantize) {
  namespace py = pybind11;
  m.def("quantize", &quantize, py::call_guard<py::gil_scoped_release>(),
        "k = floor(y/Δ[level] + u + 1/2) with the hashed dither u (int32 out); raises on levels outside the "
        "table (computed clamped) and on a non-finite or non-positive Δ");
  m.def("dequantize", &dequantize, py::call_guard<py::gil_scoped_release>(),
        "ŷ = Δ[level]·(k − u) with the hashed dither u (float32 out); level/Δ checks as quantize");
}
