// Gaussian-conditional entropy parameters, CUDA backend (math in entropy_params.h, dither in dither_hash.h).
#include "cuda/cuda_common.h"
#include "cuda/nchw.h"
#include "dither_hash.h"
#include "entropy_params.h"

namespace rac {

template <bool kBits>
__global__ void entropy_params_kernel(const float* __restrict__ mu, const float* __restrict__ scale,
                                      const int32_t* __restrict__ level, const float* __restrict__ delta, uint32_t last,
                                      const float* __restrict__ bounds, int32_t nb, const int32_t* __restrict__ k,
                                      int32_t* __restrict__ offset, int32_t* __restrict__ index,
                                      float* __restrict__ bits, int64_t total, uint32_t C, uint32_t H, uint32_t W,
                                      uint32_t LC, uint32_t seed, uint32_t dither_frame, float scale_min, float floor_p,
                                      int32_t buckets) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const Nchw geo{C, H, W};
    uint32_t n, c, y, x;
    geo.split(i, n, c, y, x);
    const int64_t li = geo.map_index(n, c, y, x, LC);
    const uint32_t l = static_cast<uint32_t>(level[li]);  // clamped: never reads outside the table
    const float d = delta[l > last ? last : l];
    const float u = dither_value(dither_bits(dither_row_key(seed, dither_frame + n, c, y), x));
    const float m = ep_mean(mu[i], d, u);
    const float q = ep_div(scale[i], d);
    const int32_t off = ep_offset(m);
    offset[i] = off;
    index[i] = ep_scale_index(q, bounds, nb) * buckets + ep_mean_bucket(m, off, buckets);
    if constexpr (kBits) bits[i] = ep_bits(k[i], m, q, scale_min, floor_p);
  }
}

cudaError_t launch_entropy_params(const float* mu, const float* scale, const int32_t* level, const float* delta,
                                  uint32_t last,
                                  const float* bounds, int32_t nb, const int32_t* k, int32_t* offset,
                                  int32_t* index, float* bits, int64_t N, int64_t C, int64_t H, int64_t W,
                                  int64_t LC, uint32_t seed, uint32_t dither_frame, float scale_min, float floor_p,
                                  int32_t buckets, cudaStream_t stream) {
  const int64_t total = N * C * H * W;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  const unsigned grid = grid_for(total, threads);
  if (bits)
    entropy_params_kernel<true><<<grid, threads, 0, stream>>>(mu, scale, level, delta, last, bounds, nb, k, offset, index,
                                                              bits, total, C, H, W, LC, seed, dither_frame, scale_min,
                                                              floor_p, buckets);
  else
    entropy_params_kernel<false><<<grid, threads, 0, stream>>>(mu, scale, level, delta, last, bounds, nb, k, offset,
                                                               index, bits, total, C, H, W, LC, seed, dither_frame,
                                                               scale_min, floor_p, buckets);
  return cudaGetLastError();
}

}  // namespace rac
