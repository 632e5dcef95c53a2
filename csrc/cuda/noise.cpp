// Host binding of the CUDA forward noising.
#include "cuda/cuda_common.h"
#include "registry.h"

namespace rac {
cudaError_t launch_forward_noise(const float* y, const float* gamma, const float* uniform, float* out, int64_t N,
                                 int64_t C, int64_t H, int64_t W, int64_t GC, uint32_t seed, uint32_t dither_frame,
                                 cudaStream_t stream);
}

namespace {
void forward_noise(std::uintptr_t y, std::uintptr_t gamma, std::uintptr_t uniform, std::uintptr_t out, int64_t N,
                   int64_t C, int64_t H, int64_t W, int64_t GC, uint32_t seed, uint32_t dither_frame, int device,
                   std::uintptr_t stream) {
  rac::require(N >= 0 && C >= 0 && H >= 0 && W >= 0, "forward_noise: negative size");
  rac::require(GC == 1 || GC == C, "forward_noise: gamma must have 1 or C channels");
  rac::require(H * W < (int64_t(1) << 32), "forward_noise: H·W must be below 2^32");
  rac::DeviceScope scope(device);
  rac::check_cuda(rac::launch_forward_noise(rac::as_ptr<const float>(y), rac::as_ptr<const float>(gamma),
                                            rac::as_ptr<const float>(uniform), rac::as_ptr<float>(out), N, C, H, W,
                                            GC, seed, dither_frame, rac::as_stream(stream)),
                  "forward_noise");
}
}  // namespace

RAC_OPS(noise) {
  namespace py = pybind11;
  m.def("forward_noise", &forward_noise, py::arg("y"), py::arg("gamma"), py::arg("uniform"), py::arg("out"),
        py::arg("N"), py::arg("C"), py::arg("H"), py::arg("W"), py::arg("GC"), py::arg("seed"), py::arg("dither_frame"),
        py::arg("device"), py::arg("stream"), py::call_guard<py::gil_scoped_release>());
}
