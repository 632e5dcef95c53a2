// The shared dither of universal quantization (docs/design.md §3.3), identical on every backend.
//
// Every latent element (frame n, channel c, row y, column x) gets 24 random bits
//
//     h   = mix32(seed ^ 0x9E3779B9)
//     h   = mix32(h ^ n);  h = mix32(h ^ c);  h = mix32(h ^ y)      (one key per row)
//     bits = mix32(h ^ x) >> 8                                     (0 <= bits < 2^24)
//     u    = bits * 2^-24 - 1/2                                    (-1/2 <= u < 1/2)
//
// with mix32 the two-multiply 32-bit integer finaliser ("lowbias32" from the hash-prospector
// search). All arithmetic is on uint32 with wrap-around, and u is exact in float32, so the
// torch reference, C++, CUDA and Triton produce the same bits and the same floats.
// kernels/dither.py and rac_video/ops/dither.py implement the same formula.
#pragma once
#include <cstdint>

#include "common.h"

namespace rac {

RAC_HD uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x;
}

RAC_HD uint32_t dither_row_key(uint32_t seed, uint32_t frame, uint32_t channel, uint32_t row) {
  uint32_t h = mix32(seed ^ 0x9E3779B9u);
  h = mix32(h ^ frame);
  h = mix32(h ^ channel);
  return mix32(h ^ row);
}

RAC_HD uint32_t dither_bits(uint32_t row_key, uint32_t col) { return mix32(row_key ^ col) >> 8; }

RAC_HD float dither_value(uint32_t bits) {
  return static_cast<float>(bits) * 5.9604644775390625e-08f - 0.5f;  // bits * 2^-24 - 1/2
}

}  // namespace rac
