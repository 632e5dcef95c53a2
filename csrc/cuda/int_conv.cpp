// Host bindings of the CUDA integer convolution (definition in rac_video/ops/int_conv.py).
#include "cuda/cuda_common.h"
#include "int_conv.h"
#include "registry.h"

namespace rac {
cudaError_t launch_int_conv2d(const void* x, int64_t x_bytes, const int8_t* w, const int32_t* bias,
                              const int64_t* mult, const int8_t* lut, void* out, int64_t N, int64_t I, int64_t H,
                              int64_t W, int64_t O, int64_t k, int64_t s, int64_t p, int64_t Ho, int64_t Wo,
                              int64_t shift, int64_t P, cudaStream_t stream);
}

namespace {
void run(std::uintptr_t x, int64_t x_bytes, std::uintptr_t w, std::uintptr_t bias, std::uintptr_t out, int64_t N,
         int64_t I, int64_t H, int64_t W, int64_t O, int64_t k, int64_t s, int64_t p, int64_t Ho, int64_t Wo,
         std::uintptr_t mult, int64_t shift, std::uintptr_t lut, int64_t lut_half, int device, std::uintptr_t stream) {
  rac::check_int_conv(x_bytes, N, I, H, W, O, k, s, p, Ho, Wo, mult != 0, shift, lut != 0, lut_half);
  rac::DeviceScope scope(device);
  rac::check_cuda(rac::launch_int_conv2d(rac::as_ptr<const void>(x), x_bytes, rac::as_ptr<const int8_t>(w),
                                         rac::as_ptr<const int32_t>(bias),
                                         mult ? rac::as_ptr<const int64_t>(mult) : nullptr,
                                         lut ? rac::as_ptr<const int8_t>(lut) : nullptr, rac::as_ptr<void>(out), N, I,
                                         H, W, O, k, s, p, Ho, Wo, shift, lut_half, rac::as_stream(stream)),
                  "int_conv2d");
}
}  // namespace

RAC_OPS(int_conv) {
  namespace py = pybind11;
  m.def("int_conv2d", &run, py::call_guard<py::gil_scoped_release>());
}
