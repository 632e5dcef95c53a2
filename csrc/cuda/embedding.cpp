// Host binding of the CUDA per-pixel γ embedding.
#include "cuda/cuda_common.h"
#include "registry.h"

namespace rac {
cudaError_t launch_gamma_embedding(const float* gamma, const float* freq, float* out, int64_t N, int64_t H, int64_t W,
                                   int64_t half, float gamma_max, float gamma_span, cudaStream_t stream);
}

namespace {
void gamma_embedding(std::uintptr_t gamma, std::uintptr_t freq, std::uintptr_t out, int64_t N, int64_t H, int64_t W,
                     int64_t half, float gamma_max, float gamma_span, int device, std::uintptr_t stream) {
  rac::require(N >= 0 && H >= 0 && W >= 0 && half > 0, "gamma_embedding: bad size");
  rac::DeviceScope scope(device);
  rac::check_cuda(rac::launch_gamma_embedding(rac::as_ptr<const float>(gamma), rac::as_ptr<const float>(freq),
                                              rac::as_ptr<float>(out), N, H, W, half, gamma_max, gamma_span,
                                              rac::as_stream(stream)),
                  "gamma_embedding");
}
}  // namespace

RAC_OPS(embedding) {
  namespace py = pybind11;
  m.def("gamma_embedding", &gamma_embedding, py::arg("gamma"), py::arg("freq"), py::arg("out"), py::arg("N"),
        py::arg("H"), py::arg("W"), py::arg("half"), py::arg("gamma_max"), py::arg("gamma_span"), py::arg("device"),
        py::arg("stream"), py::call_guard<py::gil_scoped_release>());
}
