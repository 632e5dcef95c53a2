// Non-temporal (streaming) stores for outputs larger than the caches (C++ backend only).
//
// A normal store to a line that is not cached first reads it (read-for-ownership), so an elementwise
// kernel writing a tensor far larger than the L3 moves 1.5x the bytes it must; glibc's memcpy (torch's
// copy of large tensors) streams instead. The kernels therefore compute a row into a small L1 buffer and
// stream it out with SSE2 `movntdq` (baseline x86-64, no clone needed) when the whole output exceeds
// stream_bytes() (16 MiB), and store normally otherwise (a cache-resident output is read again soon).
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rac {

// Outputs above this many bytes are streamed (rac_video._C.set_stream_bytes changes it; tests set 0 to
// run the streaming path on small tensors; -1 never streams).
inline std::atomic<int64_t>& stream_bytes() {
  static std::atomic<int64_t> v{int64_t{16} << 20};
  return v;
}

inline bool use_stream(int64_t out_bytes) {
#if defined(__SSE2__)
  const int64_t t = stream_bytes().load(std::memory_order_relaxed);
  return t >= 0 && out_bytes > t;
#else
  (void)out_bytes;
  return false;
#endif
}

// Copies `bytes` (a multiple of 4) from src to dst with streaming stores where dst is 16-byte aligned.
inline void stream_row(void* dst, const void* src, int64_t bytes) {
#if defined(__SSE2__)
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  while (bytes >= 4 && (reinterpret_cast<std::uintptr_t>(d) & 15)) {
    std::memcpy(d, s, 4);
    d += 4, s += 4, bytes -= 4;
  }
  for (; bytes >= 16; d += 16, s += 16, bytes -= 16)
    _mm_stream_si128(reinterpret_cast<__m128i*>(d), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
  if (bytes > 0) std::memcpy(d, s, static_cast<size_t>(bytes));
#else
  std::memcpy(dst, src, static_cast<size_t>(bytes));
#endif
}

// Orders the streamed stores before the kernel returns (call once per thread after its last stream_row).
inline void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace rac
