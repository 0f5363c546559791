// The case table: every op's shapes, the options swept over them, and the
// tolerances, written once. tests/backends/ runs each case on every backend
// (the fast CPU path under each SIMD target this processor has, and CUDA)
// against the double-precision reference, SEQATTN_DEVICE_CPU_REFERENCE.
//
// The shapes sweep what breaks kernels: sizes of 1, primes, one past a SIMD
// width (4, 8 and 16 floats) or a CUDA tile, lengths of 0, 1, partial and
// full, and the largest shapes the benchmarks use.
//
// A case marked `heavy` takes the reference seconds per call (5-10 s for
// "large" and "reference" on two cores). It is skipped (and says so) under a
// sanitizer, which slows the reference about tenfold, and runs everywhere
// else, with two economies that keep the suite within a minute: the
// reference computes a sample of the batch rows (rows are independent; the
// device computes them all and each must be finite and obey the zero
// rules), and the fast CPU path runs it under the processor's best SIMD
// target only — at 268M tanh a call the portable SCALAR target alone would
// take over 2 s per call, and what a target changes (vector widths, masked
// tails, the split over encoder positions) every other case checks under
// every target.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "seqattn/seqattn.h"

namespace seqattn_test::cases {

// ------------------------------------------------------------ the shapes

struct AttentionCase {
  const char* name;
  seqattn_attention_dims d;  // batch, enc_steps, dec_steps, enc_dim, dec_dim, units
  bool heavy;
};

inline constexpr AttentionCase kAttention[] = {
    {"tiny", {1, 1, 1, 1, 1, 1}, false},
    {"primes", {2, 5, 3, 7, 11, 13}, false},
    {"exact_vectors", {4, 32, 8, 32, 16, 64}, false},  // every size a multiple of 16: no tails
    {"larger_primes", {3, 31, 7, 41, 43, 47}, false},
    // A and He one past a 16-, 8- and 4-float vector: every masked tail.
    {"vector_tails", {2, 17, 3, 9, 5, 17}, false},
    {"odd_widths", {4, 29, 6, 19, 23, 37}, false},  // A = 37, He = 19: no vector width divides them
    // CUDA: Te > one 128-position tile, Td > one 32-row block, A > one
    // 32-unit chunk and not a multiple of 4, He > one 32-column warp.
    {"tiles", {3, 130, 37, 33, 17, 67}, false},
    // CUDA: three position tiles, He > one 128-column context item, a 2-warp block.
    {"long_source", {2, 300, 5, 130, 9, 40}, false},
    {"one_position", {2, 1, 70, 3, 5, 4}, false},  // Te = 1: the softmax of one energy
    {"one_step", {5, 77, 1, 19, 23, 29}, false},   // step-wise decoding
    // One decode step of one long row: the fast CPU path splits its
    // energies over blocks of encoder positions instead of over rows.
    {"decode_long_row", {1, 512, 1, 256, 256, 256}, false},
    {"decode_batch64", {64, 45, 1, 64, 48, 72}, false},  // a batch of 64 decoding one step
    {"batch_primes", {7, 23, 11, 31, 29, 53}, false},
    // CUDA: He over two 128-column context items; an odd, wide context.
    {"wide_context", {2, 40, 3, 301, 7, 24}, false},
    {"many_units", {2, 19, 4, 8, 6, 515}, false},  // A = 515: over 512, 3 past a vector multiple
    // The largest dimensions asked of the CUDA kernel; energies in global scratch.
    {"large", {1, 1024, 9, 1024, 16, 1024}, true},
    {"reference", {64, 128, 128, 256, 256, 256}, true},  // the benchmarks' reference shape
};

struct PoolingCase {
  const char* name;
  seqattn_pooling_dims d;  // batch, steps, features
  bool heavy;
};

inline constexpr PoolingCase kPooling[] = {
    {"tiny", {1, 1, 1}, false},
    {"primes", {3, 7, 5}, false},
    {"exact_vectors", {4, 64, 32}, false},
    {"vector_tails", {2, 33, 17}, false},
    {"steps_over_a_block", {4, 300, 33}, false},
    {"wide", {5, 17, 257}, false},
    {"long", {2, 20000, 3}, false},  // CUDA: longer than shared memory holds, global scratch
};

struct RnnCase {
  const char* name;
  seqattn_rnn_dims d;  // batch, steps, input_dim, units
  bool heavy;
};

inline constexpr RnnCase kRnn[] = {
    {"tiny", {1, 1, 1, 1}, false},           {"primes", {3, 7, 5, 9}, false},
    {"exact_vectors", {4, 8, 16, 32}, false},
    {"one_step", {8, 1, 5, 7}, false},  // T = 1: a single step, lengths only 0 or 1
    {"vector_tails", {2, 6, 16, 17}, false}, {"odd", {4, 13, 17, 33}, false},
    {"long_steps", {5, 120, 8, 24}, false},  {"units_over_a_block", {2, 5, 300, 257}, false},
};

struct DenseCase {
  const char* name;
  int64_t rows;
  int32_t in, out;
  bool heavy;
};

inline constexpr DenseCase kDense[] = {
    {"tiny", 1, 1, 1, false},
    {"primes", 7, 13, 5, false},
    {"exact_vectors", 64, 64, 128, false},
    {"vector_tails", 5, 17, 33, false},
    {"blocks", 300, 65, 129, false},
    {"vocabulary", 33, 17, 1000, false},  // a softmax row wider than a warp many times
    {"one_wide_row", 1, 256, 1001, false},
};

// ---------------------------------------------------------- the options

enum class Cell { kGruResetAfter, kGruResetBefore, kSimple };
inline constexpr Cell kCells[] = {Cell::kGruResetAfter, Cell::kGruResetBefore, Cell::kSimple};
inline const char* cell_name(Cell c) {
  return c == Cell::kGruResetAfter    ? "gru_reset_after"
         : c == Cell::kGruResetBefore ? "gru_reset_before"
                                      : "simple_rnn";
}

// What a recurrent call gets besides x and the kernels: nothing (NULL
// lengths, bias and h0), lengths and bias, or lengths, bias and h0.
enum class RnnOptions { kFull, kMasked, kMaskedH0 };
inline constexpr RnnOptions kRnnOptions[] = {RnnOptions::kFull, RnnOptions::kMasked,
                                             RnnOptions::kMaskedH0};
inline const char* options_name(RnnOptions o) {
  return o == RnnOptions::kFull ? "full" : o == RnnOptions::kMasked ? "masked" : "masked_h0";
}

inline constexpr seqattn_activation kActivations[] = {
    SEQATTN_ACTIVATION_NONE, SEQATTN_ACTIVATION_TANH, SEQATTN_ACTIVATION_SIGMOID,
    SEQATTN_ACTIVATION_RELU, SEQATTN_ACTIVATION_SOFTMAX};
inline const char* activation_name(seqattn_activation a) {
  const char* names[] = {"none", "tanh", "sigmoid", "relu", "softmax"};
  return names[int(a)];
}

inline constexpr seqattn_math kMathModes[] = {SEQATTN_MATH_PRECISE, SEQATTN_MATH_FAST};
inline const char* math_name(seqattn_math m) { return m == SEQATTN_MATH_FAST ? "fast" : "precise"; }

// ---------------------------------------------------------- heavy cases

// Under AddressSanitizer the reference's loops run about ten times slower,
// so a heavy case would take minutes there and teach nothing the other
// presets do not: the sanitize preset compiles the tests with
// SEQATTN_TEST_SANITIZED, and SEQATTN_TEST_SKIP_HEAVY=1 in the environment
// skips them anywhere (a quick local run).
inline bool heavy_cases_run() {
#ifdef SEQATTN_TEST_SANITIZED
  return false;
#else
  const char* skip = std::getenv("SEQATTN_TEST_SKIP_HEAVY");
  return !(skip && *skip && *skip != '0');
#endif
}
inline const char* heavy_skip_reason() {
  return "heavy case (the reference takes seconds per call): skipped under a sanitizer or "
         "with SEQATTN_TEST_SKIP_HEAVY set";
}

// ----------------------------------------------------------- tolerances

// PRECISE on every device: |got - ref| <= 1e-5 + 1e-4·|ref| (backend_util.hpp's
// close() with no extra bound).
//
// FAST (docs/math.md#tolerances): a tanh within ε of the exact one moves
// each energy by at most Δ = ε·Σ|v| (plus rounding), so each weight is within
// ρ·w_ref and each context element within ρ·Σ_i w_ref[i]·|h[b,i,k]|, where
// ρ = e^{2Δ} − 1, on top of the precise tolerance.
//
// Fast CPU: ε = 1.5e-4, src/fast/tanh_bounds.hpp's kTanhFastMaxError (measured
// over every float on each SIMD target). CUDA: tanh.approx.f32 and
// ex2.approx as derived in the header of kernels/attention.cu,
// Δ = 1.001·2^-10.987·Σ|v| + 2.5·2^-23 (tanh.approx.f32's stated 2^-11
// rounded up to 2^-10.987 as a margin; ex2.approx's 2 ulp from the correctly
// rounded result, so 2.5 ulp from the exact one). The fast CPU path keeps
// the 1.001 and a 2^-22 for the rounding of the energy's sum.
inline constexpr double kFastCpuTanhError = 1.5e-4;

inline double fast_rho(seqattn_device device, const std::vector<float>& v) {
  double sum_abs_v = 0.0;
  for (float x : v) sum_abs_v += std::fabs(double(x));
  const double eps = device == SEQATTN_DEVICE_CUDA ? std::exp2(-10.987) : kFastCpuTanhError;
  const double exp_term =
      device == SEQATTN_DEVICE_CUDA ? 2.5 * std::ldexp(1.0, -23) : std::ldexp(1.0, -22);
  const double delta = 1.001 * eps * sum_abs_v + exp_term;
  return std::expm1(2.0 * delta);
}

// ρ·|w_ref| for each weight.
inline std::vector<double> fast_weight_bound(seqattn_device device, const std::vector<float>& v,
                                             const std::vector<float>& w_ref) {
  const double rho = fast_rho(device, v);
  std::vector<double> bound(w_ref.size());
  for (size_t i = 0; i < w_ref.size(); ++i) bound[i] = rho * std::fabs(double(w_ref[i]));
  return bound;
}

// ρ·Σ_i w_ref[b,t,i]·|h[b,i,k]| for each context[b,t,k].
inline std::vector<double> fast_context_bound(seqattn_device device,
                                              const seqattn_attention_dims& d,
                                              const std::vector<float>& h,  // [B, Te, He]
                                              const std::vector<float>& v,  // [A]
                                              const std::vector<float>& w_ref) {
  const double rho = fast_rho(device, v);
  std::vector<double> bound(size_t(d.batch) * d.dec_steps * d.enc_dim, 0.0);
  for (int b = 0; b < d.batch; ++b)
    for (int t = 0; t < d.dec_steps; ++t)
      for (int i = 0; i < d.enc_steps; ++i) {
        const double w = w_ref[(size_t(b) * d.dec_steps + t) * d.enc_steps + i];
        if (w == 0.0) continue;
        const float* hi = &h[(size_t(b) * d.enc_steps + i) * d.enc_dim];
        double* out = &bound[(size_t(b) * d.dec_steps + t) * d.enc_dim];
        for (int k = 0; k < d.enc_dim; ++k) out[k] += rho * w * std::fabs(double(hi[k]));
      }
  return bound;
}

}  // namespace seqattn_test::cases
