// Integer 2-D convolution with the requantization / activation-table epilogue, CUDA backend
// (definition in rac_video/ops/int_conv.py). One thread per output element: int32 sum over the
// I·k² taps (exact in any order), then the epilogue in int64.
#include <climits>

#include "cuda/cuda_common.h"

namespace rac {

template <typename T, int kMode>
__global__ void int_conv_kernel(const T* __restrict__ x, const int8_t* __restrict__ w, const int32_t* __restrict__ bias,
                                const int64_t* __restrict__ mult, const int8_t* __restrict__ lut, void* __restrict__ out,
                                int64_t total, int64_t I, int64_t H, int64_t W, int64_t O, int64_t k, int64_t s,
                                int64_t p, int64_t Ho, int64_t Wo, int64_t shift, int64_t P) {
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t j = idx % Wo, i = (idx / Wo) % Ho, o = (idx / (Wo * Ho)) % O, n = idx / (Wo * Ho * O);
    int32_t acc = bias[o];
    for (int64_t c = 0; c < I; ++c) {
      const T* xc = x + (n * I + c) * H * W;
      const int8_t* wc = w + (o * I + c) * k * k;
      for (int64_t a = 0; a < k; ++a) {
        const int64_t yy = s * i + a - p;
        if (yy < 0 || yy >= H) continue;
        for (int64_t b = 0; b < k; ++b) {
          const int64_t xx = s * j + b - p;
          if (xx < 0 || xx >= W) continue;
          acc += static_cast<int32_t>(wc[a * k + b]) * static_cast<int32_t>(xc[yy * W + xx]);
        }
      }
    }
    if constexpr (kMode == 0) {
      static_cast<int32_t*>(out)[idx] = acc;
    } else {
      int64_t q = (static_cast<int64_t>(acc) * mult[o] + (int64_t(1) << (shift - 1))) >> shift;
      if constexpr (kMode == 1) {
        q = q > INT_MAX ? INT_MAX : (q < INT_MIN ? INT_MIN : q);
        static_cast<int32_t*>(out)[idx] = static_cast<int32_t>(q);
      } else {
        q = q < -P ? -P : (q > P - 1 ? P - 1 : q);
        static_cast<int8_t*>(out)[idx] = lut[q + P];
      }
    }
  }
}

template <typename T>
cudaError_t launch_typed(const void* x, const int8_t* w, const int32_t* bias, const int64_t* mult, const int8_t* lut,
                         void* out, int64_t N, int64_t I, int64_t H, int64_t W, int64_t O, int64_t k, int64_t s,
                         int64_t p, int64_t Ho, int64_t Wo, int64_t shift, int64_t P, cudaStream_t stream) {
  const int64_t total = N * O * Ho * Wo;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  const unsigned grid = grid_for(total, threads);
  const T* xt = static_cast<const T*>(x);
  if (mult == nullptr)
    int_conv_kernel<T, 0><<<grid, threads, 0, stream>>>(xt, w, bias, mult, lut, out, total, I, H, W, O, k, s, p, Ho,
                                                        Wo, shift, P);
  else if (lut == nullptr)
    int_conv_kernel<T, 1><<<grid, threads, 0, stream>>>(xt, w, bias, mult, lut, out, total, I, H, W, O, k, s, p, Ho,
                                                        Wo, shift, P);
  else
    int_conv_kernel<T, 2><<<grid, threads, 0, stream>>>(xt, w, bias, mult, lut, out, total, I, H, W, O, k, s, p, Ho,
                                                        Wo, shift, P);
  return cudaGetLastError();
}

cudaError_t launch_int_conv2d(const void* x, int64_t x_bytes, const int8_t* w, const int32_t* bias,
                              const int64_t* mult, const int8_t* lut, void* out, int64_t N, int64_t I, int64_t H,
                              int64_t W, int64_t O, int64_t k, int64_t s, int64_t p, int64_t Ho, int64_t Wo,
                              int64_t shift, int64_t P, cudaStream_t stream) {
  if (x_bytes == 1)
    return launch_typed<int8_t>(x, w, bias, mult, lut, out, N, I, H, W, O, k, s, p, Ho, Wo, shift, P, stream);
  return launch_typed<int16_t>(x, w, bias, mult, lut, out, N, I, H, W, O, k, s, p, Ho, Wo, shift, P, stream);
}

}  // namespace rac
