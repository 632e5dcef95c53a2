// Interleaved, chunked rANS coder (rac_video.entropy), C++ + OpenMP.
//
// Coder: 32-bit states in [2^16, 2^32), 16-bit words, 16-bit CDF precision (at most one word
// in or out per coded item). A tensor is split into chunks of 2^chunk_log2 symbols coded
// independently (OpenMP over chunks); inside a chunk, symbol j uses lane j % lanes, all lanes
// sharing one word stream (independent dependency chains for the CPU; warps later).
//
// Tables: T integer CDFs of precision 16. Symbol index i < nsym-1 is the value min_value + i;
// index nsym-1 is the escape: a value outside the table's support is coded as the escape
// followed by bypass fields: 6 bits nb, then the nb-1 low bits of n = o + 1 (16 bits at a time,
// high first), o = 2(v - max - 1) for v > max, 2(min - 1 - v) + 1 for v < min.
// Decode lookup is O(1): a bucket table (one entry per 16 slots) gives the first symbol
// whose interval contains the bucket start; at most 16 further symbols can start in a bucket.
//
// Format (little endian), see rac_video/entropy/rans.py for the Python side:
//   "RA" | version u8 | lanes_log2 u8 | chunk_log2 u8 | table fingerprint u32 | ndim u8 |
//   dims (LEB128) | byte length of every chunk (LEB128) | chunks
// chunk: lanes initial states (u32 each as two u16 words, low first) then the word stream.
// The decoder checks every read against the chunk end, the initial states' range, that every
// lane ends in the encoder's initial state and that every word was consumed.
#include <omp.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "registry.h"

namespace py = pybind11;

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "rans.cpp assumes a little-endian host"
#endif

namespace {

constexpr int kPrec = 16;
constexpr uint32_t kM = 1u << kPrec;
constexpr uint32_t kL = 1u << 16;  // state lower bound; states live in [kL, 2^32)
constexpr int kBucketShift = 4;
constexpr uint8_t kVersion = 1;
constexpr int kMaxDims = 8;

struct DecodeError {
  std::string msg;
};

class RansTables {
 public:
  // freqs: all tables' frequencies concatenated; lengths[t] symbols (escape last) of table t.
  RansTables(py::array_t<uint32_t, py::array::c_style | py::array::forcecast> freqs,
             py::array_t<int32_t, py::array::c_style | py::array::forcecast> lengths,
             py::array_t<int32_t, py::array::c_style | py::array::forcecast> min_values) {
    rac::require(freqs.ndim() == 1 && lengths.ndim() == 1 && min_values.ndim() == 1, "RansTables: 1-d arrays expected");
    const int64_t T = lengths.shape(0);
    rac::require(T >= 1 && T <= (1 << 20), "RansTables: need 1..2^20 tables");
    rac::require(min_values.shape(0) == T, "RansTables: min_values must have one entry per table");
    const uint32_t* f = freqs.data();
    const int32_t* len = lengths.data();
    const int32_t* mv = min_values.data();
    int64_t total = 0;
    for (int64_t t = 0; t < T; ++t) {
      rac::require(len[t] >= 2 && len[t] <= static_cast<int32_t>(kM), "RansTables: each table needs 2..65536 symbols");
      total += len[t];
    }
    rac::require(total == freqs.shape(0), "RansTables: sum(lengths) != len(freqs)");
    nsym_.assign(len, len + T);
    minv_.assign(mv, mv + T);
    cdf_off_.resize(T);
    cdf_.resize(total + T);
    bucket_.resize(static_cast<size_t>(T) << (kPrec - kBucketShift));
    uint32_t h = 2166136261u;
    auto mix = [&h](uint32_t v) {
      for (int b = 0; b < 4; ++b) h = (h ^ ((v >> (8 * b)) & 0xFF)) * 16777619u;
    };
    mix(kPrec);
    mix(static_cast<uint32_t>(T));
    int64_t src = 0, dst = 0;
    for (int64_t t = 0; t < T; ++t) {
      rac::require(static_cast<int64_t>(mv[t]) + len[t] - 2 <= INT32_MAX, "RansTables: support overflows int32");
      mix(static_cast<uint32_t>(mv[t]));
      mix(static_cast<uint32_t>(len[t]));
      cdf_off_[t] = dst;
      uint64_t c = 0;
      for (int32_t i = 0; i < len[t]; ++i) {
        const uint32_t fi = f[src + i];
        rac::require(fi >= 1, "RansTables: every symbol needs a nonzero frequency (table " + std::to_string(t) + ")");
        cdf_[dst + i] = static_cast<uint32_t>(std::min<uint64_t>(c, kM));
        c += fi;
        mix(fi);
      }
      rac::require(c == kM, "RansTables: frequencies of table " + std::to_string(t) + " sum to " + std::to_string(c) +
                                ", not 2^16");
      cdf_[dst + len[t]] = kM;
      uint16_t* bk = &bucket_[static_cast<size_t>(t) << (kPrec - kBucketShift)];
      int32_t s = 0;
      for (uint32_t b = 0; b < (kM >> kBucketShift); ++b) {
        const uint32_t slot = b << kBucketShift;
        while (cdf_[dst + s + 1] <= slot) ++s;
        bk[b] = static_cast<uint16_t>(s);
      }
      src += len[t];
      dst += len[t] + 1;
    }
    fingerprint_ = h;
  }

  int64_t num_tables() const { return static_cast<int64_t>(nsym_.size()); }
  uint32_t fingerprint() const { return fingerprint_; }
  int precision() const { return kPrec; }

  // table t: (cdf pointer, nsym, min value, bucket pointer)
  const uint32_t* cdf(int32_t t) const { return &cdf_[cdf_off_[t]]; }
  int32_t nsym(int32_t t) const { return nsym_[t]; }
  int32_t minv(int32_t t) const { return minv_[t]; }
  const uint16_t* bucket(int32_t t) const { return &bucket_[static_cast<size_t>(t) << (kPrec - kBucketShift)]; }

  py::array_t<uint32_t> cdf_of(int64_t t) const {
    rac::require(t >= 0 && t < num_tables(), "RansTables.cdf: table index out of range");
    const uint32_t* c = cdf(static_cast<int32_t>(t));
    return py::array_t<uint32_t>(nsym_[t] + 1, c);
  }

 private:
  std::vector<uint32_t> cdf_;
  std::vector<int64_t> cdf_off_;
  std::vector<int32_t> nsym_, minv_;
  std::vector<uint16_t> bucket_;
  uint32_t fingerprint_ = 0;
};

// ---------------------------------------------------------------------------------- encoder

inline void put(uint32_t& x, uint16_t*& p, uint32_t start, uint32_t freq, int bits) {
  const uint64_t xmax = static_cast<uint64_t>(freq) << (32 - bits);
  if (x >= xmax) {
    *--p = static_cast<uint16_t>(x & 0xFFFF);
    x >>= 16;
  }
  x = ((x / freq) << bits) + (x % freq) + start;
}

// escape fields of value v outside [lo, hi]: returns the bypass chunks (value, bits) in decode order
inline int escape_fields(int64_t v, int64_t lo, int64_t hi, uint32_t* val, int* bits) {
  const uint64_t o = v > hi ? static_cast<uint64_t>(2 * (v - hi - 1)) : static_cast<uint64_t>(2 * (lo - 1 - v) + 1);
  const uint64_t n = o + 1;
  const int nb = 64 - __builtin_clzll(n);
  int k = 0;
  val[k] = static_cast<uint32_t>(nb);
  bits[k++] = 6;
  int r = nb - 1;
  while (r > 0) {
    const int c = std::min(16, r);
    r -= c;
    val[k] = static_cast<uint32_t>((n >> r) & ((1u << c) - 1));
    bits[k++] = c;
  }
  return k;
}

struct ChunkOut {
  std::vector<uint16_t> words;
  size_t begin = 0;  // stream is words[begin..]
  std::string error;
};

void encode_chunk(const RansTables& tb, const int32_t* sym, const int32_t* idx, int64_t n, int lanes,
                  ChunkOut& out) {
  const int64_t T = tb.num_tables();
  // worst case words: 5 puts per escaped symbol, 1 otherwise, plus the flushed states
  int64_t puts = 0;
  for (int64_t j = 0; j < n; ++j) {
    const int32_t t = idx[j];
    if (t < 0 || t >= T) {
      out.error = "index " + std::to_string(t) + " out of range [0, " + std::to_string(T) + ")";
      return;
    }
    const int64_t v = sym[j], lo = tb.minv(t), hi = lo + tb.nsym(t) - 2;
    puts += (v < lo || v > hi) ? 5 : 1;
  }
  out.words.resize(static_cast<size_t>(puts + 2 * lanes));
  uint16_t* end = out.words.data() + out.words.size();
  uint16_t* p = end;
  uint32_t x[64];
  for (int l = 0; l < lanes; ++l) x[l] = kL;
  for (int64_t j = n - 1; j >= 0; --j) {
    uint32_t& s = x[j & (lanes - 1)];
    const int32_t t = idx[j];
    const uint32_t* cdf = tb.cdf(t);
    const int64_t v = sym[j], lo = tb.minv(t), hi = lo + tb.nsym(t) - 2;
    if (v >= lo && v <= hi) {
      const int64_t i = v - lo;
      put(s, p, cdf[i], cdf[i + 1] - cdf[i], kPrec);
    } else {
      uint32_t val[8];
      int bits[8];
      const int k = escape_fields(v, lo, hi, val, bits);
      for (int q = k - 1; q >= 0; --q) put(s, p, val[q], 1, bits[q]);
      const int64_t e = tb.nsym(t) - 1;
      put(s, p, cdf[e], cdf[e + 1] - cdf[e], kPrec);
    }
  }
  for (int l = lanes - 1; l >= 0; --l) {
    *--p = static_cast<uint16_t>(x[l] >> 16);
    *--p = static_cast<uint16_t>(x[l] & 0xFFFF);
  }
  out.begin = static_cast<size_t>(p - out.words.data());
}

void put_varint(std::string& s, uint64_t v) {
  while (v >= 0x80) {
    s.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
}

py::bytes rans_encode(const RansTables& tb, py::array_t<int32_t, py::array::c_style> symbols,
                      py::array_t<int32_t, py::array::c_style> indexes, std::vector<int64_t> shape, int lanes_log2,
                      int chunk_log2, int threads) {
  rac::require(lanes_log2 >= 0 && lanes_log2 <= 6, "rans_encode: lanes must be 1..64 (a power of two)");
  rac::require(chunk_log2 >= lanes_log2 && chunk_log2 <= 30, "rans_encode: chunk size must be in [lanes, 2^30]");
  rac::require(static_cast<int>(shape.size()) <= kMaxDims, "rans_encode: at most 8 dimensions");
  int64_t n = 1;
  for (int64_t d : shape) {
    rac::require(d >= 0 && d <= INT32_MAX, "rans_encode: bad dimension");
    rac::require(d == 0 || n <= (int64_t(1) << 40) / d, "rans_encode: tensor too large");
    n *= d;
  }
  rac::require(symbols.size() == n && indexes.size() == n, "rans_encode: symbols/indexes size != prod(shape)");
  const int lanes = 1 << lanes_log2;
  const int64_t chunk = int64_t(1) << chunk_log2;
  const int64_t nchunks = (n + chunk - 1) / chunk;
  std::vector<ChunkOut> outs(static_cast<size_t>(nchunks));
  const int32_t* sym = symbols.data();
  const int32_t* idx = indexes.data();
  {
    py::gil_scoped_release nogil;
    const int nt = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t c = 0; c < nchunks; ++c) {
      const int64_t a = c * chunk, len = std::min(chunk, n - a);
      encode_chunk(tb, sym + a, idx + a, len, lanes, outs[c]);
    }
  }
  for (auto& o : outs) rac::require(o.error.empty(), "rans_encode: " + o.error);
  std::string head;
  head += "RA";
  head.push_back(static_cast<char>(kVersion));
  head.push_back(static_cast<char>(lanes_log2));
  head.push_back(static_cast<char>(chunk_log2));
  const uint32_t fp = tb.fingerprint();
  head.append(reinterpret_cast<const char*>(&fp), 4);
  head.push_back(static_cast<char>(shape.size()));
  for (int64_t d : shape) put_varint(head, static_cast<uint64_t>(d));
  size_t total = 0;
  for (auto& o : outs) {
    const size_t bytes = 2 * (o.words.size() - o.begin);
    put_varint(head, bytes);
    total += bytes;
  }
  std::string res(head.size() + total, '\0');
  std::memcpy(&res[0], head.data(), head.size());
  size_t off = head.size();
  for (auto& o : outs) {
    const size_t bytes = 2 * (o.words.size() - o.begin);
    if (bytes) std::memcpy(&res[off], o.words.data() + o.begin, bytes);
    off += bytes;
  }
  return py::bytes(res);
}

// ---------------------------------------------------------------------------------- decoder

struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  uint8_t u8() {
    if (p >= end) throw DecodeError{"truncated header"};
    return *p++;
  }
  uint64_t varint(uint64_t limit) {
    uint64_t v = 0;
    for (int shift = 0; shift < 63; shift += 7) {
      const uint8_t b = u8();
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) {
        if (v > limit) throw DecodeError{"header value out of range"};
        return v;
      }
    }
    throw DecodeError{"overlong varint in header"};
  }
};

struct WordReader {
  const uint8_t* p;
  const uint8_t* end;
  inline bool get(uint32_t& w) {
    if (p + 2 > end) return false;
    w = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8);
    p += 2;
    return true;
  }
};

// decode one item of `bits` precision with a uniform (bypass) model
inline bool get_bypass(uint32_t& x, WordReader& r, int bits, uint32_t& val) {
  val = x & ((1u << bits) - 1);
  x = (x >> bits) + 0;  // freq 1: x = 1 * (x >> bits) + slot - start, slot == start
  if (x < kL) {
    uint32_t w;
    if (!r.get(w)) return false;
    x = (x << 16) | w;
  }
  return true;
}

template <int kLanes>
const char* decode_chunk(const RansTables& tb, const uint8_t* data, size_t bytes, const int32_t* idx, int64_t n,
                         int32_t* out) {
  WordReader r{data, data + bytes};
  uint32_t x[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    uint32_t lo, hi;
    if (!r.get(lo) || !r.get(hi)) return "chunk too short for its states";
    x[l] = lo | (hi << 16);
    if (x[l] < kL) return "initial state out of range";
  }
  const int64_t T = tb.num_tables();
  for (int64_t j = 0; j < n; ++j) {
    uint32_t& s = x[j & (kLanes - 1)];
    const int32_t t = idx[j];
    if (static_cast<uint32_t>(t) >= static_cast<uint64_t>(T)) return "index out of range of the tables";
    const uint32_t* cdf = tb.cdf(t);
    const uint32_t slot = s & (kM - 1);
    int32_t i = tb.bucket(t)[slot >> kBucketShift];
    while (cdf[i + 1] <= slot) ++i;  // at most 2^kBucketShift steps
    s = (cdf[i + 1] - cdf[i]) * (s >> kPrec) + slot - cdf[i];
    if (s < kL) {
      uint32_t w;
      if (!r.get(w)) return "truncated chunk";
      s = (s << 16) | w;
    }
    const int32_t nsym = tb.nsym(t);
    if (i < nsym - 1) {
      out[j] = tb.minv(t) + i;
      continue;
    }
    uint32_t nb;
    if (!get_bypass(s, r, 6, nb)) return "truncated chunk";
    if (nb < 1 || nb > 34) return "bad escape length";
    uint64_t v = 1;
    int rem = static_cast<int>(nb) - 1;
    while (rem > 0) {
      const int c = std::min(16, rem);
      rem -= c;
      uint32_t part;
      if (!get_bypass(s, r, c, part)) return "truncated chunk";
      v = (v << c) | part;
    }
    const uint64_t o = v - 1;
    const int64_t lo = tb.minv(t), hi = lo + nsym - 2;
    const int64_t val = (o & 1) ? lo - 1 - static_cast<int64_t>(o >> 1) : hi + 1 + static_cast<int64_t>(o >> 1);
    if (val < INT32_MIN || val > INT32_MAX) return "escaped value out of int32 range";
    out[j] = static_cast<int32_t>(val);
  }
  for (int l = 0; l < kLanes; ++l)
    if (x[l] != kL) return "final state mismatch (corrupt data or wrong tables)";
  if (r.p != r.end) return "trailing words in chunk";
  return nullptr;
}

using DecodeFn = const char* (*)(const RansTables&, const uint8_t*, size_t, const int32_t*, int64_t, int32_t*);

DecodeFn decode_fn(int lanes_log2) {
  switch (lanes_log2) {
    case 0: return decode_chunk<1>;
    case 1: return decode_chunk<2>;
    case 2: return decode_chunk<4>;
    case 3: return decode_chunk<8>;
    case 4: return decode_chunk<16>;
    case 5: return decode_chunk<32>;
    default: return decode_chunk<64>;
  }
}

// Header fields, validated: shape, lanes, chunking, chunk byte ranges.
struct Parsed {
  std::vector<int64_t> shape;
  int64_t n = 1;
  int lanes_log2 = 0, chunk_log2 = 0;
  uint32_t fingerprint = 0;
  std::vector<size_t> offs, lens;
};

Parsed parse(const uint8_t* data, size_t size, int64_t expect_n) {
  Reader r{data, data + size};
  Parsed h;
  if (r.u8() != 'R' || r.u8() != 'A') throw DecodeError{"bad magic (not a rac_video rANS stream)"};
  const uint8_t ver = r.u8();
  if (ver != kVersion) throw DecodeError{"unsupported rANS stream version " + std::to_string(ver)};
  h.lanes_log2 = r.u8();
  h.chunk_log2 = r.u8();
  if (h.lanes_log2 > 6) throw DecodeError{"bad lane count"};
  if (h.chunk_log2 < h.lanes_log2 || h.chunk_log2 > 30) throw DecodeError{"bad chunk size"};
  for (int b = 0; b < 4; ++b) h.fingerprint |= static_cast<uint32_t>(r.u8()) << (8 * b);
  const int ndim = r.u8();
  if (ndim > kMaxDims) throw DecodeError{"too many dimensions"};
  for (int d = 0; d < ndim; ++d) {
    const int64_t v = static_cast<int64_t>(r.varint(INT32_MAX));
    h.shape.push_back(v);
    constexpr int64_t kLimit = int64_t(1) << 62;  // saturating product: never overflows
    h.n = (v != 0 && h.n > kLimit / v) ? kLimit : h.n * v;
  }
  if (h.n != expect_n)
    throw DecodeError{"stream holds " + (h.n > expect_n ? std::string("more") : std::to_string(h.n)) +
                      " symbols but " + std::to_string(expect_n) + " indexes were given"};
  const int64_t chunk = int64_t(1) << h.chunk_log2;
  const int64_t nchunks = (h.n + chunk - 1) / chunk;
  size_t off = 0;
  const size_t min_bytes = 4u << h.lanes_log2;
  for (int64_t c = 0; c < nchunks; ++c) {
    const uint64_t len = r.varint(size);
    if (len < min_bytes || (len & 1)) throw DecodeError{"bad chunk length"};
    h.lens.push_back(static_cast<size_t>(len));
    h.offs.push_back(off);
    off += static_cast<size_t>(len);
    if (off > size) throw DecodeError{"chunk lengths exceed the data"};
  }
  const size_t head = static_cast<size_t>(r.p - data);
  if (head + off != size) throw DecodeError{head + off > size ? "truncated data" : "trailing bytes after the chunks"};
  for (auto& o : h.offs) o += head;
  return h;
}

py::tuple rans_decode(const RansTables& tb, py::buffer data, py::array_t<int32_t, py::array::c_style> indexes,
                                 int threads) {
  py::buffer_info bi = data.request();
  rac::require(bi.itemsize == 1 && (bi.ndim == 1 || bi.size == 0), "rans_decode: data must be a bytes-like object");
  const uint8_t* p = static_cast<const uint8_t*>(bi.ptr);
  const size_t size = static_cast<size_t>(bi.size);
  Parsed h;
  try {
    h = parse(p, size, indexes.size());
  } catch (const DecodeError& e) {
    throw py::value_error("rANS: " + e.msg);
  }
  if (h.fingerprint != tb.fingerprint())
    throw py::value_error("rANS: the stream was coded with other tables (fingerprint mismatch: wrong table version)");
  py::array_t<int32_t> out(static_cast<py::ssize_t>(h.n));
  int32_t* o = out.mutable_data();
  const int32_t* idx = indexes.data();
  const int64_t chunk = int64_t(1) << h.chunk_log2;
  const int64_t nchunks = static_cast<int64_t>(h.lens.size());
  std::vector<const char*> errs(static_cast<size_t>(nchunks), nullptr);
  DecodeFn fn = decode_fn(h.lanes_log2);
  {
    py::gil_scoped_release nogil;
    const int nt = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t c = 0; c < nchunks; ++c) {
      const int64_t a = c * chunk, len = std::min(chunk, h.n - a);
      errs[c] = fn(tb, p + h.offs[c], h.lens[c], idx + a, len, o + a);
    }
  }
  for (int64_t c = 0; c < nchunks; ++c)
    if (errs[c]) throw py::value_error("rANS: chunk " + std::to_string(c) + ": " + errs[c]);
  py::tuple shape(h.shape.size());
  for (size_t d = 0; d < h.shape.size(); ++d) shape[d] = h.shape[d];
  return py::make_tuple(out, shape);
}

}  // namespace

RAC_OPS(rans) {
  py::class_<RansTables>(m, "RansTables", "Integer CDF tables (precision 16) with O(1) decode lookup")
      .def(py::init<py::array_t<uint32_t, py::array::c_style | py::array::forcecast>,
                    py::array_t<int32_t, py::array::c_style | py::array::forcecast>,
                    py::array_t<int32_t, py::array::c_style | py::array::forcecast>>(),
           py::arg("freqs"), py::arg("lengths"), py::arg("min_values"))
      .def_property_readonly("num_tables", &RansTables::num_tables)
      .def_property_readonly("fingerprint", &RansTables::fingerprint)
      .def_property_readonly("precision", &RansTables::precision)
      .def("cdf", &RansTables::cdf_of, py::arg("t"));
  m.def("rans_encode", &rans_encode, py::arg("tables"), py::arg("symbols"), py::arg("indexes"), py::arg("shape"),
        py::arg("lanes_log2"), py::arg("chunk_log2"), py::arg("threads") = 0,
        "Code int32 symbols with per-symbol table indexes; returns the self-describing stream.");
  m.def("rans_decode", &rans_decode, py::arg("tables"), py::arg("data"), py::arg("indexes"), py::arg("threads") = 0,
        "Decode a stream from rans_encode -> (flat int32 array, shape); ValueError('rANS: ...') for malformed data.");
}
