// Integer 2-D convolution, C++ backend (rac_video/ops/int_conv.py has the definition).
//
// out[n,o,i,j] = bias[o] + Σ w[o,c,a,b]·x[n,c,s·i+a−p,s·j+b−p]  with int8/int16 x, int8 w, int32 out.
// Per output row: the receptive fields of the row are gathered into int16 vectors of length Kp
// (I·k² rounded up to 32, zero-filled), the weights likewise, and every output is a dot product of
// two such vectors. Integer sums are exact, so the result
// is the same on every path, with any thread count and on any machine; the path is chosen at run
// time: AVX-512 VNNI (vpdpwssd) or AVX2 (vpmaddwd: int16·int16 pairs summed into int32) when the CPU
// has them, else scalar.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define RAC_X86 1
#endif

#include "common.h"
#include "int_conv.h"
#include "registry.h"

namespace {

struct Conv {
  int64_t N, I, H, W, O, k, s, p, Ho, Wo, K, Kp;
};

template <typename T>
void gather_row(const T* x, const Conv& g, int64_t n, int64_t i, int16_t* cols) {
  // cols[j*Kp + (c*k + a)*k + b] = x[n, c, s*i + a - p, s*j + b - p] (0 outside), tail zero
  std::memset(cols, 0, sizeof(int16_t) * g.Wo * g.Kp);
  for (int64_t c = 0; c < g.I; ++c) {
    for (int64_t a = 0; a < g.k; ++a) {
      const int64_t yy = g.s * i + a - g.p;
      if (yy < 0 || yy >= g.H) continue;
      const T* xr = x + ((n * g.I + c) * g.H + yy) * g.W;
      for (int64_t j = 0; j < g.Wo; ++j) {
        int16_t* dst = cols + j * g.Kp + (c * g.k + a) * g.k;
        const int64_t x0 = g.s * j - g.p;
        for (int64_t b = 0; b < g.k; ++b) {
          const int64_t xx = x0 + b;
          dst[b] = (xx >= 0 && xx < g.W) ? static_cast<int16_t>(xr[xx]) : int16_t(0);
        }
      }
    }
  }
}

int32_t dot_scalar(const int16_t* a, const int16_t* b, int64_t n) {
  int32_t acc = 0;
  for (int64_t t = 0; t < n; ++t) acc += static_cast<int32_t>(a[t]) * static_cast<int32_t>(b[t]);
  return acc;
}

// Every row function writes the sums of one output row into acc[o*Wo + j].
void row_scalar(const int16_t* wq, const int16_t* cols, const int32_t* bias, const Conv& g, int32_t* acc) {
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t j = 0; j < g.Wo; ++j) acc[o * g.Wo + j] = bias[o] + dot_scalar(wq + o * g.Kp, cols + j * g.Kp, g.Kp);
}

// The outputs a SIMD block leaves over: channels [o0, o1) × pixels [j0, Wo), scalar.
void scalar_block(const int16_t* wq, const int16_t* cols, const int32_t* bias, const Conv& g, int32_t* acc_row,
                  int64_t o0, int64_t o1, int64_t j0) {
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t j = j0; j < g.Wo; ++j)
      acc_row[o * g.Wo + j] = bias[o] + dot_scalar(wq + o * g.Kp, cols + j * g.Kp, g.Kp);
}

#ifdef RAC_X86
__attribute__((target("avx2"))) inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// 4 output channels × 2 pixels per block: 8 accumulators, vpmaddwd over Kp (a multiple of 32)
__attribute__((target("avx2"))) void row_avx2(const int16_t* wq, const int16_t* cols, const int32_t* bias,
                                              const Conv& g, int32_t* acc_row) {
  const int64_t Kp = g.Kp;
  int64_t o = 0;
  for (; o + 4 <= g.O; o += 4) {
    const int16_t* w0 = wq + o * Kp;
    int64_t j = 0;
    for (; j + 2 <= g.Wo; j += 2) {
      const int16_t* c0 = cols + j * Kp;
      const int16_t* c1 = c0 + Kp;
      __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
              a31 = a00;
      for (int64_t t = 0; t < Kp; t += 16) {
        const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c0 + t));
        const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c1 + t));
        __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0 + t));
        a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(w, x0));
        a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(w, x1));
        w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0 + Kp + t));
        a10 = _mm256_add_epi32(a10, _mm256_madd_epi16(w, x0));
        a11 = _mm256_add_epi32(a11, _mm256_madd_epi16(w, x1));
        w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0 + 2 * Kp + t));
        a20 = _mm256_add_epi32(a20, _mm256_madd_epi16(w, x0));
        a21 = _mm256_add_epi32(a21, _mm256_madd_epi16(w, x1));
        w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0 + 3 * Kp + t));
        a30 = _mm256_add_epi32(a30, _mm256_madd_epi16(w, x0));
        a31 = _mm256_add_epi32(a31, _mm256_madd_epi16(w, x1));
      }
      const __m256i acc[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
      for (int64_t q = 0; q < 4; ++q)
        for (int64_t r = 0; r < 2; ++r) acc_row[(o + q) * g.Wo + j + r] = bias[o + q] + hsum(acc[q][r]);
    }
    scalar_block(wq, cols, bias, g, acc_row, o, o + 4, j);
  }
  scalar_block(wq, cols, bias, g, acc_row, o, g.O, 0);
}

// The same block with AVX-512 VNNI: vpdpwssd multiplies 32 int16 pairs and adds into int32 in one step.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void row_vnni(const int16_t* wq, const int16_t* cols,
                                                                    const int32_t* bias, const Conv& g,
                                                                    int32_t* acc_row) {
  const int64_t Kp = g.Kp;
  int64_t o = 0;
  for (; o + 4 <= g.O; o += 4) {
    const int16_t* w0 = wq + o * Kp;
    int64_t j = 0;
    for (; j + 2 <= g.Wo; j += 2) {
      const int16_t* c0 = cols + j * Kp;
      const int16_t* c1 = c0 + Kp;
      __m512i a00 = _mm512_setzero_si512(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
              a31 = a00;
      for (int64_t t = 0; t < Kp; t += 32) {
        const __m512i x0 = _mm512_loadu_si512(c0 + t), x1 = _mm512_loadu_si512(c1 + t);
        __m512i w = _mm512_loadu_si512(w0 + t);
        a00 = _mm512_dpwssd_epi32(a00, w, x0);
        a01 = _mm512_dpwssd_epi32(a01, w, x1);
        w = _mm512_loadu_si512(w0 + Kp + t);
        a10 = _mm512_dpwssd_epi32(a10, w, x0);
        a11 = _mm512_dpwssd_epi32(a11, w, x1);
        w = _mm512_loadu_si512(w0 + 2 * Kp + t);
        a20 = _mm512_dpwssd_epi32(a20, w, x0);
        a21 = _mm512_dpwssd_epi32(a21, w, x1);
        w = _mm512_loadu_si512(w0 + 3 * Kp + t);
        a30 = _mm512_dpwssd_epi32(a30, w, x0);
        a31 = _mm512_dpwssd_epi32(a31, w, x1);
      }
      const __m512i acc[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
      for (int64_t q = 0; q < 4; ++q)
        for (int64_t r = 0; r < 2; ++r) acc_row[(o + q) * g.Wo + j + r] = bias[o + q] + _mm512_reduce_add_epi32(acc[q][r]);
    }
    scalar_block(wq, cols, bias, g, acc_row, o, o + 4, j);
  }
  scalar_block(wq, cols, bias, g, acc_row, o, g.O, 0);
}

// 0: scalar, 1: AVX2, 2: AVX-512 VNNI (the best the CPU has)
int simd_level() {
  static const int level = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")
                               ? 2
                               : (__builtin_cpu_supports("avx2") ? 1 : 0);
  return level;
}
#endif

// The epilogue: the raw sum (int32), or p = (acc·mult[o] + 2^(shift−1)) >> shift saturated to int32, or
// lut[clamp(p, −P, P−1) + P] (int8; the activation table of an integer network layer).
struct Epilogue {
  const int64_t* mult;  // null: raw sums
  int64_t shift;
  const int8_t* lut;    // null: int32 output
  int64_t half;         // P
};

inline int64_t requant(int64_t acc, int64_t mult, int64_t shift) {
  return (acc * mult + (int64_t(1) << (shift - 1))) >> shift;   // arithmetic shift: floor
}

template <typename T, typename O>
void run(const T* x, const int8_t* w, const int32_t* bias, O* out, const Conv& g, int vector, const Epilogue& e) {
  std::vector<int16_t> wq(static_cast<size_t>(g.O * g.Kp), 0);
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t t = 0; t < g.K; ++t) wq[o * g.Kp + t] = w[o * g.K + t];
#pragma omp parallel
  {
    std::vector<int16_t> cols(static_cast<size_t>(g.Wo * g.Kp));
    std::vector<int32_t> acc(static_cast<size_t>(g.O * g.Wo));
#pragma omp for schedule(static) collapse(2)
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.Ho; ++i) {
        gather_row(x, g, n, i, cols.data());
#ifdef RAC_X86
        if (vector == 2)
          row_vnni(wq.data(), cols.data(), bias, g, acc.data());
        else if (vector == 1)
          row_avx2(wq.data(), cols.data(), bias, g, acc.data());
        else
#endif
          row_scalar(wq.data(), cols.data(), bias, g, acc.data());
        for (int64_t o = 0; o < g.O; ++o) {
          O* dst = out + ((n * g.O + o) * g.Ho + i) * g.Wo;
          const int32_t* a = acc.data() + o * g.Wo;
          if (e.mult == nullptr) {
            for (int64_t j = 0; j < g.Wo; ++j) dst[j] = static_cast<O>(a[j]);
          } else if (e.lut == nullptr) {
            for (int64_t j = 0; j < g.Wo; ++j) {
              int64_t p = requant(a[j], e.mult[o], e.shift);
              p = p > INT32_MAX ? INT32_MAX : (p < INT32_MIN ? INT32_MIN : p);
              dst[j] = static_cast<O>(p);
            }
          } else {
            for (int64_t j = 0; j < g.Wo; ++j) {
              int64_t p = requant(a[j], e.mult[o], e.shift);
              p = p < -e.half ? -e.half : (p > e.half - 1 ? e.half - 1 : p);
              dst[j] = static_cast<O>(e.lut[p + e.half]);
            }
          }
        }
      }
  }
}

void int_conv2d(std::uintptr_t x, int64_t x_bytes, std::uintptr_t w, std::uintptr_t bias, std::uintptr_t out,
                int64_t N, int64_t I, int64_t H, int64_t W, int64_t O, int64_t k, int64_t s, int64_t p, int64_t Ho,
                int64_t Wo, std::uintptr_t mult, int64_t shift, std::uintptr_t lut, int64_t lut_half,
                int64_t simd) {
  rac::check_int_conv(x_bytes, N, I, H, W, O, k, s, p, Ho, Wo, mult != 0, shift, lut != 0, lut_half);
  const int64_t K = I * k * k;
  const Conv g{N, I, H, W, O, k, s, p, Ho, Wo, K, (K + 31) / 32 * 32};
  const Epilogue e{mult ? rac::as_ptr<const int64_t>(mult) : nullptr, shift,
                   lut ? rac::as_ptr<const int8_t>(lut) : nullptr, lut_half};
  int vector = 0;
#ifdef RAC_X86
  vector = static_cast<int>(std::min<int64_t>(simd < 0 ? 2 : simd, simd_level()));
#endif
  const int8_t* wp = rac::as_ptr<const int8_t>(w);
  const int32_t* bp = rac::as_ptr<const int32_t>(bias);
  if (x_bytes == 1 && lut)
    run(rac::as_ptr<const int8_t>(x), wp, bp, rac::as_ptr<int8_t>(out), g, vector, e);
  else if (x_bytes == 1)
    run(rac::as_ptr<const int8_t>(x), wp, bp, rac::as_ptr<int32_t>(out), g, vector, e);
  else if (lut)
    run(rac::as_ptr<const int16_t>(x), wp, bp, rac::as_ptr<int8_t>(out), g, vector, e);
  else
    run(rac::as_ptr<const int16_t>(x), wp, bp, rac::as_ptr<int32_t>(out), g, vector, e);
}

int simd_level_any() {
#ifdef RAC_X86
  return simd_level();
#else
  return 0;
#endif
}

}  // namespace

RAC_OPS(int_conv) {
  namespace py = pybind11;
  m.def("int_conv2d", &int_conv2d, py::call_guard<py::gil_scoped_release>(), py::arg("x"), py::arg("x_bytes"),
        py::arg("w"), py::arg("bias"), py::arg("out"), py::arg("N"), py::arg("I"), py::arg("H"), py::arg("W"),
        py::arg("O"), py::arg("k"), py::arg("stride"), py::arg("padding"), py::arg("Ho"), py::arg("Wo"),
        py::arg("mult"), py::arg("shift"), py::arg("lut"), py::arg("lut_half"), py::arg("simd") = -1,
        "exact integer convolution (int8/int16 x, int8 w, int32 bias) with an optional requantization / "
        "activation-table epilogue; simd: 0 scalar, 1 AVX2, 2 AVX-512 VNNI, -1 the best the CPU has");
  m.def("int_conv2d_simd_level", &simd_level_any, "the SIMD level int_conv2d uses by default (0, 1, 2)");
}
