// tanh for the fast CPU backend, one source for every SIMD target (Highway).
//
// Both modes evaluate a rational function fitted by tools/fit_tanh.py:
//
//     tanh(x) ~= x · P(x²) / Q(x²)   for |x| <= 9,   ±P(81)·9/Q(81) beyond
//
// (the argument is clamped to [-9, 9]; 1 − tanh(9) = 3e-8 is below float's
// resolution at 1).
//
// - PRECISE: P of degree 5, Q of degree 3 in x², an exact division.
// - FAST: P of degree 3, Q of degree 2, and the hardware's approximate
//   reciprocal instead of the division (rcp14 on AVX-512, relative error
//   2^-14; SSE4/AVX2's 12-bit rcpps gets one Newton step, NEON's 8-bit
//   estimate two).
//
// Maximum absolute error against std::tanh in double, measured over every
// float in [0, 12) (both functions are odd, the clamp covers the rest), on
// an Emerald Rapids Xeon, per target:
//
//             PRECISE    FAST
//   AVX3      3.27e-7    1.46e-4
//   AVX2      3.27e-7    1.05e-4
//   SSE4      3.76e-7    1.05e-4   (no FMA: separate multiply and add)
//   SCALAR    3.76e-7    1.05e-4   (the portable fallback of this build)
//
// tanh_bounds.hpp states these bounds for the code that relies on them; the
// test FastMath.TanhWithinStatedBound checks them again on every target this
// processor has.

// Why a rational and not hwy::Tanh (4 ulp, built on expm1): the fused
// attention loop is bound by this function; the rational is about a dozen
// FMAs and one division, with no range reduction, and the division is the
// only long-latency operation (FAST replaces it).

// Per-target include guard (Highway's convention for -inl.h files).
#if defined(SEQATTN_FAST_TANH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQATTN_FAST_TANH_INL_H_
#undef SEQATTN_FAST_TANH_INL_H_
#else
#define SEQATTN_FAST_TANH_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace seqattn::fast::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D, class V = hn::Vec<D>>
HWY_INLINE V TanhPrecise(D d, V x) {
  const V lim = hn::Set(d, 9.0f);
  x = hn::Min(lim, hn::Max(hn::Neg(lim), x));  // this order keeps a NaN (x86 min/max return the 2nd operand)
  const V u = hn::Mul(x, x);
  V p = hn::Set(d, 1.783848497e-11f);
  p = hn::MulAdd(p, u, hn::Set(d, -1.259133823e-08f));
  p = hn::MulAdd(p, u, hn::Set(d, 9.195145670e-06f));
  p = hn::MulAdd(p, u, hn::Set(d, 2.912004282e-03f));
  p = hn::MulAdd(p, u, hn::Set(d, 1.291069441e-01f));
  p = hn::MulAdd(p, u, hn::Set(d, 9.999997373e-01f));
  V q = hn::Set(d, 2.269421529e-04f);
  q = hn::MulAdd(q, u, hn::Set(d, 2.372621439e-02f));
  q = hn::MulAdd(q, u, hn::Set(d, 4.624392766e-01f));
  q = hn::MulAdd(q, u, hn::Set(d, 1.0f));
  return hn::Div(hn::Mul(x, p), q);
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE V TanhFast(D d, V x) {
  const V lim = hn::Set(d, 9.0f);
  x = hn::Min(lim, hn::Max(hn::Neg(lim), x));  // this order keeps a NaN (x86 min/max return the 2nd operand)
  const V u = hn::Mul(x, x);
  V p = hn::Set(d, -1.233696494e-06f);
  p = hn::MulAdd(p, u, hn::Set(d, 7.474910747e-04f));
  p = hn::MulAdd(p, u, hn::Set(d, 1.021594980e-01f));
  p = hn::MulAdd(p, u, hn::Set(d, 9.995692593e-01f));
  V q = hn::Set(d, 1.303650888e-02f);
  q = hn::MulAdd(q, u, hn::Set(d, 4.344256266e-01f));
  q = hn::MulAdd(q, u, hn::Set(d, 1.0f));
  V r = hn::ApproximateReciprocal(q);
#if HWY_TARGET != HWY_AVX3 && HWY_TARGET != HWY_AVX3_DL
  // rcpps (2^-12) on SSE4/AVX2, an 8-bit estimate on NEON/SVE: refine
  // (one Newton step on x86, two elsewhere; exact on EMU128, so harmless).
  r = hn::Mul(r, hn::NegMulAdd(q, r, hn::Set(d, 2.0f)));
#if !HWY_ARCH_X86
  r = hn::Mul(r, hn::NegMulAdd(q, r, hn::Set(d, 2.0f)));
#endif
#endif
  return hn::Mul(hn::Mul(x, p), r);
}

// TanhPrecise limited to [-1, 1]: the rational reaches 1 + 1.2e-7 near the
// clamp, harmless inside the attention's sums but not in an activation
// (a sigmoid below 0 gives log(σ) = NaN downstream). For the layers.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V TanhBounded(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  return hn::Min(one, hn::Max(hn::Neg(one), TanhPrecise(d, x)));  // NaN stays NaN
}

template <bool kFast, class D, class V = hn::Vec<D>>
HWY_INLINE V Tanh(D d, V x) {
  if constexpr (kFast) {
    return TanhFast(d, x);
  } else {
    return TanhPrecise(d, x);
  }
}

}  // namespace seqattn::fast::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SEQATTN_FAST_TANH_INL_H_
