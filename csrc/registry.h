// Self-registration of op families into a pybind11 module.
//
// Each op-family source file ends with
//
//     RAC_OPS(dither) { m.def("hashed_dither", &hashed_dither, ...); }
//
// and the module's bindings.cpp walks the registry, so adding an op never touches a shared
// file. The same header serves rac_video._C (csrc/*.cpp) and rac_video._C_cuda
// (csrc/cuda/*.cpp); each module defines its own registry() in its bindings.cpp.
#pragma once
#include <pybind11/pybind11.h>

#include <utility>
#include <vector>

namespace rac {
using Registrar = void (*)(pybind11::module_&);
std::vector<std::pair<const char*, Registrar>>& registry();
struct RegisterOps {
  RegisterOps(const char* family, Registrar fn) { registry().emplace_back(family, fn); }
};
}  // namespace rac

#define RAC_OPS(family)                                                             \
  static void rac_register_##family(pybind11::module_& m);                          \
  static ::rac::RegisterOps rac_registrar_##family(#family, rac_register_##family); \
  static void rac_register_##family(pybind11::module_& m)
