// Host binding of the CUDA hashed dither.
#include "cuda/cuda_common.h"
#include "registry.h"

namespace rac {
cudaError_t launch_hashed_dither(void* out, int64_t N, int64_t C, int64_t H, int64_t W, uint32_t seed,
                                 uint32_t dither_frame, bool bits, cudaStream_t stream);
}

namespace {
void hashed_dither(std::uintptr_t out, int64_t N, int64_t C, int64_t H, int64_t W, uint32_t seed, uint32_t dither_frame,
                   bool bits, int device, std::uintptr_t stream) {
  rac::require(N >= 0 && C >= 0 && H >= 0 && W >= 0, "hashed_dither: negative size");
  rac::DeviceScope scope(device);
  rac::check_cuda(rac::launch_hashed_dither(rac::as_ptr<void>(out), N, C, H, W, seed, dither_frame, bits,
                                            rac::as_stream(stream)),
                  "hashed_dither");
}
}  // namespace

RAC_OPS(dither) {
  namespace py = pybind11;
  m.def("hashed_dither", &hashed_dither, py::arg("out"), py::arg("N"), py::arg("C"), py::arg("H"), py::arg("W"),
        py::arg("seed"), py::arg("dither_frame"), py::arg("bits"), py::arg("device"), py::arg("stream"),
        py::call_guard<py::gil_scoped_release>());
}
