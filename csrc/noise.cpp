// Forward noising q(z_t | y) at a per-element log-SNR, C++ backend (α/σ in vp_schedule.h).
//
//   out = α(γ)·y + σ(γ)·ξ,   ξ = √12·(U − ½)
//
// U is read from a float32 tensor (uniform != 0) or, with uniform == 0, U − ½ is the hashed dither
// u of (seed, dither_frame + n, c, row, col) from dither_hash.h — the same bits as hashed_dither(), so
// out = α·y + σ·√12·hashed_dither(y.shape, seed, dither_frame). y, U, out: (N,C,H,W) float32
// contiguous; γ: (N,GC,H,W) with GC ∈ {1, C}. out may alias y or U.
#include <vector>

#include "dither_hash.h"
#include "registry.h"
#include "vp_schedule.h"

namespace {

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void alpha_sigma_row(const float* g, float* a, float* s,
                                                                      int64_t W) {
  for (int64_t x = 0; x < W; ++x) {
    const rac::AlphaSigma v = rac::alpha_sigma(g[x]);
    a[x] = v.alpha;
    s[x] = v.sigma;
  }
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void noise_row_given(const float* y, const float* U, const float* a,
                                                                      const float* s, float* out, int64_t W) {
  for (int64_t x = 0; x < W; ++x) out[x] = a[x] * y[x] + s[x] * (rac::kSqrt12 * (U[x] - 0.5f));
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void noise_row_hashed(const float* y, uint32_t key, const float* a,
                                                                       const float* s, float* out, int64_t W) {
  for (int64_t x = 0; x < W; ++x) {
    const float u = rac::dither_value(rac::dither_bits(key, static_cast<uint32_t>(x)));
    out[x] = a[x] * y[x] + s[x] * (rac::kSqrt12 * u);
  }
}

void forward_noise(std::uintptr_t y, std::uintptr_t gamma, std::uintptr_t uniform, std::uintptr_t out, int64_t N,
                   int64_t C, int64_t H, int64_t W, int64_t GC, uint32_t seed, uint32_t dither_frame) {
  rac::require(N >= 0 && C >= 0 && H >= 0 && W >= 0, "forward_noise: negative size");
  rac::require(GC == 1 || GC == C, "forward_noise: gamma must have 1 or C channels");
  const int64_t rows = N * GC * H;
#pragma omp parallel if (rows * W * (C / (GC ? GC : 1)) > 32768)
  {
    std::vector<float> a(static_cast<size_t>(W)), s(static_cast<size_t>(W));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t row = r % H, g = (r / H) % GC, n = r / (GC * H);
      alpha_sigma_row(rac::as_ptr<const float>(gamma) + r * W, a.data(), s.data(), W);
      for (int64_t c = (GC == 1 ? 0 : g); c < (GC == 1 ? C : g + 1); ++c) {
        const int64_t off = ((n * C + c) * H + row) * W;
        const float* yr = rac::as_ptr<const float>(y) + off;
        float* o = rac::as_ptr<float>(out) + off;
        if (uniform) {
          noise_row_given(yr, rac::as_ptr<const float>(uniform) + off, a.data(), s.data(), o, W);
        } else {
          const uint32_t key = rac::dither_row_key(seed, dither_frame + static_cast<uint32_t>(n), static_cast<uint32_t>(c),
                                                   static_cast<uint32_t>(row));
          noise_row_hashed(yr, key, a.data(), s.data(), o, W);
        }
      }
    }
  }
}

}  // namespace

RAC_OPS(noise) {
  namespace py = pybind11;
  m.def("forward_noise", &forward_noise, py::arg("y"), py::arg("gamma"), py::arg("uniform"), py::arg("out"),
        py::arg("N"), py::arg("C"), py::arg("H"), py::arg("W"), py::arg("GC"), py::arg("seed"), py::arg("dither_frame"),
        py::call_guard<py::gil_scoped_release>(),
        "out = α(γ)·y + σ(γ)·√12·(U − ½); U from `uniform` or, when it is 0, the hashed dither");
}
