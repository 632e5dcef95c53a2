// Integer 2-D convolution: the argument checks both native backends (csrc/int_conv.cpp,
// csrc/cuda/int_conv.cpp) run before touching memory. Definition in rac_video/ops/int_conv.py.
#pragma once
#include <cstdint>

#include "common.h"

namespace rac {
inline void check_int_conv(int64_t x_bytes, int64_t N, int64_t I, int64_t H, int64_t W, int64_t O, int64_t k,
                           int64_t s, int64_t p, int64_t Ho, int64_t Wo, bool has_mult, int64_t shift, bool has_lut,
                           int64_t lut_half) {
  require(N >= 0 && I > 0 && H > 0 && W > 0 && O > 0 && k > 0 && s > 0 && p >= 0, "int_conv2d: bad sizes");
  require(Ho == (H + 2 * p - k) / s + 1 && Wo == (W + 2 * p - k) / s + 1 && Ho > 0 && Wo > 0,
          "int_conv2d: output size does not match the geometry");
  require(x_bytes == 1 || x_bytes == 2, "int_conv2d: x must be int8 or int16");
  require(!has_mult || (shift >= 1 && shift <= 62), "int_conv2d: shift must be in 1..62");
  require(!has_lut || (has_mult && lut_half >= 1), "int_conv2d: a table needs multipliers and P >= 1");
}
}  // namespace rac
