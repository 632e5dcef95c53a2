// rac_video._C: the C++ (OpenMP) backend. Op families register themselves (registry.h).
#include <omp.h>

#include "registry.h"

namespace py = pybind11;

std::vector<std::pair<const char*, rac::Registrar>>& rac::registry() {
  static std::vector<std::pair<const char*, rac::Registrar>> r;
  return r;
}

PYBIND11_MODULE(_C, m) {
  m.doc() = "rac_video C++ backend (torch-free; raw pointers from rac_video.ops)";
  py::list families;
  for (auto& [name, fn] : rac::registry()) {
    fn(m);
    families.append(name);
  }
  m.attr("families") = families;
  m.def("num_threads", [] { return omp_get_max_threads(); }, "OpenMP threads available");
  m.def("set_num_threads", [](int n) { omp_set_num_threads(n); }, py::arg("n"));
}
