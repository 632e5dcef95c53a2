// rac_video._C_cuda: the CUDA backend. Torch-free; the CUDA runtime is linked statically, so this
// module imports on machines without a GPU or driver (device_count() then reports why).
#include <cuda_runtime.h>

#include "cuda/cuda_common.h"
#include "registry.h"

namespace py = pybind11;

std::vector<std::pair<const char*, rac::Registrar>>& rac::registry() {
  static std::vector<std::pair<const char*, rac::Registrar>> r;
  return r;
}

#ifndef RAC_VIDEO_CUDA_ARCHS
#define RAC_VIDEO_CUDA_ARCHS ""
#endif

PYBIND11_MODULE(_C_cuda, m) {
  m.doc() = "rac_video CUDA backend (torch-free; raw pointers and streams from rac_video.ops)";
  py::list families;
  for (auto& [name, fn] : rac::registry()) {
    fn(m);
    families.append(name);
  }
  m.attr("families") = families;
  m.attr("archs") = RAC_VIDEO_CUDA_ARCHS;
  m.attr("runtime_version") = CUDART_VERSION;
  // (count, message): count < 0 when the runtime cannot reach a driver/GPU, message says why.
  m.def("device_count", []() -> py::tuple {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      std::string msg = cudaGetErrorString(e);
      cudaGetLastError();  // clear the sticky-free error state
      return py::make_tuple(-1, msg);
    }
    return py::make_tuple(n, std::string());
  });
  m.def("synchronize", [] { rac::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); },
        py::call_guard<py::gil_scoped_release>());
}
