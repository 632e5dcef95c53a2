// Gaussian-conditional entropy parameters (docs/design.md §3.4.2), math shared by C++ and CUDA.
//
// Per latent element, with Δ = delta_table[level], the hashed dither u and the hyperprior's
// mean μ and scale s:
//
//   m      = μ/Δ + u                         (float32, two IEEE operations in this order)
//   offset = floor(m + 1/2)                  (int32, clamped to ±2^30 like quantize)
//   r      = s/Δ                             (float32, IEEE division)
//   index  = #{ b in bounds : !(r <= b) }    (= np.searchsorted(bounds, r, 'left'); NaN -> all)
//            ·B + bucket,  bucket = floor((m − offset + ½)·B) clamped to [0, B), NaN -> 0
//            (B = mean buckets, a power of two; B = 1: the scale index alone)
//   bits   = −log2 max(P(k), floor),  P(k) = Φ((k − m + ½)/s') − Φ((k − m − ½)/s'),
//            s' = max(r, scale_min)
//
// offset and index are bit-exact on every backend (the same float32 operations; CUDA spells
// them __fdiv_rn/__fadd_rn so --use_fast_math cannot approximate them; the index is a
// comparison-only binary search). bits is a float estimate: for s' < kSeriesScale it is the
// difference of the two lower-tail CDFs (|k − m| reflected to the left of the mean, where the
// difference does not cancel); for wider Gaussians the bin is narrow against s' and P is the
// midpoint density times the first three terms of its Taylor series in the bin width h = 1/s'
//   P = h·φ(c)·[1 + h²(c² − 1)/24 + h⁴(c⁴ − 6c² + 3)/1920],  c = −|k − m|/s',
// evaluated in the log domain (relative truncation error < 1e-6 where P is above the floor).
#pragma once
#include <cmath>
#include <cstdint>

#include "common.h"

namespace rac {

constexpr float kEntropyOffsetLimit = 1073741824.0f;  // 2^30, as quantize
constexpr float kSeriesScale = 8.0f;

#if defined(__CUDACC__)
#define RAC_EP __device__ __forceinline__
RAC_EP float ep_div(float a, float b) { return __fdiv_rn(a, b); }
RAC_EP float ep_add(float a, float b) { return __fadd_rn(a, b); }
#else
#define RAC_EP inline
// x86-64 SSE math rounds every step to float32; no multiply here, so no FMA contraction.
RAC_EP float ep_div(float a, float b) { return a / b; }
RAC_EP float ep_add(float a, float b) { return a + b; }
#endif

// m = μ/Δ + u and the rounded mean offset floor(m + ½), clamped to ±2^30.
RAC_EP float ep_mean(float mu, float delta, float u) { return ep_add(ep_div(mu, delta), u); }
RAC_EP int32_t ep_offset(float m) {
  float t = floorf(ep_add(m, 0.5f));
  t = t > kEntropyOffsetLimit ? kEntropyOffsetLimit : t;
  t = t >= -kEntropyOffsetLimit ? t : -kEntropyOffsetLimit;  // also maps NaN to −2^30
  return static_cast<int32_t>(t);
}

// Number of bounds b (ascending, nb of them) with !(r <= b): branch-free binary lifting.
RAC_EP int32_t ep_scale_index(float r, const float* bounds, int32_t nb) {
  int32_t pos = 0;
  int32_t step = 1;
  while (step * 2 <= nb) step *= 2;
  for (; step > 0; step >>= 1)
    if (pos + step <= nb && !(r <= bounds[pos + step - 1])) pos += step;
  return pos;
}

// Bucket of the fractional mean m − offset ∈ [−½, ½): floor((d + ½)·B), clamped, NaN -> 0. B is a
// power of two, so the multiply is exact; the subtraction and addition are single IEEE steps.
RAC_EP int32_t ep_mean_bucket(float m, int32_t offset, int32_t buckets) {
#if defined(__CUDACC__)
  float b = floorf(__fmul_rn(__fadd_rn(__fsub_rn(m, static_cast<float>(offset)), 0.5f), static_cast<float>(buckets)));
#else
  float b = floorf((ep_add(m - static_cast<float>(offset), 0.5f)) * static_cast<float>(buckets));
#endif
  b = b > static_cast<float>(buckets - 1) ? static_cast<float>(buckets - 1) : b;
  b = b >= 0.0f ? b : 0.0f;
  return static_cast<int32_t>(b);
}

// erfc(x) with relative error ~1e-7 (float64 arithmetic) for every x: the Chebyshev-fitted
// t·exp(poly(t)) form of Press et al., Numerical Recipes, §6.2 ("erfcc"). Used on every
// backend so the deep tails keep their relative accuracy (1 − erf would cancel).
RAC_EP float ep_erfc(float x) {
  const float z = fabsf(x);
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = -0.82215223f + t * p;
  p = 1.48851587f + t * p;
  p = -1.13520398f + t * p;
  p = 0.27886807f + t * p;
  p = -0.18628806f + t * p;
  p = 0.09678418f + t * p;
  p = 0.37409196f + t * p;
  p = 1.00002368f + t * p;
  p = -1.26551223f + t * p;
  const float a = t * expf(-z * z + p);
  return x >= 0.0f ? a : 2.0f - a;
}

// −log2 max(P(k), floor) of the quantized Gaussian N(m, s'^2), s' = max(r, scale_min).
RAC_EP float ep_bits(int32_t k, float m, float r, float scale_min, float floor_p) {
  const float s = r > scale_min ? r : scale_min;
  const float v = -fabsf(static_cast<float>(k) - m);  // reflected to the lower side of the mean
  const float max_bits = -log2f(floor_p);
  if (!(s < kSeriesScale)) {
    const float h = 1.0f / s, c = v * h;
    if (c < -40.0f) return max_bits;  // far below the floor
    const float c2 = c * c, h2 = h * h;
    const float corr = h2 * ((c2 - 1.0f) * (1.0f / 24.0f) + h2 * ((c2 * c2 - 6.0f * c2 + 3.0f) * (1.0f / 1920.0f)));
    const float ln_p = -logf(s) - 0.5f * c2 - 0.91893853320467274f + logf(1.0f + corr);
    const float b = ln_p * -1.44269504088896341f;
    return b < max_bits ? b : max_bits;
  }
  const float k1 = 0.70710678118654752f / s;  // Φ(x/s) = ½ erfc(−x/(s√2))
  const float p = 0.5f * (ep_erfc(-(v + 0.5f) * k1) - ep_erfc(-(v - 0.5f) * k1));
  return -log2f(p > floor_p ? p : floor_p);
}

}  // namespace rac
