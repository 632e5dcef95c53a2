// Host binding of the CUDA elementwise DDIM step.
#include "cuda/cuda_common.h"
#include "registry.h"

namespace rac {
cudaError_t launch_ddim_step(const float* z, const float* eps, const float* gamma_from, const float* gamma_to,
                             float* out, int64_t N, int64_t C, int64_t H, int64_t W, int64_t GF, int64_t GT,
                             cudaStream_t stream);
}

namespace {
void ddim_step(std::uintptr_t z, std::uintptr_t eps, std::uintptr_t gamma_from, std::uintptr_t gamma_to,
               std::uintptr_t out, int64_t N, int64_t C, int64_t H, int64_t W, int64_t GF, int64_t GT, int device,
               std::uintptr_t stream) {
  rac::require(N >= 0 && C >= 0 && H >= 0 && W >= 0, "ddim_step: negative size");
  rac::require((GF == 1 || GF == C) && (GT == 1 || GT == C), "ddim_step: gamma maps must have 1 or C channels");
  rac::require(H * W < (int64_t(1) << 32), "ddim_step: H·W must be below 2^32");
  rac::DeviceScope scope(device);
  rac::check_cuda(rac::launch_ddim_step(rac::as_ptr<const float>(z), rac::as_ptr<const float>(eps),
                                        rac::as_ptr<const float>(gamma_from), rac::as_ptr<const float>(gamma_to),
                                        rac::as_ptr<float>(out), N, C, H, W, GF, GT, rac::as_stream(stream)),
                  "ddim_step");
}
}  // namespace

RAC_OPS(ddim) {
  namespace py = pybind11;
  m.def("ddim_step", &ddim_step, py::arg("z"), py::arg("eps"), py::arg("gamma_from"), py::arg("gamma_to"),
        py::arg("out"), py::arg("N"), py::arg("C"), py::arg("H"), py::arg("W"), py::arg("GF"), py::arg("GT"),
        py::arg("device"), py::arg("stream"), py::call_guard<py::gil_scoped_release>());
}
