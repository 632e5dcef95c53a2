// Hashed dither, CUDA backend (see dither_hash.h for the hash).
#include "cuda/cuda_common.h"
#include "cuda/nchw.h"
#include "dither_hash.h"

namespace rac {

template <bool kBits>
__global__ void hashed_dither_kernel(void* __restrict__ out, int64_t total, uint32_t C, uint32_t H, uint32_t W,
                                     uint32_t seed, uint32_t dither_frame) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const Nchw geo{C, H, W};
    uint32_t n, c, y, x;
    geo.split(i, n, c, y, x);
    const uint32_t b = dither_bits(dither_row_key(seed, dither_frame + n, c, y), x);
    if constexpr (kBits)
      static_cast<int32_t*>(out)[i] = static_cast<int32_t>(b);
    else
      static_cast<float*>(out)[i] = dither_value(b);
  }
}

cudaError_t launch_hashed_dither(void* out, int64_t N, int64_t C, int64_t H, int64_t W, uint32_t seed,
                                 uint32_t dither_frame, bool bits, cudaStream_t stream) {
  const int64_t total = N * C * H * W;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  const unsigned grid = grid_for(total, threads);
  if (bits)
    hashed_dither_kernel<true><<<grid, threads, 0, stream>>>(out, total, C, H, W, seed, dither_frame);
  else
    hashed_dither_kernel<false><<<grid, threads, 0, stream>>>(out, total, C, H, W, seed, dither_frame);
  return cudaGetLastError();
}

}  // namespace rac
