// Flat-index geometry of contiguous (N,C,H,W) tensors with (N,1,H,W) or (N,C,H,W) side maps.
#pragma once
#include <cstdint>

namespace rac {

struct Nchw {
  uint32_t C, H, W;
  // (n, c, plane offset y·W + x) of flat index i
  __device__ __forceinline__ void split(int64_t i, uint32_t& n, uint32_t& c, uint32_t& yx) const {
    const int64_t hw = static_cast<int64_t>(H) * W;
    const int64_t nc = i / hw;
    yx = static_cast<uint32_t>(i - nc * hw);
    c = static_cast<uint32_t>(nc % C);
    n = static_cast<uint32_t>(nc / C);
  }
  // (n, c, y, x) of flat index i (the dither hash needs the row and column)
  __device__ __forceinline__ void split(int64_t i, uint32_t& n, uint32_t& c, uint32_t& y, uint32_t& x) const {
    const int64_t r = i / W;
    x = static_cast<uint32_t>(i - r * W);
    y = static_cast<uint32_t>(r % H);
    const int64_t nc = r / H;
    c = static_cast<uint32_t>(nc % C);
    n = static_cast<uint32_t>(nc / C);
  }
  // flat index into a side map with `channels` = 1 (broadcast over C) or C channels
  __device__ __forceinline__ int64_t map_index(uint32_t n, uint32_t c, uint32_t yx, uint32_t channels) const {
    return (static_cast<int64_t>(n) * channels + (channels == 1 ? 0 : c)) * (static_cast<int64_t>(H) * W) + yx;
  }
  __device__ __forceinline__ int64_t map_index(uint32_t n, uint32_t c, uint32_t y, uint32_t x,
                                               uint32_t channels) const {
    return ((static_cast<int64_t>(n) * channels + (channels == 1 ? 0 : c)) * H + y) * W + x;
  }
};

}  // namespace rac
