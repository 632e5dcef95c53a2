// Per-pixel sinusoidal γ embedding, CUDA backend (math in embedding.h). One thread per
// (n, frequency, pixel) writes the sin and the cos channel.
#include "cuda/cuda_common.h"
#include "embedding.h"

namespace rac {

__global__ void gamma_embedding_kernel(const float* __restrict__ gamma, const float* __restrict__ freq,
                                       float* __restrict__ out, int64_t total, uint32_t half, int64_t plane,
                                       float gamma_max, float gamma_span) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t ni = i / plane, p = i - ni * plane;
    const uint32_t f = static_cast<uint32_t>(ni % half);
    const int64_t n = ni / half;
    const float t = embedding_time1000(gamma[n * plane + p], gamma_max, gamma_span);
    const SinCos v = sincos_f32(__fmul_rn(t, freq[f]));
    float* o = out + n * 2 * half * plane + p;
    o[f * plane] = v.s;
    o[(half + f) * plane] = v.c;
  }
}

cudaError_t launch_gamma_embedding(const float* gamma, const float* freq, float* out, int64_t N, int64_t H, int64_t W,
                                   int64_t half, float gamma_max, float gamma_span, cudaStream_t stream) {
  const int64_t total = N * half * H * W;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  gamma_embedding_kernel<<<grid_for(total, threads), threads, 0, stream>>>(gamma, freq, out, total, uint32_t(half),
                                                                           H * W, gamma_max, gamma_span);
  return cudaGetLastError();
}

}  // namespace rac
