// Elementwise DDIM step (η = 0) between per-element log-SNRs, C++ backend (math in vp_schedule.h).
//
//   out = A(γ_from, γ_to)·z + B(γ_from, γ_to)·ε      (A = α_to/α_from, B = σ_to − A·σ_from)
//
// z, ε, out: (N,C,H,W) float32 contiguous; γ_from: (N,GF,H,W), γ_to: (N,GT,H,W) with GF, GT ∈ {1, C}.
// When both γ maps have one channel, A and B are computed once per pixel and applied to all C
// channels (C times fewer exps). out may be z or ε (every element is read before it is written).
#include <vector>

#include "registry.h"
#include "vp_schedule.h"

namespace {

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void coef_row(const float* gf, const float* gt, float* a,
                                                               float* b, int64_t W) {
  for (int64_t x = 0; x < W; ++x) {
    const rac::DdimCoef k = rac::ddim_coefficients(gf[x], gt[x]);
    a[x] = k.a;
    b[x] = k.b;
  }
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void apply_row(const float* z, const float* eps, const float* a,
                                                                const float* b, float* out, int64_t W) {
  for (int64_t x = 0; x < W; ++x) out[x] = a[x] * z[x] + b[x] * eps[x];
}

void ddim_step(std::uintptr_t z, std::uintptr_t eps, std::uintptr_t gamma_from, std::uintptr_t gamma_to,
               std::uintptr_t out, int64_t N, int64_t C, int64_t H, int64_t W, int64_t GF, int64_t GT) {
  rac::require(N >= 0 && C >= 0 && H >= 0 && W >= 0, "ddim_step: negative size");
  rac::require((GF == 1 || GF == C) && (GT == 1 || GT == C), "ddim_step: gamma maps must have 1 or C channels");
  const int64_t G = (GF == 1 && GT == 1) ? 1 : C;  // coefficient rows per (n, y)
  const int64_t rows = N * G * H;
#pragma omp parallel if (rows * W * (C / G) > 32768)
  {
    std::vector<float> a(static_cast<size_t>(W)), b(static_cast<size_t>(W));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t y = r % H, g = (r / H) % G, n = r / (G * H);
      const float* gf = rac::as_ptr<const float>(gamma_from) + ((n * GF + (GF == 1 ? 0 : g)) * H + y) * W;
      const float* gt = rac::as_ptr<const float>(gamma_to) + ((n * GT + (GT == 1 ? 0 : g)) * H + y) * W;
      coef_row(gf, gt, a.data(), b.data(), W);
      for (int64_t c = (G == 1 ? 0 : g); c < (G == 1 ? C : g + 1); ++c) {
        const int64_t off = ((n * C + c) * H + y) * W;
        apply_row(rac::as_ptr<const float>(z) + off, rac::as_ptr<const float>(eps) + off, a.data(), b.data(),
                  rac::as_ptr<float>(out) + off, W);
      }
    }
  }
}

}  // namespace

RAC_OPS(ddim) {
  namespace py = pybind11;
  m.def("ddim_step", &ddim_step, py::arg("z"), py::arg("eps"), py::arg("gamma_from"), py::arg("gamma_to"),
        py::arg("out"), py::arg("N"), py::arg("C"), py::arg("H"), py::arg("W"), py::arg("GF"), py::arg("GT"),
        py::call_guard<py::gil_scoped_release>(),
        "out = α_to·(z − σ_from·ε)/α_from + σ_to·ε per element (float32, η = 0 DDIM)");
}
