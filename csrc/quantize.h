// Universal quantization with the shared hashed dither (docs/design.md §3.3), math shared by C++ and CUDA.
//
//   encoder:  k = floor((y / Δ + u) + 1/2)   clamped to ±2^30 before the integer conversion
//   decoder:  ŷ = Δ · (k − u)
//
// Δ = delta_table[level] for the element's integer importance level. Every step is one IEEE
// float32 operation in this order (no contraction, no approximate division), so the torch
// reference, C++, CUDA (via __fdiv_rn/__fadd_rn) and Triton (div_rn) produce the same k.
#pragma once
#include <cmath>
#include <cstdint>

#include "common.h"

namespace rac {

constexpr float kQuantizeLimit = 1073741824.0f;  // 2^30

#if defined(__CUDACC__)
__device__ __forceinline__ int32_t quantize_value(float y, float delta, float u) {
  float t = __fadd_rn(__fadd_rn(__fdiv_rn(y, delta), u), 0.5f);
  t = fminf(fmaxf(floorf(t), -kQuantizeLimit), kQuantizeLimit);
  return static_cast<int32_t>(t);
}
__device__ __forceinline__ float dequantize_value(int32_t k, float delta, float u) {
  return __fmul_rn(delta, __fsub_rn(static_cast<float>(k), u));
}
#else
inline int32_t quantize_value(float y, float delta, float u) {
  // x86-64 SSE math rounds every step to float32; there is no multiply here for FMA contraction.
  float t = __builtin_floorf((y / delta + u) + 0.5f);
  // = fmin(fmax(t, −2^30), 2^30) including NaN → −2^30, written as compares so that it vectorises
  t = t > kQuantizeLimit ? kQuantizeLimit : t;
  t = t >= -kQuantizeLimit ? t : -kQuantizeLimit;
  return static_cast<int32_t>(t);
}
inline float dequantize_value(int32_t k, float delta, float u) { return delta * (static_cast<float>(k) - u); }
#endif

}  // namespace rac
