// Forward noising q(z_t | y) at a per-element log-SNR, CUDA backend (α/σ in vp_schedule.h, the
// hashed U in dither_hash.h). One thread per element; uniform == nullptr selects the hashed U.
#include "cuda/cuda_common.h"
#include "cuda/nchw.h"
#include "dither_hash.h"
#include "vp_schedule.h"

namespace rac {

__global__ void forward_noise_kernel(const float* y, const float* __restrict__ gamma, const float* uniform, float* out,
                                     int64_t total, Nchw g, uint32_t GC, uint32_t seed, uint32_t dither_frame) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    uint32_t n, c, yx;
    g.split(i, n, c, yx);
    const AlphaSigma as = alpha_sigma(gamma[g.map_index(n, c, yx, GC)]);
    float u;
    if (uniform != nullptr) {
      u = __fsub_rn(uniform[i], 0.5f);
    } else {
      const uint32_t row = yx / g.W, col = yx - row * g.W;
      u = dither_value(dither_bits(dither_row_key(seed, dither_frame + n, c, row), col));
    }
    out[i] = __fadd_rn(__fmul_rn(as.alpha, y[i]), __fmul_rn(as.sigma, __fmul_rn(kSqrt12, u)));
  }
}

cudaError_t launch_forward_noise(const float* y, const float* gamma, const float* uniform, float* out, int64_t N,
                                 int64_t C, int64_t H, int64_t W, int64_t GC, uint32_t seed, uint32_t dither_frame,
                                 cudaStream_t stream) {
  const int64_t total = N * C * H * W;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  forward_noise_kernel<<<grid_for(total, threads), threads, 0, stream>>>(
      y, gamma, uniform, out, total, Nchw{uint32_t(C), uint32_t(H), uint32_t(W)}, uint32_t(GC), seed, dither_frame);
  return cudaGetLastError();
}

}  // namespace rac
