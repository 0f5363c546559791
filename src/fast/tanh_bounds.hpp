// The maximum absolute errors of the fast CPU backend's two tanh (measured
// over every float; the table is in tanh-inl.h), for the tolerances that
// follow from them: docs/math.md "Math modes", and the tests.
#pragma once

namespace seqattn::fast {

inline constexpr double kTanhPreciseMaxError = 3.8e-7;
inline constexpr double kTanhFastMaxError = 1.5e-4;

}  // namespace seqattn::fast
