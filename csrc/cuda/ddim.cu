// Elementwise DDIM step (η = 0), CUDA backend (math in vp_schedule.h).
//
// One thread per element (grid-stride). The γ maps may have 1 channel (read by the C threads
// of that pixel, served from L1/L2) or C. exp, sqrt and division are the explicit IEEE forms of
// vp_schedule.h and the update uses __fmul_rn/__fadd_rn, unaffected by --use_fast_math.
#include "cuda/cuda_common.h"
#include "cuda/nchw.h"
#include "vp_schedule.h"

namespace rac {

__global__ void ddim_step_kernel(const float* z, const float* eps, const float* __restrict__ gamma_from,
                                 const float* __restrict__ gamma_to, float* out, int64_t total, Nchw g, uint32_t GF,
                                 uint32_t GT) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    uint32_t n, c, yx;
    g.split(i, n, c, yx);
    const DdimCoef k = ddim_coefficients(gamma_from[g.map_index(n, c, yx, GF)], gamma_to[g.map_index(n, c, yx, GT)]);
    out[i] = __fadd_rn(__fmul_rn(k.a, z[i]), __fmul_rn(k.b, eps[i]));
  }
}

cudaError_t launch_ddim_step(const float* z, const float* eps, const float* gamma_from, const float* gamma_to,
                             float* out, int64_t N, int64_t C, int64_t H, int64_t W, int64_t GF, int64_t GT,
                             cudaStream_t stream) {
  const int64_t total = N * C * H * W;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  ddim_step_kernel<<<grid_for(total, threads), threads, 0, stream>>>(
      z, eps, gamma_from, gamma_to, out, total, Nchw{uint32_t(C), uint32_t(H), uint32_t(W)}, uint32_t(GF),
      uint32_t(GT));
  return cudaGetLastError();
}

}  // namespace rac
