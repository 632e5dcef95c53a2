// Integer 2-D convolution, C++ backend (rac_video/ops/int_conv.py has the definition).
//
// out[n,o,i,j] = bias[o] + Σ w[o,c,a,b]·x[n,c,s·i+a−p,s·j+b−p]  with int8/int16 x, int8 w, int32 out.
// AVX-512 VNNI (run_vnni): a direct convolution — the input repacked into channel pairs, 16 output
// channels in the lanes of each accumulator, one vpdpwssd per tap and pixel. AVX2 and scalar: per
// output row, the receptive fields of the row are gathered into int16 vectors of length Kp (I·k²
// rounded up to 32, zero-filled), the weights likewise, and every output is a dot product of two such
// vectors (AVX2: vpmaddwd, int16·int16 pairs summed into int32). Integer sums are exact, so the result
// is the same on every path, with any thread count and on any machine; the path is chosen at run
// time (the best the CPU has; `simd` forces one).
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

// One output row's sums acc[o*Wo + j] through the epilogue into out[n, :, i, :].
template <typename O>
void write_row(const int32_t* acc_row, O* out, const Conv& g, const Epilogue& e, int64_t n, int64_t i) {
  for (int64_t o = 0; o < g.O; ++o) {
    O* dst = out + ((n * g.O + o) * g.Ho + i) * g.Wo;
    const int32_t* a = acc_row + o * g.Wo;
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

#ifdef RAC_X86
// AVX-512 VNNI, direct (no im2col, no horizontal sums). The input is repacked once into channel pairs:
// xp[n, c/2, y + p, x + p] = int32 holding (x[n, c, y, x], x[n, c + 1, y, x]) as two int16 (zero outside the
// frame and for a missing last channel); the weights into wv[ob, c/2, a, b, lane] = (w[o, c, a, b], w[o, c+1, a, b])
// with o = 16·ob + lane (zero beyond O). One vpdpwssd then adds, for 16 output channels at once, both
// channels' products at one tap for one output pixel: the pixel's pair is broadcast, the 16 weight pairs are
// one load, and the lanes of the accumulator are output channels — nothing to reduce horizontally. A block
// keeps NO × 16 channels × NP pixels in registers across all taps.
template <int NO, int NP>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void vnni_block(
    const int32_t* xp, const int32_t* wv, const int32_t* bias, const Conv& g, int64_t I2, int64_t Hp, int64_t Wp,
    int64_t n, int64_t i, int64_t ob, int64_t j, int32_t* acc_row) {
  __m512i acc[NO][NP];
  for (int u = 0; u < NO; ++u)
    for (int q = 0; q < NP; ++q) acc[u][q] = _mm512_setzero_si512();
  const int64_t kk = g.k * g.k, wstride = I2 * kk * 16;   // between output-channel blocks
  for (int64_t c2 = 0; c2 < I2; ++c2)
    for (int64_t a = 0; a < g.k; ++a) {
      const int32_t* xr = xp + ((n * I2 + c2) * Hp + g.s * i + a) * Wp + g.s * j;
      const int32_t* wr = wv + ((ob * I2 + c2) * kk + a * g.k) * 16;
      for (int64_t b = 0; b < g.k; ++b) {
        __m512i w[NO];
        for (int u = 0; u < NO; ++u) w[u] = _mm512_loadu_si512(wr + u * wstride + b * 16);
        for (int q = 0; q < NP; ++q) {
          const __m512i xb = _mm512_set1_epi32(xr[g.s * q + b]);
          for (int u = 0; u < NO; ++u) acc[u][q] = _mm512_dpwssd_epi32(acc[u][q], w[u], xb);
        }
      }
    }
  alignas(64) int32_t lanes[16];
  for (int u = 0; u < NO; ++u)
    for (int q = 0; q < NP; ++q) {
      _mm512_store_si512(lanes, acc[u][q]);
      const int64_t o0 = (ob + u) * 16, n_o = std::min<int64_t>(16, g.O - o0);
      for (int64_t l = 0; l < n_o; ++l) acc_row[(o0 + l) * g.Wo + j + q] = bias[o0 + l] + lanes[l];
    }
}

template <typename T, typename O>
void run_vnni(const T* x, const int8_t* w, const int32_t* bias, O* out, const Conv& g, const Epilogue& e) {
  const int64_t I2 = (g.I + 1) / 2, Hp = g.H + 2 * g.p, Wp = g.W + 2 * g.p, OB = (g.O + 15) / 16, kk = g.k * g.k;
  std::vector<int32_t> xp(static_cast<size_t>(g.N * I2 * Hp * Wp), 0);
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c2 = 0; c2 < I2; ++c2)
      for (int64_t y = 0; y < g.H; ++y) {
        const T* lo = x + ((n * g.I + 2 * c2) * g.H + y) * g.W;
        const T* hi = 2 * c2 + 1 < g.I ? lo + g.H * g.W : nullptr;
        int32_t* dst = xp.data() + ((n * I2 + c2) * Hp + y + g.p) * Wp + g.p;
        for (int64_t xx = 0; xx < g.W; ++xx) {
          const uint32_t l = static_cast<uint16_t>(static_cast<int16_t>(lo[xx]));
          const uint32_t h = hi ? static_cast<uint16_t>(static_cast<int16_t>(hi[xx])) : 0u;
          dst[xx] = static_cast<int32_t>(l | (h << 16));
        }
      }
  std::vector<int32_t> wv(static_cast<size_t>(OB * I2 * kk * 16), 0);
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t c = 0; c < g.I; ++c)
      for (int64_t t = 0; t < kk; ++t) {
        const int64_t slot = (((o / 16) * I2 + c / 2) * kk + t) * 16 + o % 16;
        const uint32_t v = static_cast<uint16_t>(static_cast<int16_t>(w[(o * g.I + c) * kk + t]));
        wv[slot] = static_cast<int32_t>(static_cast<uint32_t>(wv[slot]) | (c % 2 ? v << 16 : v));
      }
#pragma omp parallel
  {
    std::vector<int32_t> acc(static_cast<size_t>(g.O * g.Wo));
#pragma omp for schedule(static) collapse(2)
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.Ho; ++i) {
        int64_t ob = 0;
        for (; ob + 2 <= OB; ob += 2) {
          int64_t j = 0;
          for (; j + 4 <= g.Wo; j += 4) vnni_block<2, 4>(xp.data(), wv.data(), bias, g, I2, Hp, Wp, n, i, ob, j, acc.data());
          for (; j < g.Wo; ++j) vnni_block<2, 1>(xp.data(), wv.data(), bias, g, I2, Hp, Wp, n, i, ob, j, acc.data());
        }
        for (; ob < OB; ++ob) {
          int64_t j = 0;
          for (; j + 4 <= g.Wo; j += 4) vnni_block<1, 4>(xp.data(), wv.data(), bias, g, I2, Hp, Wp, n, i, ob, j, acc.data());
          for (; j < g.Wo; ++j) vnni_block<1, 1>(xp.data(), wv.data(), bias, g, I2, Hp, Wp, n, i, ob, j, acc.data());
        }
        write_row(acc.data(), out, g, e, n, i);
      }
  }
}
#endif

template <typename T, typename O>
void run(const T* x, const int8_t* w, const int32_t* bias, O* out, const Conv& g, int vector, const Epilogue& e) {
#ifdef RAC_X86
  if (vector == 2) {
    run_vnni(x, w, bias, out, g, e);
    return;
  }
#endif
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
        if (vector == 1)
          row_avx2(wq.data(), cols.data(), bias, g, acc.data());
        else
#endif
          row_scalar(wq.data(), cols.data(), bias, g, acc.data());
        write_row(acc.data(), out, g, e, n, i);
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
