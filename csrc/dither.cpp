// Hashed dither, C++ backend (see dither_hash.h for the hash).
#include "dither_hash.h"

#include "registry.h"

namespace {

// One row of W elements; cloned for AVX2 so the 32-bit multiplies vectorise.
template <bool kBits>
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void dither_row(void* out, uint32_t key, int64_t W) {
  if constexpr (kBits) {
    auto* o = static_cast<int32_t*>(out);
    for (int64_t x = 0; x < W; ++x) o[x] = static_cast<int32_t>(rac::dither_bits(key, static_cast<uint32_t>(x)));
  } else {
    auto* o = static_cast<float*>(out);
    for (int64_t x = 0; x < W; ++x) o[x] = rac::dither_value(rac::dither_bits(key, static_cast<uint32_t>(x)));
  }
}

// out: (N, C, H, W) contiguous, int32 bits (bits=true) or float32 u; frame of batch item n is dither_frame + n.
void hashed_dither(std::uintptr_t out, int64_t N, int64_t C, int64_t H, int64_t W, uint32_t seed,
                   uint32_t dither_frame, bool bits) {
  rac::require(N >= 0 && C >= 0 && H >= 0 && W >= 0, "hashed_dither: negative size");
  const int64_t rows = N * C * H;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t y = r % H, c = (r / H) % C, n = r / (H * C);
    const uint32_t key = rac::dither_row_key(seed, dither_frame + static_cast<uint32_t>(n), static_cast<uint32_t>(c),
                                             static_cast<uint32_t>(y));
    if (bits)
      dither_row<true>(rac::as_ptr<int32_t>(out) + r * W, key, W);
    else
      dither_row<false>(rac::as_ptr<float>(out) + r * W, key, W);
  }
}

}  // namespace

RAC_OPS(dither) {
  m.def("hashed_dither", &hashed_dither, pybind11::arg("out"), pybind11::arg("N"), pybind11::arg("C"),
        pybind11::arg("H"), pybind11::arg("W"), pybind11::arg("seed"), pybind11::arg("dither_frame"),
        pybind11::arg("bits"), pybind11::call_guard<pybind11::gil_scoped_release>(),
        "Fill out (N,C,H,W) with the hashed dither: int32 bits or float32 u in [-1/2, 1/2).");
}
