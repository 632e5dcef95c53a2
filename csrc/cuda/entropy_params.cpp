// Host bindings of the CUDA Gaussian-conditional entropy parameters.
#include "cuda/cuda_common.h"
#include "registry.h"

namespace rac {
cudaError_t launch_entropy_params(const float* mu, const float* scale, const int32_t* level, const float* delta,
                                  uint32_t last,
                                  const float* bounds, int32_t nb, const int32_t* k, int32_t* offset,
                                  int32_t* index, float* bits, int64_t N, int64_t C, int64_t H, int64_t W,
                                  int64_t LC, uint32_t seed, uint32_t dither_frame, float scale_min, float floor_p,
                                  int32_t buckets, cudaStream_t stream);
}

namespace {
void entropy_params(std::uintptr_t mu, std::uintptr_t scale, std::uintptr_t level, std::uintptr_t delta,
                    int64_t levels, std::uintptr_t bounds, int64_t nb, std::uintptr_t k, std::uintptr_t offset,
                    std::uintptr_t index, std::uintptr_t bits, int64_t N, int64_t C, int64_t H, int64_t W,
                    int64_t LC, uint32_t seed, uint32_t dither_frame, float scale_min, float floor_p, int64_t buckets,
                    int device, std::uintptr_t stream) {
  rac::require(N >= 0 && C >= 0 && H >= 0 && W >= 0, "entropy_params: negative size");
  rac::require(LC == 1 || LC == C, "entropy_params: level map must have 1 or C channels");
  rac::require(levels > 0 && levels <= (int64_t{1} << 31), "entropy_params: delta table size out of range");
  rac::require(nb >= 1 && nb < (1 << 20), "entropy_params: need 1..2^20 scale bounds");
  rac::require((k == 0) == (bits == 0), "entropy_params: k and bits go together");
  rac::require(buckets >= 1 && buckets <= 256 && (buckets & (buckets - 1)) == 0,
               "entropy_params: mean buckets must be a power of two in 1..256");
  rac::DeviceScope scope(device);
  rac::check_cuda(rac::launch_entropy_params(rac::as_ptr<const float>(mu), rac::as_ptr<const float>(scale),
                                             rac::as_ptr<const int32_t>(level), rac::as_ptr<const float>(delta),
                                             static_cast<uint32_t>(levels - 1),
                                             rac::as_ptr<const float>(bounds), static_cast<int32_t>(nb),
                                             rac::as_ptr<const int32_t>(k), rac::as_ptr<int32_t>(offset),
                                             rac::as_ptr<int32_t>(index), rac::as_ptr<float>(bits), N, C, H, W, LC,
                                             seed, dither_frame, scale_min, floor_p, static_cast<int32_t>(buckets),
                                             rac::as_stream(stream)),
                  "entropy_params");
}
}  // namespace

RAC_OPS(entropy_params) {
  namespace py = pybind11;
  m.def("entropy_params", &entropy_params, py::call_guard<py::gil_scoped_release>());
}
