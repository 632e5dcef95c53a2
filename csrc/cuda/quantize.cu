// Universal quantize / dequantize, CUDA backend (math in quantize.h, dither in dither_hash.h).
#include "cuda/cuda_common.h"
#include "cuda/nchw.h"
#include "dither_hash.h"
#include "quantize.h"

namespace rac {

template <bool kEncode>
__global__ void quantize_kernel(const void* __restrict__ in, const int32_t* __restrict__ level,
                                const float* __restrict__ delta, uint32_t last, void* __restrict__ out, int64_t total, uint32_t C,
                                uint32_t H, uint32_t W, uint32_t LC, uint32_t seed, uint32_t dither_frame) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const Nchw geo{C, H, W};
    uint32_t n, c, y, x;
    geo.split(i, n, c, y, x);
    const int64_t li = geo.map_index(n, c, y, x, LC);
    const uint32_t l = static_cast<uint32_t>(level[li]);  // clamped: never reads outside the table
    const float d = delta[l > last ? last : l];
    const float u = dither_value(dither_bits(dither_row_key(seed, dither_frame + n, c, y), x));
    if constexpr (kEncode)
      static_cast<int32_t*>(out)[i] = quantize_value(static_cast<const float*>(in)[i], d, u);
    else
      static_cast<float*>(out)[i] = dequantize_value(static_cast<const int32_t*>(in)[i], d, u);
  }
}

cudaError_t launch_quantize(bool encode, const void* in, const int32_t* level, const float* delta, uint32_t last,
                            void* out,
                            int64_t N, int64_t C, int64_t H, int64_t W, int64_t LC, uint32_t seed, uint32_t dither_frame,
                            cudaStream_t stream) {
  const int64_t total = N * C * H * W;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  const unsigned grid = grid_for(total, threads);
  if (encode)
    quantize_kernel<true><<<grid, threads, 0, stream>>>(in, level, delta, last, out, total, C, H, W, LC, seed, dither_frame);
  else
    quantize_kernel<false><<<grid, threads, 0, stream>>>(in, level, delta, last, out, total, C, H, W, LC, seed, dither_frame);
  return cudaGetLastError();
}

}  // namespace rac
