// Shared helpers for the CUDA backend (host side and kernels).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "common.h"

namespace rac {

inline void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

inline cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

// Grid for a grid-stride loop over n elements: enough blocks to fill the GPU, never more than needed.
inline unsigned grid_for(int64_t n, int threads) {
  int64_t blocks = (n + threads - 1) / threads;
  const int64_t cap = 132LL * 32;  // ~32 resident blocks per SM on an H100 is plenty
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

// Every host entry point takes (device index, stream) from the Python wrapper.
struct DeviceScope {
  explicit DeviceScope(int device) { check_cuda(cudaSetDevice(device), "cudaSetDevice"); }
};

}  // namespace rac
