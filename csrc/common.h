// Shared helpers for the torch-free native ops: raw pointers in, no allocation on the hot path.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#if defined(__CUDACC__)
#define RAC_HD __host__ __device__ __forceinline__
#else
#define RAC_HD inline
#endif

namespace rac {

// Python passes tensor.data_ptr() as an integer; the wrapper has already checked dtype,
// device, contiguity and size.
template <class T>
inline T* as_ptr(std::uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

inline void require(bool ok, const std::string& msg) {
  if (!ok) throw std::invalid_argument(msg);
}

}  // namespace rac
