// Universal quantize / dequantize, C++ backend (see quantize.h for the math, dither_hash.h for u).
#include "dither_hash.h"
#include "quantize.h"
#include "registry.h"

namespace {

// Shapes: y/k (N,C,H,W) contiguous; level (N,LC,H,W) int32 with LC = 1 (broadcast over C) or C.
struct Geometry {
  int64_t N, C, H, W, LC;
  const int32_t* level(std::uintptr_t p, int64_t n, int64_t c, int64_t y) const {
    return rac::as_ptr<const int32_t>(p) + ((n * LC + (LC == 1 ? 0 : c)) * H + y) * W;
  }
};

void check(const Geometry& g, int64_t levels) {
  rac::require(g.N >= 0 && g.C >= 0 && g.H >= 0 && g.W >= 0, "quantize: negative size");
  rac::require(g.LC == 1 || g.LC == g.C, "quantize: level map must have 1 or C channels");
  rac::require(levels > 0, "quantize: empty delta table");
}

void quantize(std::uintptr_t y, std::uintptr_t level, std::uintptr_t delta, int64_t levels, std::uintptr_t k,
              int64_t N, int64_t C, int64_t H, int64_t W, int64_t LC, uint32_t seed, uint32_t frame0) {
  const Geometry g{N, C, H, W, LC};
  check(g, levels);
  const float* d = rac::as_ptr<const float>(delta);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < N * C * H; ++r) {
    const int64_t row = r % H, c = (r / H) % C, n = r / (H * C);
    const uint32_t key = rac::dither_row_key(seed, frame0 + static_cast<uint32_t>(n), static_cast<uint32_t>(c),
                                             static_cast<uint32_t>(row));
    const float* yr = rac::as_ptr<const float>(y) + r * W;
    const int32_t* lr = g.level(level, n, c, row);
    int32_t* kr = rac::as_ptr<int32_t>(k) + r * W;
    for (int64_t x = 0; x < W; ++x) {
      const float u = rac::dither_value(rac::dither_bits(key, static_cast<uint32_t>(x)));
      kr[x] = rac::quantize_value(yr[x], d[lr[x]], u);
    }
  }
}

void dequantize(std::uintptr_t k, std::uintptr_t level, std::uintptr_t delta, int64_t levels, std::uintptr_t y,
                int64_t N, int64_t C, int64_t H, int64_t W, int64_t LC, uint32_t seed, uint32_t frame0) {
  const Geometry g{N, C, H, W, LC};
  check(g, levels);
  const float* d = rac::as_ptr<const float>(delta);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < N * C * H; ++r) {
    const int64_t row = r % H, c = (r / H) % C, n = r / (H * C);
    const uint32_t key = rac::dither_row_key(seed, frame0 + static_cast<uint32_t>(n), static_cast<uint32_t>(c),
                                             static_cast<uint32_t>(row));
    const int32_t* kr = rac::as_ptr<const int32_t>(k) + r * W;
    const int32_t* lr = g.level(level, n, c, row);
    float* yr = rac::as_ptr<float>(y) + r * W;
    for (int64_t x = 0; x < W; ++x) {
      const float u = rac::dither_value(rac::dither_bits(key, static_cast<uint32_t>(x)));
      yr[x] = rac::dequantize_value(kr[x], d[lr[x]], u);
    }
  }
}

}  // namespace

RAC_OPS(quantize) {
  namespace py = pybind11;
  m.def("quantize", &quantize, py::call_guard<py::gil_scoped_release>(),
        "k = floor(y/Δ[level] + u + 1/2) with the hashed dither u (int32 out)");
  m.def("dequantize", &dequantize, py::call_guard<py::gil_scoped_release>(),
        "ŷ = Δ[level]·(k − u) with the hashed dither u (float32 out)");
}
