// Per-pixel sinusoidal embedding of the diffusion time t(γ) (the denoiser's conditioning, docs/design.md §3.5.1).
//
//   t      = clamp((γ − GAMMA_MAX) / (GAMMA_MIN − GAMMA_MAX), 0, 1)
//   a_i    = (1000·t)·freq_i                      (float32, in this order, as the torch reference)
//   out    = [sin a_0 … sin a_{D/2−1}, cos a_0 … cos a_{D/2−1}]   per pixel
//
// freq_i is passed in as a table computed by torch (so a_i is bit-identical to the reference's).
// sin/cos: argument reduction by π/2 in double (exact enough for any |a| < 2^30), then the
// Cephes single-precision polynomials on |r| ≤ π/4 (≈1 ulp) — explicit arithmetic, so neither
// --use_fast_math (__sinf) nor the lack of a vector libm changes the result.
#pragma once
#include <cstdint>

#include "common.h"

namespace rac {

struct SinCos {
  float s, c;
};

RAC_HD SinCos sincos_f32(float a) {
  const double x = static_cast<double>(a);
  const double q = (x * 0.63661977236758134 + 6755399441055744.0) - 6755399441055744.0;  // round(x·2/π)
  const float r = static_cast<float>(x - q * 1.5707963267948966 - q * 6.123233995736766e-17);
  const int32_t k = static_cast<int32_t>(q) & 3;  // |q| < 2^31 for |a| < 3e9
  const float z = r * r;
  const float sr = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
  const float cr = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z -
                   0.5f * z + 1.0f;
  // sin(r + kπ/2), cos(r + kπ/2) for k = 0..3
  const float s = k == 0 ? sr : (k == 1 ? cr : (k == 2 ? -sr : -cr));
  const float c = k == 0 ? cr : (k == 1 ? -sr : (k == 2 ? -cr : sr));
  return {s, c};
}

// t(γ) clamped to [0, 1], times 1000 (the angle scale): one IEEE subtraction, division, clamp, multiply.
RAC_HD float embedding_time1000(float gamma, float gamma_max, float gamma_span) {
#if defined(__CUDA_ARCH__)
  float t = __fdiv_rn(__fsub_rn(gamma, gamma_max), gamma_span);  // IEEE even under --use_fast_math
#else
  float t = (gamma - gamma_max) / gamma_span;  // gamma_span = GAMMA_MIN − GAMMA_MAX
#endif
  t = t < 0.0f ? 0.0f : t;  // NaN stays NaN
  t = t > 1.0f ? 1.0f : t;
#if defined(__CUDA_ARCH__)
  return __fmul_rn(1000.0f, t);
#else
  return 1000.0f * t;
#endif
}

}  // namespace rac
