// Per-element VP noise-schedule math shared by the C++ and CUDA kernels (docs/design.md §3.1, §3.5.2).
//
// α² = sigmoid(γ), σ² = sigmoid(−γ). With h = exp(−γ/2) (so h² = exp(−γ)):
//
//     α = 1 / sqrt(1 + h²)        σ = h / sqrt(1 + h²)
//
// and the η = 0 DDIM update z' = α_to·(z − σ_from·ε)/α_from + σ_to·ε collapses to
//
//     z' = A·z + B·ε,   A = α_to/α_from = sqrt(1 + h_from²) / sqrt(1 + h_to²)
//                       B = σ_to − A·σ_from = (h_to − h_from) / sqrt(1 + h_to²)
//
// One exp per γ, no sigmoid and no subtraction of nearly equal α/σ products: every factor has a
// relative error of a few float32 ulps, so |z' − exact| ≤ a few ulps of A·|z| + (σ_to + A·σ_from)·|ε|.
// γ_from == γ_to gives A = 1 and B = 0 exactly (the step is the identity).
//
// exp is evaluated here (Cody–Waite reduction + degree-7 polynomial, ≤ ~2 ulp) rather than by
// expf: the CUDA build uses --use_fast_math (expf → __expf, error growing with |x|), and the plain
// arithmetic vectorises in the C++ loops. Valid for |γ| ≤ 80 (the codec uses [−8, 12]); beyond
// that h² leaves the float32 range.
//
// Why inline and not an α/σ table: the decoder's γ maps are arbitrary floats (t·(1 − k/K) of a
// per-element t), so there is no finite index set to tabulate; two exps per element cost far less
// than the 12+ bytes per element these kernels move.
#pragma once
#include <cstdint>
#include <cstring>

#include "common.h"

namespace rac {

RAC_HD float bits_as_float(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
#endif
}

RAC_HD float sqrt_rn(float x) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(x);  // IEEE sqrt even under --use_fast_math
#else
  return __builtin_sqrtf(x);
#endif
}

RAC_HD float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// exp(x) within ~2 ulp for x in [−87, 88]; outside, the power of two saturates at 2^−126 / 2^127
// (branch-free so that the C++ loops vectorise). NaN propagates.
RAC_HD float exp_f32(float x) {
  // n = round(x / ln 2) with the 1.5·2^23 trick (exact for |n| < 2^22, vectorises without SSE4.1)
  const float shifter = 12582912.0f;
  const float n = (x * 1.44269504088896341f + shifter) - shifter;
  // r = x − n·ln2 in two parts: n·LN2_HI is exact (LN2_HI has 15 significant bits), |r| ≤ 0.35
  float r = x - n * 0.693145751953125f;
  r = r - n * 1.428606765330187e-06f;
  // exp(r) by Taylor to degree 7 (truncation < 0.1 ulp for |r| ≤ ln2/2)
  float p = 1.98412698e-4f;
  p = p * r + 1.38888889e-3f;
  p = p * r + 8.33333333e-3f;
  p = p * r + 4.16666667e-2f;
  p = p * r + 1.66666667e-1f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // × 2^n through the exponent bits, biased exponent clamped to the normal range 1..254
  int32_t e = static_cast<int32_t>(n) + 127;
  e = e < 1 ? 1 : e;
  e = e > 254 ? 254 : e;
  return p * bits_as_float(static_cast<uint32_t>(e) << 23);
}

// α = sqrt(sigmoid(γ)), σ = sqrt(sigmoid(−γ)).
struct AlphaSigma {
  float alpha, sigma;
};
RAC_HD AlphaSigma alpha_sigma(float gamma) {
  const float h = exp_f32(-0.5f * gamma);
  const float inv = div_rn(1.0f, sqrt_rn(1.0f + h * h));
  return {inv, h * inv};
}

// z' = A·z + B·ε for one DDIM step γ_from → γ_to (see the top of this file).
struct DdimCoef {
  float a, b;
};
RAC_HD DdimCoef ddim_coefficients(float gamma_from, float gamma_to) {
  const float hf = exp_f32(-0.5f * gamma_from), ht = exp_f32(-0.5f * gamma_to);
  const float rt = sqrt_rn(1.0f + ht * ht);
  return {div_rn(sqrt_rn(1.0f + hf * hf), rt), div_rn(ht - hf, rt)};
}

// ξ = √12·(U − ½): unit-variance uniform noise from U ∈ [0, 1) (or from the dither u = U − ½).
constexpr float kSqrt12 = 3.46410161513775459f;

}  // namespace rac
