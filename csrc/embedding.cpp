// Per-pixel sinusoidal γ embedding, C++ backend (math in embedding.h).
//
// gamma: (N,1,H,W) float32; freq: D/2 float32; out: (N,D,H,W) float32, all contiguous.
#include <vector>

#include "embedding.h"
#include "registry.h"

namespace {

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void time_row(const float* g, float* t, int64_t W, float gmax,
                                                                float span) {
  for (int64_t x = 0; x < W; ++x) t[x] = rac::embedding_time1000(g[x], gmax, span);
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void sincos_row(const float* t, float freq, float* s, float* c,
                                                                 int64_t W) {
  for (int64_t x = 0; x < W; ++x) {
    const rac::SinCos v = rac::sincos_f32(t[x] * freq);
    s[x] = v.s;
    c[x] = v.c;
  }
}

void gamma_embedding(std::uintptr_t gamma, std::uintptr_t freq, std::uintptr_t out, int64_t N, int64_t H, int64_t W,
                     int64_t half, float gamma_max, float gamma_span) {
  rac::require(N >= 0 && H >= 0 && W >= 0 && half >= 0, "gamma_embedding: negative size");
  const float* f = rac::as_ptr<const float>(freq);
  const int64_t rows = N * H, plane = H * W;
#pragma omp parallel if (rows * W * half > 16384)
  {
    std::vector<float> t(static_cast<size_t>(W));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = r / H, y = r % H;
      time_row(rac::as_ptr<const float>(gamma) + r * W, t.data(), W, gamma_max, gamma_span);
      float* o = rac::as_ptr<float>(out) + n * 2 * half * plane + y * W;
      for (int64_t i = 0; i < half; ++i) sincos_row(t.data(), f[i], o + i * plane, o + (half + i) * plane, W);
    }
  }
}

}  // namespace

RAC_OPS(embedding) {
  namespace py = pybind11;
  m.def("gamma_embedding", &gamma_embedding, py::arg("gamma"), py::arg("freq"), py::arg("out"), py::arg("N"),
        py::arg("H"), py::arg("W"), py::arg("half"), py::arg("gamma_max"), py::arg("gamma_span"),
        py::call_guard<py::gil_scoped_release>(),
        "out[n, i] = sin((1000·t(γ))·freq_i), out[n, D/2 + i] = cos(...) per pixel (float32)");
}
