// Host bindings of the CUDA universal quantize / dequantize.
#include "cuda/cuda_common.h"
#include "registry.h"

namespace rac {
cudaError_t launch_quantize(bool encode, const void* in, const int32_t* level, const float* delta, uint32_t last,
                            void* out,
                            int64_t N, int64_t C, int64_t H, int64_t W, int64_t LC, uint32_t seed, uint32_t dither_frame,
                            cudaStream_t stream);
}

namespace {
template <bool kEncode>
void run(std::uintptr_t in, std::uintptr_t level, std::uintptr_t delta, int64_t levels, std::uintptr_t out, int64_t N,
         int64_t C, int64_t H, int64_t W, int64_t LC, uint32_t seed, uint32_t dither_frame, int device,
         std::uintptr_t stream) {
  rac::require(N >= 0 && C >= 0 && H >= 0 && W >= 0, "quantize: negative size");
  rac::require(LC == 1 || LC == C, "quantize: level map must have 1 or C channels");
  rac::require(levels > 0 && levels <= (int64_t{1} << 31), "quantize: delta table size out of range");
  rac::DeviceScope scope(device);
  rac::check_cuda(rac::launch_quantize(kEncode, rac::as_ptr<const void>(in), rac::as_ptr<const int32_t>(level),
                                       rac::as_ptr<const float>(delta), static_cast<uint32_t>(levels - 1),
                                       rac::as_ptr<void>(out), N, C, H, W, LC, seed,
                                       dither_frame, rac::as_stream(stream)),
                  kEncode ? "quantize" : "dequantize");
}
}  // namespace

RAC_OPS(quantize) {
  namespace py = pybind11;
  m.def("quantize", &run<true>, py::call_guard<py::gil_scoped_release>());
  m.def("dequantize", &run<false>, py::call_guard<py::gil_scoped_release>());
}
