// The SIMD kernels of kernels.hpp, one source for every target. Highway's
// foreach_target.h re-includes this file once per instruction set; the
// HWY_ONCE section at the end defines the dispatching entry points.
//
// Why these shapes:
// - The energy tile is RT query rows × RI keys with the A-reduction in
//   RT·RI vector accumulators: every key and query vector loaded is used
//   RI or RT times, and the RT·RI independent tanh chains hide the latency
//   of the division. 4 × 2 (8 accumulators, 6 loaded operands, the tanh's
//   temporaries) fits the 16 vector registers of SSE4/AVX2 without spilling;
//   a single query row (decoding, Td = 1) uses 1 × 8 for the same reason.
// - A tail of A that is not a multiple of the vector width is read with
//   masked loads (zeros beyond A): v = 0 there, so those lanes add nothing,
//   and no operand ever needs padding or copying.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fast/kernels.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "fast/kernels.hpp"
#include "fast/tanh-inl.h"
#include "seqattn/seqattn.h"

HWY_BEFORE_NAMESPACE();
namespace seqattn::fast::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// A partial vector: the first n < Lanes lanes of p, zeros beyond. AVX2 and
// AVX-512 masked loads never touch the masked-off lanes; elsewhere (SSE4,
// NEON, the portable targets) Highway's MaskedLoad reads the whole vector,
// which could run past the end of a tensor, so the tail goes through a buffer.
HWY_INLINE V LoadTail(D d, const float* HWY_RESTRICT p, size_t n) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  return hn::MaskedLoad(hn::FirstN(d, n), d, p);
#else
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)] = {};
  std::memcpy(buf, p, n * sizeof(float));
  return hn::Load(d, buf);
#endif
}

// Stores the first n < Lanes lanes of v to p, nothing beyond.
HWY_INLINE void StoreTail(V v, D d, float* HWY_RESTRICT p, size_t n) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  hn::BlendedStore(v, hn::FirstN(d, n), d, p);
#else
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, n * sizeof(float));
#endif
}

template <bool kFast, int RT, int RI>
HWY_INLINE void EnergyTile(const float* HWY_RESTRICT q, size_t ldq,
                           const float* HWY_RESTRICT k, size_t ldk,
                           const float* HWY_RESTRICT v, size_t A, float* HWY_RESTRICT e,
                           size_t lde) {
  const D d;
  const size_t N = hn::Lanes(d);
  V acc[RT][RI];
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < RI; ++c) acc[r][c] = hn::Zero(d);
  size_t a = 0;
  for (; a + N <= A; a += N) {
    const V vv = hn::LoadU(d, v + a);
    V kv[RI];
    for (int c = 0; c < RI; ++c) kv[c] = hn::LoadU(d, k + c * ldk + a);
    for (int r = 0; r < RT; ++r) {
      const V qv = hn::LoadU(d, q + r * ldq + a);
      for (int c = 0; c < RI; ++c)
        acc[r][c] = hn::MulAdd(vv, Tanh<kFast>(d, hn::Add(kv[c], qv)), acc[r][c]);
    }
  }
  if (a < A) {
    const size_t m = (A - a);
    const V vv = LoadTail(d, v + a, m);
    V kv[RI];
    for (int c = 0; c < RI; ++c) kv[c] = LoadTail(d, k + c * ldk + a, m);
    for (int r = 0; r < RT; ++r) {
      const V qv = LoadTail(d, q + r * ldq + a, m);
      for (int c = 0; c < RI; ++c)
        acc[r][c] = hn::MulAdd(vv, Tanh<kFast>(d, hn::Add(kv[c], qv)), acc[r][c]);
    }
  }
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < RI; ++c) e[r * lde + c] = hn::GetLane(hn::SumOfLanes(d, acc[r][c]));
}

template <bool kFast>
HWY_INLINE void EnergiesT(const float* q, size_t ldq, size_t rows, const float* k, size_t ldk,
                          size_t cols, const float* v, size_t A, float* e, size_t lde) {
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    size_t c = 0;
    for (; c + 2 <= cols; c += 2)
      EnergyTile<kFast, 4, 2>(q + r * ldq, ldq, k + c * ldk, ldk, v, A, e + r * lde + c, lde);
    if (c < cols)
      EnergyTile<kFast, 4, 1>(q + r * ldq, ldq, k + c * ldk, ldk, v, A, e + r * lde + c, lde);
  }
  for (; r < rows; ++r) {
    size_t c = 0;
    for (; c + 8 <= cols; c += 8)
      EnergyTile<kFast, 1, 8>(q + r * ldq, ldq, k + c * ldk, ldk, v, A, e + r * lde + c, lde);
    for (; c < cols; ++c)
      EnergyTile<kFast, 1, 1>(q + r * ldq, ldq, k + c * ldk, ldk, v, A, e + r * lde + c, lde);
  }
}

void AttentionEnergies(bool fast, const float* q, size_t ldq, size_t rows, const float* k,
                       size_t ldk, size_t cols, const float* v, size_t A, float* e, size_t lde) {
  if (fast)
    EnergiesT<true>(q, ldq, rows, k, ldk, cols, v, A, e, lde);
  else
    EnergiesT<false>(q, ldq, rows, k, ldk, cols, v, A, e, lde);
}

// The attention's backward over an RT × RI tile of (query row, key) pairs,
// one vector of A at a time: the tile's dk and dq vectors, and dv, are read,
// accumulated in registers over the tile's pairs and written back, so every
// key and query vector loaded serves RI or RT pairs (as in EnergyTile) and
// no [rows, cols, A] intermediate exists. With s = de[r, c], th = tanh(k + q):
//   g = s·v − (s·v·th)·th = s·v⊙(1 − th²);  dk[c] += g, dq[r] += g, dv += s·th.
// Masked tails as EnergyTile: v = 0 beyond A, so g = 0 and th = tanh(0) = 0.
template <bool kFast, int RT, int RI>
HWY_INLINE void BackwardTile(const float* HWY_RESTRICT q, size_t ldq,
                             const float* HWY_RESTRICT k, size_t ldk,
                             const float* HWY_RESTRICT v, size_t A,
                             const float* HWY_RESTRICT de, size_t lde, float* HWY_RESTRICT dq,
                             size_t lddq, float* HWY_RESTRICT dk, size_t lddk,
                             float* HWY_RESTRICT dv) {
  const D d;
  const size_t N = hn::Lanes(d);
  float s[RT][RI];
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < RI; ++c) s[r][c] = de[r * lde + c];
  auto chunk = [&](size_t a, auto load, auto store) {
    const V vv = load(v + a);
    V dva = load(dv + a);
    V kv[RI], dka[RI];
    for (int c = 0; c < RI; ++c) {
      kv[c] = load(k + c * ldk + a);
      dka[c] = load(dk + c * lddk + a);
    }
    for (int r = 0; r < RT; ++r) {
      const V qv = load(q + r * ldq + a);
      V dqa = load(dq + r * lddq + a);
      for (int c = 0; c < RI; ++c) {
        const V th = Tanh<kFast>(d, hn::Add(kv[c], qv));
        const V sc = hn::Set(d, s[r][c]);
        dva = hn::MulAdd(sc, th, dva);
        const V sv = hn::Mul(sc, vv);
        const V g = hn::NegMulAdd(hn::Mul(sv, th), th, sv);
        dka[c] = hn::Add(dka[c], g);
        dqa = hn::Add(dqa, g);
      }
      store(dqa, dq + r * lddq + a);
    }
    for (int c = 0; c < RI; ++c) store(dka[c], dk + c * lddk + a);
    store(dva, dv + a);
  };
  size_t a = 0;
  for (; a + N <= A; a += N)
    chunk(a, [&](const float* p) { return hn::LoadU(d, p); },
          [&](V x, float* p) { hn::StoreU(x, d, p); });
  if (a < A) {
    const size_t m = A - a;
    chunk(a, [&](const float* p) { return LoadTail(d, p, m); },
          [&](V x, float* p) { StoreTail(x, d, p, m); });
  }
}

template <bool kFast>
HWY_INLINE void BackwardT(const float* q, size_t ldq, size_t rows, const float* k, size_t ldk,
                          size_t cols, const float* v, size_t A, const float* de, size_t lde,
                          float* dq, size_t lddq, float* dk, size_t lddk, float* dv) {
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    size_t c = 0;
    for (; c + 2 <= cols; c += 2)
      BackwardTile<kFast, 4, 2>(q + r * ldq, ldq, k + c * ldk, ldk, v, A, de + r * lde + c, lde,
                                dq + r * lddq, lddq, dk + c * lddk, lddk, dv);
    if (c < cols)
      BackwardTile<kFast, 4, 1>(q + r * ldq, ldq, k + c * ldk, ldk, v, A, de + r * lde + c, lde,
                                dq + r * lddq, lddq, dk + c * lddk, lddk, dv);
  }
  for (; r < rows; ++r) {
    size_t c = 0;
    for (; c + 2 <= cols; c += 2)
      BackwardTile<kFast, 1, 2>(q + r * ldq, ldq, k + c * ldk, ldk, v, A, de + r * lde + c, lde,
                                dq + r * lddq, lddq, dk + c * lddk, lddk, dv);
    for (; c < cols; ++c)
      BackwardTile<kFast, 1, 1>(q + r * ldq, ldq, k + c * ldk, ldk, v, A, de + r * lde + c, lde,
                                dq + r * lddq, lddq, dk + c * lddk, lddk, dv);
  }
}

void AttentionBackwardTile(bool fast, const float* q, size_t ldq, size_t rows, const float* k,
                           size_t ldk, size_t cols, const float* v, size_t A, const float* de,
                           size_t lde, float* dq, size_t lddq, float* dk, size_t lddk,
                           float* dv) {
  if (fast)
    BackwardT<true>(q, ldq, rows, k, ldk, cols, v, A, de, lde, dq, lddq, dk, lddk, dv);
  else
    BackwardT<false>(q, ldq, rows, k, ldk, cols, v, A, de, lde, dq, lddq, dk, lddk, dv);
}

// step(j, load, store) for each vector j of [0, n): LoadU/StoreU for whole
// vectors, LoadTail/StoreTail for the last, partial one.
template <class Step>
HWY_INLINE void ForEachVector(size_t n, Step&& step) {
  const D d;
  const size_t N = hn::Lanes(d);
  size_t j = 0;
  for (; j + N <= n; j += N)
    step(j, [&](const float* p) { return hn::LoadU(d, p); },
         [&](V x, float* p) { hn::StoreU(x, d, p); });
  if (j < n) {
    const size_t m = n - j;
    step(j, [&](const float* p) { return LoadTail(d, p, m); },
         [&](V x, float* p) { StoreTail(x, d, p, m); });
  }
}

// Applies f to x[0, n) (and writes y), a vector at a time, the tail masked.
template <class F>
HWY_INLINE void Map(const float* x, float* y, size_t n, F f) {  // y may be x
  ForEachVector(n, [&](size_t i, auto load, auto store) { store(f(load(x + i)), y + i); });
}

void Softmax(float* x, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  V mx = hn::Set(d, -HUGE_VALF);
  auto nan = hn::FirstN(d, 0);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const V v = hn::LoadU(d, x + i);
    mx = hn::Max(mx, v);
    nan = hn::Or(nan, hn::IsNaN(v));
  }
  if (i < n) {
    const size_t m = (n - i);
    const V v = LoadTail(d, x + i, m);  // zeros beyond the tail: never NaN
    mx = hn::Max(mx, hn::IfThenElse(hn::FirstN(d, m), v, hn::Set(d, -HUGE_VALF)));
    nan = hn::Or(nan, hn::IsNaN(v));
  }
  // A NaN among the inputs makes the row NaN, as in the reference (the
  // vector max and exp would otherwise quietly drop it).
  if (!hn::AllFalse(d, nan)) {
    std::fill(x, x + n, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  const V vmax = hn::MaxOfLanes(d, mx);
  // Subtracting the maximum puts every argument in (-inf, 0]: exp cannot
  // overflow and the largest term is exactly 1, so the sum is in [1, n].
  V sum = hn::Zero(d);
  i = 0;
  for (; i + N <= n; i += N) {
    const V ex = hwy::HWY_NAMESPACE::Exp(d, hn::Sub(hn::LoadU(d, x + i), vmax));
    sum = hn::Add(sum, ex);
    hn::StoreU(ex, d, x + i);
  }
  if (i < n) {
    const size_t m = (n - i);
    const V ex = hn::IfThenElseZero(
        hn::FirstN(d, m), hwy::HWY_NAMESPACE::Exp(d, hn::Sub(LoadTail(d, x + i, m), vmax)));
    sum = hn::Add(sum, ex);
    StoreTail(ex, d, x + i, m);
  }
  const V inv = hn::Div(hn::Set(d, 1.0f), hn::SumOfLanes(d, sum));
  Map(x, x, n, [&](V e) { return hn::Mul(e, inv); });
}

HWY_INLINE V Sigmoid(D d, V x) {  // σ(x) = (1 + tanh(x/2)) / 2, in [0, 1]
  const V half = hn::Set(d, 0.5f);
  return hn::MulAdd(TanhBounded(d, hn::Mul(x, half)), half, half);
}

void GruResetAfterGates(const float* gx, const float* gh, const float* h, size_t H,
                        float* h_out) {
  const D d;
  auto step = [&](size_t j, auto load, auto store) {
    const V z = Sigmoid(d, hn::Add(load(gx + j), load(gh + j)));
    const V r = Sigmoid(d, hn::Add(load(gx + H + j), load(gh + H + j)));
    const V c = TanhBounded(d, hn::MulAdd(r, load(gh + 2 * H + j), load(gx + 2 * H + j)));
    store(hn::MulAdd(z, hn::Sub(load(h + j), c), c), h_out + j);  // z·h + (1−z)·c
  };
  ForEachVector(H, step);
}

void GruResetBeforeGates(const float* gx, const float* gh, const float* h, size_t H, float* gz,
                         float* rh) {
  const D d;
  auto step = [&](size_t j, auto load, auto store) {
    store(Sigmoid(d, hn::Add(load(gx + j), load(gh + j))), gz + j);
    store(hn::Mul(Sigmoid(d, hn::Add(load(gx + H + j), load(gh + H + j))), load(h + j)), rh + j);
  };
  ForEachVector(H, step);
}

void GruResetBeforeUpdate(const float* xh, const float* ch, const float* gz, const float* h,
                          size_t H, float* h_out) {
  const D d;
  auto step = [&](size_t j, auto load, auto store) {
    const V c = TanhBounded(d, hn::Add(load(xh + j), load(ch + j)));
    store(hn::MulAdd(load(gz + j), hn::Sub(load(h + j), c), c), h_out + j);
  };
  ForEachVector(H, step);
}

void SimpleRnnUpdate(const float* gx, const float* gh, size_t H, float* h_out) {
  const D d;
  ForEachVector(H, [&](size_t j, auto load, auto store) {
    store(TanhBounded(d, hn::Add(load(gx + j), load(gh + j))), h_out + j);
  });
}

void AddBias(const float* x, const float* b, float* y, size_t n) {
  if (!b) {
    if (x != y) std::memmove(y, x, n * sizeof(float));
    return;
  }
  ForEachVector(n, [&](size_t i, auto load, auto store) {
    store(hn::Add(load(x + i), load(b + i)), y + i);
  });
}

void BiasActivation(float* y, const float* b, size_t n, int activation) {
  AddBias(y, b, y, n);
  const D d;
  switch (activation) {
    case SEQATTN_ACTIVATION_TANH: Map(y, y, n, [&](V x) { return TanhBounded(d, x); }); break;
    case SEQATTN_ACTIVATION_SIGMOID: Map(y, y, n, [&](V x) { return Sigmoid(d, x); }); break;
    case SEQATTN_ACTIVATION_RELU: Map(y, y, n, [&](V x) { return hn::ZeroIfNegative(x); }); break;
    case SEQATTN_ACTIVATION_SOFTMAX: Softmax(y, n); break;
    default: break;  // SEQATTN_ACTIVATION_NONE
  }
}

// Four rows of C against two vectors of columns at a time: eight accumulators,
// each B vector loaded once per k and used by four rows.
template <int RM>
HWY_INLINE void SmallGemmRows(size_t N, size_t K, const float* HWY_RESTRICT A, size_t lda,
                              const float* HWY_RESTRICT B, size_t ldb, float* HWY_RESTRICT C,
                              size_t ldc, bool accumulate) {
  const D d;
  const size_t NL = hn::Lanes(d);
  for (size_t j = 0; j < N; j += 2 * NL) {
    const size_t w0 = std::min(NL, N - j), w1 = N - j > NL ? std::min(NL, N - j - NL) : 0;
    V acc[RM][2];
    for (int r = 0; r < RM; ++r) {
      acc[r][0] = accumulate ? (w0 == NL ? hn::LoadU(d, C + r * ldc + j)
                                         : LoadTail(d, C + r * ldc + j, w0))
                             : hn::Zero(d);
      acc[r][1] = accumulate && w1 ? (w1 == NL ? hn::LoadU(d, C + r * ldc + j + NL)
                                               : LoadTail(d, C + r * ldc + j + NL, w1))
                                   : hn::Zero(d);
    }
    for (size_t k = 0; k < K; ++k) {
      const float* b = B + k * ldb + j;
      const V b0 = w0 == NL ? hn::LoadU(d, b) : LoadTail(d, b, w0);
      const V b1 = w1 == NL ? hn::LoadU(d, b + NL) : (w1 ? LoadTail(d, b + NL, w1) : hn::Zero(d));
      for (int r = 0; r < RM; ++r) {
        const V a = hn::Set(d, A[r * lda + k]);
        acc[r][0] = hn::MulAdd(a, b0, acc[r][0]);
        acc[r][1] = hn::MulAdd(a, b1, acc[r][1]);
      }
    }
    for (int r = 0; r < RM; ++r) {
      float* c = C + r * ldc + j;
      if (w0 == NL) hn::StoreU(acc[r][0], d, c); else StoreTail(acc[r][0], d, c, w0);
      if (w1 == NL) hn::StoreU(acc[r][1], d, c + NL); else if (w1) StoreTail(acc[r][1], d, c + NL, w1);
    }
  }
}

void PackPanels(const float* B, size_t K, size_t N, size_t ldb, float* packed) {
  for (size_t p = 0; p < N; p += kPanel) {
    const size_t w = std::min(kPanel, N - p);
    for (size_t k = 0; k < K; ++k, packed += kPanel) {
      std::memcpy(packed, B + k * ldb + p, w * sizeof(float));
      std::fill(packed + w, packed + kPanel, 0.0f);
    }
  }
}

// RM rows of C against one panel, RM · kPanel/Lanes accumulators: 8 rows × 2
// vectors on AVX-512 (16 of its 32 registers; per k, 2 panel loads and 8
// broadcasts feed 16 FMAs), 2 × 4 on AVX2 and 1 × 8 on SSE4 (8 of 16), enough
// independent FMA chains to keep both FMA ports busy.
template <int RM>
HWY_INLINE void PanelRows(size_t w, size_t K, const float* HWY_RESTRICT A, size_t lda,
                          const float* HWY_RESTRICT panel, float* HWY_RESTRICT C, size_t ldc,
                          bool accumulate) {
  const D d;
  static_assert(!HWY_HAVE_SCALABLE, "the panel tile takes its lane count at compile time");
  constexpr size_t L = HWY_LANES(float) < kPanel ? HWY_LANES(float) : kPanel;
  constexpr size_t NV = kPanel / L;
  HWY_ALIGN float row[kPanel];
  V acc[RM][NV];
  for (int r = 0; r < RM; ++r)
    for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::Zero(d);
  for (size_t k = 0; k < K; ++k) {
    V b[NV];
    for (size_t v = 0; v < NV; ++v) b[v] = hn::LoadU(d, panel + k * kPanel + v * L);
    for (int r = 0; r < RM; ++r) {
      const V a = hn::Set(d, A[r * lda + k]);
      for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < RM; ++r) {
    float* c = C + r * ldc;
    if (w == kPanel && !accumulate) {
      for (size_t v = 0; v < NV; ++v) hn::StoreU(acc[r][v], d, c + v * L);
      continue;
    }
    for (size_t v = 0; v < NV; ++v) hn::Store(acc[r][v], d, row + v * L);
    for (size_t j = 0; j < w; ++j) c[j] = accumulate ? c[j] + row[j] : row[j];
  }
}

void PackedGemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed,
                float* C, size_t ldc, bool accumulate) {
  constexpr size_t L = HWY_LANES(float) < kPanel ? HWY_LANES(float) : kPanel;
  constexpr int RM = L >= 16 ? 8 : L >= 8 ? 2 : 1;
  for (size_t p = 0; p < N; p += kPanel) {
    const size_t w = std::min(kPanel, N - p);
    const float* panel = packed + p * K;
    size_t i = 0;
    for (; i + RM <= M; i += RM)
      PanelRows<RM>(w, K, A + i * lda, lda, panel, C + i * ldc + p, ldc, accumulate);
    for (; i < M; ++i) PanelRows<1>(w, K, A + i * lda, lda, panel, C + i * ldc + p, ldc, accumulate);
  }
}

void SmallGemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B,
               size_t ldb, float* C, size_t ldc, bool accumulate) {
  size_t i = 0;
  for (; i + 4 <= M; i += 4)
    SmallGemmRows<4>(N, K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, accumulate);
  for (; i < M; ++i) SmallGemmRows<1>(N, K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, accumulate);
}

void Axpy(float alpha, const float* x, float* y, size_t n) {
  const V va = hn::Set(hn::ScalableTag<float>(), alpha);
  ForEachVector(n, [&](size_t i, auto load, auto store) {
    store(hn::MulAdd(va, load(x + i), load(y + i)), y + i);
  });
}

float Dot(const float* x, const float* y, size_t n) {
  const D d;
  const size_t N = hn::Lanes(d);
  V acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    acc0 = hn::MulAdd(hn::LoadU(d, x + i), hn::LoadU(d, y + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, x + i + N), hn::LoadU(d, y + i + N), acc1);
  }
  for (; i + N <= n; i += N) acc0 = hn::MulAdd(hn::LoadU(d, x + i), hn::LoadU(d, y + i), acc0);
  if (i < n) {
    const size_t m = (n - i);
    acc1 = hn::MulAdd(LoadTail(d, x + i, m), LoadTail(d, y + i, m), acc1);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
}

// The calibration loop: tanh of eight register-resident vectors per round,
// summed into eight accumulators; the arguments step by a constant, so no
// tanh waits for another and the time is the tanh's throughput alone (the
// one add per tanh is what the fused loop's own add costs too).
template <bool kFast>
HWY_INLINE int64_t TanhLoop(int64_t iterations, float* checksum) {
  const D d;
  const V step = hn::Set(d, 1e-7f);
  V x[8], acc[8];
  for (int j = 0; j < 8; ++j) {
    x[j] = hn::Set(d, 0.1f * float(j + 1) - 0.45f);
    acc[j] = hn::Zero(d);
  }
  for (int64_t it = 0; it < iterations; ++it)
    for (int j = 0; j < 8; ++j) {
      acc[j] = hn::Add(acc[j], Tanh<kFast>(d, x[j]));
      x[j] = hn::Add(x[j], step);
    }
  V s = hn::Zero(d);
  for (int j = 0; j < 8; ++j) s = hn::Add(s, acc[j]);
  *checksum = hn::GetLane(hn::SumOfLanes(d, s));
  return iterations * 8 * int64_t(hn::Lanes(d));
}

int64_t TanhThroughputLoop(bool fast, int64_t iterations, float* checksum) {
  return fast ? TanhLoop<true>(iterations, checksum) : TanhLoop<false>(iterations, checksum);
}

const char* SimdTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace seqattn::fast::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace seqattn::fast {

HWY_EXPORT(AttentionEnergies);
HWY_EXPORT(AttentionBackwardTile);
HWY_EXPORT(Softmax);
HWY_EXPORT(GruResetAfterGates);
HWY_EXPORT(GruResetBeforeGates);
HWY_EXPORT(GruResetBeforeUpdate);
HWY_EXPORT(SimpleRnnUpdate);
HWY_EXPORT(BiasActivation);
HWY_EXPORT(SmallGemm);
HWY_EXPORT(PackPanels);
HWY_EXPORT(PackedGemm);
HWY_EXPORT(Axpy);
HWY_EXPORT(Dot);
HWY_EXPORT(AddBias);
HWY_EXPORT(TanhThroughputLoop);
HWY_EXPORT(SimdTargetName);

void attention_energies(bool fast, const float* q, size_t ldq, size_t rows, const float* k,
                        size_t ldk, size_t cols, const float* v, size_t A, float* e, size_t lde) {
  HWY_DYNAMIC_DISPATCH(AttentionEnergies)(fast, q, ldq, rows, k, ldk, cols, v, A, e, lde);
}
void attention_backward_tile(bool fast, const float* q, size_t ldq, size_t rows, const float* k,
                             size_t ldk, size_t cols, const float* v, size_t A, const float* de,
                             size_t lde, float* dq, size_t lddq, float* dk, size_t lddk,
                             float* dv) {
  HWY_DYNAMIC_DISPATCH(AttentionBackwardTile)(fast, q, ldq, rows, k, ldk, cols, v, A, de, lde, dq,
                                              lddq, dk, lddk, dv);
}
void softmax(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Softmax)(x, n); }
void gru_reset_after_gates(const float* gx, const float* gh, const float* h, size_t H,
                           float* h_out) {
  HWY_DYNAMIC_DISPATCH(GruResetAfterGates)(gx, gh, h, H, h_out);
}
void gru_reset_before_gates(const float* gx, const float* gh, const float* h, size_t H, float* gz,
                            float* rh) {
  HWY_DYNAMIC_DISPATCH(GruResetBeforeGates)(gx, gh, h, H, gz, rh);
}
void gru_reset_before_update(const float* xh, const float* ch, const float* gz, const float* h,
                             size_t H, float* h_out) {
  HWY_DYNAMIC_DISPATCH(GruResetBeforeUpdate)(xh, ch, gz, h, H, h_out);
}
void simple_rnn_update(const float* gx, const float* gh, size_t H, float* h_out) {
  HWY_DYNAMIC_DISPATCH(SimpleRnnUpdate)(gx, gh, H, h_out);
}
void bias_activation(float* y, const float* b, size_t n, int activation) {
  HWY_DYNAMIC_DISPATCH(BiasActivation)(y, b, n, activation);
}
void small_gemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B,
                size_t ldb, float* C, size_t ldc, bool accumulate) {
  HWY_DYNAMIC_DISPATCH(SmallGemm)(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}
void pack_panels(const float* B, size_t K, size_t N, size_t ldb, float* packed) {
  HWY_DYNAMIC_DISPATCH(PackPanels)(B, K, N, ldb, packed);
}
void packed_gemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed,
                 float* C, size_t ldc, bool accumulate) {
  HWY_DYNAMIC_DISPATCH(PackedGemm)(M, N, K, A, lda, packed, C, ldc, accumulate);
}
void axpy(float alpha, const float* x, float* y, size_t n) {
  HWY_DYNAMIC_DISPATCH(Axpy)(alpha, x, y, n);
}
float dot(const float* x, const float* y, size_t n) { return HWY_DYNAMIC_DISPATCH(Dot)(x, y, n); }
void add_bias(const float* x, const float* b, float* y, size_t n) {
  HWY_DYNAMIC_DISPATCH(AddBias)(x, b, y, n);
}
int64_t tanh_throughput_loop(bool fast, int64_t iterations, float* checksum) {
  return HWY_DYNAMIC_DISPATCH(TanhThroughputLoop)(fast, iterations, checksum);
}
const char* simd_target_name() { return HWY_DYNAMIC_DISPATCH(SimdTargetName)(); }

}  // namespace seqattn::fast
#endif  // HWY_ONCE
